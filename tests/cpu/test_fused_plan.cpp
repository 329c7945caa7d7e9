// The fused backend's host plan (src/fused/fused_plan.hpp): GEMM sizes and offsets, time chunks,
// which time each row is at, where outputs go, the op (graph node) order, the wavefront's
// cross-stream ordering, the workspace layout — and the plan's errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/expect_error.hpp"
#include "common/fused_plan_helpers.hpp"
#include "fused/fused_params.hpp"
#include "fused/fused_plan.hpp"
#include "kernels/fused_step_math.cuh"

namespace lstmrt::fused {
namespace {

using test::node_order;
using test::stream_order;
using test::StreamOrder;

ModelDesc model(Direction dir, int layers, int I, int H, int P = 0) { return test::plan_model(dir, layers, I, H, P); }

PlanKey key(int T, int N, bool lengths = false, bool h0 = false, TensorLayout layout = TensorLayout::kTimeMajor) {
  return test::plan_key(T, N, lengths, h0, layout);
}

std::vector<Op> gemms(const FusedPlan& plan, GemmRole role, int layer = -1) {
  std::vector<Op> out;
  for (const Op& op : plan.ops)
    if (op.kind == OpKind::kGemm && op.gemm.role == role && (layer < 0 || op.layer == layer)) out.push_back(op);
  return out;
}

TEST(FusedPlan, OneLayerForwardNodeOrder) {
  const ModelDesc m = model(Direction::kForward, 1, 3, 5);
  const FusedPlan plan = test::plan_for(m, DataType::kFloat32, key(3, 2));
  EXPECT_EQ(plan.chunk_count, 1);
  EXPECT_FALSE(plan.wavefront);
  // No h0: the step-0 recurrent GEMM is skipped (h = 0).
  EXPECT_EQ(node_order(plan), "0:fork 0:init_state 0:input 0:gate0 0:recurrent 0:gate1 0:recurrent 0:gate2 0:join");
  const GemmOp in = gemms(plan, GemmRole::kInput)[0].gemm;
  EXPECT_EQ(in.rows, 3 * 2);
  EXPECT_EQ(in.cols, 4 * 5);
  EXPECT_EQ(in.depth, 3);
  EXPECT_EQ(in.batch, 1);
  EXPECT_EQ(in.act.buffer, BufferKind::kX);
  EXPECT_EQ(in.act.ld, 3);
  EXPECT_EQ(in.out.buffer, BufferKind::kGatesX);
  EXPECT_EQ(in.out.ld, 20);
  const GemmOp rec = gemms(plan, GemmRole::kRecurrent)[0].gemm;
  EXPECT_EQ(rec.rows, 2);
  EXPECT_EQ(rec.cols, 20);
  EXPECT_EQ(rec.depth, 5);
  EXPECT_EQ(rec.act.buffer, BufferKind::kHState);
  EXPECT_EQ(rec.weight.buffer, BufferKind::kWeightHh);
  // One direction: the recurrent GEMM adds into the step's block of gates_x (time s).
  EXPECT_EQ(rec.out.buffer, BufferKind::kGatesX);
  EXPECT_TRUE(rec.accumulate);
  EXPECT_EQ(rec.out.ld, 20);
  const auto recs = gemms(plan, GemmRole::kRecurrent);
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].gemm.out.offset, 1 * 2 * 20);
  EXPECT_EQ(recs[1].gemm.out.offset, 2 * 2 * 20);
  for (const Op& op : plan.ops)
    if (op.kind == OpKind::kGateStep) EXPECT_FALSE(op.has_recurrent) << op.step;
}

