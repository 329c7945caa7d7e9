// Internal: load_weights (io.hpp) hands model files other than .npz to the importers here.
#pragma once

#include <optional>
#include <string>

#include "lstmrt/io.hpp"

namespace lstmrt::import_detail {

// The weights of `path` when its name marks a model file an importer reads (.safetensors, .onnx,
// .keras, .h5), else nullopt (the caller reads it as .npz). Throws what the importer throws.
std::optional<LoadedWeights> load_imported_weights(const std::string& path);

}  // namespace lstmrt::import_detail
