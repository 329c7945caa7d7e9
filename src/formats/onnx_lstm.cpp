// One ONNX LSTM node -> ModelDesc (one layer) + canonical Weights, and the edge conversions
// between ONNX's Y / Y_h / Y_c layouts and lstmrt's.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>

#include <fmt/format.h>

#include "common/check.hpp"
#include "formats/onnx_lstm.hpp"

namespace lstmrt::formats_detail {
namespace {

// ONNX activation names and which of alpha/beta each consumes from activation_alpha/beta.
struct OnnxActivation {
  const char* name;
  bool takes_alpha;
  bool takes_beta;
};
constexpr OnnxActivation kOnnxActivations[] = {
    {"Sigmoid", false, false},  {"Tanh", false, false},      {"Relu", false, false},
    {"Affine", true, true},     {"LeakyRelu", true, false},  {"ThresholdedRelu", true, false},
    {"ScaledTanh", true, true}, {"HardSigmoid", true, true}, {"Elu", true, false},
    {"Softsign", false, false}, {"Softplus", false, false},
};

bool equal_ignoring_case(const std::string& a, const char* b) {
  const std::string bs(b);
  return a.size() == bs.size() && std::equal(a.begin(), a.end(), bs.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string node_label(const onnx::NodeProto& node) {
  return node.name().empty() ? std::string("LSTM node") : fmt::format("LSTM node '{}'", node.name());
}

std::string attribute_type_name(onnx::AttributeProto_AttributeType type) {
  return onnx::AttributeProto_AttributeType_Name(type);
}

// Every attribute of the node, checked for type, in lstmrt's terms.
struct LstmAttributes {
  std::vector<float> alpha, beta;
  std::vector<std::string> activations;
  float clip = 0.0f;
  bool has_clip = false;
  std::string direction = "forward";
  std::int64_t hidden_size = -1;  // -1: not given
  std::int64_t input_forget = 0;
  std::int64_t layout = 0;
};

LstmAttributes read_attributes(const onnx::NodeProto& node) {
  LstmAttributes a;
  std::set<std::string> seen;
  for (const onnx::AttributeProto& attr : node.attribute()) {
    const std::string& name = attr.name();
    if (!seen.insert(name).second) detail::invalid("{}: attribute {} is given twice", node_label(node), name);
    auto expect_type = [&](onnx::AttributeProto_AttributeType type) {
      if (attr.type() != type)
        detail::invalid("{}: attribute {} has type {}, expected {}", node_label(node), name,
                        attribute_type_name(attr.type()), attribute_type_name(type));
    };
    if (name == "activation_alpha") {
      expect_type(onnx::AttributeProto_AttributeType_FLOATS);
      a.alpha.assign(attr.floats().begin(), attr.floats().end());
    } else if (name == "activation_beta") {
      expect_type(onnx::AttributeProto_AttributeType_FLOATS);
      a.beta.assign(attr.floats().begin(), attr.floats().end());
    } else if (name == "activations") {
      expect_type(onnx::AttributeProto_AttributeType_STRINGS);
      a.activations.assign(attr.strings().begin(), attr.strings().end());
    } else if (name == "clip") {
      expect_type(onnx::AttributeProto_AttributeType_FLOAT);
      a.clip = attr.f();
      a.has_clip = true;
    } else if (name == "direction") {
      expect_type(onnx::AttributeProto_AttributeType_STRING);
      a.direction = attr.s();
    } else if (name == "hidden_size") {
      expect_type(onnx::AttributeProto_AttributeType_INT);
      a.hidden_size = attr.i();
    } else if (name == "input_forget") {
      expect_type(onnx::AttributeProto_AttributeType_INT);
      a.input_forget = attr.i();
    } else if (name == "layout") {
      expect_type(onnx::AttributeProto_AttributeType_INT);
      a.layout = attr.i();
    } else if (name == "output_sequence") {  // LSTM-1 only; Y's presence says the same
      expect_type(onnx::AttributeProto_AttributeType_INT);
      if (attr.i() != 0 && attr.i() != 1)
        detail::invalid("{}: attribute output_sequence is {}, expected 0 or 1", node_label(node), attr.i());
    } else {
      detail::invalid(
          "{}: unknown attribute '{}': expected activation_alpha, activation_beta, activations, clip, "
          "direction, hidden_size, input_forget, layout (or LSTM-1's output_sequence)",
          node_label(node), name);
    }
  }
  return a;
}

Direction parse_direction(const onnx::NodeProto& node, const std::string& s) {
  if (s == "forward") return Direction::kForward;
  if (s == "reverse") return Direction::kReverse;
  if (s == "bidirectional") return Direction::kBidirectional;
  detail::invalid("{}: attribute direction is '{}', expected forward, reverse or bidirectional", node_label(node), s);
}

// activations: three names (f, g, h) per direction, default Sigmoid, Tanh, Tanh. alpha/beta are
// consumed in order by the activations that take them; an activation with none left takes its
// ONNX default. Values left over are an error (they would be silently ignored otherwise).
std::array<CellActivations, 2> parse_activations(const onnx::NodeProto& node, const LstmAttributes& a, int dirs) {
  std::array<CellActivations, 2> result{};
  if (a.activations.empty()) {
    if (!a.alpha.empty() || !a.beta.empty())
      detail::invalid("{}: attribute activation_alpha/activation_beta given without activations", node_label(node));
    return result;
  }
  if (static_cast<int>(a.activations.size()) != 3 * dirs)
    detail::invalid("{}: attribute activations has {} names, expected 3 per direction (f, g, h) × {} = {}",
                    node_label(node), a.activations.size(), dirs, 3 * dirs);
  std::size_t next_alpha = 0, next_beta = 0;
  for (int k = 0; k < 3 * dirs; ++k) {
    const std::string& name = a.activations[k];
    const auto* known = std::find_if(std::begin(kOnnxActivations), std::end(kOnnxActivations),
                                     [&](const OnnxActivation& x) { return equal_ignoring_case(name, x.name); });
    if (known == std::end(kOnnxActivations))
      detail::invalid(
          "{}: attribute activations[{}] is '{}', expected one of Sigmoid, Tanh, Relu, Affine, LeakyRelu, "
          "ThresholdedRelu, ScaledTanh, HardSigmoid, Elu, Softsign, Softplus",
          node_label(node), k, name);
    float alpha = Activation::kDefault, beta = Activation::kDefault;
    if (known->takes_alpha && next_alpha < a.alpha.size()) alpha = a.alpha[next_alpha++];
    if (known->takes_beta && next_beta < a.beta.size()) beta = a.beta[next_beta++];
    CellActivations& slot = result[k / 3];
    Activation& act = k % 3 == 0 ? slot.gate : k % 3 == 1 ? slot.cell : slot.hidden;
    act = Activation::from_onnx(known->name, alpha, beta);
  }
  if (next_alpha != a.alpha.size())
    detail::invalid("{}: attribute activation_alpha has {} values, but the activations take only {}", node_label(node),
                    a.alpha.size(), next_alpha);
  if (next_beta != a.beta.size())
    detail::invalid("{}: attribute activation_beta has {} values, but the activations take only {}", node_label(node),
                    a.beta.size(), next_beta);
  if (dirs == 1) result[1] = result[0];
  return result;
}

std::string input_name(const onnx::NodeProto& node, int index) {
  return index < node.input_size() ? node.input(index) : std::string();
}
std::string output_name(const onnx::NodeProto& node, int index) {
  return index < node.output_size() ? node.output(index) : std::string();
}

// Input `what` (W, R, B, P) as a Tensor; absent when the node leaves it empty and it is optional.
std::optional<Tensor> weight_input(const onnx::NodeProto& node, const ProtoMap& tensors, int index, const char* what,
                                   bool required) {
  const std::string name = input_name(node, index);
  if (name.empty()) {
    if (required) detail::invalid("{}: input {} (input {}) is missing", node_label(node), what, index);
    return std::nullopt;
  }
  const auto it = tensors.find(name);
  if (it == tensors.end())
    detail::invalid("{}: input {} '{}' is neither an initializer nor a provided input", node_label(node), what, name);
  try {
    return tensor_from_proto(it->second);
  } catch (const Error& e) {
    throw Error(e.code(), fmt::format("{}: input {}: {}", node_label(node), what, e.what()));
  }
}

// (outer, a, b, inner) -> (outer, b, a, inner), row-major.
std::vector<float> swap_middle_axes(const std::vector<float>& src, std::size_t outer, std::size_t a, std::size_t b,
                                    std::size_t inner) {
  if (src.size() != outer * a * b * inner)
    detail::invalid("tensor has {} values, expected {} × {} × {} × {} = {}", src.size(), outer, a, b, inner,
                    outer * a * b * inner);
  std::vector<float> dst(src.size());
  for (std::size_t o = 0; o < outer; ++o)
    for (std::size_t i = 0; i < a; ++i)
      for (std::size_t j = 0; j < b; ++j) {
        const float* s = src.data() + ((o * a + i) * b + j) * inner;
        std::copy(s, s + inner, dst.data() + ((o * b + j) * a + i) * inner);
      }
  return dst;
}

}  // namespace

OnnxLstmNode read_lstm_node(const onnx::NodeProto& node, const ProtoMap& tensors) {
  if (node.op_type() != "LSTM" || !(node.domain().empty() || node.domain() == "ai.onnx"))
    detail::invalid("node '{}' is {}{}{}, expected an LSTM", node.name(), node.domain(),
                    node.domain().empty() ? "" : ".", node.op_type());
  if (node.input_size() > 8 || node.output_size() > 3)
    detail::invalid("{} has {} inputs and {} outputs, expected at most 8 and 3", node_label(node), node.input_size(),
                    node.output_size());
  const LstmAttributes a = read_attributes(node);
  OnnxLstmNode out;
  ModelDesc& desc = out.desc;
  desc.direction = parse_direction(node, a.direction);
  const int dirs = desc.num_directions();
  desc.activations = parse_activations(node, a, dirs);
  if (a.has_clip) {
    if (!(a.clip > 0.0f) || !std::isfinite(a.clip))
      detail::invalid("{}: attribute clip is {}, expected a finite value > 0", node_label(node), a.clip);
    desc.clip = a.clip;
  }
  if (a.input_forget != 0 && a.input_forget != 1)
    detail::invalid("{}: attribute input_forget is {}, expected 0 or 1", node_label(node), a.input_forget);
  desc.coupled_input_forget = a.input_forget == 1;
  if (a.layout != 0 && a.layout != 1)
    detail::invalid("{}: attribute layout is {}, expected 0 (time-major) or 1 (batch-major)", node_label(node),
                    a.layout);
  out.layout = a.layout == 1 ? TensorLayout::kBatchMajor : TensorLayout::kTimeMajor;

  // Inputs: X W R B sequence_lens initial_h initial_c P; outputs: Y Y_h Y_c.
  out.x = input_name(node, 0);
  if (out.x.empty()) detail::invalid("{}: input X (input 0) is missing", node_label(node));
  out.sequence_lens = input_name(node, 4);
  out.initial_h = input_name(node, 5);
  out.initial_c = input_name(node, 6);
  out.y = output_name(node, 0);
  out.y_h = output_name(node, 1);
  out.y_c = output_name(node, 2);

  OnnxLstmWeights onnx_weights;
  onnx_weights.W = *weight_input(node, tensors, 1, "W", true);
  onnx_weights.R = *weight_input(node, tensors, 2, "R", true);
  onnx_weights.B = weight_input(node, tensors, 3, "B", false);
  onnx_weights.P = weight_input(node, tensors, 7, "P", false);
  // I comes from W (D, 4H, I); H from hidden_size, else from R (D, 4H, H).
  if (onnx_weights.W.shape.size() != 3)
    detail::invalid("{}: input W has shape {}, expected (D, 4H, I)", node_label(node),
                    shape_string(onnx_weights.W.shape));
  if (onnx_weights.R.shape.size() != 3)
    detail::invalid("{}: input R has shape {}, expected (D, 4H, H)", node_label(node),
                    shape_string(onnx_weights.R.shape));
  if (a.hidden_size == 0 || a.hidden_size < -1 || a.hidden_size > (1 << 24))
    detail::invalid("{}: attribute hidden_size is {}, expected a positive size", node_label(node), a.hidden_size);
  desc.hidden_size = static_cast<int>(a.hidden_size > 0 ? a.hidden_size : onnx_weights.R.shape[2]);
  if (onnx_weights.W.shape[2] < 1 || onnx_weights.W.shape[2] > (1 << 24))
    detail::invalid("{}: input W has shape {}, expected (D, 4H, I) with I >= 1", node_label(node),
                    shape_string(onnx_weights.W.shape));
  desc.input_size = static_cast<int>(onnx_weights.W.shape[2]);
  desc.peepholes = onnx_weights.P.has_value();
  validate(desc);
  try {
    out.weights.layers = from_onnx(onnx_weights, dirs, desc.input_size, desc.hidden_size);
  } catch (const Error& e) {
    throw Error(e.code(), fmt::format("{} (direction {}, hidden_size {}): {}", node_label(node), a.direction,
                                      desc.hidden_size, e.what()));
  }
  validate(desc, out.weights);
  return out;
}

std::vector<float> onnx_y_from_lstmrt(const std::vector<float>& y, int seq_len, int batch, int num_directions,
                                      int hidden_size, TensorLayout layout) {
  // Time-major: (T, N, D, H) -> (T, D, N, H). Batch-major: (N, T, D·H) is already (N, T, D, H).
  if (layout == TensorLayout::kBatchMajor)
    return swap_middle_axes(y, static_cast<std::size_t>(batch) * seq_len, 1, num_directions, hidden_size);
  return swap_middle_axes(y, seq_len, batch, num_directions, hidden_size);
}

std::vector<float> onnx_state_from_lstmrt(const std::vector<float>& state, int batch, int num_directions,
                                          int hidden_size, TensorLayout layout) {
  // (D, N, H) -> (N, D, H) for batch-major; unchanged (a copy) for time-major.
  if (layout == TensorLayout::kBatchMajor) return swap_middle_axes(state, 1, num_directions, batch, hidden_size);
  return swap_middle_axes(state, num_directions, 1, batch, hidden_size);
}

std::vector<float> lstmrt_state_from_onnx(const std::vector<float>& state, int batch, int num_directions,
                                          int hidden_size, TensorLayout layout) {
  if (layout == TensorLayout::kBatchMajor) return swap_middle_axes(state, 1, batch, num_directions, hidden_size);
  return swap_middle_axes(state, num_directions, 1, batch, hidden_size);
}

}  // namespace lstmrt::formats_detail
