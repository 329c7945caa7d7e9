// The persistent kernel's parameters built from the fused plan (src/fused/persistent_params.hpp):
// on random models, shapes, data types, device limits and both variants, the kernel's block
// arithmetic (persistent_block) reproduces the planner's blocks, shared-memory offsets and register
// map are the plan's, the embedded gate parameters are the stepwise kernel's, exchange pointers
// stay in the workspace's persistent region, step tags never repeat across chunks — and every error.
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "common/compare.hpp"
#include "common/expect_error.hpp"
#include "common/fused_plan_helpers.hpp"
#include "common/reference_runner.hpp"
#include "fused/fused_params.hpp"
#include "fused/fused_plan.hpp"
#include "fused/persistent_params.hpp"
#include "fused/persistent_plan.hpp"
#include "kernels/persistent_lstm.hpp"

namespace lstmrt::fused {
namespace {

// A plan with layer `layer` persistent (the rest stepwise), its persistent plan, and the addresses
// of one call on a host workspace (nothing is dereferenced).
struct CallSetup {
  ModelDesc desc;
  DataType type = DataType::kFloat32;
  PersistentPlan persistent;
  FusedPlan plan;
  int layer = 0;
  std::vector<std::uint8_t> workspace;
  std::vector<std::int32_t> lengths;
  std::vector<float> y, h_n, c_n;
  std::vector<std::uint8_t> w_hh, w_hr;
  CallBuffers buffers;
  std::array<kernels::CellMathParams, 2> cell{};
  kernels::PersistentStatus status{};
};

void place(CallSetup& s, const PlanKey& key, int chunk_steps) {
  std::vector<LayerChoice> choices(s.desc.num_layers);
  choices[s.layer].kernel = s.persistent.variant;
  choices[s.layer].persistent = s.persistent;
  s.plan = make_plan(s.desc, s.type, key, choices, test::kH200Limits, chunk_steps);
  s.workspace.assign(s.plan.workspace.total_bytes, 0);
  ForwardRequest req;
  req.seq_len = key.seq_len;
  req.batch = key.batch;
  s.lengths.assign(key.batch, key.seq_len);
  if (key.has_lengths) req.lengths = s.lengths.data();
  s.y.resize(1);
  s.h_n.resize(1);
  s.c_n.resize(1);
  req.y = s.y.data();
  req.h_n = s.h_n.data();
  req.c_n = s.c_n.data();
  s.buffers = call_buffers(s.plan.workspace, s.workspace.data(), req);
  s.w_hh.resize(1);
  s.w_hr.resize(1);
  for (LayerBuffers& b : s.buffers.layers) {
    b.weights.w_hh = s.w_hh.data();
    b.weights.w_hr = s.w_hr.data();
  }
}

std::vector<Op> persistent_ops(const FusedPlan& plan, int layer) {
  std::vector<Op> ops;
  for (const Op& op : plan.ops)
    if (op.kind == OpKind::kPersistent && op.layer == layer) ops.push_back(op);
  return ops;
}

void expect_params_match(const CallSetup& s, const Op& op, const kernels::PersistentParams& p,
                         const std::string& what) {
  SCOPED_TRACE(what + " chunk " + std::to_string(op.chunk));
  const PersistentPlan& pp = s.persistent;
  const bool cluster = pp.variant == FusedKernel::kCluster;
  // The stepwise kernel's view of the same steps.
  Op gate = op;
  gate.kind = OpKind::kGateStep;
  const kernels::GateStepParams g = gate_step_params(s.desc, s.plan, gate, s.buffers, s.cell, s.type);
  EXPECT_EQ(p.g.step, op.step);
  EXPECT_EQ(p.g.seq_len, g.seq_len);
  EXPECT_EQ(p.g.batch, g.batch);
  EXPECT_EQ(p.g.hidden, g.hidden);
  EXPECT_EQ(p.g.out_size, g.out_size);
  EXPECT_EQ(p.g.directions, g.directions);
  EXPECT_EQ(p.g.projected, g.projected);
  EXPECT_EQ(p.g.carry_last, g.carry_last);
  for (int d = 0; d < 2; ++d) {
    EXPECT_EQ(p.g.reverse[d], g.reverse[d]);
    EXPECT_EQ(p.g.gates_time_base[d], g.gates_time_base[d]);
  }
  EXPECT_EQ(p.g.gates_time_stride, g.gates_time_stride);
  EXPECT_EQ(p.g.gates_row_stride, g.gates_row_stride);
  EXPECT_EQ(p.g.gates_x, g.gates_x);
  EXPECT_EQ(p.g.c_state, g.c_state);
  EXPECT_EQ(p.g.h_state, g.h_state);
  EXPECT_EQ(p.g.out, g.out);
  EXPECT_EQ(p.g.out_time_stride, g.out_time_stride);
  EXPECT_EQ(p.g.out_row_stride, g.out_row_stride);
  EXPECT_EQ(p.g.out_flip, g.out_flip);
  EXPECT_EQ(p.g.h_n, g.h_n);
  EXPECT_EQ(p.g.c_n, g.c_n);
  EXPECT_EQ(p.g.lengths, g.lengths);
  EXPECT_EQ(p.step_count, op.step_count);

  // The parameters describe the planner's partition, so the kernel's blocks are the planner's.
  const kernels::PersistentPartition have = kernels::persistent_partition(p), want = pp.partition();
  EXPECT_EQ(have.directions, want.directions);
  EXPECT_EQ(have.hidden, want.hidden);
  EXPECT_EQ(have.proj, want.proj);
  EXPECT_EQ(have.batch, want.batch);
  EXPECT_EQ(have.blocks_per_direction, want.blocks_per_direction);
  EXPECT_EQ(have.clusters_per_direction, want.clusters_per_direction);
  EXPECT_EQ(have.rows_per_cluster, want.rows_per_cluster);
  EXPECT_EQ(have.units_per_block, want.units_per_block);
  EXPECT_EQ(have.proj_per_block, want.proj_per_block);
  ASSERT_EQ(kernels::persistent_block_count(have), pp.total_blocks());
  for (int i = 0; i < pp.total_blocks(); ++i) {  // the kernel's blocks (from p) are the planner's
    const kernels::PersistentBlock b = kernels::persistent_block(p, i), w = pp.blocks[i];
    EXPECT_EQ(b.direction, w.direction) << "block " << i;
    EXPECT_EQ(b.cluster, w.cluster) << "block " << i;
    EXPECT_EQ(b.rank, w.rank) << "block " << i;
    EXPECT_EQ(b.unit_first, w.unit_first) << "block " << i;
    EXPECT_EQ(b.units, w.units) << "block " << i;
    EXPECT_EQ(b.proj_first, w.proj_first) << "block " << i;
    EXPECT_EQ(b.projs, w.projs) << "block " << i;
    EXPECT_EQ(b.row_first, w.row_first) << "block " << i;
    EXPECT_EQ(b.rows, w.rows) << "block " << i;
  }
  EXPECT_EQ(p.cluster, cluster ? 1 : 0);
  EXPECT_EQ(p.register_slots, pp.register_slots);
  EXPECT_EQ(p.register_rows, pp.register_rows);
  EXPECT_EQ(p.cols_per_lane, pp.cols_per_lane);
  EXPECT_TRUE(kernels::persistent_slot_choice(p.register_slots)) << p.register_slots;
  const SmemLayout& L = pp.smem;
  EXPECT_EQ(p.smem.w_hh, L.w_hh.offset);
  EXPECT_EQ(p.smem.w_hr, L.w_hr.offset);
  EXPECT_EQ(p.smem.h_stage, L.h_stage.offset);
  EXPECT_EQ(p.smem.m_stage, L.m_stage.offset);
  EXPECT_EQ(p.smem.gates, L.gates.offset);
  EXPECT_EQ(p.smem.c_state, L.c_state.offset);
  EXPECT_EQ(p.smem.vectors, L.vectors.offset);
  EXPECT_EQ(p.smem.exchange, L.exchange.offset);
  EXPECT_EQ(p.smem.total, L.total_bytes);
  EXPECT_EQ(p.smem.w_hh_ld, L.w_hh_ld);
  EXPECT_EQ(p.smem.w_hr_ld, L.w_hr_ld);
  EXPECT_EQ(p.w_hh, s.buffers.layers[s.layer].weights.w_hh);
  EXPECT_EQ(p.w_hr, s.desc.proj_size > 0 ? s.buffers.layers[s.layer].weights.w_hr : nullptr);

  // Exchanges: grid = direction d's buffer at base + d·bytes inside the layer's workspace region
  // (itself inside the persistent region, after the abort area); cluster = shared memory.
  const std::uint8_t* ws = s.workspace.data();
  const Region& region = s.plan.workspace.persistent;
  EXPECT_EQ(reinterpret_cast<const std::uint8_t*>(p.abort_flag), ws + region.offset);
  EXPECT_EQ(p.h_exchange_bytes, static_cast<std::int64_t>(pp.h_exchange.total_bytes));
  EXPECT_EQ(p.m_exchange_bytes, static_cast<std::int64_t>(pp.m_exchange.total_bytes));
  const int D = pp.directions;
  if (cluster) {
    EXPECT_EQ(p.h_exchange, nullptr);
    EXPECT_EQ(p.m_exchange, nullptr);
    EXPECT_GT(L.exchange.bytes, 0u);
    EXPECT_LE(pp.h_exchange.total_bytes + pp.m_exchange.total_bytes, L.exchange.bytes);  // h, then m (kernel)
    EXPECT_LE(L.exchange.offset + L.exchange.bytes, L.total_bytes);
  } else {
    const std::uint8_t* lo = ws + region.offset + kPersistentStatusBytes;
    const std::uint8_t* hi = ws + region.offset + region.bytes;
    auto in_region = [&](const void* base, std::int64_t bytes, const Region& layer_region) {
      const auto* b = static_cast<const std::uint8_t*>(base);
      EXPECT_EQ(b, ws + layer_region.offset);
      EXPECT_GE(b, lo);
      EXPECT_LE(b + D * bytes, hi);
      EXPECT_LE(static_cast<std::size_t>(D * bytes), layer_region.bytes);
    };
    ASSERT_NE(p.h_exchange, nullptr);
    in_region(p.h_exchange, p.h_exchange_bytes, s.plan.workspace.layers[s.layer].h_exchange);
    if (s.desc.proj_size > 0) {
      ASSERT_NE(p.m_exchange, nullptr);
      in_region(p.m_exchange, p.m_exchange_bytes, s.plan.workspace.layers[s.layer].m_exchange);
    } else {
      EXPECT_EQ(p.m_exchange, nullptr);
    }
  }
  EXPECT_EQ(p.status, &s.status);
  EXPECT_EQ(p.layer, s.layer);
  EXPECT_EQ(p.timeout_ns, kernels::kPersistentDefaultTimeoutNs);
  EXPECT_EQ(p.exchange_only, 0);
  EXPECT_EQ(p.debug_stall_block, -1);
  EXPECT_EQ(p.debug_stall_step, -1);
}

DeviceLimits random_limits(std::mt19937_64& rng) {
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  if (pick(0, 1)) return test::kH200Limits;
  DeviceLimits lim;
  lim.sm_count = pick(2, 132);
  lim.registers_per_sm = 65536;
  lim.max_registers_per_thread = 255;
  lim.smem_per_block = static_cast<std::size_t>(pick(16, 227)) * 1024;
  lim.max_cluster_size = pick(0, 2) * 8;
  return lim;
}

TEST(PersistentParams, RandomShapesMatchThePlan) {
  std::mt19937_64 rng(test::test_seed());
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  int checked[2] = {0, 0};
  for (int k = 0; k < 400; ++k) {
    CallSetup s;
    s.desc.input_size = pick(1, 40);
    s.desc.hidden_size = pick(1, 300);
    s.desc.proj_size = pick(0, 2) == 0 ? pick(1, s.desc.hidden_size) : 0;
    if (s.desc.proj_size == s.desc.hidden_size) s.desc.proj_size = 0;
    s.desc.num_layers = pick(1, 3);
    s.desc.direction = static_cast<Direction>(pick(0, 2));
    s.type = pick(0, 1) ? DataType::kBFloat16 : DataType::kFloat32;
    s.layer = pick(0, s.desc.num_layers - 1);
    const PlanKey key = [&] {
      PlanKey k;
      k.seq_len = pick(1, 40);
      k.batch = pick(1, 70);
      k.has_lengths = pick(0, 1);
      k.has_initial_state = pick(0, 1);
      k.layout = pick(0, 1) ? TensorLayout::kBatchMajor : TensorLayout::kTimeMajor;
      k.want_y = k.want_h_n = k.want_c_n = true;
      return k;
    }();
    const FusedKernel variant = pick(0, 1) ? FusedKernel::kCluster : FusedKernel::kPersistent;
    const DeviceLimits lim = random_limits(rng);
    s.persistent = make_persistent_plan(s.desc, s.type, key.batch, key.seq_len, lim, variant);
    if (!s.persistent.fits) continue;
    place(s, key, pick(0, 1) ? pick(1, 9) : 0);
    const std::string what = fmt::format("{} {} {} layer {} limits SMs {} smem {} cluster {} | {}", describe(s.desc),
                                         to_string(s.type), to_string(variant), s.layer, lim.sm_count,
                                         lim.smem_per_block, lim.max_cluster_size, to_string(key));
    const std::vector<Op> ops = persistent_ops(s.plan, s.layer);
    ASSERT_EQ(static_cast<int>(ops.size()), s.plan.chunk_count) << what;
    std::int32_t previous_max_tag = 0;  // zeroed exchange buffers
    for (std::size_t c = 0; c < ops.size(); ++c) {
      const kernels::PersistentParams p =
          persistent_params(s.desc, s.plan, ops[c], s.persistent, s.buffers, s.cell, s.type, &s.status);
      expect_params_match(s, ops[c], p, what);
      // Every tag this launch awaits (from local step 0: m with a projection) exceeds every tag in
      // the buffers: earlier launches publish up to tag_base + step_count + 1.
      EXPECT_EQ(p.tag_base, persistent_tag_base(s.plan, ops[c].chunk));
      EXPECT_GT(kernels::persistent_tag(p.tag_base, 0), previous_max_tag) << what << " chunk " << c;
      if (c > 0) EXPECT_GT(p.tag_base, persistent_tag_base(s.plan, ops[c - 1].chunk));
      previous_max_tag = kernels::persistent_tag(p.tag_base, p.step_count);
    }
    ++checked[variant == FusedKernel::kCluster];
    if (HasFailure()) break;
  }
  EXPECT_GT(checked[0], 20);  // both variants really ran
  EXPECT_GT(checked[1], 20);
}

// A fitting grid setup of a projected bidirectional two-layer model, layer 1 persistent.
CallSetup small_setup(FusedKernel variant = FusedKernel::kPersistent) {
  CallSetup s;
  s.desc.input_size = 5;
  s.desc.hidden_size = 40;
  s.desc.proj_size = 12;
  s.desc.num_layers = 2;
  s.desc.direction = Direction::kBidirectional;
  s.layer = 1;
  s.persistent = make_persistent_plan(s.desc, s.type, 3, 9, test::kH200Limits, variant);
  PlanKey key;
  key.seq_len = 9;
  key.batch = 3;
  key.want_y = true;
  place(s, key, 4);
  return s;
}

TEST(PersistentParams, ShapeParamsNeedNoBuffers) {
  const CallSetup s = small_setup(FusedKernel::kCluster);
  ASSERT_TRUE(s.persistent.fits) << s.persistent.reason;
  const kernels::PersistentParams shape = persistent_shape_params(s.persistent);
  const kernels::PersistentParams full =
      persistent_params(s.desc, s.plan, persistent_ops(s.plan, 1)[0], s.persistent, s.buffers, s.cell, s.type, nullptr);
  EXPECT_EQ(shape.cluster, full.cluster);
  EXPECT_EQ(shape.blocks_per_direction, full.blocks_per_direction);
  EXPECT_EQ(shape.clusters_per_direction, full.clusters_per_direction);
  EXPECT_EQ(shape.register_slots, full.register_slots);
  EXPECT_EQ(shape.smem.total, full.smem.total);
  EXPECT_EQ(shape.g.hidden, 40);
  EXPECT_EQ(shape.g.out_size, 12);
  EXPECT_EQ(shape.g.batch, 3);
  EXPECT_EQ(shape.g.directions, 2);
  EXPECT_EQ(shape.w_hh, nullptr);
  EXPECT_EQ(full.status, nullptr);
  EXPECT_EQ(shape.debug_stall_block, -1);
}

// The kernel launcher validates its parameters before any CUDA call: the query parameters (before
// buffers exist) and the full parameters of every launch must pass it. Without a GPU the first
// CUDA call then fails with kCudaError — anything else is a validation refusal. (With a GPU only the
// occupancy query runs: nothing is launched on host addresses.)
TEST(PersistentParams, AcceptedByTheKernelLauncher) {
  std::mt19937_64 rng(test::test_seed() + 1);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  const bool gpu = gpu_available();
  int checked = 0;
  for (int k = 0; k < 40; ++k) {
    CallSetup s;
    s.desc.input_size = 7;
    s.desc.hidden_size = pick(1, 200);
    s.desc.proj_size = pick(0, 1) && s.desc.hidden_size > 1 ? pick(1, s.desc.hidden_size - 1) : 0;
    s.desc.num_layers = 2;
    s.desc.direction = static_cast<Direction>(pick(0, 2));
    s.type = pick(0, 1) ? DataType::kBFloat16 : DataType::kFloat32;
    s.layer = pick(0, 1);
    const FusedKernel variant = pick(0, 1) ? FusedKernel::kCluster : FusedKernel::kPersistent;
    PlanKey key;
    key.seq_len = pick(1, 12);
    key.batch = pick(1, 40);
    key.want_y = true;
    s.persistent = make_persistent_plan(s.desc, s.type, key.batch, key.seq_len, test::kH200Limits, variant);
    if (!s.persistent.fits) continue;
    place(s, key, 0);
    const std::string what = describe(s.desc) + " " + to_string(s.type) + " " + to_string(variant);
    const int blocks = s.persistent.total_blocks();
    auto refused_only_by_cuda = [&](const std::function<void()>& call, const char* which) {
      try {
        call();
        EXPECT_TRUE(gpu) << which << " succeeded without a GPU: " << what;
      } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::kCudaError) << which << ": " << e.what() << " | " << what;
      }
    };
    refused_only_by_cuda(
        [&] { kernels::persistent_launch_fits(persistent_shape_params(s.persistent), s.type, blocks, nullptr); },
        "persistent_launch_fits");
    if (!gpu)
      refused_only_by_cuda(
          [&] {
            kernels::launch_persistent_lstm(persistent_params(s.desc, s.plan, persistent_ops(s.plan, s.layer)[0],
                                                              s.persistent, s.buffers, s.cell, s.type, &s.status),
                                            s.type, blocks, nullptr);
          },
          "launch_persistent_lstm");
    ++checked;
    if (HasFailure()) break;
  }
  EXPECT_GT(checked, 10);
}

