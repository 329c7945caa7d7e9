// lstmrt — importing trained models: PyTorch .safetensors, ONNX .onnx, Keras 3 .keras / .weights.h5.
//
// load_weights (io.hpp) takes any of these and the .npz of io.hpp, so `lstmrt run --weights F`
// takes any of them:
//   *.npz           arrays in PyTorch / Keras / ONNX naming (io.hpp)
//   *.safetensors   an nn.LSTM state_dict (torch / safetensors.torch.save_file)
//   *.onnx          an ONNX model whose LSTM nodes form a stack (load_onnx_model below)
//   *.keras         a Keras 3 archive; *.weights.h5 with its config (load_keras_model below)
// Every failure throws lstmrt::Error(kIoError) naming the file and what was wrong (kUnsupported
// for a valid model lstmrt cannot run, naming the layer, op or attribute). Sizes read from a file
// are checked against the bytes present before anything is allocated from them; for Keras HDF5
// files see Hdf5Reader below for exactly what is guaranteed.
//
// How a file's reader is chosen — the same for every loader (load_npy, load_npz, load_weights,
// load_weight_arrays, load_safetensors, load_onnx_weights, load_keras_model):
//   1. By content, whatever the file is called: "\x93NUMPY" a .npy; a zip holding config.json or
//      model.weights.h5 a .keras archive, one with data.pkl or constants.pkl a torch.save archive,
//      any other zip an .npz; an HDF5 superblock signature (at byte 0, 512, 1024, ...) a
//      .weights.h5; a pickle's PROTO opcode (0x80, 2..5) a torch.save pickle; an 8-byte
//      little-endian length N ≤ size − 8 followed by '{' a .safetensors file; a protobuf starting
//      with ir_version (0x08, a varint) and a length-delimited field 2..8 an ONNX model.
//   2. Content a loader does not read (an .npz given to load_npy, a .npy or a torch.save pickle
//      given to load_weights, a .safetensors file given to load_onnx_weights, ...) is
//      Error(kIoError) "F: the content is <what it is>[ although its name ends in '.EXT']:
//      expected <what this loader reads>", with what to do instead where there is something.
//      A file whose extension disagrees with a content the loader reads is read by its content.
//   3. Unrecognised content (garbage, a truncated header, an empty file) goes to the reader its
//      extension names, or to the loader's only format, whose error says what is wrong ("bad
//      magic", "header length ... exceeds the file"); with neither, Error(kIoError) "F: not a
//      model file lstmrt reads: its content is none of the formats expected: <the formats>".
//   A missing path, a directory or another non-regular file is Error(kIoError) naming it first.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "lstmrt/io.hpp"
#include "lstmrt/lstm.hpp"

