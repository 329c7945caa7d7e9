// Internal: reading ONNX protobufs — tensors, models, backend test data sets — and turning one
// ONNX LSTM node into a ModelDesc (one layer) and canonical Weights. The groundwork of an ONNX
// model importer: it reads, checks and converts; running the node is the caller's business.
//
// ONNX LSTM (opset 7 and 14) in lstmrt's terms:
//   inputs   X (T, N, I) or with layout=1 (N, T, I); W (D, 4H, I); R (D, 4H, H); B (D, 8H);
//            sequence_lens (N) int32; initial_h, initial_c (D, N, H) or with layout=1 (N, D, H);
//            P (D, 3H). W, R, B, P may be initializers or graph inputs fed with data.
//   outputs  Y (T, D, N, H) or with layout=1 (N, T, D, H); Y_h, Y_c like initial_h.
// lstmrt's own layouts (lstm.hpp) differ: y is (T, N, D·H) or (N, T, D·H), h_n/c_n are (D, N, H).
// The conversions below sit at the edge, so backends only ever see lstmrt's layouts.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <onnx/onnx_pb.h>

#include "lstmrt/lstm.hpp"
#include "lstmrt/weights.hpp"

namespace lstmrt::formats_detail {

// ---- tensors and files -----------------------------------------------------------------------------
// A FLOAT TensorProto (values in raw_data, little-endian, or in float_data) as a Tensor.
// Throws kInvalidArgument for another data type, kIoError when the values do not fill the shape,
// a dimension is negative, or the data lives in an external file.
Tensor tensor_from_proto(const onnx::TensorProto& proto);

// An INT32 or INT64 TensorProto (raw_data, int32_data or int64_data), e.g. sequence_lens.
struct IntTensor {
  std::vector<std::int64_t> shape;
  std::vector<std::int64_t> data;
};
IntTensor int_tensor_from_proto(const onnx::TensorProto& proto);

// A serialized TensorProto (test_data_set_*/input_N.pb) and a serialized ModelProto (model.onnx).
// Throw kIoError naming the file when it cannot be read or does not parse.
onnx::TensorProto load_tensor_pb(const std::string& path);
onnx::ModelProto load_onnx_model(const std::string& path);

// Tensors by value name: a graph's initializers, to which test data or user inputs can be added.
using ProtoMap = std::map<std::string, onnx::TensorProto>;
ProtoMap graph_initializers(const onnx::GraphProto& graph);

// An ONNX backend test data set directory: input_0.pb, input_1.pb, ... (or output_N.pb) keyed by
// the proto's name, or, when that is empty, by the name of the N-th graph input that is not an
// initializer (the N-th graph output). Throws kIoError when a file is missing or unreadable.
ProtoMap load_test_data_inputs(const onnx::GraphProto& graph, const std::string& dir);
ProtoMap load_test_data_outputs(const onnx::GraphProto& graph, const std::string& dir);

// ---- one LSTM node ---------------------------------------------------------------------------------
struct OnnxLstmNode {
  ModelDesc desc;   // one layer, no projection; peepholes when P is given
  Weights weights;  // desc.num_directions() direction slots, canonical layout
  // ONNX layout attribute: kTimeMajor (0) or kBatchMajor (1); it sets X, Y, initial/final state.
  TensorLayout layout = TensorLayout::kTimeMajor;
  // Value names of the node's data inputs and outputs; empty = absent.
  std::string x, sequence_lens, initial_h, initial_c;
  std::string y, y_h, y_c;
};

// Reads every attribute of an LSTM node — activation_alpha, activation_beta, activations (three
// per direction: f, g, h), clip, direction, hidden_size, input_forget, layout — and its W, R, B,
// P from `tensors` (initializers and fed inputs). activation_alpha/beta are consumed in order by
// the activations that take a parameter (as ONNX Runtime does); absent ones take ONNX's
// defaults. LSTM-1's output_sequence (0 or 1) is accepted and has no effect: which outputs exist is
// said by the output names. Throws kInvalidArgument naming the attribute or input that is wrong or
// missing (I/O errors inside a tensor keep kIoError and gain the node's name).
OnnxLstmNode read_lstm_node(const onnx::NodeProto& node, const ProtoMap& tensors);

// ---- edge conversions --------------------------------------------------------------------------------
// lstmrt y — (T, N, D·H) for kTimeMajor, (N, T, D·H) for kBatchMajor — to ONNX Y, (T, D, N, H) or
// (N, T, D, H). The batch-major case is the same memory order.
std::vector<float> onnx_y_from_lstmrt(const std::vector<float>& y, int seq_len, int batch, int num_directions,
                                      int hidden_size, TensorLayout layout);
// lstmrt state (D, N, H) <-> ONNX state: (D, N, H) for kTimeMajor, (N, D, H) for kBatchMajor.
std::vector<float> onnx_state_from_lstmrt(const std::vector<float>& state, int batch, int num_directions,
                                          int hidden_size, TensorLayout layout);
std::vector<float> lstmrt_state_from_onnx(const std::vector<float>& state, int batch, int num_directions,
                                          int hidden_size, TensorLayout layout);

}  // namespace lstmrt::formats_detail