// What the launcher refuses before any CUDA call (kInvalidArgument): a launch without a step,
// weights, abort word or grid exchanges, and shapes the kernel is not compiled for. The
// co-residency query takes the shape alone.
TEST(PersistentParams, KernelLauncherRefusals) {
  const CallSetup s = small_setup();
  ASSERT_TRUE(s.persistent.fits) << s.persistent.reason;
  const int blocks = s.persistent.total_blocks();
  const kernels::PersistentParams full =
      persistent_params(s.desc, s.plan, persistent_ops(s.plan, 1)[0], s.persistent, s.buffers, s.cell, s.type, nullptr);
  auto launch = [&](kernels::PersistentParams p, int n = -1) {
    kernels::launch_persistent_lstm(p, s.type, n < 0 ? blocks : n, nullptr);
  };
  kernels::PersistentParams bad = full;
  bad.step_count = 0;
  test::expect_error([&] { launch(bad); }, ErrorCode::kInvalidArgument, {"step_count 0"});
  bad = full;
  bad.w_hh = nullptr;
  test::expect_error([&] { launch(bad); }, ErrorCode::kInvalidArgument, {"weights"});
  bad = full;
  bad.h_exchange = nullptr;
  test::expect_error([&] { launch(bad); }, ErrorCode::kInvalidArgument, {"exchange"});
  test::expect_error([&] { launch(full, blocks + 1); }, ErrorCode::kInvalidArgument, {"blocks"});
  bad = full;
  bad.register_slots = 7;
  test::expect_error([&] { launch(bad); }, ErrorCode::kInvalidArgument, {"7 register row slots"});
  bad = full;
  bad.cols_per_lane = 1000;
  test::expect_error([&] { launch(bad); }, ErrorCode::kInvalidArgument, {"1000 column slots"});
  test::expect_error([&] { kernels::launch_persistent_lstm(full, DataType::kFloat16, blocks, nullptr); },
                     ErrorCode::kInvalidArgument, {"float16"});
  for (const DataType other : {DataType::kFloat16, static_cast<DataType>(100)})  // the latter: outside the enum
    test::expect_error([&] { kernels::persistent_launch_fits(full, other, blocks, nullptr); },
                       ErrorCode::kInvalidArgument, {data_type_name(other), "expected float32 or bfloat16"});
}

