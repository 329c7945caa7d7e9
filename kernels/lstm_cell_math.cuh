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

// NaN propagates through every branch below exactly as through the reference's formulas
// (comparisons with NaN are false, so ternaries keep it rather than clamping it away).
LSTMRT_HD inline float activate(const ActParams& a, float x) {
  switch (a.kind) {
    case ActKind::kSigmoid: return 1.0f / (1.0f + expf(-x));
    case ActKind::kTanh: return tanhf(x);
    case ActKind::kRelu: return x > 0.0f ? x : 0.0f;
    case ActKind::kAffine: return a.alpha * x + a.beta;
    case ActKind::kLeakyRelu: return x >= 0.0f ? x : a.alpha * x;
    case ActKind::kThresholdedRelu: return x > a.alpha ? x : 0.0f;
    case ActKind::kScaledTanh: return a.alpha * tanhf(a.beta * x);
    case ActKind::kHardSigmoid: {
      const float v = a.alpha * x + a.beta;
      return v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
    }
    case ActKind::kHardSigmoidKeras3: {
      const float v = x / 6.0f + 0.5f;
      return v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
    }
    case ActKind::kElu: return x >= 0.0f ? x : a.alpha * expm1f(x);
    case ActKind::kSoftsign: return x / (1.0f + fabsf(x));
    case ActKind::kSoftplus: return log1pf(expf(-fabsf(x))) + (x > 0.0f ? x : 0.0f);
  }
  return nanf("");  // unreachable for params built by make_cell_math_params
}

// clip(v): clamp to [−clip, clip] when clip > 0, identity when clip == 0.
LSTMRT_HD inline float clip_value(float v, float clip) {
  if (clip > 0.0f) return v < -clip ? -clip : (v > clip ? clip : v);
  return v;
}

// One hidden unit, one step. z_i z_f z_g z_o: gate pre-activations with biases added; c_prev: the
// unit's previous cell state; p_i p_f p_o: its peephole weights (ignored unless p.peepholes).
LSTMRT_HD inline CellResult cell_step(const CellMathParams& p, float z_i, float z_f, float z_g, float z_o,
                                      float c_prev, float p_i, float p_f, float p_o) {
  const float peep_i = p.peepholes ? p_i * c_prev : 0.0f;
  const float i = activate(p.gate, clip_value(z_i + peep_i, p.clip));
  float f;
  if (p.coupled_input_forget) {
    f = 1.0f - i;
  } else {
    const float peep_f = p.peepholes ? p_f * c_prev : 0.0f;
    f = activate(p.gate, clip_value(z_f + peep_f, p.clip));
  }
  const float g = activate(p.cell, clip_value(z_g, p.clip));
  const float c = f * c_prev + i * g;
  const float peep_o = p.peepholes ? p_o * c : 0.0f;
  const float o = activate(p.gate, clip_value(z_o + peep_o, p.clip));
  return {c, o * activate(p.hidden, clip_value(c, p.clip))};
}

}  // namespace lstmrt::kernels
