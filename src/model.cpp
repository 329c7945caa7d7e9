// Model description: activation names, validation, descriptions.
#include <algorithm>
#include <cmath>
#include <string>

#include <fmt/format.h>

#include "common/check.hpp"
#include "lstmrt/model.hpp"

namespace lstmrt {
namespace {

struct NamedActivation {
  const char* onnx_name;   // ONNX spelling, or nullptr
  const char* keras_name;  // Keras spelling, or nullptr
  ActivationKind kind;
  float default_alpha;
  float default_beta;
};

// One row per activation; the Keras "hard_sigmoid" is Keras 3's x/6 + 1/2, named apart from
// ONNX's HardSigmoid (alpha·x + beta, defaults 0.2 and 0.5, which Keras 2 also used).
constexpr NamedActivation kActivations[] = {
    {"Sigmoid", "sigmoid", ActivationKind::kSigmoid, 0.0f, 0.0f},
    {"Tanh", "tanh", ActivationKind::kTanh, 0.0f, 0.0f},
    {"Relu", "relu", ActivationKind::kRelu, 0.0f, 0.0f},
    {"Affine", nullptr, ActivationKind::kAffine, 1.0f, 0.0f},
    {"LeakyRelu", "leaky_relu", ActivationKind::kLeakyRelu, 0.01f, 0.0f},
    {"ThresholdedRelu", nullptr, ActivationKind::kThresholdedRelu, 1.0f, 0.0f},
    {"ScaledTanh", nullptr, ActivationKind::kScaledTanh, 1.0f, 1.0f},
    {"HardSigmoid", "hard_sigmoid_onnx", ActivationKind::kHardSigmoid, 0.2f, 0.5f},
    {nullptr, "hard_sigmoid", ActivationKind::kHardSigmoidKeras3, 0.0f, 0.0f},
    {"Elu", "elu", ActivationKind::kElu, 1.0f, 0.0f},
    {"Softsign", "softsign", ActivationKind::kSoftsign, 0.0f, 0.0f},
    {"Softplus", "softplus", ActivationKind::kSoftplus, 0.0f, 0.0f},
};

const NamedActivation& row_of(ActivationKind kind) {
  for (const auto& row : kActivations)
    if (row.kind == kind) return row;
  detail::fail(ErrorCode::kInternal, "activation kind {} has no table row", static_cast<int>(kind));
}

bool uses_alpha(ActivationKind k) {
  return k == ActivationKind::kAffine || k == ActivationKind::kLeakyRelu || k == ActivationKind::kThresholdedRelu ||
         k == ActivationKind::kScaledTanh || k == ActivationKind::kHardSigmoid || k == ActivationKind::kElu;
}
bool uses_beta(ActivationKind k) {
  return k == ActivationKind::kAffine || k == ActivationKind::kScaledTanh || k == ActivationKind::kHardSigmoid;
}

std::string valid_names() {
  std::string names;
  for (const auto& row : kActivations) {
    for (const char* n : {row.onnx_name, row.keras_name}) {
      if (!n) continue;
      if (!names.empty()) names += ", ";
      names += n;
    }
  }
  names += ", linear";
  return names;
}

void validate_activation(const Activation& a, const std::string& field) {
  bool known = false;
  for (const auto& row : kActivations) known = known || row.kind == a.kind;
  if (!known) detail::invalid("{} has unknown activation kind {}", field, static_cast<int>(a.kind));
  if (!std::isfinite(a.alpha) || !std::isfinite(a.beta))
    detail::invalid("{} {}: alpha and beta must be finite numbers", field, to_string(a));
}

}  // namespace

Activation Activation::from_name(std::string_view name, float alpha, float beta) {
  if (name == "linear") return affine(std::isnan(alpha) ? 1.0f : alpha, std::isnan(beta) ? 0.0f : beta);
  for (const auto& row : kActivations) {
    if ((row.onnx_name && name == row.onnx_name) || (row.keras_name && name == row.keras_name)) {
      return {row.kind, std::isnan(alpha) ? row.default_alpha : alpha, std::isnan(beta) ? row.default_beta : beta};
    }
  }
  detail::invalid("unknown activation '{}': expected one of {}", name, valid_names());
}

bool operator==(const Activation& a, const Activation& b) {
  if (a.kind != b.kind) return false;
  return (!uses_alpha(a.kind) || a.alpha == b.alpha) && (!uses_beta(a.kind) || a.beta == b.beta);
}

std::string to_string(const Activation& a) {
  const NamedActivation& row = row_of(a.kind);
  std::string name = row.keras_name ? row.keras_name : row.onnx_name;
  if (a.kind == ActivationKind::kHardSigmoidKeras3) name = "hard_sigmoid_keras3";
  if (a.kind == ActivationKind::kAffine) name = "affine";
  if (a.kind == ActivationKind::kThresholdedRelu) name = "thresholded_relu";
  if (a.kind == ActivationKind::kScaledTanh) name = "scaled_tanh";
  if (uses_beta(a.kind)) return fmt::format("{}(alpha={}, beta={})", name, a.alpha, a.beta);
  if (uses_alpha(a.kind)) return fmt::format("{}(alpha={})", name, a.alpha);
  return name;
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
