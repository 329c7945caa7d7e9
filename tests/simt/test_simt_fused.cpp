// The fused backend's stepwise path on the SIMT executor against the reference backend: the
// backend's own plan executed op by op (fused_driver.hpp), the per-step gate kernel and the
// state-initialisation kernel from kernels/fused_step.cu through their own launchers, the length
// upload kernel, and the GEMMs as cpu_gemm on the cuBLASLt descriptors the GPU path builds. Random
// models with every feature, float32 / float16 / bfloat16 storage, TF32 math, and named corners:
// wavefront chunks, per-direction GEMMs, reverse with lengths and go_backwards, zero and full
// lengths with a projection, row-batched input GEMMs, per-step masks of every pattern (the mask
// upload and the gate kernel's masked steps); then plans mixing stepwise and persistent layers. Every case runs on a
// fresh random schedule (stream interleaving and fiber order).
#include <gtest/gtest.h>

#include <random>

#include "fused/persistent_plan.hpp"

#include "simt/fused_cases.hpp"

namespace lstmrt::simt {
namespace {

TEST(SimtFusedStepwise, RandomModelsEveryFeature) {
  const std::uint64_t seed = test::test_seed();
  SCOPED_TRACE(fmt::format("LSTMRT_TEST_SEED={}", seed));
  std::mt19937_64 rng(seed);
  for (int k = 0; k < 200; ++k) {
    const DataType type = k % 3 == 1 ? DataType::kBFloat16 : k % 6 == 2 ? DataType::kFloat16 : DataType::kFloat32;
    const FusedCase c = random_fused_case(rng, type, k % 10 == 5 ? MathMode::kTF32 : MathMode::kStrict);
    expect_matches_reference(c, rng());
    if (HasFailure()) break;
  }
}

FusedCase base_case(Direction dir, int layers, int proj) {
  FusedCase c;
  c.desc.input_size = 5;
  c.desc.hidden_size = 6;
  c.desc.proj_size = proj;
  c.desc.num_layers = layers;
  c.desc.direction = dir;
  c.T = 7;
  c.N = 4;
  c.opt.schedule_seed = test::test_seed();
  return c;
}

TEST(SimtFusedStepwise, StackedForwardWavefrontChunks) {
  FusedCase c = base_case(Direction::kForward, 3, 0);
  c.T = 11;  // three chunks of 4 (kWavefrontChunkSteps), the last one short
  c.lengths = true;
  c.state = true;
  expect_matches_reference(c, test::test_seed());
}

TEST(SimtFusedStepwise, BidirectionalChunkedPerDirectionGemms) {
  FusedCase c = base_case(Direction::kBidirectional, 2, 3);
  c.opt.chunk_steps = 3;
  c.state = true;
  c.layout = TensorLayout::kBatchMajor;
  expect_matches_reference(c, test::test_seed());
}

TEST(SimtFusedStepwise, ReverseWithLengthsCarryAndGoBackwards) {
  FusedCase c = base_case(Direction::kReverse, 2, 2);
  c.lengths = true;
  c.opt.chunk_steps = 2;  // ignored: reverse with lengths is unchunked
  c.opt.padding = PaddingMode::kCarryLast;
  c.opt.order = ReverseOutputOrder::kProcessing;
  expect_matches_reference(c, test::test_seed());
}

TEST(SimtFusedStepwise, BatchMajorFewRowsUsesRowBatches) {
  FusedCase c = base_case(Direction::kForward, 1, 0);
  c.N = 2;
  c.T = 9;  // N < steps: the input GEMM is batched over rows
  c.layout = TensorLayout::kBatchMajor;
  expect_matches_reference(c, test::test_seed());
  c.opt.chunk_steps = 4;
  expect_matches_reference(c, test::test_seed() + 1);
}

TEST(SimtFusedStepwise, ZeroAndFullLengthsWithProjection) {
  for (Direction dir : {Direction::kForward, Direction::kReverse, Direction::kBidirectional}) {
    FusedCase c = base_case(dir, 2, 4);
    c.state = true;
    c.lengths = true;
    c.opt.padding = PaddingMode::kCarryLast;
    // random_inputs draws lengths in [0, T]: several seeds cover 0 and T.
    for (std::uint64_t s = 0; s < 3; ++s) expect_matches_reference(c, test::test_seed() + s);
  }
}

// Per-step masks (ForwardRequest::mask): every direction and pattern, chunked and whole, both
// layouts and padding modes, with and without initial state — projected models with h0 and a
// leading masked step take the gates_h0 path — in float32 and bfloat16.
TEST(SimtFusedStepwise, MasksEveryPatternChunkedAndWhole) {
  int k = 0;
  for (Direction dir : {Direction::kForward, Direction::kReverse, Direction::kBidirectional})
    for (test::MaskKind kind : {test::MaskKind::kPrefix, test::MaskKind::kSuffix, test::MaskKind::kRandom})
      for (int proj : {0, 3}) {
        FusedCase c = base_case(dir, 1 + k % 2, proj);
        c.T = 9;
        c.mask = kind;
        c.state = k % 3 != 2;
        c.layout = k % 2 ? TensorLayout::kBatchMajor : TensorLayout::kTimeMajor;
        c.opt.padding = k % 4 < 2 ? PaddingMode::kCarryLast : PaddingMode::kZero;
        c.opt.chunk_steps = k % 3 == 0 ? 0 : 2 + k % 3;
        c.opt.type = k % 5 == 4 ? DataType::kBFloat16 : DataType::kFloat32;
        if (dir == Direction::kReverse && k % 2) c.opt.order = ReverseOutputOrder::kProcessing;
        ++k;
        expect_matches_reference(c, test::test_seed() + k);
        if (HasFailure()) return;
      }
}

// Plans mixing stepwise and persistent layers (grid and cluster, several blocks per direction).
TEST(SimtFusedMixed, RandomModelsMixedKernels) {
  const std::uint64_t seed = test::test_seed() + 7;
  SCOPED_TRACE(fmt::format("LSTMRT_TEST_SEED={}", test::test_seed()));
  std::mt19937_64 rng(seed);
  for (int k = 0; k < 16; ++k) {
    FusedCase c = random_fused_case(rng, k % 2 ? DataType::kBFloat16 : DataType::kFloat32);
    c.facts = FusedCase::small_facts(2 + static_cast<int>(rng() % 5), 1 + static_cast<int>(rng() % 3));
    c.opt.kernels.resize(c.desc.num_layers);
    for (FusedKernel& kernel : c.opt.kernels)
      kernel = static_cast<FusedKernel>(1 + rng() % 3);  // stepwise, persistent, cluster
    c.opt.kernels[rng() % c.desc.num_layers] = k % 4 < 2 ? FusedKernel::kPersistent : FusedKernel::kCluster;
    c.mask.reset();  // masked requests run stepwise (make_plan refuses a persistent layer for them)
    if (!fused::persistent_activation_refusal(c.desc).empty()) {  // so do other than the classic activations
      c.desc.activations = {};
      test::randomize_cell_features(c.desc, rng, true, /*classic*/ true);
    }
    expect_matches_reference(c, rng());
    if (HasFailure()) break;
  }
}

}  // namespace
}  // namespace lstmrt::simt
