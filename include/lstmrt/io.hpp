// lstmrt — file formats: NumPy .npy / .npz arrays, and LSTM weight files (.npz) in PyTorch, Keras
// or ONNX naming.
//
// Arrays are read and written in NumPy's own formats so that Python can make lstmrt's inputs and
// check its outputs with nothing but numpy:
//   numpy.save("x.npy", x.astype(numpy.float32))      ->  lstmrt::load_npy("x.npy")
//   numpy.savez("w.npz", **state_dict) / savez_compressed  ->  lstmrt::load_npz / load_weights
//
// Every failure throws lstmrt::Error(kIoError) with a one-line message naming the file (and the
// npz member) and what was wrong, e.g.
//   "x.npy: dtype '>f4' is big-endian: expected little-endian (save with x.astype('<f4'))".
// Hostile .npy/.npz files are safe to open: sizes from a header are checked against the bytes
// actually present before anything is allocated from them (and a fuzz harness checks it). For the
// model files of import.hpp the same holds, except that for Keras HDF5 files exactly what is
// guaranteed is spelled out there (Hdf5Reader).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "lstmrt/error.hpp"
#include "lstmrt/lstm.hpp"
#include "lstmrt/model.hpp"
#include "lstmrt/weights.hpp"

namespace lstmrt {

// Element types of arrays: DataType (data_type.hpp; names: to_string, data_type_from_string in
// lstm.hpp; .npy descr beside each value there). .npy / .npz hold every DataType but bfloat16,
// which NumPy has no descr for: saving a bfloat16 Array is refused, and so is reading a file whose
// descr is a 2-byte void ('|V2', how ml_dtypes' bfloat16 saves).
std::string
supported_dtypes();  // what .npy / .npz hold: "bool, uint8, int8, int16, int32, int64, float16, float32, float64"

// A dense, C-ordered (row-major) n-d array: `data` holds numel()·(bytes per element of dtype) bytes,
// little-endian. A 0-d array (shape {}) holds one element; a shape with a 0 holds none.
struct Array {
  DataType dtype = DataType::kFloat32;
  std::vector<std::int64_t> shape;
  std::vector<std::uint8_t> data;

  std::int64_t numel() const;  // product of shape (1 for 0-d)
  std::size_t ndim() const { return shape.size(); }

  static Array from_float32(std::vector<std::int64_t> shape, const std::vector<float>& values);
  static Array from_float64(std::vector<std::int64_t> shape, const std::vector<double>& values);
  static Array from_int32(std::vector<std::int64_t> shape, const std::vector<std::int32_t>& values);
  static Array from_int64(std::vector<std::int64_t> shape, const std::vector<std::int64_t>& values);
  // Throws Error(kInvalidArgument) when values.size() is not the product of shape.

  // Copies of the values. `name` is used in errors ("--input x.npy", "w.npz member 'W'").
  // to_float32: float32, or float16 / bfloat16 (widened exactly); float64 is refused (no silent
  //             narrowing).
  // to_int32:   any integer dtype with every value in int32's range (the value that is not is
  //             named); bool and float dtypes are refused.
  // Throws Error(kInvalidArgument) naming the array, its dtype and the expected dtype.
  std::vector<float> to_float32(const std::string& name) const;
  std::vector<std::int32_t> to_int32(const std::string& name) const;
};

// Array data owned elsewhere, for writing without a copy: `data` holds numel·(bytes per element of dtype)
// bytes in C order, little-endian, and must outlive the save call.
struct ArrayView {
  DataType dtype = DataType::kFloat32;
  std::vector<std::int64_t> shape;
  const void* data = nullptr;
  std::uint64_t bytes = 0;  // numel·(bytes per element of dtype); checked by the writers