TEST(FusedPlan, RecurrentGemmTargets) {
  // Reverse without lengths: every row is at time T−1−s, so it still adds into gates_x.
  const ModelDesc rev = model(Direction::kReverse, 1, 3, 5);
  FusedPlan plan = test::plan_for(rev, DataType::kFloat32, key(4, 2, false, true));
  auto recs = gemms(plan, GemmRole::kRecurrent);
  ASSERT_EQ(recs.size(), 4u);
  for (int s = 0; s < 4; ++s) EXPECT_EQ(recs[s].gemm.out.offset, (3 - s) * 2 * 20) << s;
  // Batch-major gates_x (rows b·T + t): the block of time t starts at t·4H, rows T·4H apart.
  plan = test::plan_for(rev, DataType::kFloat32, key(4, 2, false, true, TensorLayout::kBatchMajor));
  recs = gemms(plan, GemmRole::kRecurrent);
  EXPECT_EQ(recs[0].gemm.out.offset, 3 * 20);
  EXPECT_EQ(recs[0].gemm.out.ld, 4 * 20);
  // Reverse with lengths (rows at different times) and bidirectional layers use gates_h.
  for (const FusedPlan& p :
       {test::plan_for(rev, DataType::kFloat32, key(4, 2, true, true)),
        test::plan_for(model(Direction::kBidirectional, 1, 3, 5), DataType::kFloat32, key(4, 2, false, true))}) {
    for (const Op& op : gemms(p, GemmRole::kRecurrent)) {
      EXPECT_EQ(op.gemm.out.buffer, BufferKind::kGatesH);
      EXPECT_FALSE(op.gemm.accumulate);
    }
    for (const Op& op : p.ops)
      if (op.kind == OpKind::kGateStep) EXPECT_TRUE(op.has_recurrent);
  }
}

TEST(FusedPlan, InitialStateAndLengthsAddNodes) {
  const ModelDesc m = model(Direction::kForward, 1, 3, 5);
  const FusedPlan plan = test::plan_for(m, DataType::kFloat32, key(2, 2, true, true));
  EXPECT_EQ(node_order(plan),
            "0:upload_lengths 0:fork 0:init_state 0:input 0:recurrent 0:gate0 0:recurrent 0:gate1 0:join");
}

TEST(FusedPlan, ProjectionEmitsPreviousStepAndChunkEnd) {
  const ModelDesc m = model(Direction::kForward, 1, 3, 6, 2);
  const FusedPlan plan = test::plan_for(m, DataType::kBFloat16, key(5, 2, false, true), 2);
  ASSERT_EQ(plan.chunk_count, 3);
  EXPECT_EQ(node_order(plan),
            "0:fork 0:init_state "
            "0:input 0:recurrent 0:gate0 0:projection 0:recurrent 0:gate1+e 0:projection 0:emit2+e "
            "0:input 0:recurrent 0:gate2 0:projection 0:recurrent 0:gate3+e 0:projection 0:emit4+e "
            "0:input 0:recurrent 0:gate4 0:projection 0:emit5+e 0:join");
  const GemmOp proj = gemms(plan, GemmRole::kProjection)[0].gemm;
  EXPECT_EQ(proj.rows, 2);
  EXPECT_EQ(proj.cols, 2);
  EXPECT_EQ(proj.depth, 6);
  EXPECT_EQ(proj.act.buffer, BufferKind::kMState);
  EXPECT_EQ(proj.weight.buffer, BufferKind::kWeightHr);
  EXPECT_EQ(proj.out.buffer, BufferKind::kHState);                // straight into the next step's recurrent input
  EXPECT_EQ(gemms(plan, GemmRole::kRecurrent)[0].gemm.depth, 2);  // W_hh is (4H, P)
}

TEST(FusedPlan, BidirectionalUnchunkedIsOneInputGemmForBothDirections) {
  const ModelDesc m = model(Direction::kBidirectional, 1, 4, 3);
  const FusedPlan plan = test::plan_for(m, DataType::kFloat32, key(6, 5));
  ASSERT_EQ(plan.chunk_count, 1);
  const auto in = gemms(plan, GemmRole::kInput);
  ASSERT_EQ(in.size(), 1u);
  EXPECT_EQ(in[0].gemm.cols, 2 * 4 * 3);
  EXPECT_EQ(in[0].gemm.rows, 6 * 5);
  const GemmOp rec = gemms(plan, GemmRole::kRecurrent)[0].gemm;
  EXPECT_EQ(rec.batch, 2);  // both directions in one batched GEMM
  EXPECT_EQ(rec.act.batch_stride, 5 * 3);
  EXPECT_EQ(rec.weight.batch_stride, 12 * 3);
  EXPECT_EQ(rec.out.batch_stride, 5 * 12);
}

