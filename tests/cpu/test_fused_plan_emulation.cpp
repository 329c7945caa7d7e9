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

// Per-step masks: every direction and pattern, chunked and whole, both layouts and padding modes,
// with and without initial state (projected + h0 + a leading masked step exercises gates_h0).
TEST(FusedEmulationVsReference, MasksEveryPatternChunkedAndWhole) {
  int k = 0;
  for (Direction dir : {Direction::kForward, Direction::kReverse, Direction::kBidirectional})
    for (MaskKind kind : {MaskKind::kPrefix, MaskKind::kSuffix, MaskKind::kRandom})
      for (int proj : {0, 3}) {
        Case c = base_case(dir, 1 + k % 2, proj);
        c.T = 9;
        c.mask = kind;
        c.state = k % 3 != 2;
        c.layout = k % 2 ? TensorLayout::kBatchMajor : TensorLayout::kTimeMajor;
        c.opt.padding = k % 4 < 2 ? PaddingMode::kCarryLast : PaddingMode::kZero;
        c.opt.chunk_steps = k % 3 == 0 ? 0 : 2 + k % 3;
        if (dir == Direction::kReverse && k % 2) c.opt.order = ReverseOutputOrder::kProcessing;
        ++k;
        expect_matches_reference(c, test_seed() + k);
      }
}

// The plan for masked requests: the mask is uploaded, chunking and the in-place recurrent GEMM
// stay (every row reads the same time), and only projected models with h0 add the gates_h0 GEMM.
TEST(FusedPlanMask, UploadChunkingAndGatesH0) {
  for (int proj : {0, 2})
    for (bool h0 : {false, true}) {
      Case c = base_case(Direction::kReverse, 1, proj);
      fused::PlanKey key;
      key.seq_len = 12;
      key.batch = 3;
      key.has_mask = true;
      key.has_initial_state = h0;
      key.want_y = true;
      const fused::FusedPlan plan = fused::make_plan(c.desc, DataType::kFloat32, key, 4);
      int uploads = 0, gates_h0 = 0;
      for (const fused::Op& op : plan.ops) {
        uploads += op.kind == fused::OpKind::kUploadMask;
        gates_h0 += op.kind == fused::OpKind::kGemm && op.gemm.out.buffer == fused::BufferKind::kGatesH0;
      }
      EXPECT_EQ(uploads, 1);
      EXPECT_EQ(plan.chunk_steps, 4);  // unlike reverse + lengths, which is unchunked
      EXPECT_EQ(gates_h0, proj > 0 && h0 ? 1 : 0);
      EXPECT_EQ(fused::recurrent_into_gates(c.desc, key), !(proj > 0 && h0));
      EXPECT_GE(plan.workspace.mask.bytes, packed_mask_words(12, 3) * 4);
      EXPECT_THROW(fused::make_plan(c.desc, DataType::kFloat32, key, 0, {fused::LayerKernel::kPersistentGrid}), Error);
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