  static ArrayView of(const Array& array);
  static ArrayView of_float32(std::vector<std::int64_t> shape, const std::vector<float>& values);
};

// One .npy file (format versions 1.0, 2.0 and 3.0; C order; the dtypes above). save_npy writes
// version 1.0 (see "output files" below for how the file is written).
Array load_npy(const std::string& path);
void save_npy(const std::string& path, const Array& array);

// An .npz archive: a zip of NAME.npy members, stored or deflated (numpy.savez and
// savez_compressed). Keys are the member names without ".npy" (they may contain '/'). load_npz
// rejects a member that is not a .npy file, or two members with the same name. `compressed`
// deflates the members as savez_compressed does. save_npz_views writes each array's bytes from
// where they are (no copy of the data is made); save_npz writes from the map's arrays likewise.
using ArrayMap = std::map<std::string, Array>;
using ArrayViewMap = std::map<std::string, ArrayView>;
ArrayMap load_npz(const std::string& path);
void save_npz(const std::string& path, const ArrayMap& arrays, bool compressed = false);
void save_npz_views(const std::string& path, const ArrayViewMap& arrays, bool compressed = false);

// ---- output files -----------------------------------------------------------------------------------
// How save_npy / save_npz write `path`. Symbolic links are followed (a chain of them, up to 40):
// the link stays and the file it leads to is written, as a shell's `>` would; a dangling link's
// target is created. Then, by what the path leads to:
//   nothing, or a regular file   a temporary file ".NAME.tmp-PID-N" beside it (an existing
//                                file's permission bits copied) is written and renamed over it:
//                                the file is replaced atomically, and a failure leaves it as it
//                                was and no temporary behind;
//   a character device or FIFO   (/dev/null, /dev/stdout, a pipe) written directly, never
//                                replaced or removed; a zip archive, which its writer must seek
//                                in, is written to a temporary file in $TMPDIR and copied there;
//   anything else                (a directory, block device, socket, a missing parent directory,
//                                a link loop): Error(kIoError) before anything is written.
// check_output_path makes those checks alone, so a caller can refuse a bad path before long work;
// it returns the identity of the file the path leads to, when one exists. file_identity is that
// of an existing file (links followed), nullopt when there is none.
struct FileIdentity {
  std::uint64_t device = 0, inode = 0;
  bool operator==(const FileIdentity& o) const { return device == o.device && inode == o.inode; }
};
std::optional<FileIdentity> check_output_path(const std::string& path);
std::optional<FileIdentity> file_identity(const std::string& path);
// Removes the temporary files of writes in progress. For a signal handler (SIGINT, SIGTERM, ...)
// of a program that must not leave them behind when it is killed: async-signal-safe, it calls
// only unlink(). The write in progress then fails, if the program goes on.
void remove_unfinished_outputs() noexcept;

// ---- LSTM weight files ----------------------------------------------------------------------------
// load_weights reads an .npz holding float32 arrays named in one of three schemes; the scheme is
// detected from the names and the model description inferred from the shapes:
//
//   "pytorch"  nn.LSTM state_dict names (numpy.savez(path, **{k: v.numpy() for k, v in
//              lstm.state_dict().items()})):
//                weight_ih_l{k}[_reverse] (4H, I_l)   weight_hh_l{k}[_reverse] (4H, H_out)
//                bias_ih_l{k}[_reverse]   (4H)        bias_hh_l{k}[_reverse]   (4H)
//                weight_hr_l{k}[_reverse] (P, H)      (projection, optional)
//              optionally all behind one common prefix ending in '.' (e.g. "lstm.", "encoder.rnn."),
//              which is stripped. Converted by pytorch_desc + from_pytorch.
//   "keras"    Keras 3 LSTM weights (gates i f c o):
//                kernel (I, 4H), recurrent_kernel (H, 4H), bias (4H, optional)   one forward layer
//                layer{k}/kernel, layer{k}/recurrent_kernel, layer{k}/bias        a stack, k = 0..L-1
//                [layer{k}/]forward/kernel ... + [layer{k}/]backward/kernel ...   Bidirectional layers
//              Converted by from_keras per layer and direction.
//   "onnx"     ONNX LSTM node inputs (gates i o f c):
//                W (D, 4H, I), R (D, 4H, H), B (D, 8H, optional), P (D, 3H, optional peepholes)
//                one node = one layer; or layer{k}/W, layer{k}/R, ... for a stack of nodes.
//              D = 1 is a forward layer, D = 2 a bidirectional one. Converted by from_onnx.
//
// The returned desc has default activations; it has peepholes when the ONNX P arrays are present.
// Any other set of names is an Error(kIoError) listing the unrecognised keys and these schemes;
// wrong shapes or dtypes are errors naming the member.
struct LoadedWeights {
  ModelDesc desc;
  Weights weights;
  std::string format;  // "pytorch", "keras" or "onnx"
  // The layout of x (and so of y) that the file fixes, when it fixes one: an ONNX model whose LSTM
  // nodes have layout=1 takes batch-major x (N, T, I) and gives batch-major y, so it is
  // kBatchMajor (`lstmrt run` then reads --input as (B, T, I) with or without --batch-first).
  // nullopt when the caller chooses (.npz, safetensors, Keras, ONNX layout=0: the Transposes a
  // PyTorch batch_first export puts around its nodes are not run, so it runs in either layout).
  std::optional<TensorLayout> input_layout;
};
LoadedWeights load_weights(const std::string& path);
// The same from arrays already in memory; `source` names them in errors (e.g. the file name).
LoadedWeights weights_from_arrays(const ArrayMap& arrays, const std::string& source);

}  // namespace lstmrt