TEST(FusedPlan, BidirectionalChunkedMirrorsTheReverseTimes) {
  const ModelDesc m = model(Direction::kBidirectional, 1, 4, 3);
  const int T = 7, N = 2, C = 3;
  const FusedPlan plan = test::plan_for(m, DataType::kFloat32, key(T, N), C);
  ASSERT_EQ(plan.chunk_count, 3);
  const auto in = gemms(plan, GemmRole::kInput);
  ASSERT_EQ(in.size(), 6u);  // two per chunk, one per direction
  for (int c = 0; c < 3; ++c) {
    const GemmOp& fwd = in[2 * c].gemm;
    const GemmOp& rev = in[2 * c + 1].gemm;
    const int first = c * C, last = std::min(T, first + C);
    EXPECT_EQ(fwd.act.offset, first * N * 4) << c;
    EXPECT_EQ(fwd.rows, (last - first) * N) << c;
    EXPECT_EQ(rev.act.offset, (T - last) * N * 4) << c;
    EXPECT_EQ(fwd.weight.offset, 0);
    EXPECT_EQ(rev.weight.offset, 12 * 4);  // direction 1's rows of the packed (D·4H, I) W_ih
    EXPECT_EQ(rev.out.offset, 12);         // its columns of gates_x
    EXPECT_EQ(rev.out.ld, 24);
  }
  for (const Op& op : plan.ops) {
    if (op.kind != OpKind::kGateStep) continue;
    const int c = op.step / C;
    EXPECT_EQ(op.gates_time_base[0], c * C);
    EXPECT_EQ(op.gates_time_base[1], T - std::min(T, (c + 1) * C));
  }
}

// Masked requests: the mask is uploaded, chunking and the in-place recurrent GEMM stay (every row
// reads the same time at a step, unlike reverse + lengths), only projected models with h0 add the
// gates_h0 GEMM, the workspace holds the packed mask, and a persistent layer is refused.
TEST(FusedPlan, MaskUploadChunkingAndGatesH0) {
  for (int proj : {0, 2})
    for (bool h0 : {false, true}) {
      ModelDesc d;
      d.input_size = 5;
      d.hidden_size = 6;
      d.proj_size = proj;
      d.direction = Direction::kReverse;
      PlanKey key;
      key.seq_len = 12;
      key.batch = 3;
      key.has_mask = true;
      key.has_initial_state = h0;
      key.want_y = true;
      const FusedPlan plan = test::plan_for(d, DataType::kFloat32, key, 4);
      int uploads = 0, gates_h0 = 0;
      for (const Op& op : plan.ops) {
        uploads += op.kind == OpKind::kUploadMask;
        gates_h0 += op.kind == OpKind::kGemm && op.gemm.out.buffer == BufferKind::kGatesH0;
      }
      EXPECT_EQ(uploads, 1);
      EXPECT_EQ(plan.chunk_steps, 4);
      EXPECT_EQ(gates_h0, proj > 0 && h0 ? 1 : 0);
      EXPECT_EQ(recurrent_into_gates(d, key), !(proj > 0 && h0));
      EXPECT_GE(plan.workspace.mask.bytes, std::size_t{(3 * (1 + 2))} * 4);  // N·(⌈T/32⌉ + 2) int32
      EXPECT_THROW(test::plan_for(d, DataType::kFloat32, key, 0, {FusedKernel::kPersistent}), Error);
    }
}

TEST(FusedPlan, ReverseWithLengthsIsUnchunked) {
  const ModelDesc rev = model(Direction::kReverse, 1, 4, 3), fwd = model(Direction::kForward, 1, 4, 3);
  EXPECT_EQ(plan_chunk_steps(rev, 50, 2, true), 50);
  EXPECT_EQ(test::plan_for(rev, DataType::kFloat32, key(50, 2, true), 4).chunk_count, 1);
  EXPECT_EQ(test::plan_for(rev, DataType::kFloat32, key(50, 2, false), 4).chunk_count, 13);
  EXPECT_EQ(test::plan_for(fwd, DataType::kFloat32, key(50, 2, true), 4).chunk_count, 13);
}

