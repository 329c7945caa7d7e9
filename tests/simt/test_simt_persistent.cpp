// The persistent LSTM kernels (kernels/persistent_lstm.cu) on the SIMT executor, driven through
// the fused backend's plan, persistent planner and parameter builders, against the reference:
// grid mode (cooperative launch, tagged exchange in global memory) and cluster mode (DSMEM
// exchange), float32 and bfloat16 weights, projections, several blocks per direction and several
// clusters (batch slices), rows split between registers and shared memory, several launches per
// layer (the state handed over through h_state / c_state, tags growing per launch), every
// compiled register-slot instantiation; bitwise-identical results on different schedules; a
// block that never publishes makes the others give up and report (no hang, no executor fault);
// blocks that cannot be co-resident are refused as on a GPU.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "common/expect_error.hpp"
#include "fused/persistent_params.hpp"
#include "simt/fused_cases.hpp"

namespace lstmrt::simt {
namespace {

using lstmrt::FusedKernel;

FusedKernel kernel_of(bool cluster) { return cluster ? FusedKernel::kCluster : FusedKernel::kPersistent; }

ModelDesc model(int H, int P = 0, Direction dir = Direction::kForward, int I = 6) {
  ModelDesc m;
  m.input_size = I;
  m.hidden_size = H;
  m.proj_size = P;
  m.direction = dir;
  return m;
}

TEST(SimtPersistent, RandomModelsEveryFeature) {
  const std::uint64_t seed = test::test_seed();
  SCOPED_TRACE(fmt::format("LSTMRT_TEST_SEED={}", seed));
  std::mt19937_64 rng(seed);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  for (int k = 0; k < 40; ++k) {
    FusedCase c;
    ModelDesc& m = c.desc;
    m.input_size = pick(1, 6);
    m.hidden_size = pick(0, 3) == 0 ? pick(13, 40) : pick(1, 12);
    m.proj_size = m.hidden_size > 1 && pick(0, 2) == 0 ? pick(1, m.hidden_size - 1) : 0;
    m.num_layers = pick(1, 2);
    m.direction = static_cast<Direction>(pick(0, 2));
    c.opt.type = pick(0, 2) == 0 ? DataType::kBFloat16 : DataType::kFloat32;
    // Unbounded cell / hidden activations only on narrow float32 layers (float32 rounding drifts
    // past the tolerance on wide ones, bfloat16 rounding flips a thresholded relu; an indexing or
    // exchange error shows on bounded ones as well).
    test::randomize_cell_features(m, rng,
                                  /*bounded_cell_hidden*/ m.hidden_size > 12 || c.opt.type != DataType::kFloat32,
                                  /*classic*/ true);
    c.weight_scale = m.hidden_size > 12 ? 0.25f : 0.6f;
    c.T = pick(1, 6);
    c.N = pick(1, 5);
    c.lengths = pick(0, 1);
    c.state = pick(0, 1);
    c.layout = pick(0, 1) ? TensorLayout::kBatchMajor : TensorLayout::kTimeMajor;
    c.opt.padding = pick(0, 1) ? PaddingMode::kCarryLast : PaddingMode::kZero;
    if (m.direction == Direction::kReverse && pick(0, 1)) c.opt.order = ReverseOutputOrder::kProcessing;
    c.opt.kernels.assign(m.num_layers, kernel_of(pick(0, 1)));
    c.facts = FusedCase::small_facts(pick(2, 8), pick(1, 4));  // several units per block, an uneven last block
    if (pick(0, 2) == 0) c.opt.planner_registers_per_sm = 256 * pick(64, 100);  // 0 or 1 weight tile per thread
    c.opt.chunk_steps = pick(0, 3);  // several launches: state handed over through h_state / c_state
    c.opt.schedule_seed = rng();
    expect_matches_reference(c, rng());
    if (HasFailure()) break;
  }
}

// Rows split between registers and shared memory (one 32-register weight tile per thread):
// H = 80 on 2 SMs per direction: U = 40, 160 rows; a row of 80 costs 3 registers per lane → 10
// rows per warp = 80 rows in registers; with P = 60 (2 per lane) 16 per warp = 128 rows.
TEST(SimtPersistent, RegisterAndSharedMemoryRows) {
  for (const bool cluster : {false, true})
    for (const int P : {0, 60}) {
      FusedCase c;
      c.desc = model(80, P, Direction::kBidirectional, 6);
      c.desc.peepholes = true;
      c.weight_scale = 0.2f;
      c.T = 4;
      c.N = 3;
      c.lengths = true;
      c.state = true;
      c.facts = FusedCase::small_facts(4, 2);
      c.opt.kernels = {kernel_of(cluster)};
      c.opt.planner_registers_per_sm = 256 * 96;
      c.opt.chunk_steps = 2;
      c.opt.schedule_seed = test::test_seed() + P + cluster;
      const FusedRunResult r = expect_matches_reference(c, test::test_seed() + P);
      ASSERT_TRUE(r.persistent[0].fits);
      EXPECT_EQ(r.persistent[0].units_per_block, 40);
      EXPECT_EQ(r.persistent[0].register_rows, P > 0 ? 128 : 80);
      EXPECT_EQ(r.persistent[0].blocks_per_direction, 2);
    }
}

// Cluster variant with several batch slices: 6 rows over 3 clusters of 2 blocks.
TEST(SimtPersistent, ClusterBatchSlices) {
  FusedCase c;
  c.desc = model(9, 0, Direction::kForward, 4);
  c.T = 6;
  c.N = 6;
  c.lengths = true;
  c.opt.padding = PaddingMode::kCarryLast;
  c.opt.kernels = {FusedKernel::kCluster};
  c.facts = FusedCase::small_facts(6, 2);
  c.opt.schedule_seed = test::test_seed();
  const FusedRunResult r = expect_matches_reference(c, test::test_seed());
  EXPECT_EQ(r.persistent[0].clusters_per_direction, 3);
  EXPECT_EQ(r.persistent[0].rows_per_cluster, 2);
  EXPECT_EQ(r.persistent[0].blocks_per_direction, 2);
}

// Each of the 22 instantiations (weight type × register row slots) runs at least once: one block
// per direction holding U = 2·slots units makes the planner pick `slots` (4U rows over 8 warps);
// slot count 0 is a plan without weight registers.
TEST(SimtPersistent, EveryRegisterSlotInstantiation) {
  std::mt19937_64 rng(test::test_seed());
  int k = 0;
  for (const DataType type : {DataType::kFloat32, DataType::kBFloat16})
    for (const int slots : kernels::kPersistentSlotChoices) {
      FusedCase c;
      const int H = slots > 0 ? 2 * slots : 5;
      c.desc = model(H, k % 3 == 2 && H > 2 ? H / 2 : 0, k % 2 ? Direction::kBidirectional : Direction::kForward, 3);
      test::randomize_cell_features(c.desc, rng, true, /*classic*/ true);
      c.weight_scale = H > 12 ? 0.25f : 0.6f;
      c.T = 3;
      c.N = 2;
      c.lengths = k % 2 == 0;
      c.state = true;
      c.opt.type = type;
      c.opt.kernels = {kernel_of(k % 4 == 1)};
      c.facts = FusedCase::small_facts(c.desc.num_directions());  // one block per direction
      if (slots == 0) c.opt.planner_registers_per_sm = 256 * 64;  // no register tile left
      c.opt.schedule_seed = rng();
      SCOPED_TRACE(fmt::format("{} slots {}", to_string(type), slots));
      const FusedRunResult r = expect_matches_reference(c, rng());
      ASSERT_TRUE(r.persistent[0].fits);
      EXPECT_EQ(r.persistent[0].register_slots, slots);
      ++k;
      if (HasFailure()) return;
    }
}

// The kernel's reduction order is fixed (a shuffle tree, one block per unit): any schedule gives
// the same bits.
TEST(SimtPersistent, BitwiseIdenticalAcrossSchedules) {
  for (const bool cluster : {false, true}) {
    const ModelDesc m = model(20, 0, Direction::kBidirectional, 5);
    const Weights w = random_weights(m, 3, 0.3f);
    std::mt19937_64 rng(4);
    const test::HostInputs in = test::random_inputs(m, 5, 3, rng, true, true);
    FusedRunOptions opt;
    opt.kernels = {kernel_of(cluster)};
    test::HostOutputs first;
    for (std::uint64_t schedule = 1; schedule <= 4; ++schedule) {
      const ScopedDevice device(FusedCase::small_facts(6, 3), schedule);
      opt.schedule_seed = schedule;
      const FusedRunResult r = run_fused(m, w, in, opt);
      ASSERT_EQ(r.persistent[0].blocks_per_direction, 3);
      if (schedule == 1) {
        first = r.out;
        continue;
      }
      EXPECT_EQ(std::memcmp(first.y.data(), r.out.y.data(), first.y.size() * 4), 0) << "schedule " << schedule;
      EXPECT_EQ(std::memcmp(first.h_n.data(), r.out.h_n.data(), first.h_n.size() * 4), 0) << "schedule " << schedule;
      EXPECT_EQ(std::memcmp(first.c_n.data(), r.out.c_n.data(), first.c_n.size() * 4), 0) << "schedule " << schedule;
    }
  }
}

// A block that publishes nothing at one step: the others' bounded waits give up, the first one
// writes the status report (kernel's code, block, step), every block leaves; the launch
// completes — the executor reports no deadlock, the kernel reported its own timeout.
TEST(SimtPersistent, StalledBlockMakesTheOthersGiveUpAndReport) {
  for (const bool cluster : {false, true}) {
    const ModelDesc m = model(12, 0, Direction::kForward, 3);
    const Weights w = random_weights(m, 5, 0.5f);
    std::mt19937_64 rng(6);
    const test::HostInputs in = test::random_inputs(m, 5, 2, rng, false, false);
    const ScopedDevice device(FusedCase::small_facts(3, 3), 9);
    FusedRunOptions opt;
    opt.kernels = {kernel_of(cluster)};
    opt.timeout_ns = 200'000;
    opt.debug_stall_block = 1;
    opt.debug_stall_step = 2;
    const FusedRunResult r = run_fused(m, w, in, opt);
    EXPECT_EQ(r.persistent[0].blocks_per_direction, 3);
    EXPECT_EQ(r.status.code, kernels::kPersistentTimeout) << (cluster ? "cluster" : "grid");
    EXPECT_EQ(r.status.layer, 0);
    EXPECT_EQ(r.status.step, 3) << "the step whose input (published at step 2) never came";
    EXPECT_NE(r.status.block, -1);
    EXPECT_GT(simt::last_launch_stats().clock_jumps, 0u);
  }
}

// More blocks than the device holds at once: the co-residency query says no (the driver refuses
// the layer as the backend would fall back), and a cooperative launch anyway is refused by the
// "device" exactly as a GPU refuses it.
TEST(SimtPersistent, BlocksThatCannotBeCoResidentAreRefused) {
  const ModelDesc m = model(16, 0, Direction::kForward, 3);
  const Weights w = random_weights(m, 5, 0.5f);
  std::mt19937_64 rng(6);
  const test::HostInputs in = test::random_inputs(m, 3, 2, rng, false, false);
  const ScopedDevice device(FusedCase::small_facts(4), 1);
  FusedRunOptions opt;
  opt.kernels = {FusedKernel::kPersistent};
  opt.limits = fused::device_limits(kernels::persistent_device_info(0));
  opt.limits->sm_count = 8;  // the planner believes in 8 SMs: 8 blocks
  test::expect_error([&] { run_fused(m, w, in, opt); }, ErrorCode::kUnsupported, {"cannot be co-resident", "8 blocks"});
  const fused::PersistentPlan pp =
      fused::make_persistent_plan(m, DataType::kFloat32, 2, 3, *opt.limits, FusedKernel::kPersistent);
  ASSERT_EQ(pp.total_blocks(), 8);
  kernels::PersistentParams p = fused::persistent_shape_params(pp);
  std::vector<std::uint8_t> any(1 << 16, 0);
  p.step_count = 1;
  p.h_exchange = any.data();
  p.abort_flag = reinterpret_cast<std::int32_t*>(any.data());
  p.w_hh = any.data();
  test::expect_error([&] { kernels::launch_persistent_lstm(p, DataType::kFloat32, 8, nullptr); }, ErrorCode::kCudaError,
                     {"cudaErrorCooperativeLaunchTooLarge"});
}

}  // namespace
}  // namespace lstmrt::simt
