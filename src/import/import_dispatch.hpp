// Internal: load_weights (io.hpp) hands model files other than .npz to the importers here.
#pragma once

#include <optional>
#include <string>

#include "lstmrt/io.hpp"

namespace lstmrt::import_detail {

// The weights of `path` when its content (model_format.hpp) is a model file an importer reads
// (safetensors, ONNX, Keras), nullopt for an .npz (the caller reads it). Throws what the importer
// throws, and Error(kIoError) for a file that holds no weights lstmrt reads (a .npy, a pickle).
std::optional<LoadedWeights> load_imported_weights(const std::string& path);

}  // namespace lstmrt::import_detail