TEST(FusedPlan, ChunkStepsKeepGatesInTheL2Budget) {
  const ModelDesc big = model(Direction::kForward, 1, 1024, 1024);
  const int steps = plan_chunk_steps(big, 1000, 256, false);
  EXPECT_EQ(static_cast<std::size_t>(steps), kGatesChunkBudgetBytes / (256u * 4096u * 4u));
  EXPECT_LE(static_cast<std::size_t>(steps) * 256 * 4096 * 4, kGatesChunkBudgetBytes);
  EXPECT_EQ(plan_chunk_steps(big, 3, 1, false), 3);  // small: the whole sequence
  EXPECT_EQ(plan_chunk_steps(model(Direction::kForward, 4, 8, 8), 100, 4, false), kWavefrontChunkSteps);
  EXPECT_EQ(plan_chunk_steps(model(Direction::kBidirectional, 4, 8, 8), 100, 4, false), 100);
  // A step larger than the budget still makes chunks of one step.
  EXPECT_EQ(plan_chunk_steps(model(Direction::kBidirectional, 1, 8, 8192), 10, 512, false), 1);
}

TEST(FusedPlan, BatchMajorInputGemms) {
  const ModelDesc m = model(Direction::kForward, 1, 3, 2);
  // Unchunked: one plain GEMM over the N·T rows in x's order; gates_x keeps rows b·T + t.
  FusedPlan plan = test::plan_for(m, DataType::kFloat32, key(4, 6, false, false, TensorLayout::kBatchMajor));
  GemmOp g = gemms(plan, GemmRole::kInput)[0].gemm;
  EXPECT_EQ(g.batch, 1);
  EXPECT_EQ(g.rows, 4 * 6);
  EXPECT_EQ(g.act.ld, 3);
  EXPECT_EQ(g.out.ld, 8);
  for (const Op& op : plan.ops)
    if (op.kind == OpKind::kGateStep) {
      EXPECT_EQ(op.gates_time_stride, 8);
      EXPECT_EQ(op.gates_row_stride, 4 * 8);
    }
  // Chunked, N >= steps: one batch entry per time step; gates_x time-major.
  plan = test::plan_for(m, DataType::kFloat32, key(4, 6, false, false, TensorLayout::kBatchMajor), 2);
  g = gemms(plan, GemmRole::kInput)[0].gemm;
  EXPECT_EQ(g.batch, 2);
  EXPECT_EQ(g.rows, 6);
  EXPECT_EQ(g.act.ld, 4 * 3);  // row b of time t at (b·T + t)·I
  EXPECT_EQ(g.act.batch_stride, 3);
  EXPECT_EQ(g.out.ld, 8);
  EXPECT_EQ(g.out.batch_stride, 6 * 8);
  for (const Op& op : plan.ops)
    if (op.kind == OpKind::kGateStep) {
      EXPECT_EQ(op.gates_time_stride, 6 * 8);
      EXPECT_EQ(op.gates_row_stride, 8);
    }
  // Chunked, N < steps: one batch entry per row.
  g = gemms(test::plan_for(m, DataType::kFloat32, key(9, 2, false, false, TensorLayout::kBatchMajor), 4),
            GemmRole::kInput)[0]
          .gemm;
  EXPECT_EQ(g.batch, 2);
  EXPECT_EQ(g.rows, 4);
  EXPECT_EQ(g.act.ld, 3);
  EXPECT_EQ(g.act.batch_stride, 9 * 3);
  EXPECT_EQ(g.out.ld, 2 * 8);
  EXPECT_EQ(g.out.batch_stride, 8);
}

TEST(FusedPlan, StepTimesForwardReverseAndFrozen) {
  using kernels::step_time;
  EXPECT_EQ(step_time(0, 5, 0), 0);
  EXPECT_EQ(step_time(0, 5, 4), 4);
  EXPECT_EQ(step_time(0, 5, 5), -1);
  EXPECT_EQ(step_time(1, 5, 0), 4);  // reverse starts at the row's own end
  EXPECT_EQ(step_time(1, 5, 4), 0);
  EXPECT_EQ(step_time(1, 3, 3), -1);
  EXPECT_EQ(step_time(1, 0, 0), -1);
  EXPECT_EQ(step_time(0, 0, 0), -1);
}

