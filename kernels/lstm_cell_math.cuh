// The per-element LSTM gate math: ONE code path for the host and every GPU kernel.
//
// Compiled by nvcc it is __host__ __device__; by a plain C++ compiler it is ordinary inline code,
// so CPU tests check exactly the arithmetic the kernels run (tests/cpu/test_cell_math.cpp checks
// it against the double-precision reference backend).
//
// The equations are model.hpp's, for one hidden unit j of one direction at one step:
//   i = gate(clip(z_i + p_i·c_prev))
//   f = 1 − i                                   when coupled_input_forget
//     = gate(clip(z_f + p_f·c_prev))            otherwise
//   g = cell(clip(z_g))
//   c = f·c_prev + i·g
//   o = gate(clip(z_o + p_o·c))                 (the output peephole sees the NEW c)
//   h = o·hidden(clip(c))                       (pre-projection h; the stored c is never clipped)
// where z_* already include both biases, clip(v) clamps to [−clip, clip] when clip > 0, and the
// peephole terms are present only when `peepholes` is set.
//
// Plain POD parameters only (no std:: types, no lstmrt public headers), so they can be kernel
// arguments by value; kernels/cell_math_params.hpp builds them from a ModelDesc.
#pragma once

#include <math.h>

#if defined(__CUDACC__)
#define LSTMRT_HD __host__ __device__
#else
#define LSTMRT_HD
#endif

