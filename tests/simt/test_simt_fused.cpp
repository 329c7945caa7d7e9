// The fused backend's stepwise path on the SIMT executor against the reference backend: the
// backend's own plan executed op by op (fused_driver.hpp), the per-step gate kernel and the
// state-initialisation kernel from kernels/fused_step.cu through their own launchers, the length
// upload kernel, and the GEMMs as cpu_gemm on the cuBLASLt descriptors the GPU path builds. Random
// models with every feature, float32 / float16 / bfloat16 storage, TF32 math, and named corners:
// wavefront chunks, per-direction GEMMs, reverse with lengths and go_backwards, zero and full
// lengths with a projection, row-batched input GEMMs; then plans mixing stepwise and persistent
// layers. Every case runs on a fresh random schedule (stream interleaving and fiber order).
#include <gtest/gtest.h>

#include <random>

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

// Plans mixing stepwise and persistent layers (grid and cluster, several blocks per direction).
TEST(SimtFusedMixed, RandomModelsMixedKernels) {
  const std::uint64_t seed = test::test_seed() + 7;
  SCOPED_TRACE(fmt::format("LSTMRT_TEST_SEED={}", test::test_seed()));
  std::mt19937_64 rng(seed);
  for (int k = 0; k < 16; ++k) {
    FusedCase c = random_fused_case(rng, k % 2 ? DataType::kBFloat16 : DataType::kFloat32);
    c.facts = FusedCase::small_facts(2 + static_cast<int>(rng() % 5), 1 + static_cast<int>(rng() % 3));
    c.opt.kernels.resize(c.desc.num_layers);
    for (fused::LayerKernel& kernel : c.opt.kernels) kernel = static_cast<fused::LayerKernel>(rng() % 3);
    c.opt.kernels[rng() % c.desc.num_layers] =
        k % 4 < 2 ? fused::LayerKernel::kPersistentGrid : fused::LayerKernel::kPersistentCluster;
    expect_matches_reference(c, rng());
    if (HasFailure()) break;
  }
}

}  // namespace
}  // namespace lstmrt::simt