TEST(FusedPlan, OutputStrides) {
  const ModelDesc m = model(Direction::kReverse, 2, 3, 4, 2);
  PlanKey k = key(5, 3);
  SequenceStrides s = output_strides(m, k, 0);  // intermediate: time-major layer_out
  EXPECT_EQ(s.time, 3 * 2);
  EXPECT_EQ(s.row, 2);
  EXPECT_FALSE(s.flip);
  k.reverse_order = ReverseOutputOrder::kProcessing;
  s = output_strides(m, k, 1);
  EXPECT_EQ(s.time, 3 * 2);
  EXPECT_TRUE(s.flip);
  EXPECT_FALSE(output_strides(m, k, 0).flip);  // only the caller's y is in processing order
  k.layout = TensorLayout::kBatchMajor;
  s = output_strides(m, k, 1);
  EXPECT_EQ(s.time, 2);
  EXPECT_EQ(s.row, 5 * 2);
}

TEST(FusedPlan, WorkspaceRegionsAlignedDisjointAndSized) {
  for (DataType t : {DataType::kFloat32, DataType::kBFloat16}) {
    const ModelDesc m = model(Direction::kBidirectional, 3, 7, 9, 5);
    const int T = 6, N = 3, chunk = 4;
    const WorkspaceLayout w = plan_workspace(m, t, T, N, chunk);
    const std::size_t es = detail::element_bytes(t);
    std::vector<Region> all{w.lengths};
    EXPECT_EQ(w.lengths.bytes, 3u * 4u);
    for (int l = 0; l < 3; ++l) {
      const LayerRegions& r = w.layers[l];
      EXPECT_EQ(r.cublas.bytes, kCublasWorkspaceBytes);
      EXPECT_EQ(r.gates_x.bytes, std::size_t{4} * 3 * 2 * 36 * 4);
      EXPECT_EQ(r.gates_h.bytes, std::size_t{2} * 3 * 36 * 4);
      EXPECT_EQ(r.h_state.bytes, 2 * 3 * 5 * es);
      EXPECT_EQ(r.c_state.bytes, std::size_t{2} * 3 * 9 * 4);
      EXPECT_EQ(r.m_state.bytes, 2 * 3 * 9 * es);
      EXPECT_EQ(r.layer_out.bytes, l < 2 ? 6 * 3 * 2 * 5 * es : 0u);
      for (const Region& region : {r.cublas, r.gates_x, r.gates_h, r.h_state, r.c_state, r.m_state, r.layer_out})
        if (region.bytes) all.push_back(region);
    }
    std::sort(all.begin(), all.end(), [](const Region& a, const Region& b) { return a.offset < b.offset; });
    for (std::size_t i = 0; i < all.size(); ++i) {
      EXPECT_EQ(all[i].offset % kWorkspaceAlignment, 0u);
      EXPECT_LE(all[i].offset + all[i].bytes, w.total_bytes);
      if (i > 0) EXPECT_GE(all[i].offset, all[i - 1].offset + all[i - 1].bytes);
    }
  }
  const ModelDesc m = model(Direction::kForward, 1, 4, 4);
  EXPECT_EQ(plan_workspace(m, DataType::kFloat32, 5, 2, 5).layers[0].m_state.bytes, 0u);
}

TEST(FusedPlan, WorkspaceBytesCoversEveryKey) {
  for (Direction dir : {Direction::kForward, Direction::kReverse, Direction::kBidirectional}) {
    const ModelDesc m = model(dir, 2, 16, 32, 8);
    for (bool lengths : {false, true})
      for (TensorLayout layout : {TensorLayout::kTimeMajor, TensorLayout::kBatchMajor}) {
        const FusedPlan plan = test::plan_for(m, DataType::kFloat16, key(300, 64, lengths, true, layout));
        EXPECT_LE(plan.workspace.total_bytes, workspace_bytes(m, DataType::kFloat16, 300, 64, test::kH200Limits));
      }
  }
}

