// ONNX model import: the LSTM nodes of a graph form a stack, joined by the layout ops exporters
// put around them; each node is read by formats_detail::read_lstm_node (onnx_lstm.hpp) and the nodes
// become the layers of one ModelDesc.
//
// What is checked, so that the stack really is what lstmrt runs:
//   - every node's op is one of kAllowedOps (anything else: kUnsupported naming the op and node);
//   - LSTM 0's X comes from a graph input (at most its two leading axes swapped: a batch_first
//     Transpose), LSTM k's X from LSTM k-1's Y through ops that compute exactly lstmrt's join of
//     layers, (T, N, D·H) — checked symbolically, op by op (onnx_join.hpp); the top node may
//     return Y_h / Y_c only (an encoder);
//   - initial_h / initial_c / sequence_lens: from a graph input (the caller feeds them: --h0,
//     --c0, --lengths), or, for the states, built from zero constants (Constant /
//     ConstantOfShape / Expand of Shape/Gather/Concat arithmetic, as exporters emit for zeros);
//   - all nodes agree on direction, hidden_size, activations, clip, input_forget, peepholes and
//     layout (0 time-major, 1 batch-major: recorded as LoadedWeights::input_layout); node k's
//     input width is D·H. A layout=1 first node's X may not pass through a Transpose: the
//     Transposes are not run, so the graph input's layout would not be the node's.
//   - feeds (values for graph inputs, e.g. W/R/B/P of the ONNX backend node tests) join the
//     initializers as tensors; the value names stay graph inputs for the chain checks.
#include <cstdint>
#include <functional>
#include <set>

#include "common/check.hpp"
#include "formats/file_format.hpp"
#include "formats/onnx_join.hpp"
#include "formats/onnx_lstm.hpp"
#include "lstmrt/import.hpp"

namespace lstmrt {
namespace {

const std::set<std::string> kAllowedOps = {"LSTM",     "Squeeze", "Unsqueeze", "Transpose", "Reshape",
                                           "Concat",   "Shape",   "Gather",    "Expand",    "ConstantOfShape",
                                           "Constant", "Slice",   "Identity",  "Cast",      "Mul"};
[[noreturn]] void unsupported(const std::string& message) { throw Error(ErrorCode::kUnsupported, message); }

std::string label(const onnx::NodeProto& n) {
  return n.name().empty() ? fmt::format("a {} node", n.op_type()) : fmt::format("{} node '{}'", n.op_type(), n.name());
}

struct Graph {
  const onnx::GraphProto& proto;
  std::string source;
  formats_detail::ProtoMap tensors;  // initializers and Constant values
  std::set<std::string> inputs;      // graph inputs that are not initializers
  std::map<std::string, const onnx::NodeProto*> producer;

