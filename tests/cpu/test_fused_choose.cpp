// The fused backend's choose step (src/fused/fused_choose.hpp): requested variants and their
// fallbacks with reasons, the kAuto rule's boundaries, measured choices, candidates from made-up
// device facts, and the execution-plan lines.
#include <gtest/gtest.h>

#include <string>

#include <fmt/format.h>

#include "common/check.hpp"
#include "common/fused_plan_helpers.hpp"
#include "fused/fused_choose.hpp"
#include "fused/persistent_plan.hpp"

namespace lstmrt::fused {
namespace {

ModelDesc model(int H, Direction dir = Direction::kForward, int P = 0) {
  ModelDesc m;
  m.input_size = 8;
  m.hidden_size = H;
  m.proj_size = P;
  m.direction = dir;
  return m;
}

VariantCandidate candidate(const ModelDesc& m, DataType t, int N, FusedKernel v, bool co_resident = true,
                           const DeviceLimits& lim = test::kH200Limits) {
  VariantCandidate c;
  c.plan = make_persistent_plan(m, t, N, 16, lim, v);
  c.co_resident = c.plan.fits && co_resident;
  return c;
}

struct Pair {
  VariantCandidate grid, cluster;
};
Pair candidates(const ModelDesc& m, DataType t, int N, bool co_resident = true) {
  return {candidate(m, t, N, FusedKernel::kPersistent, co_resident),
          candidate(m, t, N, FusedKernel::kCluster, co_resident)};
}

LayerChoice pick(FusedKernel k, const ModelDesc& m, DataType t, int N, const Pair& c, bool measured = false) {
  return choose_layer_kernel(k, measured, t, m.hidden_size, N, test::kH200Limits.sm_count, c.grid, c.cluster);
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

TEST(KernelChoice, RequestedVariantsAndFallbacks) {
  const ModelDesc m = model(256);
  const Pair c = candidates(m, DataType::kFloat32, 4);
  ASSERT_TRUE(c.grid.usable());
  ASSERT_TRUE(c.cluster.usable());
  EXPECT_EQ(pick(FusedKernel::kStepwise, m, DataType::kFloat32, 4, c).kernel, FusedKernel::kStepwise);
  LayerChoice g = pick(FusedKernel::kPersistent, m, DataType::kFloat32, 4, c);
  EXPECT_EQ(g.kernel, FusedKernel::kPersistent);
  EXPECT_EQ(g.persistent.variant, FusedKernel::kPersistent);
  EXPECT_TRUE(g.persistent.fits);
  EXPECT_TRUE(g.note.empty()) << g.note;
  const LayerChoice cl = pick(FusedKernel::kCluster, m, DataType::kFloat32, 4, c);
  EXPECT_EQ(cl.kernel, FusedKernel::kCluster);
  EXPECT_EQ(cl.persistent.variant, FusedKernel::kCluster);

  // Too large for on-chip storage: stepwise, with the planner's reason.
  const ModelDesc big = model(4096);
  const Pair nc = candidates(big, DataType::kFloat32, 4);
  ASSERT_FALSE(nc.grid.plan.fits);
  g = pick(FusedKernel::kPersistent, big, DataType::kFloat32, 4, nc);
  EXPECT_EQ(g.kernel, FusedKernel::kStepwise);
  EXPECT_TRUE(contains(g.note, "persistent requested: ")) << g.note;
  EXPECT_TRUE(contains(g.note, nc.grid.plan.reason)) << g.note;
  EXPECT_EQ(pick(FusedKernel::kCluster, big, DataType::kFloat32, 4, nc).kernel, FusedKernel::kStepwise);
  // The plan fits but the blocks cannot be co-resident.
  const Pair busy = candidates(m, DataType::kFloat32, 4, /*co_resident*/ false);
  ASSERT_TRUE(busy.cluster.plan.fits);
  const LayerChoice b = pick(FusedKernel::kCluster, m, DataType::kFloat32, 4, busy);
  EXPECT_EQ(b.kernel, FusedKernel::kStepwise);
  EXPECT_TRUE(contains(b.note, "cluster requested: ")) << b.note;
  EXPECT_TRUE(contains(b.note, "co-resident")) << b.note;
  // The device refuses (e.g. no cooperative launches): its reason.
  Pair refused = c;
  refused.grid.refusal = "the device has no cooperative launch";
  const LayerChoice r = pick(FusedKernel::kPersistent, m, DataType::kFloat32, 4, refused);
  EXPECT_EQ(r.kernel, FusedKernel::kStepwise);
  EXPECT_EQ(r.note, "persistent requested: the device has no cooperative launch");
  // float16: never persistent.
  const Pair half = candidates(m, DataType::kFloat16, 4);
  const LayerChoice h = pick(FusedKernel::kPersistent, m, DataType::kFloat16, 4, half);
  EXPECT_EQ(h.kernel, FusedKernel::kStepwise);
  EXPECT_TRUE(contains(h.note, "float16")) << h.note;
  // A measured choice says so.
  EXPECT_EQ(pick(FusedKernel::kCluster, m, DataType::kFloat32, 4, c, true).note, "measured fastest");
  EXPECT_EQ(pick(FusedKernel::kStepwise, m, DataType::kFloat32, 4, c, true).note, "measured fastest");
}

TEST(KernelChoice, AutoRuleBoundaries) {
  for (DataType t : {DataType::kFloat32, DataType::kBFloat16}) {
    // Small H: the cluster variant.
    ModelDesc m = model(kAutoClusterMaxHidden);
    Pair c = candidates(m, t, 8);
    if (c.cluster.usable()) {
      EXPECT_EQ(pick(FusedKernel::kAuto, m, t, 8, c).kernel, FusedKernel::kCluster) << to_string(t);
      EXPECT_EQ(pick(FusedKernel::kAuto, m, t, 8, c).note, "auto");
    }
    // H just past the cluster bound: the grid variant at N <= 32, stepwise beyond.
    m = model(kAutoClusterMaxHidden + 1);
    c = candidates(m, t, kAutoGridMaxBatch);
    ASSERT_TRUE(c.grid.usable()) << c.grid.why_not();
    LayerChoice got = pick(FusedKernel::kAuto, m, t, kAutoGridMaxBatch, c);
    EXPECT_EQ(got.kernel, FusedKernel::kPersistent) << to_string(t) << " " << got.note;
    c = candidates(m, t, kAutoGridMaxBatch + 1);
    got = pick(FusedKernel::kAuto, m, t, kAutoGridMaxBatch + 1, c);
    EXPECT_EQ(got.kernel, FusedKernel::kStepwise) << to_string(t);
    EXPECT_TRUE(contains(got.note, "N=33 > 32")) << got.note;
    EXPECT_TRUE(contains(got.note, "auto: cluster: ")) << got.note;
  }
  // Cluster not co-resident → grid; neither usable → stepwise naming both reasons.
  ModelDesc m = model(128);
  Pair c = candidates(m, DataType::kFloat32, 4);
  c.cluster.co_resident = false;
  EXPECT_EQ(pick(FusedKernel::kAuto, m, DataType::kFloat32, 4, c).kernel, FusedKernel::kPersistent);
  c.grid.co_resident = false;
  LayerChoice got = pick(FusedKernel::kAuto, m, DataType::kFloat32, 4, c);
  EXPECT_EQ(got.kernel, FusedKernel::kStepwise);
  EXPECT_TRUE(contains(got.note, "cluster: its")) << got.note;
  EXPECT_TRUE(contains(got.note, "grid: its")) << got.note;
  // More cluster blocks than SMs (a small device): not the cluster variant.
  c = candidates(m, DataType::kFloat32, 4);
  got = choose_layer_kernel(FusedKernel::kAuto, false, DataType::kFloat32, 128, 4, c.cluster.plan.total_blocks() - 1,
                            c.grid, c.cluster);
  EXPECT_EQ(got.kernel, FusedKernel::kPersistent);
  // float16 → stepwise whatever fits.
  got = pick(FusedKernel::kAuto, m, DataType::kFloat16, 4, candidates(m, DataType::kFloat16, 4));
  EXPECT_EQ(got.kernel, FusedKernel::kStepwise);
  EXPECT_EQ(got.note, "auto: float16 data");
}

TEST(KernelChoice, MaskedRequestsRunStepwiseAndSayWhy) {
  const ModelDesc m = model(256);
  const Pair c = candidates(m, DataType::kFloat32, 4);
  const LayerChoice grid = masked_layer_choice(pick(FusedKernel::kPersistent, m, DataType::kFloat32, 4, c));
  EXPECT_EQ(grid.kernel, FusedKernel::kStepwise);
  EXPECT_TRUE(contains(grid.note, "per-step mask")) << grid.note;
  EXPECT_TRUE(contains(grid.note, "persistent grid otherwise")) << grid.note;
  EXPECT_TRUE(contains(describe_layer(0, grid, 1), "layer 0: stepwise (a per-step mask")) << describe_layer(0, grid, 1);
  const LayerChoice cluster = masked_layer_choice(pick(FusedKernel::kAuto, m, DataType::kFloat32, 4, c));
  EXPECT_EQ(cluster.kernel, FusedKernel::kStepwise);
  EXPECT_TRUE(contains(cluster.note, "persistent cluster otherwise, auto")) << cluster.note;
  const LayerChoice stepwise = pick(FusedKernel::kStepwise, m, DataType::kFloat32, 4, c, true);
  const LayerChoice same = masked_layer_choice(stepwise);
  EXPECT_EQ(same.kernel, FusedKernel::kStepwise);
  EXPECT_EQ(same.note, stepwise.note);
}

TEST(KernelChoice, ExecutionPlanLines) {
  const ModelDesc bi = model(1024, Direction::kBidirectional);
  const Pair c = candidates(bi, DataType::kBFloat16, 1);
  ASSERT_TRUE(c.grid.usable()) << c.grid.why_not();
  const LayerChoice g = pick(FusedKernel::kPersistent, bi, DataType::kBFloat16, 1, c);
  const PersistentPlan& p = g.persistent;
  EXPECT_EQ(
      describe_layer(0, g, 2),
      fmt::format("layer 0: persistent grid, {} blocks × {} units, {} register rows + {} shared-memory rows, 2 "
                  "directions",
                  p.blocks_per_direction, p.units_per_block, p.register_rows, 4 * p.units_per_block - p.register_rows));
  const ModelDesc small = model(64, Direction::kForward, 16);
  const Pair sc = candidates(small, DataType::kFloat32, 40);
  const LayerChoice cl = pick(FusedKernel::kAuto, small, DataType::kFloat32, 40, sc);
  ASSERT_EQ(cl.kernel, FusedKernel::kCluster);
  const std::string line = describe_layer(3, cl, 1);
  EXPECT_TRUE(
      contains(line, fmt::format("layer 3: persistent cluster, {} clusters of {} blocks × {} units ({} rows each)",
                                 cl.persistent.clusters_per_direction, cl.persistent.blocks_per_direction,
                                 cl.persistent.units_per_block, cl.persistent.rows_per_cluster)))
      << line;
  EXPECT_TRUE(contains(line, "projected units per block, 1 direction (auto)")) << line;
  const ModelDesc big = model(4096);
  const LayerChoice fallback =
      pick(FusedKernel::kPersistent, big, DataType::kFloat32, 1, candidates(big, DataType::kFloat32, 1));
  EXPECT_EQ(describe_layer(1, fallback, 1), "layer 1: stepwise (" + fallback.note + ")");
  EXPECT_TRUE(contains(fallback.note, "persistent requested: ")) << fallback.note;
}

// Facts of an H200 whose occupancy query answers `co_resident` and counts its calls.
DeviceFacts h200_facts(bool co_resident, int* queries) {
  DeviceFacts f;
  f.limits = test::kH200Limits;
  f.cooperative_launch = true;
  f.co_resident = [co_resident, queries](const PersistentPlan& p) {
    EXPECT_TRUE(p.fits);  // asked only for fitting plans
    ++*queries;
    return co_resident;
  };
  return f;
}

TEST(KernelChoice, CandidatesFromDeviceFacts) {
  const ModelDesc m = model(256, Direction::kBidirectional);
  int queries = 0;
  DeviceFacts f = h200_facts(true, &queries);
  VariantCandidate c = variant_candidate(m, DataType::kFloat32, 16, 4, f, FusedKernel::kPersistent);
  EXPECT_TRUE(c.usable()) << c.why_not();
  EXPECT_EQ(queries, 1);
  EXPECT_EQ(c.plan.total_blocks(),
            make_persistent_plan(m, DataType::kFloat32, 4, 16, f.limits, FusedKernel::kPersistent).total_blocks());
  // No cooperative launches: the grid variant is refused without a query, the cluster one is not.
  f.cooperative_launch = false;
  c = variant_candidate(m, DataType::kFloat32, 16, 4, f, FusedKernel::kPersistent);
  EXPECT_FALSE(c.usable());
  EXPECT_EQ(c.why_not(), "the device has no cooperative launches");
  EXPECT_EQ(queries, 1);
  EXPECT_TRUE(variant_candidate(m, DataType::kFloat32, 16, 4, f, FusedKernel::kCluster).usable());
  // A failed device query: every variant names it, nothing is asked.
  f.refusal = "the device query failed: no device";
  c = variant_candidate(m, DataType::kFloat32, 16, 4, f, FusedKernel::kCluster);
  EXPECT_FALSE(c.usable());
  EXPECT_EQ(c.why_not(), "the device query failed: no device");
  // A co-residency query that throws is a refusal naming it; a missing query is "not co-resident".
  f = h200_facts(true, &queries);
  f.co_resident = [](const PersistentPlan&) -> bool { detail::fail(ErrorCode::kCudaError, "occupancy: boom"); };
  c = variant_candidate(m, DataType::kFloat32, 16, 4, f, FusedKernel::kCluster);
  EXPECT_FALSE(c.usable());
  EXPECT_TRUE(contains(c.why_not(), "co-residency query failed")) << c.why_not();
  EXPECT_TRUE(contains(c.why_not(), "occupancy: boom")) << c.why_not();
  f.co_resident = nullptr;
  c = variant_candidate(m, DataType::kFloat32, 16, 4, f, FusedKernel::kCluster);
  EXPECT_FALSE(c.usable());
  EXPECT_TRUE(contains(c.why_not(), "co-resident")) << c.why_not();
  // Limits come from the facts: a device with 4 SMs cannot hold 2 directions of 256 units in 1 block each.
  f = h200_facts(true, &queries);
  f.limits.sm_count = 1;
  c = variant_candidate(m, DataType::kFloat32, 16, 4, f, FusedKernel::kPersistent);
  EXPECT_FALSE(c.plan.fits);
  EXPECT_TRUE(contains(c.why_not(), "1 SMs")) << c.why_not();
}

TEST(KernelChoice, ChooseServesEveryLayer) {
  ModelDesc m = model(128, Direction::kForward, 0);
  m.num_layers = 3;
  int queries = 0;
  const DeviceFacts f = h200_facts(true, &queries);
  const PlanKey key = test::plan_key(20, 4);
  std::vector<LayerChoice> c = choose(m, DataType::kFloat32, key, {FusedKernel::kPersistent, false}, f);
  ASSERT_EQ(c.size(), 3u);
  for (const LayerChoice& l : c) {
    EXPECT_EQ(l.kernel, FusedKernel::kPersistent);
    EXPECT_EQ(l.persistent.batch, 4);
    EXPECT_TRUE(l.persistent.fits);
  }
  // The choice feeds the plan as it is.
  EXPECT_NO_THROW(make_plan(m, DataType::kFloat32, key, c, f.limits));
  // Stepwise asks the device nothing; a measured stepwise says so.
  queries = 0;
  c = choose(m, DataType::kFloat32, key, {FusedKernel::kStepwise, true}, f);
  EXPECT_EQ(queries, 0);
  EXPECT_EQ(c[2].kernel, FusedKernel::kStepwise);
  EXPECT_EQ(c[2].note, "measured fastest");
  // Masked keys run stepwise, naming what would have run.
  PlanKey masked = key;
  masked.has_mask = true;
  c = choose(m, DataType::kFloat32, masked, {FusedKernel::kCluster, false}, f);
  EXPECT_EQ(c[1].kernel, FusedKernel::kStepwise);
  EXPECT_TRUE(contains(c[1].note, "persistent cluster otherwise")) << c[1].note;
  EXPECT_NO_THROW(make_plan(m, DataType::kFloat32, masked, c, f.limits));
  // Not co-resident: auto falls back to stepwise with both reasons.
  const DeviceFacts busy = h200_facts(false, &queries);
  c = choose(m, DataType::kFloat32, key, {FusedKernel::kAuto, false}, busy);
  EXPECT_EQ(c[0].kernel, FusedKernel::kStepwise);
  EXPECT_TRUE(contains(c[0].note, "auto: cluster: ")) << c[0].note;
}

}  // namespace
}  // namespace lstmrt::fused