// Every GEMM operand stays inside its buffer: workspace regions, packed weights and x.
TEST(FusedPlan, GemmOperandsStayInsideTheirBuffers) {
  for (Direction dir : {Direction::kForward, Direction::kReverse, Direction::kBidirectional})
    for (TensorLayout layout : {TensorLayout::kTimeMajor, TensorLayout::kBatchMajor})
      for (int chunk : {0, 1, 3})
        for (bool lengths : {false, true}) {
          const ModelDesc m = model(dir, 2, 5, 6, 4);
          const int T = 7, N = 3, D = m.num_directions();
          const FusedPlan plan = test::plan_for(m, DataType::kFloat32, key(T, N, lengths, true, layout), chunk);
          for (const Op& op : plan.ops) {
            if (op.kind != OpKind::kGemm) continue;
            const GemmOp& g = op.gemm;
            auto extent = [&](const MatrixRef& r, int rows, int cols) {
              return r.offset + (g.batch - 1) * r.batch_stride + (rows - 1) * r.ld + cols;
            };
            auto capacity = [&](const MatrixRef& r) -> std::int64_t {
              const LayerRegions& reg = plan.workspace.layers[r.layer];
              const int in = m.layer_input_size(r.layer);
              switch (r.buffer) {
                case BufferKind::kX: return std::int64_t{T} * N * m.input_size;
                case BufferKind::kLayerOut: return reg.layer_out.bytes / 4;
                case BufferKind::kGatesX: return reg.gates_x.bytes / 4;
                case BufferKind::kGatesH: return reg.gates_h.bytes / 4;
                case BufferKind::kHState: return reg.h_state.bytes / 4;
                case BufferKind::kMState: return reg.m_state.bytes / 4;
                case BufferKind::kCState: return reg.c_state.bytes / 4;
                case BufferKind::kWeightIh: return std::int64_t{D} * 4 * 6 * in;
                case BufferKind::kWeightHh: return std::int64_t{D} * 4 * 6 * 4;
                case BufferKind::kWeightHr: return std::int64_t{D} * 4 * 6;
              }
              return 0;
            };
            const std::string what = std::string(to_string(g.role)) + " layer " + std::to_string(op.layer) + " chunk " +
                                     std::to_string(op.chunk);
            EXPECT_LE(extent(g.act, g.rows, g.depth), capacity(g.act)) << what;
            EXPECT_LE(extent(g.weight, g.cols, g.depth), capacity(g.weight)) << what;
            EXPECT_LE(extent(g.out, g.rows, g.cols), capacity(g.out)) << what;
            EXPECT_GE(g.act.ld, g.depth) << what;
            EXPECT_GE(g.weight.ld, g.depth) << what;
          }
        }
}

// Input times of layer_out a gate op writes (compute part and emitted previous step).
std::set<int> times_written(const ModelDesc& m, const FusedPlan& plan, const Op& op) {
  std::set<int> times;
  const int T = plan.key.seq_len;
  auto add_step = [&](int s) {
    for (int d = 0; d < m.num_directions(); ++d) {
      if (!m.is_reverse_slot(d)) {
        times.insert(s);
      } else if (plan.key.has_lengths) {
        for (int t = 0; t < T; ++t) times.insert(t);  // rows end anywhere
      } else {
        times.insert(T - 1 - s);
      }
    }
  };
  const bool projected = m.proj_size > 0;
  if (op.compute && !projected) add_step(op.step);
  if (op.emit_previous) add_step(op.step - 1);
  return times;
}

void expect_cross_layer_order(const ModelDesc& m, const FusedPlan& plan) {
  const StreamOrder order = stream_order(plan);
  const std::int64_t C = static_cast<std::int64_t>(m.num_directions()) * m.output_size();
  const int N = plan.key.batch;
  for (std::size_t b = 0; b < plan.ops.size(); ++b) {
    const Op& reader = plan.ops[b];
    if (reader.kind != OpKind::kGemm || reader.gemm.act.buffer != BufferKind::kLayerOut) continue;
    const int first = static_cast<int>(reader.gemm.act.offset / (N * C));
    const int last = first + reader.gemm.rows / N;
    for (std::size_t a = 0; a < plan.ops.size(); ++a) {
      const Op& writer = plan.ops[a];
      if (writer.kind != OpKind::kGateStep || writer.layer != reader.layer - 1) continue;
      const std::set<int> times = times_written(m, plan, writer);
      const bool overlaps = times.lower_bound(first) != times.end() && *times.lower_bound(first) < last;
      if (overlaps)
        EXPECT_TRUE(order.before(a, b)) << "layer " << writer.layer << " step " << writer.step
                                        << " writes times the layer above reads in chunk " << reader.chunk << " ["
                                        << first << ", " << last << ") without ordering";
    }
  }
  // The join follows everything.
  for (std::size_t a = 0; a < plan.ops.size(); ++a) EXPECT_TRUE(order.before(a, plan.ops.size() - 1)) << a;
}

