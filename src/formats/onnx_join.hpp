// Internal: what the ops between stacked ONNX LSTM nodes compute, checked symbolically against the
// one join lstmrt runs between its layers.
//
// lstmrt feeds layer k the previous layer's y, (T, N, D·H) — or (N, T, D·H) batch-major — whose
// channel c·H + h is direction c's h (forward block, then reverse). In ONNX the previous node's Y
// is (T, D, N, H) (layout=1: (N, T, D, H)), so a graph reproduces lstmrt exactly when the ops from
// that Y to the next node's X permute and regroup its axes into (T, N, (D, H)) with D major in the
// last axis: PyTorch exports Transpose(perm=[0, 2, 1, 3]) + Reshape([0, 0, -1]), or a Squeeze of
// the D axis when D = 1. Any other arrangement (e.g. a Reshape of (T, 2, N, H) straight to
// (T, N, 2H), which interleaves the directions with the batch) computes something else.
//
// The check follows the data from Y to X through Identity, Transpose, Squeeze, Unsqueeze and
// Reshape, tracking each axis as a run of labelled factors (T, N, D, H, I) in memory order.
// Reshape targets may be constants or computed by shape arithmetic (Shape, Gather, Slice,
// Concat, Unsqueeze, Squeeze, Cast, Mul, Identity), evaluated on the same symbols; a target that
// fixes T or N to a number, splits a factor, or an op outside those is refused. The same walk
// checks the ops between a graph input and the first node: they may only reorder its two leading
// axes (a batch_first Transpose), which lstmrt leaves to the caller's layout choice.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include <onnx/onnx_pb.h>

#include "formats/onnx_lstm.hpp"

namespace lstmrt::formats_detail {

struct OnnxGraphView {
  std::string source;                       // the file, for messages
  const formats_detail::ProtoMap& tensors;  // initializers and Constant values
  const std::set<std::string>& inputs;      // graph inputs without a value
  const std::map<std::string, const onnx::NodeProto*>& producer;
};

// One LSTM node's data ends, as the checks need them.
struct OnnxLstmEnds {
  std::string label;  // "LSTM node 'name'" for messages
  std::string x, y;   // value names (y empty: the node has no Y output)
  int directions = 1, hidden_size = 0, input_size = 0;
  TensorLayout layout = TensorLayout::kTimeMajor;
};

// Checks every join of the stack `nodes` (in graph order): the first node's X must be a graph input
// through ops that at most swap its two leading axes (a batch_first Transpose, which lstmrt leaves
// to the caller's choice of layout; none for a layout=1 node), and node k's X must be node k−1's Y
// joined as lstmrt joins its layers. Throws Error(kUnsupported) naming the LSTM node and the op
// node that computes something else.
void check_stack_joins(const OnnxGraphView& graph, const std::vector<OnnxLstmEnds>& nodes);

}  // namespace lstmrt::formats_detail
