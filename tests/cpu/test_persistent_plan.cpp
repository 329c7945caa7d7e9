// The persistent-kernel planner (src/fused/persistent_plan.hpp): fit boundaries on H200 limits,
// budgets, ownership, exchange offsets; the kernel header's slice, register-map and tag arithmetic
// (kernels/persistent_lstm.hpp, which the planner calls) against hand-computed values. (Its plans
// run by the kernel itself against the reference: tests/simt/test_simt_persistent.cpp.)
#include <gtest/gtest.h>

#include <random>
#include <set>

#include "common/compare.hpp"
#include "common/expect_error.hpp"
#include "common/fused_plan_helpers.hpp"
#include "common/random_model.hpp"
#include "common/reference_runner.hpp"
#include "fused/fused_plan.hpp"
#include "fused/persistent_plan.hpp"
#include "kernels/persistent_lstm.hpp"

namespace lstmrt::test {
namespace {

using fused::DeviceLimits;
using fused::PersistentPlan;
using lstmrt::FusedKernel;

ModelDesc model(int H, int P = 0, Direction dir = Direction::kForward, int I = 8) {
  ModelDesc m;
  m.input_size = I;
  m.hidden_size = H;
  m.proj_size = P;
  m.direction = dir;
  return m;
}

PersistentPlan plan_for(int H, DataType type, int N = 1, FusedKernel v = FusedKernel::kPersistent, int P = 0,
                        Direction dir = Direction::kForward, const DeviceLimits& lim = test::kH200Limits) {
  return fused::make_persistent_plan(model(H, P, dir), type, N, 16, lim, v);
}

// Largest H that fits, checking that nothing up to 2× it fits beyond (the boundary is sharp).
int largest_fitting_h(DataType type, int N, FusedKernel v) {
  int last = 0;
  for (int H = 1; H <= 4096; ++H)
    if (plan_for(H, type, N, v).fits) last = H;
  return last;
}

// Derivation (N = 1, one direction, no projection, H200: 132 SMs, 227 KiB shared memory/block):
// one block per SM, 256 threads (8 warps), each may use 65536 / 256 = 256 → 255 registers; 64 are
// kept for the work, so 160 (whole tiles of 32) hold weights. A register row of H_out columns costs
// ceil(H_out / 32) registers per lane of its warp (fp32; half that for bf16).
// Grid, fp32: U = ceil(H / 132) units → 4U rows. H = 1696: U = 13, 52 rows; 53 registers per row
// → 3 rows per warp = 24 rows in registers; 28 rows × (1696 + 4 pad) × 4 B = 190,400 B in shared
// memory + staging = 197,824 B <= 232,448. H = 1697: 54 registers per row → only 2 rows per warp
// (16 rows), 36 rows in shared memory = 245,376 B → does not fit (nor does any larger H).
// bf16: H = 2504, U = 19 (76 rows), 40 registers per row → 4 per warp = 32 rows in registers,
// 44 rows × 2512 × 2 B + staging = 232,000 B; H = 2505 exceeds the limit by 272 B.
// design/performance.md's ≈1380 / ≈1950 count shared memory alone (132 × 227 KiB = 16·H² bytes
// for fp32); the register tiles add ~25–30 %.
// Activations beyond the classic kinds run on the stepwise kernels: the plan does not fit (naming
// the activation, whichever slot or direction holds it), and a forced persistent layer is refused.
TEST(PersistentPlan, OnlyClassicActivationsFit) {
  for (int slot = 0; slot < 3; ++slot)
    for (Direction dir : {Direction::kForward, Direction::kBidirectional}) {
      ModelDesc m = model(8, 0, dir);
      CellActivations& a = m.activations[dir == Direction::kBidirectional ? 1 : 0];
      (slot == 0 ? a.gate : slot == 1 ? a.cell : a.hidden) = Activation::gelu();
      const PersistentPlan p =
          fused::make_persistent_plan(m, DataType::kFloat32, 2, 8, test::kH200Limits, FusedKernel::kPersistent);
      EXPECT_FALSE(p.fits);
      EXPECT_NE(p.reason.find("gelu"), std::string::npos) << p.reason;
      fused::PlanKey key;
      key.seq_len = 8;
      key.batch = 2;
      key.want_y = true;
      EXPECT_THROW(test::plan_for(m, DataType::kFloat32, key, 0, {FusedKernel::kPersistent}), Error);
    }
  ModelDesc classic = model(8);
  classic.activations[0] = {Activation::hard_sigmoid_keras3(), Activation::softsign(), Activation::leaky_relu(0.2f)};
  EXPECT_TRUE(
      fused::make_persistent_plan(classic, DataType::kFloat32, 2, 8, test::kH200Limits, FusedKernel::kPersistent).fits);
}

TEST(PersistentPlan, GridFitBoundaryOnH200) {
  EXPECT_EQ(largest_fitting_h(DataType::kFloat32, 1, FusedKernel::kPersistent), 1696);
  EXPECT_EQ(largest_fitting_h(DataType::kBFloat16, 1, FusedKernel::kPersistent), 2504);
  const PersistentPlan fit = plan_for(1696, DataType::kFloat32);
  ASSERT_TRUE(fit.fits) << fit.reason;
  EXPECT_EQ(fit.units_per_block, 13);
  EXPECT_EQ(fit.blocks_per_direction, 131);  // 1696 / 13 → 131 blocks (no empty block)
  EXPECT_EQ(fit.register_rows, 24);
  EXPECT_EQ(fit.cols_per_lane, 53);
  EXPECT_EQ(fit.weight_registers, 160);  // 3 rows × 53 = 159, one tile step up
  EXPECT_EQ(fit.smem.total_bytes, 197824u);
  const PersistentPlan past = plan_for(1697, DataType::kFloat32);
  EXPECT_FALSE(past.fits);
  EXPECT_NE(past.reason.find("shared memory"), std::string::npos) << past.reason;
  EXPECT_TRUE(past.blocks.empty());
  // Two directions share the SMs: half the blocks each, so the largest H shrinks.
  EXPECT_FALSE(plan_for(1696, DataType::kFloat32, 1, FusedKernel::kPersistent, 0, Direction::kBidirectional).fits);
  EXPECT_TRUE(plan_for(1200, DataType::kFloat32, 1, FusedKernel::kPersistent, 0, Direction::kBidirectional).fits);
}

// Cluster variant: at most 16 blocks hold the whole layer, each with 160 KiB of registers and
// 227 KiB of shared memory minus staging and its receive buffers: ≈ 16 · 387 KiB = 16·H² bytes
// (fp32) gives H ≈ 630; the planner's exact boundaries, with whole register rows per warp, padding,
// staging and receive buffers, are 608 (U = 38) and 832 bf16 (U = 52: 26 column slots, so 12 row
// slots per warp — the largest compiled slot count within 320 bf16 elements — hold 96 of the 208
// rows). performance.md's ≈660 / ≈935 are the same estimate without that overhead.
constexpr int kClusterFp32Max = 608, kClusterBf16Max = 832;
TEST(PersistentPlan, ClusterFitBoundaryOnH200) {
  const int fp32 = largest_fitting_h(DataType::kFloat32, 1, FusedKernel::kCluster);
  const int bf16 = largest_fitting_h(DataType::kBFloat16, 1, FusedKernel::kCluster);
  EXPECT_EQ(fp32, kClusterFp32Max);
  EXPECT_EQ(bf16, kClusterBf16Max);
  const PersistentPlan p = plan_for(512, DataType::kFloat32, 64, FusedKernel::kCluster);
  ASSERT_TRUE(p.fits) << p.reason;
  EXPECT_EQ(p.blocks_per_direction, 16);
  EXPECT_EQ(p.units_per_block, 32);
  EXPECT_EQ(p.clusters_per_direction, 8);  // 132 / 16 SMs
  EXPECT_EQ(p.rows_per_cluster, 8);
  EXPECT_EQ(p.total_blocks(), 128);
}

TEST(PersistentPlan, NoFitReasons) {
  const PersistentPlan half = plan_for(64, DataType::kFloat16);
  EXPECT_FALSE(half.fits);
  EXPECT_NE(half.reason.find("float16"), std::string::npos);
  // Large batches: the staged h of every row outgrows shared memory.
  const PersistentPlan rows = plan_for(1024, DataType::kFloat32, 512);
  EXPECT_FALSE(rows.fits);
  EXPECT_NE(rows.reason.find("N=512"), std::string::npos) << rows.reason;
  DeviceLimits no_clusters = test::kH200Limits;
  no_clusters.max_cluster_size = 0;
  const PersistentPlan c =
      plan_for(64, DataType::kFloat32, 1, FusedKernel::kCluster, 0, Direction::kForward, no_clusters);
  EXPECT_FALSE(c.fits);
  EXPECT_NE(c.reason.find("cluster"), std::string::npos);
  DeviceLimits one_sm = test::kH200Limits;
  one_sm.sm_count = 1;
  const PersistentPlan bi =
      plan_for(8, DataType::kFloat32, 1, FusedKernel::kPersistent, 0, Direction::kBidirectional, one_sm);
  EXPECT_FALSE(bi.fits);
  EXPECT_NE(bi.reason.find("directions"), std::string::npos);
  DeviceLimits few_registers = test::kH200Limits;
  few_registers.registers_per_sm = 256 * 96;  // 96 per thread: one 32-register tile
  const PersistentPlan one_tile =
      plan_for(512, DataType::kFloat32, 1, FusedKernel::kPersistent, 0, Direction::kForward, few_registers);
  ASSERT_TRUE(one_tile.fits) << one_tile.reason;
  EXPECT_EQ(one_tile.weight_registers, 32);
  EXPECT_EQ(one_tile.register_rows, 16);      // 16 registers per row of 512: 2 rows per warp
  few_registers.registers_per_sm = 256 * 64;  // nothing left for weights: everything in shared memory
  const PersistentPlan smem_only =
      plan_for(64, DataType::kFloat32, 1, FusedKernel::kPersistent, 0, Direction::kForward, few_registers);
  ASSERT_TRUE(smem_only.fits) << smem_only.reason;
  EXPECT_EQ(smem_only.register_rows, 0);
  EXPECT_EQ(smem_only.weight_registers, 0);
}

TEST(PersistentPlan, DeviceLimitsFromQueriedFacts) {
  const fused::DeviceLimits h200 = fused::device_limits({132, 65536, 232448, 16, 1});
  EXPECT_EQ(h200.sm_count, test::kH200Limits.sm_count);
  EXPECT_EQ(h200.registers_per_sm, test::kH200Limits.registers_per_sm);
  EXPECT_EQ(h200.max_registers_per_thread, test::kH200Limits.max_registers_per_thread);
  EXPECT_EQ(h200.smem_per_block, test::kH200Limits.smem_per_block);
  EXPECT_EQ(h200.max_cluster_size, test::kH200Limits.max_cluster_size);
  const fused::DeviceLimits small = fused::device_limits({20, 32768, 101376, 0, 1});  // no clusters
  EXPECT_EQ(small.sm_count, 20);
  EXPECT_EQ(small.registers_per_sm, 32768);  // queried, not assumed
  EXPECT_EQ(small.max_registers_per_thread, 255);
  EXPECT_EQ(small.smem_per_block, 101376u);
  EXPECT_FALSE(fused::make_persistent_plan(model(64), DataType::kFloat32, 1, 4, small, FusedKernel::kCluster).fits);
}

TEST(PersistentPlan, InvalidArgumentsThrow) {
  expect_error([] { plan_for(8, DataType::kFloat32, 0); }, ErrorCode::kInvalidArgument, {"batch 0"});
  expect_error(
      [] {
        (void)fused::make_persistent_plan(model(8), DataType::kFloat32, 1, 0, test::kH200Limits,
                                          FusedKernel::kPersistent);
      },
      ErrorCode::kInvalidArgument, {"seq_len 0"});
  DeviceLimits bad = test::kH200Limits;
  bad.smem_per_block = 0;
  expect_error([&] { plan_for(8, DataType::kFloat32, 1, FusedKernel::kPersistent, 0, Direction::kForward, bad); },
               ErrorCode::kInvalidArgument, {"device limits"});
}

// The kernel header's arithmetic, which the planner, the kernel and the parameter builder share,
// against values worked out by hand from the layout comments.
TEST(PersistentKernelArithmetic, PartitionSlicesByHand) {
  // D=2, H=10, P=5, N=5; B=3 blocks of U=4 units and PB=2 projected units; C=2 clusters of R=3 rows.
  const kernels::PersistentPartition s{2, 10, 5, 5, 3, 2, 3, 4, 2};
  EXPECT_EQ(kernels::persistent_block_count(s), 12);
  struct Want {
    int id, direction, cluster, rank, unit_first, units, proj_first, projs, row_first, rows;
  };
  const Want wants[] = {
      {0, 0, 0, 0, 0, 4, 0, 2, 0, 3}, {2, 0, 0, 2, 8, 2, 4, 1, 0, 3},  // last block: units 8, 9; proj 4
      {4, 0, 1, 1, 4, 4, 2, 2, 3, 2},                                  // second cluster: rows 3, 4
      {7, 1, 2, 1, 4, 4, 2, 2, 0, 3}, {11, 1, 3, 2, 8, 2, 4, 1, 3, 2},
  };
  for (const Want& w : wants) {
    const kernels::PersistentBlock b = kernels::persistent_block(s, w.id);
    SCOPED_TRACE(testing::Message() << "block " << w.id);
    EXPECT_EQ(b.direction, w.direction);
    EXPECT_EQ(b.cluster, w.cluster);
    EXPECT_EQ(b.rank, w.rank);
    EXPECT_EQ(b.unit_first, w.unit_first);
    EXPECT_EQ(b.units, w.units);
    EXPECT_EQ(b.proj_first, w.proj_first);
    EXPECT_EQ(b.projs, w.projs);
    EXPECT_EQ(b.row_first, w.row_first);
    EXPECT_EQ(b.rows, w.rows);
  }
  // Without a projection no block owns projected units.
  const kernels::PersistentPartition plain{1, 10, 0, 5, 3, 1, 5, 4, 0};
  for (int id = 0; id < 3; ++id) EXPECT_EQ(kernels::persistent_block(plain, id).projs, 0);
  // Block 1 (units 4..7): local row 5 is gate 1 (f) of unit 5, row 13 gate 3 (o) of unit 5.
  const kernels::PersistentBlock b1 = kernels::persistent_block(s, 1);
  EXPECT_EQ(kernels::persistent_w_hh_row(b1, 0, 10), 4);
  EXPECT_EQ(kernels::persistent_w_hh_row(b1, 5, 10), 15);
  EXPECT_EQ(kernels::persistent_w_hh_row(b1, 13, 10), 35);
  // Block 2 (units 8, 9): local row 3 is gate 1 of unit 9.
  EXPECT_EQ(kernels::persistent_w_hh_row(kernels::persistent_block(s, 2), 3, 10), 19);
}

TEST(PersistentKernelArithmetic, RegisterMapAndTagsByHand) {
  EXPECT_EQ(kernels::kPersistentBlockThreads, 256);
  EXPECT_EQ(kernels::kPersistentWarps, 8);
  // 3 row slots: element 7 of warp 2, lane 5 is row slot 7 % 3 = 1 (row 1·8 + 2 = 10), column slot
  // 7 / 3 = 2 (column 2·32 + 5 = 69); and back.
  const kernels::PersistentRegisterSource src = kernels::persistent_register_source(3, 7, 2, 5);
  EXPECT_EQ(src.row, 10);
  EXPECT_EQ(src.column, 69);
  const kernels::PersistentRegisterElement at = kernels::persistent_register_element(3, 10, 69);
  EXPECT_EQ(at.warp, 2);
  EXPECT_EQ(at.lane, 5);
  EXPECT_EQ(at.element, 7);
  // 1 row slot: element e is column slot e, row = warp.
  const kernels::PersistentRegisterSource one = kernels::persistent_register_source(1, 4, 7, 31);
  EXPECT_EQ(one.row, 7);
  EXPECT_EQ(one.column, 4 * 32 + 31);
  // The value read at local step ls carries tag tag_base + ls + 1, in slot ls % 2.
  EXPECT_EQ(kernels::persistent_tag(100, 0), 101);
  EXPECT_EQ(kernels::persistent_tag(100, 7), 108);
  EXPECT_EQ(kernels::persistent_slot(0), 0);
  EXPECT_EQ(kernels::persistent_slot(7), 1);
  EXPECT_EQ(kernels::persistent_slot(8), 0);
  // A launch of 7 steps publishes tags up to 100 + 7 + 1 = 108; the next one starts at 100 + 8.
  EXPECT_EQ(kernels::persistent_tags_per_launch(7), 8);
  EXPECT_GT(kernels::persistent_tag(100 + kernels::persistent_tags_per_launch(7), 0), kernels::persistent_tag(100, 7));
}

// Every fitting plan on random shapes: budgets, regions, ownership and exchange offsets.
void check_plan_invariants(const PersistentPlan& p, const DeviceLimits& lim, const std::string& what) {
  SCOPED_TRACE(what);
  const int e = p.weight_type == DataType::kFloat32 ? 4 : 2;
  EXPECT_LE(p.smem.total_bytes, lim.smem_per_block);
  EXPECT_LE(p.registers_per_thread, lim.max_registers_per_thread);
  constexpr int kThreads = kernels::kPersistentBlockThreads;
  EXPECT_LE(static_cast<std::int64_t>(p.registers_per_thread) * kThreads, lim.registers_per_sm);
  EXPECT_EQ(p.weight_registers % fused::kRegisterTileStep, 0);
  // The register file holds the register rows: per_thread elements cover them and fit the tiles.
  EXPECT_GE(static_cast<std::int64_t>(p.per_thread_elements) * kThreads,
            static_cast<std::int64_t>(p.register_rows) * p.out_size);
  EXPECT_LE(p.per_thread_elements * e, p.weight_registers * 4);
  EXPECT_LE(p.register_rows, 4 * p.units_per_block);
  // The kernel is compiled for this slot count, and its register array holds slots × column
  // slots elements.
  EXPECT_TRUE(kernels::persistent_slot_choice(p.register_slots)) << p.register_slots;
  EXPECT_EQ(p.register_rows, std::min(4 * p.units_per_block, p.register_slots * kThreads / 32));
  const int per_register = p.weight_type == DataType::kFloat32 ? 1 : 2;
  if (p.register_slots > 0)
    EXPECT_LE(p.cols_per_lane, kernels::persistent_register_columns(p.register_slots, per_register));
  EXPECT_LE(p.weight_registers, kernels::kPersistentWeightRegisters);
  // The kernel loads element e of thread (warp, lane) from persistent_register_source: with this
  // plan's slots and column slots, every register-resident (row, column) of the slice is loaded by
  // exactly one (thread, element), and persistent_register_element takes it back.
  if (p.register_slots > 0) {
    std::vector<int> loads(static_cast<std::size_t>(p.register_rows) * p.out_size, 0);
    for (int t = 0; t < kThreads; ++t)
      for (int e = 0; e < p.per_thread_elements; ++e) {
        const kernels::PersistentRegisterSource src =
            kernels::persistent_register_source(p.register_slots, e, t / 32, t % 32);
        if (src.row >= p.register_rows || src.column >= p.out_size) continue;
        ++loads[static_cast<std::size_t>(src.row) * p.out_size + src.column];
        const kernels::PersistentRegisterElement back =
            kernels::persistent_register_element(p.register_slots, src.row, src.column);
        EXPECT_EQ(back.warp * 32 + back.lane, t);
        EXPECT_EQ(back.element, e);
      }
    for (std::size_t i = 0; i < loads.size(); ++i)
      ASSERT_EQ(loads[i], 1) << "row " << i / p.out_size << " column " << i % p.out_size;
  }
  // Shared regions: aligned, in order, disjoint, inside the total.
  const fused::SmemLayout& s = p.smem;
  const fused::SmemRegion regions[] = {s.w_hh, s.w_hr, s.h_stage, s.m_stage, s.gates, s.c_state, s.vectors, s.exchange};
  std::size_t end = 0;
  for (const fused::SmemRegion& r : regions) {
    if (r.bytes == 0) continue;
    EXPECT_EQ(r.offset % fused::kSmemAlignment, 0u);
    EXPECT_GE(r.offset, end);
    end = r.offset + r.bytes;
  }
  EXPECT_LE(end, s.total_bytes);
  EXPECT_EQ(s.w_hh.bytes, static_cast<std::size_t>(4 * p.units_per_block - p.register_rows) * s.w_hh_ld * e);
  EXPECT_GE(s.w_hh_ld, p.out_size);
  EXPECT_EQ(s.w_hh_ld * e % 16, 0);
  // Ownership: per direction and cluster, every hidden unit, projected unit and row exactly once.
  const int D = p.directions;
  std::vector<int> unit_owner(static_cast<std::size_t>(D) * p.clusters_per_direction * p.hidden, 0);
  std::vector<int> proj_owner(static_cast<std::size_t>(D) * p.clusters_per_direction * p.proj, 0);
  std::vector<std::set<int>> rows_seen(D);
  std::set<std::pair<int, int>> ranks;
  ASSERT_EQ(p.total_blocks(), D * p.clusters_per_direction * p.blocks_per_direction);
  for (int id = 0; id < p.total_blocks(); ++id) {
    const kernels::PersistentBlock& b = p.blocks[id];
    SCOPED_TRACE(testing::Message() << "block " << id);
    EXPECT_GE(b.units, 1);
    EXPECT_LE(b.units, p.units_per_block);
    EXPECT_LE(b.projs, p.proj_per_block);
    EXPECT_LE(b.rows, p.rows_per_cluster);
    EXPECT_LT(b.rank, p.blocks_per_direction);
    // Direction-major ids, clusters of blocks_per_direction consecutive blocks.
    EXPECT_EQ(b.direction, id / (p.clusters_per_direction * p.blocks_per_direction));
    EXPECT_EQ(b.cluster, id / p.blocks_per_direction);
    EXPECT_EQ(b.rank, id % p.blocks_per_direction);
    EXPECT_TRUE(ranks.insert({b.cluster, b.rank}).second);
    const int group = b.cluster;  // (direction, batch slice)
    for (int j = b.unit_first; j < b.unit_first + b.units; ++j)
      ++unit_owner.at(static_cast<std::size_t>(group) * p.hidden + j);
    for (int j = b.proj_first; j < b.proj_first + b.projs; ++j)
      ++proj_owner.at(static_cast<std::size_t>(group) * p.proj + j);
    if (b.rank == 0)
      for (int r = b.row_first; r < b.row_first + b.rows; ++r)
        EXPECT_TRUE(rows_seen[b.direction].insert(r).second) << r;
    // Every local W_hh row maps to a distinct global row of this block's units, gate r / units.
    std::set<std::int64_t> global;
    for (int r = 0; r < 4 * b.units; ++r) {
      const std::int64_t g = kernels::persistent_w_hh_row(b, r, p.hidden);
      EXPECT_EQ(g / p.hidden, r / b.units);
      EXPECT_TRUE(g % p.hidden >= b.unit_first && g % p.hidden < b.unit_first + b.units) << g;
      global.insert(g);
    }
    EXPECT_EQ(global.size(), static_cast<std::size_t>(4 * b.units));
  }
  for (int c : unit_owner) EXPECT_EQ(c, 1);
  for (int c : proj_owner) EXPECT_EQ(c, 1);
  for (int d = 0; d < D; ++d) EXPECT_EQ(rows_seen[d].size(), static_cast<std::size_t>(p.batch));
  if (p.variant == FusedKernel::kPersistent) {
    EXPECT_LE(p.total_blocks(), lim.sm_count);
  } else {
    EXPECT_LE(p.blocks_per_direction, lim.max_cluster_size);
    EXPECT_LE(p.total_blocks(), lim.sm_count);
  }
  // Exchange offsets: the last entry and tag end exactly at / inside the buffer; tags never alias values.
  for (const fused::ExchangeLayout* x : {&p.h_exchange, &p.m_exchange}) {
    if (x->width == 0) continue;
    const int last_slot = x->slots - 1, last_row = x->rows - 1, last_unit = x->width - 1, last_block = x->blocks - 1;
    EXPECT_LE(x->value_offset(last_slot, last_row, last_unit) + 4, x->values_bytes);
    EXPECT_LE(x->tag_offset(last_slot, last_row, last_unit, last_block) + 4, x->total_bytes);
    if (x->tags == fused::TagGranularity::kPerSlice) {
      EXPECT_GE(x->tag_offset(0, 0, 0, 0), x->values_bytes);
      EXPECT_EQ(x->tag_offset(last_slot, 0, 0, last_block) + 4, x->total_bytes);
    } else {
      EXPECT_EQ(x->tag_offset(last_slot, last_row, last_unit, 0) + 4, x->total_bytes);
    }
    if (p.variant == FusedKernel::kCluster) EXPECT_LE(x->total_bytes, s.exchange.bytes);
  }
  // The cluster kernel places the m receive buffer right after the h one (persistent_lstm.cu),
  // values then tags, exactly the ExchangeLayout sizes: (2, R, width) floats + (2, B) int32 each.
  if (p.variant == FusedKernel::kCluster) {
    const auto bytes = [&](int width) {
      return static_cast<std::size_t>(2) * p.rows_per_cluster * width * 4 + 2u * p.blocks_per_direction * 4;
    };
    EXPECT_EQ(p.h_exchange.total_bytes, bytes(p.out_size));
    if (p.proj > 0) EXPECT_EQ(p.m_exchange.total_bytes, bytes(p.hidden));
    EXPECT_LE(p.h_exchange.total_bytes + p.m_exchange.total_bytes, s.exchange.bytes);
  }
}

TEST(PersistentPlan, RandomShapesRespectBudgetsAndOwnEveryUnitOnce) {
  const std::uint64_t seed = test_seed();
  SCOPED_TRACE(fmt::format("LSTMRT_TEST_SEED={}", seed));
  std::mt19937_64 rng(seed);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  int fitted = 0;
  for (int k = 0; k < 400; ++k) {
    DeviceLimits lim = test::kH200Limits;
    if (pick(0, 1)) {
      lim.sm_count = pick(1, 40);
      lim.registers_per_sm = 256 * pick(64, 255);
      lim.smem_per_block = static_cast<std::size_t>(pick(4, 227)) << 10;
      lim.max_cluster_size = pick(1, 16);
    }
    const int H = pick(0, 3) == 0 ? pick(1, 3000) : pick(1, 300);
    const int P = H > 1 && pick(0, 2) == 0 ? pick(1, H - 1) : 0;
    const auto dir = static_cast<Direction>(pick(0, 2));
    const DataType type = pick(0, 1) ? DataType::kFloat32 : DataType::kBFloat16;
    const int N = pick(1, 80);
    const auto variant = pick(0, 1) ? FusedKernel::kPersistent : FusedKernel::kCluster;
    const PersistentPlan p = fused::make_persistent_plan(model(H, P, dir), type, N, pick(1, 50), lim, variant);
    const std::string what =
        fmt::format("H={} P={} D={} N={} {} {} SMs={} regs/SM={} smem={} cluster={}", H, P, static_cast<int>(dir), N,
                    type == DataType::kFloat32 ? "fp32" : "bf16", to_string(variant), lim.sm_count,
                    lim.registers_per_sm, lim.smem_per_block, lim.max_cluster_size);
    if (!p.fits) {
      EXPECT_FALSE(p.reason.empty()) << what;
      continue;
    }
    ++fitted;
    EXPECT_TRUE(p.reason.empty()) << what;
    check_plan_invariants(p, lim, what);
    if (HasFailure()) break;
  }
  EXPECT_GT(fitted, 100);
}

}  // namespace
}  // namespace lstmrt::test
