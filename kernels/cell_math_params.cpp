#include "kernels/cell_math_params.hpp"

#include "common/check.hpp"

namespace lstmrt::kernels {
namespace {

ActKind to_act_kind(ActivationKind kind) {
  switch (kind) {
    case ActivationKind::kSigmoid: return ActKind::kSigmoid;
    case ActivationKind::kTanh: return ActKind::kTanh;
    case ActivationKind::kRelu: return ActKind::kRelu;
    case ActivationKind::kAffine: return ActKind::kAffine;
    case ActivationKind::kLeakyRelu: return ActKind::kLeakyRelu;
    case ActivationKind::kThresholdedRelu: return ActKind::kThresholdedRelu;
    case ActivationKind::kScaledTanh: return ActKind::kScaledTanh;
    case ActivationKind::kHardSigmoid: return ActKind::kHardSigmoid;
    case ActivationKind::kHardSigmoidKeras3: return ActKind::kHardSigmoidKeras3;
    case ActivationKind::kElu: return ActKind::kElu;
    case ActivationKind::kSoftsign: return ActKind::kSoftsign;
    case ActivationKind::kSoftplus: return ActKind::kSoftplus;
    case ActivationKind::kGelu: return ActKind::kGelu;
    case ActivationKind::kSilu: return ActKind::kSilu;
    case ActivationKind::kSelu: return ActKind::kSelu;
    case ActivationKind::kCelu: return ActKind::kCelu;
    case ActivationKind::kExponential: return ActKind::kExponential;
    case ActivationKind::kHardSilu: return ActKind::kHardSilu;
    case ActivationKind::kHardTanh: return ActKind::kHardTanh;
    case ActivationKind::kHardShrink: return ActKind::kHardShrink;
    case ActivationKind::kSoftShrink: return ActKind::kSoftShrink;
    case ActivationKind::kTanhShrink: return ActKind::kTanhShrink;
    case ActivationKind::kLogSigmoid: return ActKind::kLogSigmoid;
    case ActivationKind::kMish: return ActKind::kMish;
    case ActivationKind::kRelu6: return ActKind::kRelu6;
    case ActivationKind::kSparsePlus: return ActKind::kSparsePlus;
    case ActivationKind::kSparseSigmoid: return ActKind::kSparseSigmoid;
    case ActivationKind::kSquareplus: return ActKind::kSquareplus;
  }
  detail::fail(ErrorCode::kInternal, "cell math: activation kind {} has no kernel form", static_cast<int>(kind));
}

}  // namespace

ActParams to_act_params(const Activation& activation) {
  return {to_act_kind(activation.kind), activation.alpha, activation.beta};
}

CellMathParams make_cell_math_params(const ModelDesc& desc, int slot) {
  if (slot < 0 || slot >= desc.num_directions())
    detail::invalid("cell math: direction slot {} out of range: expected 0..{} for a model with {} direction(s)", slot,
                    desc.num_directions() - 1, desc.num_directions());
  const CellActivations& a = desc.activations[static_cast<std::size_t>(slot)];
  CellMathParams p{};
  p.gate = to_act_params(a.gate);
  p.cell = to_act_params(a.cell);
  p.hidden = to_act_params(a.hidden);
  p.clip = desc.clip;
  p.peepholes = desc.peepholes;
  p.coupled_input_forget = desc.coupled_input_forget;
  return p;
}

}  // namespace lstmrt::kernels
