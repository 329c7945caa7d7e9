// Random and named forwards of the fused backend for the SIMT suites: a model with every feature,
// shape, lengths (0 and T included), initial state, layout, padding, Keras go_backwards order,
// chunking, wanted outputs, storage type and per-layer kernels; run on the SIMT executor
// (fused_driver.hpp) and compared with the reference backend on the same inputs rounded to the
// storage type (so the comparison measures the computation, not the input rounding).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <random>
#include <string>

#include "common/compare.hpp"
#include "common/elements.hpp"
#include "common/random_model.hpp"
#include "common/reference_runner.hpp"
#include "fused/fused_weights.hpp"
#include "kernels/cell_math_params.hpp"
#include "simt/executor.hpp"
#include "simt/fused_driver.hpp"

namespace lstmrt::simt {

struct FusedCase {
  ModelDesc desc;
  int T = 1, N = 1;
  bool lengths = false, state = false;
  std::optional<test::MaskKind> mask;  // a per-step mask instead of lengths (stepwise layers only)
  TensorLayout layout = TensorLayout::kTimeMajor;
  FusedRunOptions opt;
  DeviceFacts facts = small_facts(4);
  float weight_scale = 0.6f;

  // A device with `sms` SMs (clusters of up to 4 blocks in one GPC).
  static DeviceFacts small_facts(int sms, int max_cluster = 4) {
    DeviceFacts f;
    f.sm_count = sms;
    f.sms_per_gpc = std::max(4, max_cluster);
    f.max_cluster_size = max_cluster;
    f.portable_cluster_size = std::min(8, max_cluster);
    return f;
  }
};

inline std::string describe_case(const FusedCase& c) {
  std::string kernels;
  for (FusedKernel k : c.opt.kernels) kernels += std::string(" ") + to_string(k);
  return fmt::format(
      "{} | T={} N={} lengths={} mask={} state={} {} padding={} order={} chunk={} y={} state_out={} {}{} SMs={} "
      "cluster<={} schedule={}",
      describe(c.desc), c.T, c.N, c.lengths, c.mask ? static_cast<int>(*c.mask) : -1, c.state,
      c.layout == TensorLayout::kTimeMajor ? "time-major" : "batch-major",
      c.opt.padding == PaddingMode::kZero ? "zero" : "carry", static_cast<int>(c.opt.order), c.opt.chunk_steps,
      c.opt.wanted.sequences, c.opt.wanted.state, to_string(c.opt.type), kernels, c.facts.sm_count,
      c.facts.max_cluster_size, c.opt.schedule_seed);
}

// Storage below float32 or TF32 math keeps to the bounded (continuous) activations: a
// thresholded relu flips wherever rounding moves a value across its threshold.
inline FusedCase random_fused_case(std::mt19937_64& rng, DataType type = DataType::kFloat32,
                                   MathMode math = MathMode::kStrict) {
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  FusedCase c;
  c.opt.type = type;
  c.opt.math = math;
  ModelDesc& m = c.desc;
  m.input_size = pick(1, 7);
  m.hidden_size = pick(1, 9);
  m.proj_size = m.hidden_size > 1 && pick(0, 2) == 0 ? pick(1, m.hidden_size - 1) : 0;
  m.num_layers = pick(1, 3);
  m.direction = static_cast<Direction>(pick(0, 2));
  test::randomize_cell_features(m, rng,
                                /*bounded_cell_hidden*/ type != DataType::kFloat32 || math != MathMode::kStrict);
  c.T = pick(1, 8);
  c.N = pick(1, 5);
  c.lengths = pick(0, 1);
  if (!c.lengths && pick(0, 1)) c.mask = static_cast<test::MaskKind>(pick(0, 2));
  c.state = pick(0, 1);
  c.layout = pick(0, 1) ? TensorLayout::kBatchMajor : TensorLayout::kTimeMajor;
  c.opt.padding = pick(0, 1) ? PaddingMode::kCarryLast : PaddingMode::kZero;
  if (m.direction == Direction::kReverse && pick(0, 1)) c.opt.order = ReverseOutputOrder::kProcessing;
  c.opt.chunk_steps = pick(0, 1) ? pick(1, 4) : 0;
  const int outputs = pick(0, 2);
  c.opt.wanted = {outputs != 1, outputs != 0};
  c.opt.schedule_seed = rng();
  return c;
}

// Storage rounding of everything the kernels read (x, h0, c0, weights).
inline std::vector<float> rounded(const std::vector<float>& v, DataType t) {
  return detail::from_storage(detail::to_storage(v, t), t);
}
inline Weights rounded(const Weights& w, DataType t) {
  Weights out = w;
  for (LayerWeights& l : out.layers)
    for (std::vector<float>* v : {&l.w_ih, &l.w_hh, &l.b_ih, &l.b_hh, &l.w_hr, &l.peephole}) *v = rounded(*v, t);
  return out;
}

// Whether every activation of `desc` damps an error passed through it (slope at most 1 and
// bounded: the sigmoid and tanh family). Others — hard_tanh, relu, selu, gelu, exponential, ... —
// pass a pre-activation's rounding error on undamped or amplified through every step and layer.
inline bool damping_activations(const ModelDesc& desc) {
  for (int d = 0; d < desc.num_directions(); ++d) {
    const CellActivations& a = desc.activations[d];
    for (const Activation* act : {&a.gate, &a.cell, &a.hidden}) {
      const kernels::ActParams p = kernels::to_act_params(*act);
      switch (p.kind) {
        case kernels::ActKind::kSigmoid:
        case kernels::ActKind::kTanh:
        case kernels::ActKind::kHardSigmoidKeras3:
        case kernels::ActKind::kSoftsign: break;
        case kernels::ActKind::kHardSigmoid:
          if (std::fabs(p.alpha) <= 1.0f) break;
          return false;
        default: return false;
      }
    }
  }
  return true;
}

// Absolute tolerance relative to the output scale (max |expected|, at least 1), as the GPU suites:
// float32 1e-5 (TF32 1e-3), float16 1e-2, bfloat16 2e-2 (h is rounded at every step). With
// activations that do not damp (damping_activations) float32 and TF32 get ten and three times
// that: TF32 keeps 10 mantissa bits of each GEMM input (relative error 2^-11), and a slope-1 or
// unbounded activation passes such errors on through T steps and the layers.
inline double tolerance(const FusedRunOptions& o, bool damped) {
  if (o.type == DataType::kBFloat16) return 2e-2;
  if (o.type == DataType::kFloat16) return 1e-2;
  if (o.math == MathMode::kStrict) return damped ? 1e-5 : 1e-4;
  return damped ? 1e-3 : 3e-3;
}

// Runs `c` on the executor against the reference; returns the run (status, plans) for more checks.
inline FusedRunResult expect_matches_reference(const FusedCase& c, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  const DataType t = c.opt.type;
  const Weights w = rounded(random_weights(c.desc, seed, c.weight_scale), t);
  test::HostInputs in = test::random_inputs(c.desc, c.T, c.N, rng, c.lengths, c.state, c.layout);
  if (c.mask) in.mask = test::random_mask(c.T, c.N, rng, *c.mask);
  in.x = rounded(in.x, t);
  if (in.h0) *in.h0 = rounded(*in.h0, t), *in.c0 = rounded(*in.c0, t);
  Lstm ref = test::reference_lstm(c.desc, w);
  const test::HostOutputs want = test::run_host(ref, in, c.opt.wanted, c.opt.padding, c.opt.order);
  const ScopedDevice device(c.facts, c.opt.schedule_seed);
  FusedRunResult got = run_fused(c.desc, w, in, c.opt);
  double scale = 1.0;
  for (const auto* v : {&want.y, &want.h_n, &want.c_n})
    for (float e : *v)
      if (std::isfinite(e)) scale = std::max(scale, static_cast<double>(std::fabs(e)));
  const bool damped = damping_activations(c.desc);
  const double tol = tolerance(c.opt, damped);
  const bool strict32 = t == DataType::kFloat32 && c.opt.math == MathMode::kStrict;
  const double atol = strict32 ? tol : tol * scale;
  const double rtol = strict32 ? (damped ? 1e-4 : 1e-3) : 0.0;
  EXPECT_TRUE(test::outputs_close(want, got.out, atol, rtol, describe_case(c)));
  EXPECT_EQ(got.status.code, kernels::kPersistentOk) << "a persistent kernel gave up at block " << got.status.block
                                                     << " step " << got.status.step << ": " << describe_case(c);
  return got;
}

}  // namespace lstmrt::simt
