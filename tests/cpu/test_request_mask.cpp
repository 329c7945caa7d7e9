// Per-step masks (ForwardRequest::mask): the host analysis and packing (src/request_mask.hpp) and
// the reference backend's semantics, checked against two independent constructions:
//   - a right-padded mask equals the same lengths, output for output;
//   - any mask equals running each row's valid steps alone (compacted, with lengths), the outputs
//     scattered back to the valid times and the masked times filled as Keras fills them (zeros, or
//     the most recent output in processing order), for every direction, layout, projection,
//     stack depth and initial state.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "common/expect_error.hpp"
#include "common/reference_runner.hpp"
#include "request_mask.hpp"

namespace lstmrt {
namespace {

using test::HostInputs;
using test::HostOutputs;
using test::MaskKind;

std::vector<std::uint8_t> rows(std::initializer_list<std::vector<int>> r) {
  std::vector<std::uint8_t> m;
  for (const auto& row : r) m.insert(m.end(), row.begin(), row.end());
  return m;
}

TEST(MaskAnalysis, PatternsAndCounts) {
  std::int32_t counts[3];
  // Right padding (and a full and an empty row): lengths.
  auto m = rows({{1, 1, 0, 0}, {1, 1, 1, 1}, {0, 0, 0, 0}});
  MaskAnalysis a = analyse_mask(m.data(), 4, 3, counts);
  EXPECT_EQ(a.pattern, MaskPattern::kPrefix);
  EXPECT_EQ(std::vector<int>(counts, counts + 3), (std::vector<int>{2, 4, 0}));
  // Left padding: pad_sequences' default.
  m = rows({{0, 0, 1, 1}, {1, 1, 1, 1}, {0, 0, 0, 7}});
  a = analyse_mask(m.data(), 4, 3, counts);
  EXPECT_EQ(a.pattern, MaskPattern::kSuffix);
  EXPECT_EQ(std::vector<int>(counts, counts + 3), (std::vector<int>{2, 4, 1}));
  EXPECT_EQ(a.not_prefix_row, 0);
  // A gap, and rows padded on both sides.
  m = rows({{1, 1, 1, 1}, {1, 0, 1, 1}, {0, 0, 1, 1}});
  a = analyse_mask(m.data(), 4, 3, counts);
  EXPECT_EQ(a.pattern, MaskPattern::kGeneral);
  EXPECT_EQ(a.gap_row, 1);
  EXPECT_EQ(describe_general_mask(a), "mask row 1 has a masked step between valid ones");
  m = rows({{0, 1, 1, 1}, {1, 1, 1, 0}, {1, 1, 1, 1}});
  a = analyse_mask(m.data(), 4, 3, nullptr);
  EXPECT_EQ(a.pattern, MaskPattern::kGeneral);
  EXPECT_EQ(describe_general_mask(a), "mask row 0 is padded at the front and row 1 at the back");
}

TEST(MaskPacking, BitsThenFirstThenLast) {
  const int T = 37, N = 2;  // two words per row, the second partial
  std::vector<std::uint8_t> m(static_cast<std::size_t>(T) * N, 0);
  for (int t : {3, 31, 32, 36}) m[t] = 1;
  m[T + 5] = 200;  // any nonzero byte is valid
  ASSERT_EQ(mask_word_count(T), 2);
  ASSERT_EQ(packed_mask_words(T, N), 8u);
  std::vector<std::int32_t> w(8, -7);
  pack_mask(m.data(), T, N, w.data());
  EXPECT_EQ(static_cast<std::uint32_t>(w[0]), (1u << 3) | (1u << 31));
  EXPECT_EQ(static_cast<std::uint32_t>(w[1]), (1u << 0) | (1u << 4));
  EXPECT_EQ(static_cast<std::uint32_t>(w[2]), 1u << 5);
  EXPECT_EQ(w[3], 0);
  EXPECT_EQ(w[4], 3);   // row 0 first
  EXPECT_EQ(w[5], 5);   // row 1 first
  EXPECT_EQ(w[6], 36);  // row 0 last
  EXPECT_EQ(w[7], 5);   // row 1 last
  std::fill(m.begin(), m.end(), 0);
  pack_mask(m.data(), T, N, w.data());
  EXPECT_EQ(w[4], -1);
  EXPECT_EQ(w[7], -1);
}

TEST(MaskRequest, ExclusiveWithLengths) {
  ModelDesc m;
  m.input_size = 2;
  m.hidden_size = 3;
  std::vector<float> x(4 * 2, 0.5f), y(4 * 3);
  std::vector<std::uint8_t> mask(4, 1);
  std::int32_t lengths[] = {2};
  ForwardRequest r;
  r.seq_len = 4;
  r.batch = 1;
  r.x = x.data();
  r.y = y.data();
  r.mask = mask.data();
  EXPECT_NO_THROW(validate(m, r));
  r.lengths = lengths;
  test::expect_error([&] { validate(m, r); }, ErrorCode::kInvalidArgument, {"lengths and mask"});
}

// Index of element (t, b, c) of a (T, N, C) / (N, T, C) buffer.
std::size_t elem(TensorLayout layout, int t, int b, int c, int T, int N, int C) {
  const std::size_t row =
      layout == TensorLayout::kTimeMajor ? static_cast<std::size_t>(t) * N + b : static_cast<std::size_t>(b) * T + t;
  return row * C + c;
}

struct MaskCase {
  Direction direction;
  int layers, proj;
  TensorLayout layout;
  PaddingMode padding;
  bool state;
  MaskKind kind;
};

// What the compacted construction says the masked request returns.
HostOutputs compacted(const ModelDesc& m, const Weights& w, const HostInputs& in, PaddingMode padding) {
  const int T = in.seq_len, N = in.batch, I = m.input_size, D = m.num_directions(), Ho = m.output_size();
  const std::vector<std::uint8_t>& mask = *in.mask;
  HostInputs c = in;
  c.mask.reset();
  c.lengths = std::vector<std::int32_t>(N, 0);
  std::vector<std::vector<int>> valid(N);
  for (int b = 0; b < N; ++b) {
    for (int t = 0; t < T; ++t)
      if (mask[static_cast<std::size_t>(b) * T + t]) valid[b].push_back(t);
    (*c.lengths)[b] = static_cast<int>(valid[b].size());
    for (int s = 0; s < T; ++s)
      for (int i = 0; i < I; ++i)  // the compacted run's padding is never read: any value
        c.x[elem(in.layout, s, b, i, T, N, I)] =
            s < static_cast<int>(valid[b].size()) ? in.x[elem(in.layout, valid[b][s], b, i, T, N, I)] : 0.25f;
  }
  Lstm ref = test::reference_lstm(m, w);
  const HostOutputs run = test::run_host(ref, c);
  HostOutputs out = run;
  std::fill(out.y.begin(), out.y.end(), 0.0f);
  for (int b = 0; b < N; ++b)
    for (int d = 0; d < D; ++d) {
      const bool reverse = m.is_reverse_slot(d);
      const int k = static_cast<int>(valid[b].size());
      for (int t = 0; t < T; ++t) {
        // Index into valid[b] of the output position t shows: its own step when valid, else the most
        // recent valid step in processing order (carry) or none.
        int source = -1;
        const auto it = std::find(valid[b].begin(), valid[b].end(), t);
        if (it != valid[b].end()) {
          source = static_cast<int>(it - valid[b].begin());
        } else if (padding == PaddingMode::kCarryLast) {
          if (!reverse) {
            for (int j = 0; j < k; ++j)
              if (valid[b][j] < t) source = j;
          } else {
            for (int j = k - 1; j >= 0; --j)
              if (valid[b][j] > t) source = j;
          }
        }
        for (int h = 0; h < Ho; ++h)
          out.y[elem(in.layout, t, b, d * Ho + h, T, N, D * Ho)] =
              source < 0 ? 0.0f : run.y[elem(in.layout, source, b, d * Ho + h, T, N, D * Ho)];
      }
    }
  return out;
}

class ReferenceMask : public ::testing::TestWithParam<MaskCase> {};

TEST_P(ReferenceMask, EqualsCompactedRowsAndPrefixEqualsLengths) {
  const MaskCase& mc = GetParam();
  std::mt19937_64 rng(test::test_seed());
  ModelDesc m;
  m.input_size = 3;
  m.hidden_size = 5;
  m.proj_size = mc.proj;
  m.num_layers = mc.layers;
  m.direction = mc.direction;
  for (int trial = 0; trial < 6; ++trial) {
    const int T = 1 + static_cast<int>(rng() % 7), N = 1 + static_cast<int>(rng() % 5);
    const Weights w = random_weights(m, rng(), 0.6f);
    HostInputs in = test::random_inputs(m, T, N, rng, false, mc.state, mc.layout);
    in.mask = test::random_mask(T, N, rng, mc.kind);
    Lstm ref = test::reference_lstm(m, w);
    const HostOutputs got = test::run_host(ref, in, {}, mc.padding);
    const HostOutputs want = compacted(m, w, in, mc.padding);
    const std::string what = fmt::format("{} T={} N={} trial {}", describe(m), T, N, trial);
    ASSERT_TRUE(test::outputs_close(want, got, 1e-6, 1e-6, what));
    if (mc.kind != MaskKind::kPrefix) continue;
    HostInputs as_lengths = in;
    as_lengths.mask.reset();
    as_lengths.lengths = std::vector<std::int32_t>(N);
    analyse_mask(in.mask->data(), T, N, as_lengths.lengths->data());
    ASSERT_TRUE(
        test::outputs_close(test::run_host(ref, as_lengths, {}, mc.padding), got, 0.0, 0.0, what + " as lengths"));
  }
}

std::vector<MaskCase> mask_cases() {
  std::vector<MaskCase> cases;
  int k = 0;
  for (Direction dir : {Direction::kForward, Direction::kReverse, Direction::kBidirectional})
    for (MaskKind kind : {MaskKind::kPrefix, MaskKind::kSuffix, MaskKind::kRandom})
      for (PaddingMode padding : {PaddingMode::kZero, PaddingMode::kCarryLast}) {
        ++k;
        cases.push_back({dir, 1 + k % 2, k % 3 == 0 ? 2 : 0,
                         k % 2 ? TensorLayout::kBatchMajor : TensorLayout::kTimeMajor, padding, k % 4 < 2, kind});
      }
  return cases;
}

std::string mask_case_name(const ::testing::TestParamInfo<MaskCase>& info) {
  const MaskCase& c = info.param;
  static const char* const kKinds[] = {"prefix", "suffix", "random"};
  return fmt::format("{}_{}_L{}_P{}_{}_{}{}", to_string(c.direction), kKinds[static_cast<int>(c.kind)], c.layers,
                     c.proj, c.layout == TensorLayout::kTimeMajor ? "tm" : "bm",
                     c.padding == PaddingMode::kZero ? "zero" : "carry", c.state ? "_h0" : "");
}

INSTANTIATE_TEST_SUITE_P(All, ReferenceMask, ::testing::ValuesIn(mask_cases()), mask_case_name);

}  // namespace
}  // namespace lstmrt
