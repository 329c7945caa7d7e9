// Internal: which reader a file needs, decided by its content (magic bytes, a zip's member names);
// the name's extension only where the content cannot say. This is the one place that picks a
// reader: every loader (load_npy, load_npz, load_safetensors, load_onnx_weights,
// load_keras_model, load_weights, load_weight_arrays) asks choose_reader first. The rules are
// spelled out in include/lstmrt/import.hpp ("How a file's reader is chosen").
#pragma once

#include <initializer_list>
#include <string>

namespace lstmrt::formats_detail {

enum class FileFormat {
  kNpy,          // one array: "\x93NUMPY"
  kNpz,          // a zip of NAME.npy members (numpy.savez), an empty zip, or a zip libzip cannot open
  kSafetensors,  // 8-byte little-endian header length N ≤ size − 8, then a JSON header starting with '{'
  kOnnx,         // a serialized onnx.ModelProto (protobuf: no magic, recognised by its first fields)
  kKeras,        // a zip holding config.json or model.weights.h5 (Keras writes both)
  kHdf5,         // an HDF5 superblock signature at 0, 512, 1024, ... (a Keras .weights.h5)
  kTorchPickle,  // torch.save / torch.jit.save output: a pickle, or a zip with data.pkl / constants.pkl
  kUnknown,      // none of these
};

const char* to_string(FileFormat format);  // "npy", "npz", ..., "torch pickle", "unknown"
std::string describe(FileFormat format);   // "a .npy array", "a Keras archive (.keras)", ...

// The format of `path` by its content alone (kUnknown when it is none of the above). Throws
// Error(kIoError) naming `path` when it is missing, a directory or not a regular file.
FileFormat detect_format(const std::string& path);

// The format whose reader an entry point that reads `accepted` runs on `path`; `expected` names
// those formats in errors ("an .npz archive (numpy.savez)"), `noun` what the entry point reads
// ("model file"). Throws Error(kIoError) naming `path`, what its content is (and its extension
// when that says otherwise) and `expected`, when the content is a format not accepted, or when it
// is unrecognised and neither its extension nor a single accepted format names a reader whose
// own error would explain.
FileFormat choose_reader(const std::string& path, std::initializer_list<FileFormat> accepted,
                         const std::string& expected, const std::string& noun);

}  // namespace lstmrt::formats_detail
