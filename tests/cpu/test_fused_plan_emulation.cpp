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

struct Case {
  ModelDesc desc;
  int T = 1, N = 1;
  bool lengths = false, state = false;
  TensorLayout layout = TensorLayout::kTimeMajor;
  EmulationOptions opt;
};

Case random_case(std::mt19937_64& rng) {
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  Case c;
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
  c.state = pick(0, 1);
  c.layout = pick(0, 1) ? TensorLayout::kBatchMajor : TensorLayout::kTimeMajor;
  c.opt.padding = pick(0, 1) ? PaddingMode::kCarryLast : PaddingMode::kZero;
  if (m.direction == Direction::kReverse && pick(0, 1)) c.opt.order = ReverseOutputOrder::kProcessing;
  c.opt.chunk_steps = pick(0, 1) ? pick(1, 4) : 0;
  const int outputs = pick(0, 2);
  c.opt.wanted = {outputs != 1, outputs != 0};
  return c;
}

std::string describe_case(const Case& c) {
  return fmt::format("{} | T={} N={} lengths={} state={} {} padding={} order={} chunk={} y={} state_out={}",
                     describe(c.desc), c.T, c.N, c.lengths, c.state,
                     c.layout == TensorLayout::kTimeMajor ? "time-major" : "batch-major",
                     c.opt.padding == PaddingMode::kZero ? "zero" : "carry", static_cast<int>(c.opt.order),
                     c.opt.chunk_steps, c.opt.wanted.sequences, c.opt.wanted.state);
}

void expect_matches_reference(const Case& c, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  const Weights w = random_weights(c.desc, seed, 0.6f);
  const HostInputs in = random_inputs(c.desc, c.T, c.N, rng, c.lengths, c.state, c.layout);
  Lstm ref = reference_lstm(c.desc, w);
  const HostOutputs want = run_host(ref, in, c.opt.wanted, c.opt.padding, c.opt.order);
  const HostOutputs got = emulate_fused(c.desc, w, in, c.opt);
  const std::string what = describe_case(c);
  EXPECT_TRUE(outputs_close(want, got, 1e-5, 1e-4, what));
}

TEST(FusedEmulationVsReference, RandomModelsEveryFeature) {
  const std::uint64_t seed = test_seed();
  SCOPED_TRACE(fmt::format("LSTMRT_TEST_SEED={}", seed));
  std::mt19937_64 rng(seed);
  for (int k = 0; k < 300; ++k) {
    const Case c = random_case(rng);
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
