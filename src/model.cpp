// Model description: activation names, validation, descriptions.
#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

#include <fmt/format.h>

#include "common/check.hpp"
#include "lstmrt/model.hpp"

namespace lstmrt {
namespace {

// ONNX LSTM activation names with the defaults of the ONNX operator of that name.
struct OnnxName {
  const char* name;
  ActivationKind kind;
  float default_alpha;
  float default_beta;
};
constexpr OnnxName kOnnxNames[] = {
    {"Sigmoid", ActivationKind::kSigmoid, 0.0f, 0.0f},
    {"Tanh", ActivationKind::kTanh, 0.0f, 0.0f},
    {"Relu", ActivationKind::kRelu, 0.0f, 0.0f},
    {"Affine", ActivationKind::kAffine, 1.0f, 0.0f},
    {"LeakyRelu", ActivationKind::kLeakyRelu, 0.01f, 0.0f},
    {"ThresholdedRelu", ActivationKind::kThresholdedRelu, 1.0f, 0.0f},
    {"ScaledTanh", ActivationKind::kScaledTanh, 1.0f, 1.0f},
    {"HardSigmoid", ActivationKind::kHardSigmoid, 0.2f, 0.5f},
    {"Elu", ActivationKind::kElu, 1.0f, 0.0f},
    {"Softsign", ActivationKind::kSoftsign, 0.0f, 0.0f},
    {"Softplus", ActivationKind::kSoftplus, 0.0f, 0.0f},
};

// Keras 3 activation names (keras.activations.get) and what each computes with Keras's defaults.
struct KerasName {
  const char* name;
  Activation activation;
};
const KerasName kKerasNames[] = {
    {"sigmoid", Activation::sigmoid()},
    {"tanh", Activation::tanh()},
    {"relu", Activation::relu()},
    {"linear", Activation::affine(1.0f, 0.0f)},
    {"leaky_relu", Activation::leaky_relu(0.2f)},         // negative_slope=0.2
    {"hard_sigmoid", Activation::hard_sigmoid_keras3()},  // relu6(x + 3) / 6
    {"elu", Activation::elu(1.0f)},
    {"softsign", Activation::softsign()},
    {"softplus", Activation::softplus()},
    {"gelu", Activation::gelu()},  // approximate=False
    {"silu", Activation::silu()},
    {"swish", Activation::silu()},
    {"selu", Activation::selu()},
    {"celu", Activation::celu(1.0f)},
    {"exponential", Activation::exponential()},
    {"hard_silu", Activation::hard_silu()},
    {"hard_swish", Activation::hard_silu()},
    {"hard_tanh", Activation::hard_tanh()},
    {"hard_shrink", Activation::hard_shrink(0.5f)},
    {"soft_shrink", Activation::soft_shrink(0.5f)},
    {"tanh_shrink", Activation::tanh_shrink()},
    {"log_sigmoid", Activation::log_sigmoid()},
    {"mish", Activation::mish()},
    {"relu6", Activation::relu6()},
    {"sparse_plus", Activation::sparse_plus()},
    {"sparse_sigmoid", Activation::sparse_sigmoid()},
    {"squareplus", Activation::squareplus(4.0f)},
};
// Keras activations a cell cannot run unit by unit, and why.
constexpr std::pair<const char*, const char*> kKerasRefused[] = {
    {"softmax", "normalises across the units of a step"},
    {"log_softmax", "normalises across the units of a step"},
    {"sparsemax", "projects across the units of a step"},
    {"glu", "splits the units in halves (it changes the width)"},
    {"threshold", "needs threshold and default_value arguments, which a name cannot carry"},
};

// Names for to_string: the Keras spelling where Keras has the activation, else a snake_case one.
struct KindInfo {
  ActivationKind kind;
  const char* name;
  bool alpha, beta;  // which parameters the formula uses
};
constexpr KindInfo kKinds[] = {
    {ActivationKind::kSigmoid, "sigmoid", false, false},
    {ActivationKind::kTanh, "tanh", false, false},
    {ActivationKind::kRelu, "relu", false, false},
    {ActivationKind::kAffine, "affine", true, true},
    {ActivationKind::kLeakyRelu, "leaky_relu", true, false},
    {ActivationKind::kThresholdedRelu, "thresholded_relu", true, false},
    {ActivationKind::kScaledTanh, "scaled_tanh", true, true},
    {ActivationKind::kHardSigmoid, "hard_sigmoid_onnx", true, true},
    {ActivationKind::kHardSigmoidKeras3, "hard_sigmoid_keras3", false, false},
    {ActivationKind::kElu, "elu", true, false},
    {ActivationKind::kSoftsign, "softsign", false, false},
    {ActivationKind::kSoftplus, "softplus", false, false},
    {ActivationKind::kGelu, "gelu", false, false},
    {ActivationKind::kSilu, "silu", false, false},
    {ActivationKind::kSelu, "selu", false, false},
    {ActivationKind::kCelu, "celu", true, false},
    {ActivationKind::kExponential, "exponential", false, false},
    {ActivationKind::kHardSilu, "hard_silu", false, false},
    {ActivationKind::kHardTanh, "hard_tanh", false, false},
    {ActivationKind::kHardShrink, "hard_shrink", true, false},
    {ActivationKind::kSoftShrink, "soft_shrink", true, false},
    {ActivationKind::kTanhShrink, "tanh_shrink", false, false},
    {ActivationKind::kLogSigmoid, "log_sigmoid", false, false},
    {ActivationKind::kMish, "mish", false, false},
    {ActivationKind::kRelu6, "relu6", false, false},
    {ActivationKind::kSparsePlus, "sparse_plus", false, false},
    {ActivationKind::kSparseSigmoid, "sparse_sigmoid", false, false},
    {ActivationKind::kSquareplus, "squareplus", true, false},
};

const KindInfo* info_of(ActivationKind kind) {
  for (const auto& row : kKinds)
    if (row.kind == kind) return &row;
  return nullptr;
}

const KindInfo& row_of(ActivationKind kind) {
  const KindInfo* row = info_of(kind);
  if (!row) detail::fail(ErrorCode::kInternal, "activation kind {} has no table row", static_cast<int>(kind));
  return *row;
}

std::string onnx_names() {
  std::string names;
  for (const auto& row : kOnnxNames) names += fmt::format("{}{}", names.empty() ? "" : ", ", row.name);
  return names;
}

std::string keras_names() {
  std::string names;
  for (const auto& row : kKerasNames) names += fmt::format("{}{}", names.empty() ? "" : ", ", row.name);
  return names;
}

void validate_activation(const Activation& a, const std::string& field) {
  const KindInfo* row = info_of(a.kind);
  if (!row) detail::invalid("{} has unknown activation kind {}", field, static_cast<int>(a.kind));
  if (!std::isfinite(a.alpha) || !std::isfinite(a.beta))
    detail::invalid("{} {}: alpha and beta must be finite numbers", field, to_string(a));
  if (a.kind == ActivationKind::kCelu && !(a.alpha > 0.0f))
    detail::invalid("{} {}: expected alpha > 0 (celu divides by it)", field, to_string(a));
  if (a.kind == ActivationKind::kSquareplus && !(a.alpha >= 0.0f))
    detail::invalid("{} {}: expected alpha (Keras b) >= 0 (it is under a square root)", field, to_string(a));
}

}  // namespace

Activation Activation::from_onnx(std::string_view name, float alpha, float beta) {
  for (const auto& row : kOnnxNames) {
    if (name == row.name)
      return {row.kind, std::isnan(alpha) ? row.default_alpha : alpha, std::isnan(beta) ? row.default_beta : beta};
  }
  detail::invalid("unknown ONNX activation '{}': expected one of {}", name, onnx_names());
}

Activation Activation::from_keras(std::string_view name) {
  for (const auto& row : kKerasNames)
    if (name == row.name) return row.activation;
  for (const auto& [refused, why] : kKerasRefused)
    if (name == refused)
      detail::unsupported("Keras activation '{}' {}: lstmrt's cell applies activations unit by unit", name, why);
  detail::invalid("unknown Keras activation '{}': expected one of {}", name, keras_names());
}

Activation Activation::from_name(std::string_view name, float alpha, float beta) {
  for (const auto& row : kOnnxNames)
    if (name == row.name) return from_onnx(name, alpha, beta);
  if (!std::isnan(alpha) || !std::isnan(beta))
    detail::invalid("activation '{}' with alpha/beta: only ONNX activations ({}) take them", name, onnx_names());
  return from_keras(name);
}

bool operator==(const Activation& a, const Activation& b) {
  if (a.kind != b.kind) return false;
  const KindInfo* row = info_of(a.kind);
  if (!row) return a.alpha == b.alpha && a.beta == b.beta;
  return (!row->alpha || a.alpha == b.alpha) && (!row->beta || a.beta == b.beta);
}

std::string to_string(const Activation& a) {
  const KindInfo& row = row_of(a.kind);
  if (row.beta) return fmt::format("{}(alpha={}, beta={})", row.name, a.alpha, a.beta);
  if (row.alpha) return fmt::format("{}(alpha={})", row.name, a.alpha);
  return row.name;
}

bool CellActivations::is_default() const {
  return gate == Activation::sigmoid() && cell == Activation::tanh() && hidden == Activation::tanh();
}

bool ModelDesc::uses_extended_cell() const {
  bool extended = peepholes || coupled_input_forget || clip != 0.0f;
  for (int d = 0; d < num_directions(); ++d) extended = extended || !activations[d].is_default();
  return extended;
}

std::string to_string(Direction d) {
  switch (d) {
    case Direction::kForward: return "forward";
    case Direction::kReverse: return "reverse";
    case Direction::kBidirectional: return "bidirectional";
  }
  return "unknown";
}

void validate(const ModelDesc& desc) {
  if (desc.input_size < 1) detail::invalid("input_size is {}: expected >= 1", desc.input_size);
  if (desc.hidden_size < 1) detail::invalid("hidden_size is {}: expected >= 1", desc.hidden_size);
  if (desc.num_layers < 1) detail::invalid("num_layers is {}: expected >= 1", desc.num_layers);
  if (desc.proj_size != 0 && (desc.proj_size < 0 || desc.proj_size >= desc.hidden_size))
    detail::invalid("proj_size is {}: expected 0 (no projection) or 1..{} (below hidden_size {})", desc.proj_size,
                    desc.hidden_size - 1, desc.hidden_size);
  if (desc.direction != Direction::kForward && desc.direction != Direction::kReverse &&
      desc.direction != Direction::kBidirectional)
    detail::invalid("direction is {}: expected forward, reverse or bidirectional", static_cast<int>(desc.direction));
  if (!(desc.clip >= 0.0f) || !std::isfinite(desc.clip))
    detail::invalid("clip is {}: expected 0 (no clip) or a finite value > 0", desc.clip);
  constexpr long long kMaxElements = 1LL << 31;  // per weight matrix; beyond any GPU's needs
  const long long biggest = 4LL * desc.hidden_size * std::max(desc.input_size, desc.layer_input_size(1));
  if (biggest >= kMaxElements)
    detail::invalid("weight matrix of 4·hidden_size {} × input {} has {} elements: expected fewer than 2^31",
                    4LL * desc.hidden_size, std::max(desc.input_size, desc.layer_input_size(1)), biggest);
  const char* slot_names[] = {"activations[0]", "activations[1]"};
  for (int d = 0; d < desc.num_directions(); ++d) {
    validate_activation(desc.activations[d].gate, fmt::format("{}.gate", slot_names[d]));
    validate_activation(desc.activations[d].cell, fmt::format("{}.cell", slot_names[d]));
    validate_activation(desc.activations[d].hidden, fmt::format("{}.hidden", slot_names[d]));
  }
}

std::string describe(const ModelDesc& desc) {
  std::string s = fmt::format("LSTM input={} hidden={}", desc.input_size, desc.hidden_size);
  if (desc.proj_size) s += fmt::format(" proj={}", desc.proj_size);
  s += fmt::format(" layers={} {}", desc.num_layers, to_string(desc.direction));
  for (int d = 0; d < desc.num_directions(); ++d) {
    const CellActivations& a = desc.activations[d];
    if (!a.is_default())
      s += fmt::format(" act[{}]=({}, {}, {})", d, to_string(a.gate), to_string(a.cell), to_string(a.hidden));
  }
  if (desc.clip > 0) s += fmt::format(" clip={}", desc.clip);
  if (desc.peepholes) s += " peepholes";
  if (desc.coupled_input_forget) s += " coupled_input_forget";
  return s;
}

}  // namespace lstmrt
