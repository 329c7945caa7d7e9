// The fused backend's plan executed on the CPU (tests/common/fused_emulation.hpp: the plan's GEMM
// list, the kernels' per-element code and the shared cell math) against the reference backend, on
// random models with every feature, random shapes, lengths (0 and T included), initial state,
// both layouts, both padding modes, Keras go_backwards order and forced time chunking.
#include <gtest/gtest.h>

#include <random>

#include "common/compare.hpp"
#include "common/fused_emulation.hpp"
#include "common/random_model.hpp"
#include "common/reference_runner.hpp"

namespace lstmrt::test {
namespace {

using Case = EmulationCase;

void expect_matches_reference(const Case& c, std::uint64_t seed) { expect_emulation_matches_reference(c, seed); }

TEST(FusedEmulationVsReference, RandomModelsEveryFeature) {
  const std::uint64_t seed = test_seed();
  SCOPED_TRACE(fmt::format("LSTMRT_TEST_SEED={}", seed));
  std::mt19937_64 rng(seed);
  for (int k = 0; k < 300; ++k) {
    const Case c = random_emulation_case(rng);
    expect_matches_reference(c, rng());
    if (HasFailure()) break;
  }
}

// Named corners, each on fresh random data.
Case base_case(Direction dir, int layers, int proj) {
  Case c;
  c.desc.input_size = 5;
  c.desc.hidden_size = 6;
  c.desc.proj_size = proj;
  c.desc.num_layers = layers;
  c.desc.direction = dir;
  c.T = 7;
  c.N = 4;
  return c;
}

TEST(FusedEmulationVsReference, StackedForwardWavefrontChunks) {
  Case c = base_case(Direction::kForward, 3, 0);
  c.T = 11;  // three chunks of 4 (kWavefrontChunkSteps), the last one short
  c.lengths = true;
  c.state = true;
  expect_matches_reference(c, test_seed());
}

TEST(FusedEmulationVsReference, BidirectionalChunkedPerDirectionGemms) {
  Case c = base_case(Direction::kBidirectional, 2, 3);
  c.opt.chunk_steps = 3;
  c.state = true;
  c.layout = TensorLayout::kBatchMajor;
  expect_matches_reference(c, test_seed());
}

TEST(FusedEmulationVsReference, ReverseWithLengthsCarryAndGoBackwards) {
  Case c = base_case(Direction::kReverse, 2, 2);
  c.lengths = true;
  c.opt.chunk_steps = 2;  // ignored: reverse with lengths is unchunked
  c.opt.padding = PaddingMode::kCarryLast;
  c.opt.order = ReverseOutputOrder::kProcessing;
  expect_matches_reference(c, test_seed());
}

TEST(FusedEmulationVsReference, ZeroAndFullLengthsWithProjection) {
  for (Direction dir : {Direction::kForward, Direction::kReverse, Direction::kBidirectional}) {
    Case c = base_case(dir, 2, 4);
    c.state = true;
    c.opt.padding = PaddingMode::kCarryLast;
    std::mt19937_64 rng(test_seed());
    const Weights w = random_weights(c.desc, 7, 0.6f);
    HostInputs in = random_inputs(c.desc, c.T, c.N, rng, true, true);
    *in.lengths = {0, c.T, 1, 0};
    Lstm ref = reference_lstm(c.desc, w);
    const HostOutputs want = run_host(ref, in, {}, c.opt.padding);
    const HostOutputs got = emulate_fused(c.desc, w, in, c.opt);
    EXPECT_TRUE(outputs_close(want, got, 1e-5, 1e-4, to_string(dir)));
  }
}

TEST(FusedEmulationVsReference, BatchMajorFewRowsUsesRowBatches) {
  Case c = base_case(Direction::kForward, 1, 0);
  c.N = 2;
  c.T = 9;  // N < steps: the input GEMM is batched over rows
  c.layout = TensorLayout::kBatchMajor;
  expect_matches_reference(c, test_seed());
  c.opt.chunk_steps = 4;
  expect_matches_reference(c, test_seed() + 1);
}

}  // namespace
}  // namespace lstmrt::test
