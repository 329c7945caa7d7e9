// The fused plan with persistent layers (fused_plan.hpp, FusedKernel): one kPersistent launch per
// chunk covering every step once and in order, gates_x addressing identical to the stepwise gate
// ops, the persistent region cleared first, layers that never overlap, the workspace's persistent
// region, mixed per-layer choices. (The plans executed, kernels included, against the reference:
// tests/simt/test_simt_fused.cpp.)
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "common/compare.hpp"
#include "common/expect_error.hpp"
#include "common/fused_plan_helpers.hpp"
#include "fused/fused_plan.hpp"
#include "fused/persistent_plan.hpp"

namespace lstmrt::test {
namespace {

using fused::FusedPlan;
using fused::Op;
using fused::OpKind;
using fused::Region;
using lstmrt::FusedKernel;

ModelDesc model(Direction dir, int layers, int I, int H, int P = 0) { return plan_model(dir, layers, I, H, P); }
fused::PlanKey key(int T, int N, bool lengths = false, bool h0 = false,
                   TensorLayout layout = TensorLayout::kTimeMajor) {
  return plan_key(T, N, lengths, h0, layout);
}

TEST(FusedPlanPersistent, OneLayerNodeOrder) {
  const ModelDesc m = model(Direction::kForward, 1, 3, 5);
  const FusedPlan plan = test::plan_for(m, DataType::kFloat32, key(10, 2, true), 4, {FusedKernel::kPersistent});
  EXPECT_EQ(plan.chunk_count, 3);
  EXPECT_TRUE(plan.any_persistent());
  EXPECT_EQ(node_order(plan),
            "0:clear_persistent 0:upload_lengths 0:fork 0:init_state 0:input 0:persistent0+4 0:input 0:persistent4+4 "
            "0:input 0:persistent8+2 0:join");
  // The same with a projection: the launch emits its own outputs (no emit-only op).
  const FusedPlan proj = test::plan_for(model(Direction::kForward, 1, 3, 5, 2), DataType::kBFloat16, key(3, 2), 0,
                                        {FusedKernel::kCluster});
  EXPECT_EQ(node_order(proj), "0:clear_persistent 0:fork 0:init_state 0:input 0:persistent0+3 0:join");
}

TEST(FusedPlanPersistent, StackedLayersDoNotOverlap) {
  // A stacked one-direction model normally overlaps its layers in chunks of 4; with a persistent
  // layer, layer 1 starts after all of layer 0 and chunks only by the gates_x budget.
  const ModelDesc m = model(Direction::kForward, 2, 3, 5);
  const FusedPlan stepwise = test::plan_for(m, DataType::kFloat32, key(10, 2));
  EXPECT_TRUE(stepwise.wavefront);
  EXPECT_EQ(stepwise.chunk_steps, fused::kWavefrontChunkSteps);
  const FusedPlan plan =
      test::plan_for(m, DataType::kFloat32, key(10, 2), 0, {FusedKernel::kStepwise, FusedKernel::kPersistent});
  EXPECT_FALSE(plan.wavefront);
  EXPECT_EQ(plan.chunk_steps, 10);
  EXPECT_EQ(plan.chunk_steps, fused::plan_chunk_steps(m, 10, 2, false, false));
  const FusedPlan chunked =
      test::plan_for(m, DataType::kFloat32, key(10, 2), 3, {FusedKernel::kPersistent, FusedKernel::kStepwise});
  EXPECT_FALSE(chunked.wavefront);
  const std::string order = node_order(chunked);
  EXPECT_LT(order.find("0:record@3"), order.find("1:wait0@3")) << order;
  EXPECT_EQ(order.find("1:wait0@0"), std::string::npos) << order;  // every wait is for layer 0's last chunk
}

// Every structural property of a plan with persistent layers, against the stepwise plan of the same
// chunking.
void expect_persistent_plan_valid(const ModelDesc& m, const FusedPlan& plan, const std::string& what) {
  SCOPED_TRACE(what);
  const int T = plan.key.seq_len, L = m.num_layers, C = plan.chunk_count;
  const FusedPlan stepwise = test::plan_for(m, DataType::kFloat32, plan.key, plan.chunk_steps);
  ASSERT_EQ(stepwise.chunk_steps, plan.chunk_steps);
  ASSERT_EQ(plan.ops.front().kind, OpKind::kClearPersistent);
  ASSERT_EQ(plan.ops.back().kind, OpKind::kJoin);
  EXPECT_FALSE(plan.wavefront);
  const auto fork =
      std::find_if(plan.ops.begin(), plan.ops.end(), [](const Op& op) { return op.kind == OpKind::kFork; });
  ASSERT_NE(fork, plan.ops.end());
  for (int l = 0; l < L; ++l) {
    const bool persistent = fused::is_persistent(plan.choices[l].kernel);
    int next_step = 0, launches = 0;
    for (const Op& op : plan.ops) {
      if (op.layer != l) continue;
      if (persistent) {
        EXPECT_NE(op.kind, OpKind::kGateStep) << "layer " << l;
        if (op.kind == OpKind::kGemm) EXPECT_EQ(op.gemm.role, fused::GemmRole::kInput) << "layer " << l;
      } else {
        EXPECT_NE(op.kind, OpKind::kPersistent) << "layer " << l;
      }
      if (op.kind != OpKind::kPersistent) continue;
      // In order, contiguous, one launch per chunk covering the chunk's steps.
      EXPECT_EQ(op.chunk, launches) << "layer " << l;
      EXPECT_EQ(op.step, next_step) << "layer " << l;
      EXPECT_EQ(op.step, op.chunk * plan.chunk_steps);
      EXPECT_EQ(op.step_count, std::min(T, op.step + plan.chunk_steps) - op.step);
      next_step = op.step + op.step_count;
      ++launches;
      // The stepwise gate ops of the same steps address gates_x exactly like the launch.
      int gates = 0;
      for (const Op& g : stepwise.ops) {
        if (g.kind != OpKind::kGateStep || !g.compute || g.layer != l) continue;
        if (g.step < op.step || g.step >= op.step + op.step_count) continue;
        ++gates;
        EXPECT_EQ(g.chunk, op.chunk);
        EXPECT_EQ(g.gates_time_base, op.gates_time_base) << "layer " << l << " step " << g.step;
        EXPECT_EQ(g.gates_time_stride, op.gates_time_stride);
        EXPECT_EQ(g.gates_row_stride, op.gates_row_stride);
      }
      EXPECT_EQ(gates, op.step_count) << "layer " << l << " chunk " << op.chunk;
    }
    if (persistent) {
      EXPECT_EQ(next_step, T) << "layer " << l;
      EXPECT_EQ(launches, C) << "layer " << l;
    }
  }
  // No overlap: every GEMM or launch of layer l+1 happens after every op of layer l (its state
  // initialisation may run earlier: it touches only its own layer's state).
  const StreamOrder order = stream_order(plan);
  for (std::size_t b = 0; b < plan.ops.size(); ++b) {
    const Op& later = plan.ops[b];
    if (later.layer == 0 || (later.kind != OpKind::kGemm && later.kind != OpKind::kPersistent)) continue;
    for (std::size_t a = 0; a < plan.ops.size(); ++a)
      if (plan.ops[a].layer == later.layer - 1 && plan.ops[a].kind != OpKind::kFork &&
          plan.ops[a].kind != OpKind::kJoin)
        EXPECT_TRUE(order.before(a, b)) << "layer " << later.layer << " op " << b << " may overlap layer "
                                        << later.layer - 1 << " op " << a << " (" << to_string(plan.ops[a].kind) << ")";
  }
  // The clear precedes every op of every stream.
  for (std::size_t b = 1; b < plan.ops.size(); ++b) EXPECT_TRUE(order.before(0, b)) << b;
}

TEST(FusedPlanPersistent, RandomPlansEveryStepOnceInOrder) {
  std::mt19937_64 rng(test_seed());
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  for (int k = 0; k < 300; ++k) {
    const ModelDesc m = model(static_cast<Direction>(pick(0, 2)), pick(1, 4), pick(1, 9), pick(1, 9), 0);
    ModelDesc mp = m;
    if (pick(0, 1) && m.hidden_size > 1) mp.proj_size = pick(1, m.hidden_size - 1);
    const fused::PlanKey k_ = key(pick(1, 20), pick(1, 5), pick(0, 1), pick(0, 1),
                                  pick(0, 1) ? TensorLayout::kBatchMajor : TensorLayout::kTimeMajor);
    std::vector<FusedKernel> kernels(mp.num_layers, FusedKernel::kStepwise);
    for (FusedKernel& c : kernels) c = static_cast<FusedKernel>(pick(1, 3));  // stepwise, persistent, cluster
    kernels[pick(0, mp.num_layers - 1)] = pick(0, 1) ? FusedKernel::kPersistent : FusedKernel::kCluster;
    const int chunk = pick(0, 1) ? pick(1, 6) : 0;
    const FusedPlan plan = test::plan_for(mp, DataType::kFloat32, k_, chunk, kernels);
    std::string what = describe(mp) + " " + fused::to_string(k_) + " chunk " + std::to_string(chunk) + " kernels";
    for (FusedKernel c : kernels) what += std::string(" ") + to_string(c);
    expect_persistent_plan_valid(mp, plan, what);
    if (HasFailure()) break;
  }
}

TEST(FusedPlanPersistent, StepwisePlansHaveNoPersistentOps) {
  const ModelDesc m = model(Direction::kBidirectional, 2, 3, 4, 2);
  for (const FusedPlan& plan :
       {test::plan_for(m, DataType::kFloat32, key(6, 2)),
        test::plan_for(m, DataType::kFloat32, key(6, 2), 2, {FusedKernel::kStepwise, FusedKernel::kStepwise})}) {
    EXPECT_FALSE(plan.any_persistent());
    for (const Op& op : plan.ops) {
      EXPECT_NE(op.kind, OpKind::kPersistent);
      EXPECT_NE(op.kind, OpKind::kClearPersistent);
    }
  }
}

TEST(FusedPlanPersistent, WorkspacePersistentRegion) {
  for (DataType t : {DataType::kFloat32, DataType::kBFloat16})
    for (Direction dir : {Direction::kForward, Direction::kBidirectional})
      for (int P : {0, 3}) {
        const ModelDesc m = model(dir, 3, 7, 9, P);
        const int T = 6, N = 5, D = m.num_directions();
        const fused::WorkspaceLayout w = fused::plan_workspace(m, t, T, N, 4);
        const std::string what = to_string(t) + " " + to_string(dir) + " P=" + std::to_string(P);
        std::vector<Region> outer{w.lengths, w.persistent};
        for (const fused::LayerRegions& r : w.layers)
          for (const Region& region : {r.cublas, r.gates_x, r.gates_h, r.h_state, r.c_state, r.m_state, r.layer_out})
            if (region.bytes) outer.push_back(region);
        std::sort(outer.begin(), outer.end(), [](const Region& a, const Region& b) { return a.offset < b.offset; });
        for (std::size_t i = 0; i < outer.size(); ++i) {
          EXPECT_EQ(outer[i].offset % fused::kWorkspaceAlignment, 0u) << what;
          EXPECT_LE(outer[i].offset + outer[i].bytes, w.total_bytes) << what;
          if (i > 0) EXPECT_GE(outer[i].offset, outer[i - 1].offset + outer[i - 1].bytes) << what;
        }
        // Inside the persistent region: the abort area first, then each layer's exchanges, disjoint.
        std::vector<Region> inner{{w.persistent.offset, fused::kPersistentStatusBytes}};
        for (int l = 0; l < 3; ++l) {
          const fused::LayerRegions& r = w.layers[l];
          // Sized from the planner's grid layout, whatever the device (the grid exchange does not
          // depend on its limits): D directions of h (and m) exchanges for N rows.
          for (const fused::DeviceLimits& lim : {test::kH200Limits, fused::DeviceLimits{20, 65536, 255, 100000, 8}}) {
            const fused::PersistentPlan pp = fused::make_persistent_plan(m, t, N, T, lim, FusedKernel::kPersistent);
            EXPECT_EQ(r.h_exchange.bytes, D * pp.h_exchange.total_bytes) << what;
            EXPECT_EQ(r.m_exchange.bytes, D * pp.m_exchange.total_bytes) << what;
          }
          EXPECT_EQ(r.h_exchange.bytes, std::size_t{2} * N * m.output_size() * 8 * D) << what;
          EXPECT_EQ(r.m_exchange.bytes, P > 0 ? std::size_t{2} * N * 9 * 8 * D : 0u) << what;
          for (const Region& region : {r.h_exchange, r.m_exchange})
            if (region.bytes) inner.push_back(region);
        }
        for (std::size_t i = 0; i < inner.size(); ++i) {
          EXPECT_GE(inner[i].offset, w.persistent.offset) << what;
          EXPECT_LE(inner[i].offset + inner[i].bytes, w.persistent.offset + w.persistent.bytes) << what;
          if (i > 0) EXPECT_GE(inner[i].offset, inner[i - 1].offset + inner[i - 1].bytes) << what;
        }
      }
  // float16 never runs persistent: no region.
  const fused::WorkspaceLayout half =
      fused::plan_workspace(model(Direction::kForward, 2, 3, 4), DataType::kFloat16, 5, 2, 5);
  EXPECT_EQ(half.persistent.bytes, 0u);
  EXPECT_EQ(half.layers[1].h_exchange.bytes, 0u);
}

TEST(FusedPlanPersistent, WorkspaceBytesCoversPersistentPlans) {
  for (Direction dir : {Direction::kForward, Direction::kReverse, Direction::kBidirectional}) {
    const ModelDesc m = model(dir, 3, 16, 32, 8);
    for (bool lengths : {false, true})
      for (FusedKernel k : {FusedKernel::kStepwise, FusedKernel::kPersistent}) {
        const FusedPlan plan = test::plan_for(m, DataType::kBFloat16, key(300, 64, lengths, true), 0,
                                              {FusedKernel::kStepwise, k, FusedKernel::kStepwise});
        EXPECT_LE(plan.workspace.total_bytes,
                  fused::workspace_bytes(m, DataType::kBFloat16, 300, 64, test::kH200Limits))
            << to_string(dir) << " lengths " << lengths << " " << to_string(k);
      }
  }
}

// Persistent plans chunk by the larger budget (each launch reloads W_hh); the workspace covers that
// chunking only where a persistent variant could serve at all (N·H_out staged in shared memory).
TEST(FusedPlanPersistent, PersistentChunksAndWorkspace) {
  const ModelDesc m = model(Direction::kForward, 1, 64, 1024);  // 1 layer, I = 64, H = 1024
  const std::size_t per_step = 32u * 4 * 1024 * 4;              // N = 32: 512 KiB of gates per step
  EXPECT_EQ(fused::plan_chunk_steps(m, 1000, 32, false, true),
            static_cast<int>(fused::kGatesChunkBudgetBytes / per_step));
  EXPECT_EQ(fused::plan_chunk_steps(m, 1000, 32, false, false),
            static_cast<int>(fused::kPersistentGatesChunkBudgetBytes / per_step));
  const FusedPlan plan = test::plan_for(m, DataType::kFloat32, key(1000, 32), 0, {FusedKernel::kPersistent});
  EXPECT_EQ(plan.chunk_steps, 128);
  EXPECT_LE(plan.workspace.total_bytes, fused::workspace_bytes(m, DataType::kFloat32, 1000, 32, test::kH200Limits));
  EXPECT_TRUE(fused::persistent_possible(m, DataType::kFloat32, 56, test::kH200Limits));  // 56 · 1024 · 4 = 229,376 B
  EXPECT_FALSE(fused::persistent_possible(m, DataType::kFloat32, 57, test::kH200Limits));
  EXPECT_FALSE(fused::persistent_possible(m, DataType::kFloat16, 1, test::kH200Limits));
  // N = 256: no persistent variant can serve, so the workspace is the stepwise one.
  EXPECT_EQ(
      fused::workspace_bytes(m, DataType::kFloat32, 1000, 256, test::kH200Limits),
      std::max(fused::plan_workspace(m, DataType::kFloat32, 1000, 256, fused::plan_chunk_steps(m, 1000, 256, false))
                   .total_bytes,
               fused::plan_workspace(m, DataType::kFloat32, 1000, 256, fused::plan_chunk_steps(m, 1000, 256, true))
                   .total_bytes));
}

TEST(FusedPlanPersistent, Errors) {
  const ModelDesc m = model(Direction::kForward, 2, 3, 4);
  expect_error([&] { test::plan_for(m, DataType::kFloat32, key(3, 2), 0, {FusedKernel::kPersistent}); },
               ErrorCode::kInvalidArgument, {"1 per-layer kernel choices", "2 layers"});
  expect_error(
      [&] {
        test::plan_for(m, DataType::kFloat16, key(3, 2), 0, {FusedKernel::kStepwise, FusedKernel::kCluster});
      },
      ErrorCode::kInvalidArgument, {"float16"});
  EXPECT_NO_THROW(
      test::plan_for(m, DataType::kFloat16, key(3, 2), 0, {FusedKernel::kStepwise, FusedKernel::kStepwise}));
  // 3000 rows of H_out = 32: 384,000 staged bytes, more than any block's shared memory.
  expect_error(
      [&] {
        test::plan_for(model(Direction::kForward, 1, 4, 32), DataType::kFloat32, key(3, 3000), 0,
                       {FusedKernel::kPersistent});
      },
      ErrorCode::kInvalidArgument, {"N=3000", "H_out=32", "384000", "shared memory"});
  EXPECT_STREQ(fused::to_string(OpKind::kPersistent), "persistent");
  EXPECT_STREQ(fused::to_string(OpKind::kClearPersistent), "clear_persistent");
}

// A choice must carry the plan of its own variant for this shape, fitting, and never be auto.
TEST(FusedPlanPersistent, ChoicesMustServeTheKey) {
  const ModelDesc m = model(Direction::kBidirectional, 1, 3, 8);
  const fused::PlanKey k = key(5, 2);
  fused::LayerChoice choice;
  choice.kernel = FusedKernel::kAuto;
  expect_error([&] { fused::make_plan(m, DataType::kFloat32, k, {choice}, test::kH200Limits); },
               ErrorCode::kInvalidArgument, {"layer 0", "auto"});
  choice.kernel = FusedKernel::kPersistent;
  expect_error([&] { fused::make_plan(m, DataType::kFloat32, k, {choice}, test::kH200Limits); },
               ErrorCode::kInvalidArgument, {"layer 0", "not fitting"});
  choice.persistent =
      fused::make_persistent_plan(m, DataType::kFloat32, 3, 5, test::kH200Limits, FusedKernel::kPersistent);
  expect_error([&] { fused::make_plan(m, DataType::kFloat32, k, {choice}, test::kH200Limits); },
               ErrorCode::kInvalidArgument, {"3 rows", "N=2"});
  choice.persistent =
      fused::make_persistent_plan(m, DataType::kFloat32, 2, 5, test::kH200Limits, FusedKernel::kCluster);
  expect_error([&] { fused::make_plan(m, DataType::kFloat32, k, {choice}, test::kH200Limits); },
               ErrorCode::kInvalidArgument, {"persistent choice", "cluster"});
  choice.persistent =
      fused::make_persistent_plan(m, DataType::kBFloat16, 2, 5, test::kH200Limits, FusedKernel::kPersistent);
  EXPECT_THROW(fused::make_plan(m, DataType::kFloat32, k, {choice}, test::kH200Limits), Error);
  choice.persistent =
      fused::make_persistent_plan(m, DataType::kFloat32, 2, 5, test::kH200Limits, FusedKernel::kPersistent);
  const FusedPlan plan = fused::make_plan(m, DataType::kFloat32, k, {choice}, test::kH200Limits);
  EXPECT_EQ(plan.choices[0].persistent.total_blocks(), choice.persistent.total_blocks());
  // Staged h beyond a small device's shared memory: refused on that device, planned on an H200.
  const fused::DeviceLimits small{20, 65536, 255, 4096, 8};
  expect_error([&] { test::plan_for(m, DataType::kFloat32, key(5, 200), 0, {FusedKernel::kPersistent}, small); },
               ErrorCode::kInvalidArgument, {"N=200", "4096 bytes"});
  EXPECT_NO_THROW(test::plan_for(m, DataType::kFloat32, key(5, 200), 0, {FusedKernel::kPersistent}));
}

}  // namespace
}  // namespace lstmrt::test