namespace lstmrt::kernels {

// Mirrors lstmrt::ActivationKind one for one (the converter maps them by name, not by value).
enum class ActKind : int {
  kSigmoid,
  kTanh,
  kRelu,
  kAffine,
  kLeakyRelu,
  kThresholdedRelu,
  kScaledTanh,
  kHardSigmoid,
  kHardSigmoidKeras3,
  kElu,
  kSoftsign,
  kSoftplus,
  kGelu,
  kSilu,
  kSelu,
  kCelu,
  kExponential,
  kHardSilu,
  kHardTanh,
  kHardShrink,
  kSoftShrink,
  kTanhShrink,
  kLogSigmoid,
  kMish,
  kRelu6,
  kSparsePlus,
  kSparseSigmoid,
  kSquareplus,
};

struct ActParams {
  ActKind kind;
  float alpha;
  float beta;
};

struct CellMathParams {
  ActParams gate;    // i, f, o
  ActParams cell;    // candidate g
  ActParams hidden;  // applied to c for h
  float clip;        // 0 = none, else > 0
  bool peepholes;
  bool coupled_input_forget;
};

// Result for one hidden unit: the new cell state and the hidden value before any projection.
struct CellResult {
  float c;
  float h;
};

LSTMRT_HD inline float clamp_value(float v, float lo, float hi) { return v < lo ? lo : (v > hi ? hi : v); }

// The formulas are model.hpp's ActivationKind comments, evaluated in three stages so that each
// inlined copy holds every transcendental function once: the argument u of the one function the
// kind needs, that function's value v, then the kind's combination of x and v. NaN propagates
// through every branch exactly as through the reference's formulas (comparisons with NaN are
// false, so ternaries keep it rather than clamping it away).
enum class ActPrimitive : int { kNone, kExp, kExpm1, kTanh, kErf, kSoftplus, kSqrt };

LSTMRT_HD inline float activate(const ActParams& a, float x) {
  float u = x;
  ActPrimitive f = ActPrimitive::kNone;
  switch (a.kind) {
    case ActKind::kSigmoid:
    case ActKind::kSilu: u = -x, f = ActPrimitive::kExp; break;
    case ActKind::kExponential: f = ActPrimitive::kExp; break;
    // mish: tanh(log(1 + n)) = n(n + 2) / (n(n + 2) + 2) with n = e^x; beyond x = 20 it is 1 in float.
    case ActKind::kMish: u = x < 20.0f ? x : 20.0f, f = ActPrimitive::kExp; break;
    case ActKind::kTanh:
    case ActKind::kTanhShrink: f = ActPrimitive::kTanh; break;
    case ActKind::kScaledTanh: u = a.beta * x, f = ActPrimitive::kTanh; break;
    case ActKind::kElu:
    case ActKind::kSelu: u = x > 0.0f ? 0.0f : x, f = ActPrimitive::kExpm1; break;
    case ActKind::kCelu: u = (x >= 0.0f ? 0.0f : x) / a.alpha, f = ActPrimitive::kExpm1; break;
    case ActKind::kGelu: u = x * 0.70710678118654752f, f = ActPrimitive::kErf; break;
    case ActKind::kSoftplus: f = ActPrimitive::kSoftplus; break;
    case ActKind::kLogSigmoid: u = -x, f = ActPrimitive::kSoftplus; break;
    case ActKind::kSquareplus: u = x * x + a.alpha, f = ActPrimitive::kSqrt; break;
    default: break;
  }
  float v = u;
  switch (f) {
    case ActPrimitive::kNone: break;
    case ActPrimitive::kExp: v = expf(u); break;
    case ActPrimitive::kExpm1: v = expm1f(u); break;
    case ActPrimitive::kTanh: v = tanhf(u); break;
    case ActPrimitive::kErf: v = erff(u); break;
    case ActPrimitive::kSoftplus: v = log1pf(expf(-fabsf(u))) + (u > 0.0f ? u : 0.0f); break;  // log(1 + e^u), stable
    case ActPrimitive::kSqrt: v = sqrtf(u); break;
  }
  switch (a.kind) {
    case ActKind::kSigmoid: return 1.0f / (1.0f + v);
    case ActKind::kTanh: return v;
    case ActKind::kRelu: return x > 0.0f ? x : 0.0f;
    case ActKind::kAffine: return a.alpha * x + a.beta;
    case ActKind::kLeakyRelu: return x >= 0.0f ? x : a.alpha * x;
    case ActKind::kThresholdedRelu: return x > a.alpha ? x : 0.0f;
    case ActKind::kScaledTanh: return a.alpha * v;
    case ActKind::kHardSigmoid: return clamp_value(a.alpha * x + a.beta, 0.0f, 1.0f);
    case ActKind::kHardSigmoidKeras3: return clamp_value(x / 6.0f + 0.5f, 0.0f, 1.0f);
    case ActKind::kElu: return x > 0.0f ? x : a.alpha * v;
    case ActKind::kSoftsign: return x / (1.0f + fabsf(x));
    case ActKind::kSoftplus: return v;
    case ActKind::kGelu: return 0.5f * x * (1.0f + v);
    case ActKind::kSilu: return x / (1.0f + v);
    case ActKind::kSelu: return 1.0507009873554805f * (x > 0.0f ? x : 1.6732632423543772f * v);
    case ActKind::kCelu: return x >= 0.0f ? x : a.alpha * v;
    case ActKind::kExponential: return v;
    case ActKind::kHardSilu: return x * clamp_value(x / 6.0f + 0.5f, 0.0f, 1.0f);
    case ActKind::kHardTanh: return clamp_value(x, -1.0f, 1.0f);
    case ActKind::kHardShrink: return fabsf(x) > a.alpha ? x : 0.0f;
    case ActKind::kSoftShrink: return x > a.alpha ? x - a.alpha : (x < -a.alpha ? x + a.alpha : 0.0f);
    case ActKind::kTanhShrink: return x - v;
    case ActKind::kLogSigmoid: return -v;
    case ActKind::kMish: {
      const float m = v * (v + 2.0f);
      return x < 20.0f ? x * (m / (m + 2.0f)) : x;
    }
    case ActKind::kRelu6: return clamp_value(x, 0.0f, 6.0f);
    case ActKind::kSparsePlus: return x <= -1.0f ? 0.0f : (x < 1.0f ? 0.25f * (x + 1.0f) * (x + 1.0f) : x);
    case ActKind::kSparseSigmoid: return x <= -1.0f ? 0.0f : (x < 1.0f ? 0.5f * (x + 1.0f) : 1.0f);
    // (x + v)/2 with v = √(x² + b); for x < 0 the equal b / (2(v − x)) avoids cancelling v and x.
    case ActKind::kSquareplus: return x < 0.0f ? a.alpha / (2.0f * (v - x)) : 0.5f * (x + v);
  }
  return nanf("");  // unreachable for params built by make_cell_math_params
}

// The kinds the persistent kernels evaluate: ONNX's set and Keras's classic ones (sigmoid, tanh,
// relu, hard_sigmoid, elu, softsign, softplus, ...). Their register budget holds weight rows, and
// every further inlined formula costs registers there, so the fused planner runs models with other
// activations on the stepwise kernels, which evaluate every kind (fused/persistent_plan.cpp).
LSTMRT_HD inline bool persistent_evaluates(ActKind k) {
  switch (k) {
    case ActKind::kSigmoid:
    case ActKind::kTanh:
    case ActKind::kRelu:
    case ActKind::kAffine:
    case ActKind::kLeakyRelu:
    case ActKind::kThresholdedRelu:
    case ActKind::kScaledTanh:
    case ActKind::kHardSigmoid:
    case ActKind::kHardSigmoidKeras3:
    case ActKind::kElu:
    case ActKind::kSoftsign:
    case ActKind::kSoftplus: return true;
    default: return false;
  }
}

// activate() for the kinds persistent_evaluates() accepts (the same formulas; NaN for others).
LSTMRT_HD inline float activate_classic(const ActParams& a, float x) {
  switch (a.kind) {
    case ActKind::kSigmoid: return 1.0f / (1.0f + expf(-x));
    case ActKind::kTanh: return tanhf(x);
    case ActKind::kRelu: return x > 0.0f ? x : 0.0f;
    case ActKind::kAffine: return a.alpha * x + a.beta;
    case ActKind::kLeakyRelu: return x >= 0.0f ? x : a.alpha * x;
    case ActKind::kThresholdedRelu: return x > a.alpha ? x : 0.0f;
    case ActKind::kScaledTanh: return a.alpha * tanhf(a.beta * x);
    case ActKind::kHardSigmoid: return clamp_value(a.alpha * x + a.beta, 0.0f, 1.0f);
    case ActKind::kHardSigmoidKeras3: return clamp_value(x / 6.0f + 0.5f, 0.0f, 1.0f);
    case ActKind::kElu: return x > 0.0f ? x : a.alpha * expm1f(x);
    case ActKind::kSoftsign: return x / (1.0f + fabsf(x));
    case ActKind::kSoftplus: return log1pf(expf(-fabsf(x))) + (x > 0.0f ? x : 0.0f);
    default: return nanf("");
  }
}

// clip(v): clamp to [−clip, clip] when clip > 0, identity when clip == 0.
LSTMRT_HD inline float clip_value(float v, float clip) {
  if (clip > 0.0f) return v < -clip ? -clip : (v > clip ? clip : v);
  return v;
}

// One hidden unit, one step. z_i z_f z_g z_o: gate pre-activations with biases added; c_prev: the
// unit's previous cell state; p_i p_f p_o: its peephole weights (ignored unless p.peepholes).
// kClassic: only the kinds persistent_evaluates() accepts (the persistent kernels).
template <bool kClassic>
LSTMRT_HD inline float activate_as(const ActParams& a, float x) {
  if constexpr (kClassic)
    return activate_classic(a, x);
  else
    return activate(a, x);
}

template <bool kClassic = false>
LSTMRT_HD inline CellResult cell_step(const CellMathParams& p, float z_i, float z_f, float z_g, float z_o, float c_prev,
                                      float p_i, float p_f, float p_o) {
  const float peep_i = p.peepholes ? p_i * c_prev : 0.0f;
  const float i = activate_as<kClassic>(p.gate, clip_value(z_i + peep_i, p.clip));
  float f;
  if (p.coupled_input_forget) {
    f = 1.0f - i;
  } else {
    const float peep_f = p.peepholes ? p_f * c_prev : 0.0f;
    f = activate_as<kClassic>(p.gate, clip_value(z_f + peep_f, p.clip));
  }
  const float g = activate_as<kClassic>(p.cell, clip_value(z_g, p.clip));
  const float c = f * c_prev + i * g;
  const float peep_o = p.peepholes ? p_o * c : 0.0f;
  const float o = activate_as<kClassic>(p.gate, clip_value(z_o + peep_o, p.clip));
  return {c, o * activate_as<kClassic>(p.hidden, clip_value(c, p.clip))};
}

}  // namespace lstmrt::kernels