TEST(FusedPlan, WavefrontOverlapsLayersAndOrdersTheirData) {
  const ModelDesc m = model(Direction::kForward, 3, 4, 5);
  const FusedPlan plan = test::plan_for(m, DataType::kFloat32, key(10, 2));
  ASSERT_EQ(plan.chunk_steps, kWavefrontChunkSteps);
  ASSERT_EQ(plan.chunk_count, 3);
  EXPECT_TRUE(plan.wavefront);
  // Layer l chunk c waits exactly for layer l−1 chunk c, and the event it waits on was last
  // recorded after that chunk (one event per layer suffices).
  std::vector<int> last_record(3, -1);
  int waits = 0;
  for (const Op& op : plan.ops) {
    if (op.kind == OpKind::kRecordEvent) last_record[op.layer] = op.chunk;
    if (op.kind != OpKind::kWaitEvent) continue;
    ++waits;
    EXPECT_EQ(op.wait_layer, op.layer - 1);
    EXPECT_EQ(op.chunk, last_record[op.wait_layer]);
  }
  EXPECT_EQ(waits, 2 * 3);
  // Layer 1's chunk c is issued before layer 0's chunk c+1: the two can run together.
  const std::string order = node_order(plan);
  EXPECT_LT(order.find("1:wait0@0"), order.find("0:record@1"));
  expect_cross_layer_order(m, plan);
}

TEST(FusedPlan, CrossLayerOrderForEveryDirectionAndChunking) {
  for (Direction dir : {Direction::kForward, Direction::kReverse, Direction::kBidirectional})
    for (int proj : {0, 3})
      for (int chunk : {0, 1, 2, 5})
        for (bool lengths : {false, true}) {
          const ModelDesc m = model(dir, 3, 4, 5, proj);
          const FusedPlan plan = test::plan_for(m, DataType::kFloat32, key(9, 2, lengths), chunk);
          SCOPED_TRACE(to_string(dir) + " proj " + std::to_string(proj) + " chunk " + std::to_string(chunk) +
                       " lengths " + std::to_string(lengths));
          expect_cross_layer_order(m, plan);
          if (dir == Direction::kBidirectional) EXPECT_FALSE(plan.wavefront);
          if (dir == Direction::kReverse && !lengths && plan.chunk_count > 1) EXPECT_TRUE(plan.wavefront);
        }
}

TEST(FusedPlan, EveryStepOfEveryLayerRunsOnce) {
  const ModelDesc m = model(Direction::kBidirectional, 2, 4, 5, 2);
  const FusedPlan plan = test::plan_for(m, DataType::kFloat32, key(8, 2, true, false), 3);
  std::map<std::pair<int, int>, int> steps, projections;
  for (const Op& op : plan.ops) {
    if (op.kind == OpKind::kGateStep && op.compute) ++steps[{op.layer, op.step}];
    if (op.kind == OpKind::kGemm && op.gemm.role == GemmRole::kProjection) ++projections[{op.layer, op.step}];
  }
  for (int l = 0; l < 2; ++l)
    for (int s = 0; s < 8; ++s) {
      EXPECT_EQ((steps[{l, s}]), 1) << l << " " << s;
      EXPECT_EQ((projections[{l, s}]), 1) << l << " " << s;
    }
  EXPECT_EQ(plan.ops.front().kind, OpKind::kUploadLengths);
  EXPECT_EQ(plan.ops[1].kind, OpKind::kFork);
  EXPECT_EQ(plan.ops.back().kind, OpKind::kJoin);
}