  // Where a state or length input comes from: does it reach a graph input, and does it use a
  // float constant that is not all zeros?
  struct Provenance {
    bool graph_input = false;
    std::string nonzero_constant;
  };
  Provenance provenance(const std::string& name) const {
    Provenance p;
    std::set<std::string> seen;
    std::function<void(const std::string&)> visit = [&](const std::string& v) {
      if (v.empty() || !seen.insert(v).second) return;
      if (inputs.count(v)) {
        p.graph_input = true;
        return;
      }
      if (const auto t = tensors.find(v); t != tensors.end()) {
        if (t->second.data_type() == onnx::TensorProto::FLOAT) {
          for (float f : formats_detail::tensor_from_proto(t->second).data)
            if (f != 0.0f) p.nonzero_constant = v;
        }
        return;
      }
      const auto it = producer.find(v);
      if (it == producer.end()) return;
      const onnx::NodeProto& n = *it->second;
      if (n.op_type() == "ConstantOfShape")
        for (const onnx::AttributeProto& a : n.attribute())
          if (a.name() == "value" && a.t().data_type() == onnx::TensorProto::FLOAT)
            for (float f : formats_detail::tensor_from_proto(a.t()).data)
              if (f != 0.0f) p.nonzero_constant = v;
      for (const std::string& in : n.input()) visit(in);
    };
    visit(name);
    return p;
  }
};

Graph index_graph(const onnx::GraphProto& g, const std::string& source) {
  Graph graph{g, source, formats_detail::graph_initializers(g), {}, {}};
  for (const onnx::ValueInfoProto& v : g.input())
    if (!graph.tensors.count(v.name())) graph.inputs.insert(v.name());
  for (const onnx::NodeProto& n : g.node()) {
    if (!kAllowedOps.count(n.op_type()))
      unsupported(fmt::format("{}: {} (op {}): lstmrt imports LSTM stacks joined by {}", source, label(n), n.op_type(),
                              fmt::join(kAllowedOps, ", ")));
    if (n.op_type() == "Constant")
      for (const onnx::AttributeProto& a : n.attribute())
        if (a.name() == "value" && n.output_size() == 1) graph.tensors[n.output(0)] = a.t();
    for (const std::string& out : n.output())
      if (!out.empty()) graph.producer[out] = &n;
  }
  return graph;
}

// A feed as the TensorProto the node reader takes: float32 -> FLOAT, int32/int64 -> INT32/INT64.
onnx::TensorProto proto_from_feed(const std::string& name, const Array& a, const std::string& source) {
  onnx::TensorProto proto;
  proto.set_name(name);
  for (std::int64_t d : a.shape) proto.add_dims(d);
  switch (a.dtype) {
    case DataType::kFloat32: proto.set_data_type(onnx::TensorProto::FLOAT); break;
    case DataType::kInt32: proto.set_data_type(onnx::TensorProto::INT32); break;
    case DataType::kInt64: proto.set_data_type(onnx::TensorProto::INT64); break;
    default:
      detail::invalid("{}: feed '{}' is {}: expected float32 (W, R, B, P) or int32/int64 (sequence_lens)", source, name,
                      to_string(a.dtype));
  }
  proto.set_raw_data(a.data.data(), a.data.size());  // little-endian, as ONNX's raw_data
  return proto;
}

void check_same(const ModelDesc& a, const ModelDesc& b, const std::string& where) {
  auto same_acts = [](const CellActivations& x, const CellActivations& y) {
    return x.gate == y.gate && x.cell == y.cell && x.hidden == y.hidden;
  };
  if (a.direction != b.direction || a.hidden_size != b.hidden_size || a.clip != b.clip ||
      a.coupled_input_forget != b.coupled_input_forget || a.peepholes != b.peepholes ||
      !same_acts(a.activations[0], b.activations[0]) ||
      (a.num_directions() == 2 && !same_acts(a.activations[1], b.activations[1])))
    unsupported(
        fmt::format("{}: differs from the first LSTM node in direction, hidden_size, activations, clip, "
                    "input_forget or peepholes: lstmrt runs a stack of like layers",
                    where));
}

}  // namespace

LoadedWeights load_onnx_weights(const std::string& path) { return load_onnx_weights(path, ArrayMap{}); }

LoadedWeights load_onnx_weights(const std::string& path, const ArrayMap& feeds) {
  formats_detail::choose_reader(path, {formats_detail::FileFormat::kOnnx}, "an ONNX model (.onnx)", "model file");
  const onnx::ModelProto model = formats_detail::load_onnx_model(path);
  Graph graph = index_graph(model.graph(), path);
  std::set<std::string> graph_inputs;  // all of them, initializers with a default value included
  for (const onnx::ValueInfoProto& v : model.graph().input()) graph_inputs.insert(v.name());
  for (const auto& [name, value] : feeds) {
    if (!graph_inputs.count(name))
      detail::invalid("{}: feed '{}' is not a graph input: the graph's inputs are {}", path, name,
                      fmt::join(graph_inputs, ", "));
    graph.tensors[name] = proto_from_feed(name, value, path);
  }
  LoadedWeights out;
  out.format = "onnx";
  std::vector<formats_detail::OnnxLstmEnds> ends;
  int layer = 0;
  for (const onnx::NodeProto& n : model.graph().node()) {
    if (n.op_type() != "LSTM") continue;
    const std::string where = fmt::format("{}: {}", path, label(n));
    // W, R, B, P that are graph inputs need a value from the caller.
    for (const auto& [index, what] : {std::pair{1, "W"}, {2, "R"}, {3, "B"}, {7, "P"}}) {
      const std::string name = index < n.input_size() ? n.input(index) : std::string();
      if (!name.empty() && graph.inputs.count(name) && !graph.tensors.count(name))
        detail::invalid(
            "{}: input {} is the graph input '{}', which has no value: pass it in the feeds of "
            "load_onnx_weights(path, feeds)",
            where, what, name);
    }
    formats_detail::OnnxLstmNode node;
    try {
      node = formats_detail::read_lstm_node(n, graph.tensors);
    } catch (const Error& e) {
      throw Error(e.code(), fmt::format("{}: {}", path, e.what()));
    }
    if (layer == 0) {
      out.input_layout = node.layout;
    } else if (node.layout != *out.input_layout) {
      unsupported(
          fmt::format("{}: attribute layout is {} but the first LSTM node's is {}: lstmrt runs a stack in "
                      "one layout",
                      where, node.layout == TensorLayout::kBatchMajor ? 1 : 0,
                      *out.input_layout == TensorLayout::kBatchMajor ? 1 : 0));
    }
    // The chain (X from a graph input, then each node's X from the previous node's Y) is checked
    // once every node is read: check_stack_joins below. The top node may return Y_h/Y_c only.
    ends.push_back(formats_detail::OnnxLstmEnds{label(n), node.x, node.y, node.desc.num_directions(),
                                                node.desc.hidden_size, node.desc.input_size, node.layout});
    for (const auto& [input, what] : {std::pair{node.initial_h, "initial_h"}, {node.initial_c, "initial_c"}}) {
      const Graph::Provenance p = graph.provenance(input);
      if (!p.nonzero_constant.empty() && !p.graph_input)
        unsupported(
            fmt::format("{}: {} is built from the non-zero constant '{}': lstmrt takes initial states as "
                        "inputs (--h0/--c0) or zeros",
                        where, what, p.nonzero_constant));
    }
    if (!node.sequence_lens.empty() && !graph.provenance(node.sequence_lens).graph_input)
      unsupported(fmt::format("{}: sequence_lens is a constant: lstmrt takes lengths as an input (--lengths)", where));

    if (layer == 0) {
      out.desc = node.desc;
    } else {
      check_same(out.desc, node.desc, where);
      const int expected = out.desc.num_directions() * out.desc.hidden_size;
      if (node.desc.input_size != expected)
        detail::fail(ErrorCode::kIoError, "{}: input size {} (W dim 2): expected D·H = {} from the node before", where,
                     node.desc.input_size, expected);
    }
    for (LayerWeights& w : node.weights.layers) out.weights.layers.push_back(std::move(w));
    ++layer;
  }
  if (layer == 0) detail::fail(ErrorCode::kIoError, "{}: the graph has no LSTM node", path);
  formats_detail::check_stack_joins(formats_detail::OnnxGraphView{path, graph.tensors, graph.inputs, graph.producer},
                                    ends);
  out.desc.num_layers = layer;
  // layout=0 stacks leave the layout to the caller (a batch_first export's Transposes are skipped).
  if (out.input_layout == TensorLayout::kTimeMajor) out.input_layout.reset();
  validate(out.desc, out.weights);
  return out;
}

}  // namespace lstmrt