TEST(PersistentParams, Errors) {
  CallSetup s = small_setup();
  ASSERT_TRUE(s.persistent.fits) << s.persistent.reason;
  const Op op = persistent_ops(s.plan, 1)[0];
  auto build = [&](const CallSetup& with, const Op& o, DataType type) {
    return persistent_params(with.desc, with.plan, o, with.persistent, with.buffers, with.cell, type, nullptr);
  };
  EXPECT_NO_THROW(build(s, op, s.type));
  test::expect_error([&] { build(s, op, DataType::kFloat16); }, ErrorCode::kInvalidArgument, {"float16"});
  Op wrong = op;
  wrong.kind = OpKind::kGateStep;
  test::expect_error([&] { build(s, wrong, s.type); }, ErrorCode::kInternal, {"persistent_params", "gate_step"});
  wrong = op;
  wrong.step_count = 20;
  test::expect_error([&] { build(s, wrong, s.type); }, ErrorCode::kInternal, {"outside T=9"});
  // Layer 0 runs stepwise.
  wrong = op;
  wrong.layer = 0;
  test::expect_error([&] { build(s, wrong, s.type); }, ErrorCode::kInternal, {"layer 0 runs stepwise"});
  // A plan that does not fit names its reason.
  CallSetup unfit = s;
  unfit.persistent =
      make_persistent_plan(s.desc, s.type, 3, 9, DeviceLimits{132, 65536, 255, 64, 16}, FusedKernel::kPersistent);
  ASSERT_FALSE(unfit.persistent.fits);
  test::expect_error([&] { build(unfit, op, s.type); }, ErrorCode::kInvalidArgument, {"does not fit", "shared memory"});
  // The cluster plan for a grid layer, a plan for another batch or data type.
  CallSetup other = s;
  other.persistent = make_persistent_plan(s.desc, s.type, 3, 9, test::kH200Limits, FusedKernel::kCluster);
  test::expect_error([&] { build(other, op, s.type); }, ErrorCode::kInternal, {"runs persistent", "cluster variant"});
  other.persistent = make_persistent_plan(s.desc, s.type, 4, 9, test::kH200Limits, FusedKernel::kPersistent);
  test::expect_error([&] { build(other, op, s.type); }, ErrorCode::kInternal, {"N=4", "N=3"});
  other.persistent =
      make_persistent_plan(s.desc, DataType::kBFloat16, 3, 9, test::kH200Limits, FusedKernel::kPersistent);
  test::expect_error([&] { build(other, op, s.type); }, ErrorCode::kInternal, {"data type"});
  // Grid exchanges missing or too small; no abort word.
  CallSetup missing = s;
  missing.buffers.layers[1].h_exchange = nullptr;
  test::expect_error([&] { build(missing, op, s.type); }, ErrorCode::kInternal, {"grid exchanges", "not placed"});
  missing = s;
  missing.plan.workspace.layers[1].m_exchange.bytes = 8;
  test::expect_error([&] { build(missing, op, s.type); }, ErrorCode::kInternal, {"grid exchanges"});
  missing = s;
  missing.buffers.persistent_abort = nullptr;
  test::expect_error([&] { build(missing, op, s.type); }, ErrorCode::kInternal, {"abort word"});
  // A cluster plan whose shared-memory exchange region cannot hold h and m.
  CallSetup cluster = small_setup(FusedKernel::kCluster);
  ASSERT_TRUE(cluster.persistent.fits) << cluster.persistent.reason;
  const Op cluster_op = persistent_ops(cluster.plan, 1)[0];
  EXPECT_NO_THROW(build(cluster, cluster_op, cluster.type));
  cluster.persistent.smem.exchange.bytes -= 4;
  test::expect_error([&] { build(cluster, cluster_op, cluster.type); }, ErrorCode::kInternal, {"cluster exchange"});
}

}  // namespace
}  // namespace lstmrt::fused
