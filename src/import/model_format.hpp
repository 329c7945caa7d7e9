// Internal: which reader a model file needs, decided by its content (magic bytes, a zip's member
// names), the name's extension only where the content cannot say (ONNX protobufs have no magic).
// This is the one place that picks a reader: load_weights and is_keras_model_file ask it.
#pragma once

#include <string>

namespace lstmrt::import_detail {

enum class ModelFormat {
  kNpz,            // a zip of NAME.npy members (numpy.savez), or an empty zip
  kSafetensors,    // 8-byte header length, then a JSON header starting with '{'
  kOnnx,           // a serialized onnx.ModelProto
  kKeras,          // a zip holding config.json and model.weights.h5
  kHdf5,           // an HDF5 file (a Keras .weights.h5)
  kNpy,            // one .npy array: not a weights file
  kTorchPickle,    // torch.save / torch.jit.save output (a pickle, or a zip with data.pkl)
  kUnknown,
};

const char* to_string(ModelFormat format);

// Throws Error(kIoError) naming `path` when it is missing or not a regular file.
ModelFormat sniff_model_format(const std::string& path);

// The error for a format that is not a weights file (kNpy, kTorchPickle, kUnknown): what it is and
// how to export weights lstmrt reads instead.
[[noreturn]] void refuse_model_format(const std::string& path, ModelFormat format);

}  // namespace lstmrt::import_detail