namespace lstmrt {

// ---- safetensors ------------------------------------------------------------------------------------
// Layout: 8-byte little-endian header length N, N bytes of JSON
//   {"__metadata__": {...}, "NAME": {"dtype": "F32", "shape": [4, 3], "data_offsets": [BEGIN, END]}, ...}
// then the data buffer; offsets are relative to its start, and the tensors tile it exactly (sorted
// by BEGIN, each starting where the previous ends, the last ending at the end of the file).
// F32, F64, F16 and BF16 tensors are returned as float32 arrays; other dtypes are an error naming
// the tensor. `source` names the bytes in errors.
ArrayMap load_safetensors(const std::string& path);
ArrayMap parse_safetensors(const std::uint8_t* data, std::size_t size, const std::string& source);

// The named arrays of a weights file that stores them by name: an .npz or a .safetensors file, by
// content (rules above); nullopt for an ONNX or Keras model, whose weights come from its graph
// (load_weights reads those). Anything else is the error load_weights gives. For callers that
// select or rename arrays before weights_from_arrays (io.hpp), as the Python binding's prefix= does.
std::optional<ArrayMap> load_weight_arrays(const std::string& path);

// ---- ONNX ---------------------------------------------------------------------------------------------
// An .onnx model whose LSTM nodes form a stack (node k's X is node k-1's Y) joined by the layout
// ops exporters emit (Squeeze, Unsqueeze, Transpose, Reshape, Identity on the data; Shape,
// Gather, Concat, Slice, Cast, Mul for shapes; Expand, Constant, ConstantOfShape for the
// states). The ops from node k-1's Y to node k's X must compute exactly the join lstmrt runs:
// Y (T, D, N, H) rearranged to (T, N, D·H) with the directions as channel blocks (PyTorch's
// Transpose(perm=[0, 2, 1, 3]) + Reshape([0, 0, -1]), or a Squeeze of D = 1); they are checked
// op by op on symbolic shapes, and any other rearrangement is kUnsupported naming the op node.
// The top node may return only Y_h / Y_c (an encoder): y is still computed. Every LSTM attribute is
// read (hidden_size, direction, activations with alpha/beta, clip, input_forget, layout), and W,
// R, B, P come from initializers, Constant nodes or `feeds`. Initial states and sequence_lens
// must be graph inputs (the caller passes them as h0/c0/lengths, in lstmrt's (L·D, N, H) layout
// whatever the node's layout) or, for the states, zeros. The result runs like an .npz of the same
// weights: y (T, N, D·H) — for a PyTorch export with batch_first, run with the batch-major
// layout. layout=1 nodes (X (N, T, I), Y (N, T, D, H)) set input_layout = kBatchMajor: run them
// batch-major, y (N, T, D·H); every node of the stack must have the same layout, and the first
// node's X may not pass through a Transpose (which layout the graph input has would be unknown).
// Another op, a node that breaks the stack or a differing attribute between nodes is
// kUnsupported naming it.
LoadedWeights load_onnx_weights(const std::string& path);
// The same with values for graph inputs, by input name: models that take W, R, B or P as graph
// inputs (as the ONNX backend node tests do, their values in test_data_set_0/input_N.pb) get
// them from here. float32 arrays for weights; int32/int64 ones are accepted for integer inputs
// (sequence_lens). Feeds for X, initial_h, initial_c or sequence_lens are allowed and not read:
// those are forward() inputs. A feed that names no graph input, or of another dtype, is
// kInvalidArgument naming it.
LoadedWeights load_onnx_weights(const std::string& path, const ArrayMap& feeds);

// ---- models as a graph of LSTM layers --------------------------------------------------------------
// A framework model is not always one lstmrt ModelDesc: a Keras stack may mix go_backwards,
// Bidirectional and plain layers of different widths (Keras's go_backwards layer passes its
// output on in processing (reversed) order while the mask it passes on stays in input order, so a
// stack of Keras layers is not a plain reverse stack), and a functional model is a small graph: an
// encoder LSTM's final states initialise a decoder LSTM, states come from model inputs, a
// Bidirectional encoder's states are concatenated. An imported model is therefore a list of nodes
// in evaluation order, each reading model inputs and earlier nodes' outputs.

enum class MergeMode {
  kConcat,
  kSum,
  kAverage,
  kMultiply,
  kNone
};  // Keras Bidirectional merge_mode (None: two outputs)

// A value of the graph: model input `index` (node = −1) or output `index` of node `node`.
struct ValueRef {
  int node = -1;
  int index = 0;
  bool operator==(const ValueRef& o) const { return node == o.node && index == o.index; }
};

// Keras's mask of a sequence: step t of row b is valid when any feature of `sequence` at (b, t)
// differs from `value` (a Masking layer's mask_value).
struct MaskSource {
  ValueRef sequence;
  float value = 0.0f;
};

enum class NodeKind {
  kLstm,         // an LSTM or Bidirectional(LSTM) layer: one lstmrt model
  kMasking,      // Keras Masking: the sequence with masked steps zeroed (its mask: MaskSource)
  kConcatenate,  // along the last axis: states (N, C_k) or sequences (T, N, C_k) of one T
  kIdentity,     // inference no-ops (Dropout and its kin): output 0 = input 0
};

struct ImportedNode {
  NodeKind kind = NodeKind::kLstm;
  std::string name;              // the framework's layer name, for errors and logs
  std::vector<ValueRef> inputs;  // kLstm, kMasking, kIdentity: the sequence; kConcatenate: the parts
  // kLstm only ----------------------------------------------------------------------------------
  ModelDesc desc;  // one layer (num_layers 1), forward / reverse / bidirectional
  Weights weights;
  ReverseOutputOrder reverse_order = ReverseOutputOrder::kOriginal;  // kProcessing: Keras go_backwards
  PaddingMode padding = PaddingMode::kZero;                          // kCarryLast: Keras zero_output_for_mask=False
  MergeMode merge = MergeMode::kConcat;  // how a bidirectional node's halves form its output
  bool return_sequences = true;          // output(s) 0 (and 1 for kNone): the sequence, or the last output only
  bool return_state = false;             // then the final states follow as outputs
  // Keras initial_state: none, or h, c (one direction) / fwd h, fwd c, bwd h, bwd c: (N, H) each.
  std::vector<ValueRef> initial_state;
  std::optional<MaskSource> mask;  // the layer's mask, or none
  // kMasking only: the mask value.
  float mask_value = 0.0f;

