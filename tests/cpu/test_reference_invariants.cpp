// Invariants of the reference backend: bidirectional = forward ⊕ reverse, lengths = truncated
// sequences, chunked = whole, padding conventions, go_backwards order, layouts.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "common/reference_runner.hpp"

namespace lstmrt {
namespace {

using test::HostInputs;
using test::HostOutputs;

constexpr double kTol = 1e-6;  // same double-accumulating code path: only float rounding differs

ModelDesc make_desc(int I, int H, int P, int L, Direction dir) {
  ModelDesc m;
  m.input_size = I;
  m.hidden_size = H;
  m.proj_size = P;
  m.num_layers = L;
  m.direction = dir;
  return m;
}

// Element (t, b, c) of a time-major (T, N, C) buffer.
float& at(std::vector<float>& v, int t, int b, int c, int N, int C) {
  return v[(static_cast<std::size_t>(t) * N + b) * C + c];
}

// One-directional model holding direction slot `slot` of a one-layer bidirectional model.
std::pair<ModelDesc, Weights> single_direction(const ModelDesc& bi, const Weights& w, int slot) {
  ModelDesc m = bi;
  m.direction = slot == 0 ? Direction::kForward : Direction::kReverse;
  m.activations = {bi.activations[slot], bi.activations[slot]};
  return {m, Weights{{w.layers[slot]}}};
}

class ReferenceInvariants : public ::testing::TestWithParam<int> {
 protected:
  std::mt19937_64 rng{test::test_seed() + GetParam()};
};

TEST_P(ReferenceInvariants, BidirectionalIsForwardPlusReverse) {
  const int P = GetParam() % 2 ? 3 : 0;
  const ModelDesc bi = make_desc(4, 5, P, 1, Direction::kBidirectional);
  const Weights w = random_weights(bi, rng(), 0.6f);
  const int T = 6, N = 3, H_out = bi.output_size();
  const HostInputs in = test::random_inputs(bi, T, N, rng, /*lengths*/ true, /*state*/ true);
  Lstm both = test::reference_lstm(bi, w);
  HostOutputs out = test::run_host(both, in);
  for (int slot = 0; slot < 2; ++slot) {
    auto [m, ws] = single_direction(bi, w, slot);
    HostInputs single = in;
    // initial state of slot s: rows [s·N, (s+1)·N) of the (2, N, ·) state tensors
    single.h0 = std::vector<float>(in.h0->begin() + slot * N * H_out, in.h0->begin() + (slot + 1) * N * H_out);
    single.c0 = std::vector<float>(in.c0->begin() + slot * N * bi.hidden_size,
                                   in.c0->begin() + (slot + 1) * N * bi.hidden_size);
    Lstm one = test::reference_lstm(m, ws);
    HostOutputs part = test::run_host(one, single);
    std::vector<float> half;
    for (int t = 0; t < T; ++t)
      for (int b = 0; b < N; ++b)
        for (int c = 0; c < H_out; ++c) half.push_back(at(out.y, t, b, slot * H_out + c, N, 2 * H_out));
    EXPECT_TRUE(test::all_close(part.y, half, kTol, kTol, fmt::format("y half {}", slot)));
    EXPECT_TRUE(test::all_close(
        part.h_n, std::vector<float>(out.h_n.begin() + slot * N * H_out, out.h_n.begin() + (slot + 1) * N * H_out),
        kTol, kTol, "h_n"));
  }
}

TEST_P(ReferenceInvariants, LengthsEqualTruncatedSequences) {
  const Direction dirs[] = {Direction::kForward, Direction::kReverse, Direction::kBidirectional};
  const ModelDesc m = make_desc(3, 4, GetParam() % 3 == 0 ? 2 : 0, 2, dirs[GetParam() % 3]);
  const Weights w = random_weights(m, rng(), 0.6f);
  const int T = 7, N = 4, C = m.num_directions() * m.output_size(), S = m.num_layers * m.num_directions();
  HostInputs in = test::random_inputs(m, T, N, rng, true, true);
  (*in.lengths)[0] = T;
  (*in.lengths)[1] = 1;
  (*in.lengths)[2] = 0;
  Lstm lstm = test::reference_lstm(m, w);
  HostOutputs batch = test::run_host(lstm, in);
  for (int b = 0; b < N; ++b) {
    const int len = (*in.lengths)[b];
    std::vector<float> y_row, h_row, c_row;
    for (int s = 0; s < S; ++s) {
      for (int j = 0; j < m.output_size(); ++j) h_row.push_back(batch.h_n[(s * N + b) * m.output_size() + j]);
      for (int j = 0; j < m.hidden_size; ++j) c_row.push_back(batch.c_n[(s * N + b) * m.hidden_size + j]);
    }
    for (int t = 0; t < T; ++t)
      for (int c = 0; c < C; ++c) {
        if (t >= len)
          EXPECT_EQ(at(batch.y, t, b, c, N, C), 0.0f) << "padded y[" << t << "][" << b << "]";
        else
          y_row.push_back(at(batch.y, t, b, c, N, C));
      }
    // initial state of row b
    std::vector<float> h0, c0;
    for (int s = 0; s < S; ++s) {
      h0.insert(h0.end(), in.h0->begin() + (s * N + b) * m.output_size(),
                in.h0->begin() + (s * N + b + 1) * m.output_size());
      c0.insert(c0.end(), in.c0->begin() + (s * N + b) * m.hidden_size,
                in.c0->begin() + (s * N + b + 1) * m.hidden_size);
    }
    if (len == 0) {  // zero length: the initial state comes back, nothing else
      EXPECT_EQ(h_row, h0);
      EXPECT_EQ(c_row, c0);
      continue;
    }
    HostInputs alone;
    alone.seq_len = len;
    alone.batch = 1;
    for (int t = 0; t < len; ++t)
      alone.x.insert(alone.x.end(), in.x.begin() + (t * N + b) * m.input_size,
                     in.x.begin() + (t * N + b + 1) * m.input_size);
    alone.h0 = h0;
    alone.c0 = c0;
    HostOutputs ref = test::run_host(lstm, alone);
    EXPECT_TRUE(test::all_close(ref.y, y_row, kTol, kTol, fmt::format("row {} (length {}) y", b, len)));
    EXPECT_TRUE(test::all_close(ref.h_n, h_row, kTol, kTol, fmt::format("row {} h_n", b)));
    EXPECT_TRUE(test::all_close(ref.c_n, c_row, kTol, kTol, fmt::format("row {} c_n", b)));
  }
}

// Streaming: running chunks and passing (h_n, c_n) on as (h0, c0) equals one call. A reverse
// model streams its chunks from the end of the sequence backwards.
TEST_P(ReferenceInvariants, ChunkedEqualsWhole) {
  const bool reverse = GetParam() % 2 == 1;
  const ModelDesc m =
      make_desc(3, 5, GetParam() % 3 == 0 ? 4 : 0, 2, reverse ? Direction::kReverse : Direction::kForward);
  const Weights w = random_weights(m, rng(), 0.6f);
  const int T = 9, N = 3, C = m.output_size();
  // Lengths are only chunkable forwards (a reverse pass starts at each row's end).
  const HostInputs in = test::random_inputs(m, T, N, rng, /*lengths*/ !reverse, /*state*/ true);
  Lstm lstm = test::reference_lstm(m, w);
  const HostOutputs whole = test::run_host(lstm, in);

  const int bounds[] = {0, 4, 5, 9};  // chunks of 4, 1 and 4 steps
  std::vector<float> y(whole.y.size(), NAN);
  std::vector<float> h = *in.h0, c = *in.c0;
  for (int k = 0; k < 3; ++k) {
    const int chunk = reverse ? 2 - k : k;
    const int begin = bounds[chunk], end = bounds[chunk + 1];
    HostInputs part;
    part.seq_len = end - begin;
    part.batch = N;
    part.x.assign(in.x.begin() + begin * N * m.input_size, in.x.begin() + end * N * m.input_size);
    if (in.lengths) {
      part.lengths = std::vector<std::int32_t>(N);
      for (int b = 0; b < N; ++b) (*part.lengths)[b] = std::clamp((*in.lengths)[b] - begin, 0, end - begin);
    }
    part.h0 = h;
    part.c0 = c;
    const HostOutputs out = test::run_host(lstm, part);
    std::copy(out.y.begin(), out.y.end(), y.begin() + begin * N * C);
    h = out.h_n;
    c = out.c_n;
  }
  EXPECT_TRUE(test::all_close(whole.y, y, kTol, kTol, "chunked y"));
  EXPECT_TRUE(test::all_close(whole.h_n, h, kTol, kTol, "chunked h_n"));
  EXPECT_TRUE(test::all_close(whole.c_n, c, kTol, kTol, "chunked c_n"));
}

TEST_P(ReferenceInvariants, CarryLastPaddingRepeatsForwardOutputAndZeroesReverse) {
  const ModelDesc m = make_desc(2, 3, 0, 1, Direction::kBidirectional);
  const Weights w = random_weights(m, rng(), 0.6f);
  const int T = 5, N = 3, H = m.hidden_size, C = 2 * H;
  HostInputs in = test::random_inputs(m, T, N, rng, true, true);
  *in.lengths = {5, 2, 0};
  Lstm lstm = test::reference_lstm(m, w);
  HostOutputs zero = test::run_host(lstm, in);
  HostOutputs carry = test::run_host(lstm, in, {}, PaddingMode::kCarryLast);
  EXPECT_EQ(zero.h_n, carry.h_n);
  EXPECT_EQ(zero.c_n, carry.c_n);
  for (int b = 0; b < N; ++b) {
    const int len = (*in.lengths)[b];
    for (int t = 0; t < T; ++t)
      for (int j = 0; j < H; ++j) {
        const float fwd = at(carry.y, t, b, j, N, C), rev = at(carry.y, t, b, H + j, N, C);
        if (t < len) {
          EXPECT_EQ(fwd, at(zero.y, t, b, j, N, C));
          EXPECT_EQ(rev, at(zero.y, t, b, H + j, N, C));
        } else {
          // forward half: the output of the row's last valid step (= its h_n), zeros if none
          EXPECT_EQ(fwd, len > 0 ? at(zero.y, len - 1, b, j, N, C) : 0.0f) << "t=" << t << " b=" << b;
          EXPECT_EQ(fwd, len > 0 ? zero.h_n[b * H + j] : 0.0f);
          EXPECT_EQ(rev, 0.0f);  // the reverse pass meets the padding before any output
        }
      }
  }
}

TEST_P(ReferenceInvariants, GoBackwardsIsTimeFlippedReverse) {
  const ModelDesc m = make_desc(3, 4, 0, GetParam() % 2 + 1, Direction::kReverse);
  const Weights w = random_weights(m, rng(), 0.6f);
  const int T = 6, N = 2, C = m.output_size();
  const HostInputs in = test::random_inputs(m, T, N, rng, true, false);
  Lstm lstm = test::reference_lstm(m, w);
  const HostOutputs original = test::run_host(lstm, in);
  const HostOutputs processing = test::run_host(lstm, in, {}, PaddingMode::kZero, ReverseOutputOrder::kProcessing);
  std::vector<float> flipped(original.y.size());
  for (int t = 0; t < T; ++t) std::copy_n(original.y.begin() + (T - 1 - t) * N * C, N * C, flipped.begin() + t * N * C);
  EXPECT_EQ(processing.y, flipped);
  EXPECT_EQ(processing.h_n, original.h_n);
}

TEST_P(ReferenceInvariants, BatchMajorIsTransposedTimeMajor) {
  const ModelDesc m = make_desc(3, 4, 2, 2, Direction::kBidirectional);
  const Weights w = random_weights(m, rng(), 0.6f);
  const int T = 5, N = 3, C = 2 * m.output_size();
  const HostInputs tm = test::random_inputs(m, T, N, rng, true, true);
  HostInputs bm = tm;
  bm.layout = TensorLayout::kBatchMajor;
  for (int t = 0; t < T; ++t)
    for (int b = 0; b < N; ++b)
      std::copy_n(tm.x.begin() + (t * N + b) * m.input_size, m.input_size, bm.x.begin() + (b * T + t) * m.input_size);
  Lstm lstm = test::reference_lstm(m, w);
  const HostOutputs a = test::run_host(lstm, tm), b = test::run_host(lstm, bm);
  for (int t = 0; t < T; ++t)
    for (int r = 0; r < N; ++r)
      for (int c = 0; c < C; ++c)
        EXPECT_EQ(a.y[(t * N + r) * C + c], b.y[(r * T + t) * C + c]) << t << "," << r << "," << c;
  EXPECT_EQ(a.h_n, b.h_n);
  EXPECT_EQ(a.c_n, b.c_n);
}

INSTANTIATE_TEST_SUITE_P(Seeds, ReferenceInvariants, ::testing::Range(0, 6));

TEST(ReferenceBackend, FullLengthsEqualNoLengthsAndLastYEqualsH) {
  std::mt19937_64 rng(test::test_seed());
  const ModelDesc m = make_desc(4, 6, 3, 3, Direction::kForward);
  const Weights w = random_weights(m, rng(), 0.5f);
  const int T = 5, N = 2, C = m.output_size();
  HostInputs in = test::random_inputs(m, T, N, rng, false, true);
  Lstm lstm = test::reference_lstm(m, w);
  const HostOutputs plain = test::run_host(lstm, in);
  in.lengths = std::vector<std::int32_t>(N, T);
  const HostOutputs full = test::run_host(lstm, in);
  EXPECT_EQ(plain.y, full.y);
  EXPECT_EQ(plain.h_n, full.h_n);
  // top layer's final h is the last y (Keras return_sequences=False output)
  const std::size_t top = static_cast<std::size_t>(m.num_layers - 1) * N * C;
  for (int i = 0; i < N * C; ++i) EXPECT_EQ(plain.y[(T - 1) * N * C + i], plain.h_n[top + i]);
}

TEST(ReferenceBackend, UnrequestedOutputsAreNotWritten) {
  std::mt19937_64 rng(test::test_seed());
  const ModelDesc m = make_desc(2, 3, 0, 1, Direction::kForward);
  Lstm lstm = test::reference_lstm(m, random_weights(m, rng(), 0.5f));
  const HostInputs in = test::random_inputs(m, 4, 2, rng, false, false);
  std::vector<float> y = test::poisoned(test::y_count(m, 4, 2)), h = test::poisoned(test::h_count(m, 2));
  ForwardRequest req;
  req.seq_len = 4;
  req.batch = 2;
  req.x = in.x.data();
  req.h_n = h.data();  // only h_n
  lstm.forward_host(req);
  for (float v : h) EXPECT_TRUE(std::isfinite(v));
  for (float v : y) EXPECT_TRUE(std::isnan(v));
  req.h_n = nullptr;
  req.y = y.data();  // only y
  std::vector<float> h_again = test::poisoned(h.size());
  lstm.forward_host(req);
  for (float v : y) EXPECT_TRUE(std::isfinite(v));
  for (float v : h_again) EXPECT_TRUE(std::isnan(v));
}

}  // namespace
}  // namespace lstmrt