TEST(FusedPlan, KeysCompareEveryField) {
  ForwardRequest req;
  req.seq_len = 4;
  req.batch = 2;
  float dummy = 0;
  req.x = &dummy;
  req.y = &dummy;
  const PlanKey a = plan_key(req);
  EXPECT_TRUE(a.want_y);
  EXPECT_FALSE(a.want_h_n);
  PlanKey b = a;
  EXPECT_EQ(a, b);
  b.padding = PaddingMode::kCarryLast;
  EXPECT_NE(a, b);
  b = a;
  b.has_lengths = true;
  EXPECT_NE(a, b);
  b = a;
  b.layout = TensorLayout::kBatchMajor;
  EXPECT_NE(a, b);
  EXPECT_NE(to_string(a).find("T=4 N=2"), std::string::npos);
}

TEST(FusedPlan, GateParamsPointAtTheRightSlotsAndOutputs) {
  const ModelDesc m = model(Direction::kBidirectional, 2, 3, 4, 2);
  PlanKey k = key(5, 3);
  k.layout = TensorLayout::kBatchMajor;
  const FusedPlan plan = test::plan_for(m, DataType::kFloat16, k);
  std::vector<char> ws(plan.workspace.total_bytes);
  char y[1], h_n[1], c_n[1];
  ForwardRequest req;
  req.seq_len = 5;
  req.batch = 3;
  req.y = y;
  req.h_n = h_n;
  req.c_n = c_n;
  CallBuffers b = call_buffers(plan.workspace, ws.data(), req);
  const std::array<kernels::CellMathParams, 2> cell{};
  Op gate;
  gate.kind = OpKind::kGateStep;
  gate.layer = 1;
  const kernels::GateStepParams p = gate_step_params(m, plan, gate, b, cell, DataType::kFloat16);
  EXPECT_EQ(p.out, static_cast<void*>(y));  // top layer writes the caller's y
  EXPECT_EQ(p.out_row_stride, 5 * 2 * 2);
  EXPECT_EQ(static_cast<char*>(p.h_n) - h_n, 1 * 2 * 3 * 2 * 2);  // slot l·D = 2, (N, H_out) fp16 each
  EXPECT_EQ(static_cast<char*>(p.c_n) - c_n, 1 * 2 * 3 * 4 * 2);
  EXPECT_EQ(p.reverse[0], 0);
  EXPECT_EQ(p.reverse[1], 1);
  EXPECT_EQ(p.projected, 1);
  EXPECT_EQ(p.lengths, nullptr);
  gate.layer = 0;
  const kernels::GateStepParams p0 = gate_step_params(m, plan, gate, b, cell, DataType::kFloat16);
  EXPECT_EQ(p0.out, ws.data() + plan.workspace.layers[0].layer_out.offset);
  EXPECT_EQ(static_cast<char*>(p0.h_n), h_n);
  Op wrong;
  wrong.kind = OpKind::kGemm;
  test::expect_error([&] { gate_step_params(m, plan, wrong, b, cell, DataType::kFloat16); }, ErrorCode::kInternal,
                     {"gate_step_params", "gemm"});
}

TEST(FusedPlan, Errors) {
  const ModelDesc m = model(Direction::kForward, 1, 3, 4);
  test::expect_error([&] { test::plan_for(m, DataType::kFloat32, key(0, 2)); }, ErrorCode::kInvalidArgument, {"T=0"});
  test::expect_error([&] { test::plan_for(m, DataType::kFloat32, key(3, 0)); }, ErrorCode::kInvalidArgument, {"N=0"});
  test::expect_error([&] { plan_chunk_steps(m, -1, 2, false); }, ErrorCode::kInvalidArgument, {"T=-1"});
  test::expect_error([&] { chunk_time_range(m, 0, 5, 2, 6); }, ErrorCode::kInternal, {"chunk 5"});
  CallBuffers empty;
  empty.layers.resize(1);
  test::expect_error(
      [&] {
        matrix_address(empty, MatrixRef{BufferKind::kGatesX, 0, 0, 1, 0}, DataType::kFloat32);
      },
      ErrorCode::kInternal, {"gates_x"});
}

}  // namespace
}  // namespace lstmrt::fused
