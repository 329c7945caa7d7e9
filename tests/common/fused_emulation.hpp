// Test helper: a CPU emulation of the fused backend. It executes the backend's own plan
// (fused_plan.hpp) op by op in issue order on host memory, through the same address arithmetic
// (fused_params.hpp) and the same per-element kernel code (kernels/fused_step_math.cuh with
// lstm_cell_math.cuh), with float32 storage; GEMMs are plain loops accumulating in double.
// Compared with the reference backend it proves the plan, its offsets and the kernels' indexing
// before any GPU run. The workspace starts as NaN, so reading anything the plan never wrote fails.
// A kPersistent op (one launch for a chunk of a persistent layer) runs as the stepwise math of its
// steps [step, step + step_count) with the op's own gates_x addressing: the same result the
// persistent kernel must produce, so the plan's persistent ranges and time bases are checked too.
#pragma once

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "common/compare.hpp"
#include "common/random_model.hpp"
#include "common/reference_runner.hpp"
#include "fused/fused_params.hpp"
#include "fused/fused_plan.hpp"
#include "fused/fused_weights.hpp"
#include "kernels/cell_math_params.hpp"
#include "kernels/fused_step_math.cuh"
#include "request_mask.hpp"

namespace lstmrt::test {

struct EmulationOptions {
  int chunk_steps = 0;  // > 0: override the plan's chunk length
  PaddingMode padding = PaddingMode::kZero;
  ReverseOutputOrder order = ReverseOutputOrder::kOriginal;
  Wanted wanted{};
  std::vector<fused::LayerKernel> kernels;  // per layer; empty = every layer stepwise
};

// One GEMM of the plan: out[b] = act[b] · weight[b]^T (fused_plan.hpp's row-major convention).
inline void emulate_gemm(const fused::GemmOp& g, const float* act, const float* weight, float* out) {
  for (int b = 0; b < g.batch; ++b)
    for (int r = 0; r < g.rows; ++r)
      for (int c = 0; c < g.cols; ++c) {
        const float* a = act + b * g.act.batch_stride + r * g.act.ld;
        const float* w = weight + b * g.weight.batch_stride + c * g.weight.ld;
        double sum = 0.0;
        for (int k = 0; k < g.depth; ++k) sum += static_cast<double>(a[k]) * w[k];
        float& o = out[b * g.out.batch_stride + r * g.out.ld + c];
        o = static_cast<float>(g.accumulate ? o + sum : sum);
      }
}

// The time each gate step reads from gates_x must lie inside the chunk its GEMMs filled.
inline void check_gate_reads(const fused::FusedPlan& plan, const fused::Op& op, const kernels::GateStepParams& p) {
  if (!op.compute) return;
  for (int d = 0; d < plan.directions; ++d)
    for (int b = 0; b < p.batch; ++b) {
      const kernels::RowStep r = kernels::row_step(p, d, b, p.step);
      if (!r.valid) continue;
      const int t = r.t;
      const int block = t - p.gates_time_base[d];
      ASSERT_TRUE(block >= 0 && block < plan.chunk_steps)
          << "layer " << op.layer << " step " << op.step << " dir " << d << " row " << b << " reads time " << t
          << " = gates_x block " << block << ", outside the chunk of " << plan.chunk_steps;
    }
}

inline const float* emulated_address(const fused::CallBuffers& b, const fused::MatrixRef& ref) {
  return static_cast<const float*>(fused::matrix_address(b, ref, DataType::kFloat32));
}

inline void emulate_plan_gemm(const fused::CallBuffers& b, const fused::GemmOp& g) {
  emulate_gemm(g, emulated_address(b, g.act), emulated_address(b, g.weight), const_cast<float*>(emulated_address(b, g.out)));
}

inline void emulate_gate_op(const ModelDesc& m, const fused::FusedPlan& plan, const fused::Op& op,
                            const fused::CallBuffers& buffers, const std::array<kernels::CellMathParams, 2>& cell) {
  const kernels::GateStepParams p = fused::gate_step_params(m, plan, op, buffers, cell, DataType::kFloat32);
  check_gate_reads(plan, op, p);
  for (int d = 0; d < m.num_directions(); ++d)
    for (int b = 0; b < p.batch; ++b)
      for (int j = 0; j < m.hidden_size; ++j) kernels::gate_step_element<float>(p, d, b, j);
}

// A kPersistent op as stepwise math: per step gates_h = h_state · W_hh^T (both directions), the gate
// step with the op's gates_x addressing, the projection; with a projection the last h of the launch
// is emitted at its end (the persistent kernel's outputs are complete when it ends).
inline void emulate_persistent_op(const ModelDesc& m, const fused::FusedPlan& plan, const fused::Op& op,
                                  const fused::CallBuffers& buffers,
                                  const std::array<kernels::CellMathParams, 2>& cell) {
  using fused::BufferKind;
  const int l = op.layer, D = m.num_directions(), N = plan.key.batch, H = m.hidden_size, H4 = 4 * H;
  const int Ho = m.output_size(), P = m.proj_size;
  const fused::GemmOp recurrent{fused::GemmRole::kRecurrent, N, H4, Ho, D,
                                {BufferKind::kHState, l, 0, Ho, std::int64_t{N} * Ho},
                                {BufferKind::kWeightHh, l, 0, Ho, std::int64_t{H4} * Ho},
                                {BufferKind::kGatesH, l, 0, H4, std::int64_t{N} * H4}};
  const fused::GemmOp projection{fused::GemmRole::kProjection, N, P, H, D,
                                 {BufferKind::kMState, l, 0, H, std::int64_t{N} * H},
                                 {BufferKind::kWeightHr, l, 0, H, std::int64_t{P} * H},
                                 {BufferKind::kHState, l, 0, P, std::int64_t{N} * P}};
  ASSERT_GE(op.step_count, 1) << "layer " << l << " chunk " << op.chunk;
  fused::Op gate = op;
  gate.kind = fused::OpKind::kGateStep;
  gate.has_recurrent = true;
  for (int s = op.step; s < op.step + op.step_count; ++s) {
    emulate_plan_gemm(buffers, recurrent);
    gate.step = s;
    gate.compute = true;
    gate.emit_previous = P > 0 && s > op.step;
    emulate_gate_op(m, plan, gate, buffers, cell);
    if (P > 0) emulate_plan_gemm(buffers, projection);
  }
  if (P > 0) {
    gate.step = op.step + op.step_count;
    gate.compute = false;
    gate.emit_previous = true;
    emulate_gate_op(m, plan, gate, buffers, cell);
  }
}

inline HostOutputs emulate_fused(const ModelDesc& m, const Weights& w, const HostInputs& in,
                                 const EmulationOptions& opt = {}) {
  HostOutputs out;
  const ForwardRequest req = make_request(m, in, out, opt.wanted, opt.padding, opt.order);
  validate(m, req);

  const fused::FusedPlan plan =
      fused::make_plan(m, DataType::kFloat32, fused::plan_key(req), opt.chunk_steps, opt.kernels);
  std::vector<float> workspace(plan.workspace.total_bytes / sizeof(float), poison_value());
  fused::CallBuffers buffers = fused::call_buffers(plan.workspace, workspace.data(), req);
  std::vector<fused::PackedLayer> packed;
  for (int l = 0; l < m.num_layers; ++l) packed.push_back(fused::pack_layer(m, w, l));
  for (int l = 0; l < m.num_layers; ++l) {
    fused::LayerBuffers& b = buffers.layers[l];
    b.w_ih = packed[l].w_ih.data();
    b.w_hh = packed[l].w_hh.data();
    b.w_hr = packed[l].w_hr.empty() ? nullptr : packed[l].w_hr.data();
    b.bias = packed[l].bias.data();
    b.peephole = packed[l].peephole.empty() ? nullptr : packed[l].peephole.data();
  }
  const std::array<kernels::CellMathParams, 2> cell{kernels::make_cell_math_params(m, 0),
                                                     kernels::make_cell_math_params(m, m.num_directions() - 1)};
  const int D = m.num_directions(), N = in.batch, H = m.hidden_size;
  for (const fused::Op& op : plan.ops) {
    switch (op.kind) {
      case fused::OpKind::kUploadLengths:
        std::memcpy(buffers.lengths, req.lengths, sizeof(std::int32_t) * N);
        break;
      case fused::OpKind::kUploadMask: pack_mask(req.mask, in.seq_len, N, buffers.mask); break;
      case fused::OpKind::kInitState: {
        const kernels::InitStateParams p = fused::init_state_params(m, plan, op.layer, buffers, DataType::kFloat32);
        for (int d = 0; d < D; ++d)
          for (int b = 0; b < N; ++b)
            for (int j = 0; j < H; ++j) kernels::init_state_element<float>(p, d, b, j);
        break;
      }
      case fused::OpKind::kGemm: emulate_plan_gemm(buffers, op.gemm); break;
      case fused::OpKind::kGateStep: emulate_gate_op(m, plan, op, buffers, cell); break;
      case fused::OpKind::kClearPersistent:
        std::memset(reinterpret_cast<char*>(workspace.data()) + plan.workspace.persistent.offset, 0,
                    plan.workspace.persistent.bytes);
        break;
      case fused::OpKind::kPersistent: emulate_persistent_op(m, plan, op, buffers, cell); break;
      case fused::OpKind::kFork:
      case fused::OpKind::kRecordEvent:
      case fused::OpKind::kWaitEvent:
      case fused::OpKind::kJoin: break;  // stream order: the issue order is a valid serial order
    }
  }
  return out;
}

// A random request for the emulation: a model with every feature, shape, lengths, initial state,
// layout, padding, order, chunking and wanted outputs (opt.kernels left empty: every layer stepwise).
struct EmulationCase {
  ModelDesc desc;
  int T = 1, N = 1;
  bool lengths = false, state = false;
  std::optional<MaskKind> mask;  // a per-step mask instead of lengths
  TensorLayout layout = TensorLayout::kTimeMajor;
  EmulationOptions opt;
};

inline EmulationCase random_emulation_case(std::mt19937_64& rng) {
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  EmulationCase c;
  ModelDesc& m = c.desc;
  m.input_size = pick(1, 7);
  m.hidden_size = pick(1, 9);
  m.proj_size = m.hidden_size > 1 && pick(0, 2) == 0 ? pick(1, m.hidden_size - 1) : 0;
  m.num_layers = pick(1, 3);
  m.direction = static_cast<Direction>(pick(0, 2));
  randomize_cell_features(m, rng, /*bounded_cell_hidden*/ false);
  c.T = pick(1, 9);
  c.N = pick(1, 6);
  c.lengths = pick(0, 1);
  if (!c.lengths && pick(0, 1)) c.mask = static_cast<MaskKind>(pick(0, 2));
  c.state = pick(0, 1);
  c.layout = pick(0, 1) ? TensorLayout::kBatchMajor : TensorLayout::kTimeMajor;
  c.opt.padding = pick(0, 1) ? PaddingMode::kCarryLast : PaddingMode::kZero;
  if (m.direction == Direction::kReverse && pick(0, 1)) c.opt.order = ReverseOutputOrder::kProcessing;
  c.opt.chunk_steps = pick(0, 1) ? pick(1, 4) : 0;
  const int outputs = pick(0, 2);
  c.opt.wanted = {outputs != 1, outputs != 0};
  return c;
}

inline std::string describe_case(const EmulationCase& c) {
  return fmt::format("{} | T={} N={} lengths={} mask={} state={} {} padding={} order={} chunk={} y={} state_out={}",
                     describe(c.desc), c.T, c.N, c.lengths, c.mask ? static_cast<int>(*c.mask) : -1, c.state,
                     c.layout == TensorLayout::kTimeMajor ? "time-major" : "batch-major",
                     c.opt.padding == PaddingMode::kZero ? "zero" : "carry", static_cast<int>(c.opt.order),
                     c.opt.chunk_steps, c.opt.wanted.sequences, c.opt.wanted.state);
}

inline void expect_emulation_matches_reference(const EmulationCase& c, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  const Weights w = random_weights(c.desc, seed, 0.6f);
  HostInputs in = random_inputs(c.desc, c.T, c.N, rng, c.lengths, c.state, c.layout);
  if (c.mask) in.mask = random_mask(c.T, c.N, rng, *c.mask);
  Lstm ref = reference_lstm(c.desc, w);
  const HostOutputs want = run_host(ref, in, c.opt.wanted, c.opt.padding, c.opt.order);
  const HostOutputs got = emulate_fused(c.desc, w, in, c.opt);
  std::string what = describe_case(c);
  for (fused::LayerKernel k : c.opt.kernels) what += std::string(" ") + fused::to_string(k);
  EXPECT_TRUE(outputs_close(want, got, 1e-5, 1e-4, what));
}

}  // namespace lstmrt::test