  // Outputs in Keras's order: the output (two for MergeMode::kNone: forward, backward), then with
  // return_state h, c per direction (forward first).
  int output_count() const;
  // Width of the merged output: D·H_out for kConcat, H_out when merged elementwise or split.
  int output_width() const;
};

struct ModelInput {
  std::string name;
  int rank = 3;  // 3: a sequence (N, T, width) as Keras takes it; 2: (N, width), e.g. an initial state
  int width = 0;
};

struct ImportedModel {
  std::string format;               // "keras"
  std::string source;               // the file
  std::vector<ModelInput> inputs;   // model.inputs order
  std::vector<ImportedNode> nodes;  // evaluation order: a node reads inputs and earlier nodes only
  std::vector<ValueRef> outputs;    // model.outputs order
  // One sequence input through a path of nodes (Masking, LSTM layers, no-ops), each reading the
  // previous one's sequence, no initial states from elsewhere, and the outputs the last LSTM's own
  // (a prefix of its output list): run with optional lengths, written by `lstmrt run` as y (y_fwd,
  // y_bwd for merge_mode None), h_n, c_n. Anything else is a graph: outputs out0, out1, ...
  bool is_chain() const;
  // The chain's last LSTM node (is_chain() only).
  int last_lstm() const;
};

// Where libhdf5 runs when the HDF5 part of a Keras file (.weights.h5, or a .keras archive's
// model.weights.h5) is read. What is guaranteed for a hostile or corrupt file, in both cases:
//   - before libhdf5 sees the bytes, lstmrt reads them into memory and walks every structure
//     libhdf5 follows from the superblock (B-trees, symbol table nodes, local and global heaps,
//     object headers and each of their messages), checking every address, size, count, name and
//     signature against the file; anything malformed, and any HDF5 feature outside what Keras
//     and h5py write by default (superblock 0/1, version 1 object headers, symbol-table groups,
//     contiguous unfiltered float/integer datasets, string attributes), is Error(kIoError)
//     naming the structure and byte offset;
//   - libhdf5 then reads exactly the checked bytes (an in-memory image, not the path again).
// What lstmrt cannot vouch for is libhdf5 itself on a well-formed file with adversarial values:
//   kInProcess     libhdf5 runs in the calling process, so a libhdf5 defect the checks do not
//                  foresee could still crash or hang it;
//   kChildProcess  libhdf5 runs in a forked child that sends what it read back through a pipe;
//                  a crash, hang (killed after 120 s plus 0.1 s per MiB) or allocation failure
//                  there is Error(kIoError) "...: corrupt HDF5 file: ... was killed by signal
//                  SIGSEGV ..." and the calling process never runs libhdf5 on the file. POSIX
//                  only; fork() must be safe in the caller (no other thread inside libhdf5).
//                  `lstmrt run` reads Keras files this way.
enum class Hdf5Reader { kInProcess, kChildProcess };

// Keras 3 models (Sequential or Functional) made of InputLayer, Masking, LSTM,
// Bidirectional(LSTM), Concatenate (last axis) and Dropout-like no-op layers, wired any way Keras
// allows: several inputs and outputs, initial_state from model inputs or other layers' states
// (encoder–decoders), masks from Masking layers (any pattern: left padding included), shared
// layers applied more than once. Honoured: units, activation and recurrent_activation (every
// elementwise Keras activation, Keras's defaults), use_bias, return_sequences, return_state,
// go_backwards, zero_output_for_mask, Bidirectional merge_mode concat/sum/ave/mul/None. Dropout
// settings are inference no-ops; stateful layers run from the given (or zero) initial state.
// Weight groups in model.weights.h5 are found as Keras saves them: layers/<class in snake case>
// with _1, _2, ... in the order of model.layers (checked against each group's recorded layer name
// where the file has one). Masks follow Keras 3: a layer uses the mask its call recorded, or,
// when the config records none, the mask its input carries — but only if the call has no other
// tensor argument: Keras fills `mask` for one-tensor calls only, so an LSTM called with
// initial_state tensors runs unmasked unless it is given mask= explicitly (as
// ops.any(ops.not_equal(x, v), axis=-1), which is recognised). Other layers (Dense, Embedding, TimeDistributed, nested
// models, ...) are kUnsupported naming the layer: lstmrt runs the recurrent part; cut the model at the LSTM outputs
// (keras.Model(model.inputs, lstm_layer.output)) and apply such heads outside.
//   load_keras_model("m.keras")                           the archive (config.json + model.weights.h5)
//   load_keras_model("m.weights.h5")                      with m.config.json (model.to_json()) or
//                                                         config.json beside it
//   load_keras_model("m.weights.h5", "config.json")       explicit config
ImportedModel load_keras_model(const std::string& path, Hdf5Reader reader = Hdf5Reader::kInProcess);
ImportedModel load_keras_model(const std::string& weights_h5, const std::string& config_json,
                               Hdf5Reader reader = Hdf5Reader::kInProcess);
// The config file load_keras_model(path) reads beside a .weights.h5 (kIoError when there is none);
// "" for a .keras archive, which holds its config; kIoError for a file that is neither (by its
// content, the rules at the top).
std::string keras_config_path(const std::string& weights_h5);
// A Keras model file by its content: a zip holding config.json or model.weights.h5 (.keras), or
// an HDF5 file (.weights.h5), whatever its name.
bool is_keras_model_file(const std::string& path);

// ---- a chain of layers, for callers that run the layers themselves ------------------------------------
// A chain model as the list of its LSTM layers in order: what a runner that keeps each layer's
// buffers and state itself (the Triton backend) runs layer by layer over one sequence, each stage
// one lstmrt model over the previous stage's output with the same lengths.
struct ImportedStage {
  std::string name;  // the framework's layer name, for errors and logs
  ModelDesc desc;
  Weights weights;
  ReverseOutputOrder reverse_order = ReverseOutputOrder::kOriginal;  // kProcessing: Keras go_backwards
  PaddingMode padding = PaddingMode::kZero;                          // kCarryLast: Keras zero_output_for_mask=False
  MergeMode merge = MergeMode::kConcat;                              // never kNone here
  int output_width() const;  // D·H_out for kConcat, H_out when the halves are merged elementwise
};

struct ImportedChain {
  std::string format, source;
  std::vector<ImportedStage> stages;
  bool return_sequences = true;  // the last stage's: its whole sequence, or its last output only
  // A Masking layer in front: a step is valid when any feature differs from mask_value (the
  // runner derives each row's mask or lengths from x).
  bool masking = false;
  float mask_value = 0.0f;
};

// `model` as a chain. Throws Error(kUnsupported) naming why it is not one: not is_chain(), a
// Bidirectional with merge_mode=None (two outputs), or a mask that is not the leading Masking
// layer's.
ImportedChain chain_of(const ImportedModel& model);

}  // namespace lstmrt
