// Keras 3 LSTM converters: transposes, the single bias, round trips, gate placement, errors.
#include <gtest/gtest.h>

#include <random>

#include <fmt/format.h>

#include "common/compare.hpp"
#include "common/expect_error.hpp"
#include "common/foreign_weights.hpp"
#include "common/weights_equal.hpp"
#include "lstmrt/lstmrt.hpp"

namespace lstmrt::test {
namespace {

struct Size {
  int input, hidden;
};
constexpr Size kSizes[] = {{1, 1}, {3, 5}, {8, 4}, {6, 13}, {17, 2}};

KerasLstmWeights random_keras(const Size& s, std::mt19937_64& rng, bool bias) {
  KerasLstmWeights k;
  k.kernel = random_tensor({s.input, 4 * s.hidden}, rng);
  k.recurrent_kernel = random_tensor({s.hidden, 4 * s.hidden}, rng);
  if (bias) k.bias = random_tensor({4 * s.hidden}, rng);
  return k;
}

LayerWeights random_layer(const Size& s, std::mt19937_64& rng, bool zero_b_hh) {
  LayerWeights w;
  const std::size_t h4 = 4 * s.hidden;
  w.w_ih = random_vector(h4 * s.input, rng);
  w.w_hh = random_vector(h4 * s.hidden, rng);
  w.b_ih = random_vector(h4, rng);
  w.b_hh = zero_b_hh ? std::vector<float>(h4, 0.0f) : random_vector(h4, rng);
  return w;
}

TEST(ConvertKeras, ForeignRoundTripIsExact) {
  std::mt19937_64 rng(test_seed());
  for (const Size& s : kSizes) {
    SCOPED_TRACE(fmt::format("I={} H={}", s.input, s.hidden));
    const KerasLstmWeights k = random_keras(s, rng, true);
    const KerasLstmWeights back = to_keras(from_keras(k, s.input, s.hidden), s.input, s.hidden);
    EXPECT_TRUE(same_tensor(k.kernel, back.kernel, "kernel"));
    EXPECT_TRUE(same_tensor(k.recurrent_kernel, back.recurrent_kernel, "recurrent_kernel"));
    ASSERT_TRUE(back.bias.has_value());
    EXPECT_TRUE(same_tensor(*k.bias, *back.bias, "bias"));
  }
}

TEST(ConvertKeras, CanonicalRoundTripWithZeroRecurrentBiasIsExact) {
  std::mt19937_64 rng(test_seed());
  for (const Size& s : kSizes) {
    SCOPED_TRACE(fmt::format("I={} H={}", s.input, s.hidden));
    const LayerWeights w = random_layer(s, rng, true);
    EXPECT_TRUE(same_layer(w, from_keras(to_keras(w, s.input, s.hidden), s.input, s.hidden), "layer"));
  }
}

TEST(ConvertKeras, TwoBiasesAreSummedIntoOne) {
  std::mt19937_64 rng(test_seed());
  const Size s{4, 3};
  const LayerWeights w = random_layer(s, rng, false);
  const KerasLstmWeights k = to_keras(w, s.input, s.hidden);
  ASSERT_TRUE(k.bias.has_value());
  ASSERT_EQ(k.bias->shape, (std::vector<std::int64_t>{12}));
  for (int r = 0; r < 12; ++r) EXPECT_EQ(k.bias->data[r], w.b_ih[r] + w.b_hh[r]) << r;
  const LayerWeights back = from_keras(k, s.input, s.hidden);
  EXPECT_EQ(back.b_ih, k.bias->data);
  EXPECT_EQ(back.b_hh, std::vector<float>(12, 0.0f));
}

TEST(ConvertKeras, NoBiasMeansZeroBiases) {
  std::mt19937_64 rng(test_seed());
  const LayerWeights w = from_keras(random_keras({3, 5}, rng, false), 3, 5);
  EXPECT_EQ(w.b_ih, std::vector<float>(20, 0.0f));
  EXPECT_EQ(w.b_hh, std::vector<float>(20, 0.0f));
  EXPECT_TRUE(w.w_hr.empty());
  EXPECT_TRUE(w.peephole.empty());
}

TEST(ConvertKeras, GateColumnsBecomeGateRowsInTheSameOrder) {
  // kernel[i][g·H + j] = 1000·g + 10·i + j: Keras gate g (i f c o) column j of input i must land
  // in canonical row g·H + j (i f g o: same order), column i.
  const int I = 3, H = 2;
  KerasLstmWeights k;
  k.kernel = Tensor{{I, 4 * H}, std::vector<float>(I * 4 * H)};
  k.recurrent_kernel = Tensor{{H, 4 * H}, std::vector<float>(H * 4 * H)};
  k.bias = Tensor{{4 * H}, std::vector<float>(4 * H)};
  for (int g = 0; g < 4; ++g)
    for (int j = 0; j < H; ++j) {
      for (int i = 0; i < I; ++i) k.kernel.data[i * 4 * H + g * H + j] = 1000.0f * g + 10.0f * i + j;
      for (int i = 0; i < H; ++i) k.recurrent_kernel.data[i * 4 * H + g * H + j] = -1000.0f * g - 10.0f * i - j;
      k.bias->data[g * H + j] = 0.5f * g + 0.1f * j;
    }
  const LayerWeights w = from_keras(k, I, H);
  for (int g = 0; g < 4; ++g)
    for (int j = 0; j < H; ++j) {
      const int row = g * H + j;
      for (int i = 0; i < I; ++i) EXPECT_EQ(w.w_ih[row * I + i], 1000.0f * g + 10.0f * i + j);
      for (int i = 0; i < H; ++i) EXPECT_EQ(w.w_hh[row * H + i], -1000.0f * g - 10.0f * i - j);
      EXPECT_EQ(w.b_ih[row], 0.5f * g + 0.1f * j);
      EXPECT_EQ(w.b_hh[row], 0.0f);
    }
}

TEST(ConvertKeras, ShapeErrorsNameTheTensor) {
  std::mt19937_64 rng(test_seed());
  const KerasLstmWeights good = random_keras({3, 5}, rng, true);
  const ErrorCode bad = ErrorCode::kInvalidArgument;
  KerasLstmWeights k = good;
  k.kernel.shape = {20, 3};
  expect_error([&] { from_keras(k, 3, 5); }, bad, {"kernel has shape (20, 3), expected (I=3, 4H=20)"});
  k = good;
  k.recurrent_kernel = Tensor{{5, 16}, std::vector<float>(80)};
  expect_error([&] { from_keras(k, 3, 5); }, bad, {"recurrent_kernel has shape (5, 16), expected (H=5, 4H=20)"});
  k = good;
  k.bias = Tensor{{2, 10}, std::vector<float>(20)};
  expect_error([&] { from_keras(k, 3, 5); }, bad, {"bias has shape (2, 10), expected (4H=20,)"});
  k = good;
  k.kernel.data.pop_back();
  expect_error([&] { from_keras(k, 3, 5); }, bad, {"kernel holds 59 values but its shape (3, 20) has 60"});
  expect_error([&] { from_keras(good, 4, 5); }, bad, {"kernel has shape (3, 20), expected (I=4, 4H=20)"});
  expect_error([&] { from_keras(good, 0, 5); }, bad, {"from_keras: input_size is 0"});
  expect_error([&] { from_keras(good, 3, -1); }, bad, {"from_keras: hidden_size is -1"});
}

TEST(ConvertKeras, ToKerasRefusesWhatKerasCannotHold) {
  std::mt19937_64 rng(test_seed());
  const LayerWeights good = random_layer({3, 5}, rng, false);
  const ErrorCode bad = ErrorCode::kInvalidArgument;
  LayerWeights w = good;
  w.w_hr.assign(10, 1.0f);
  expect_error([&] { to_keras(w, 3, 5); }, bad, {"no projection", "w_hr holds 10 values"});
  w = good;
  w.peephole.assign(15, 1.0f);
  expect_error([&] { to_keras(w, 3, 5); }, bad, {"no peepholes", "peephole holds 15 values"});
  w = good;
  w.w_ih.pop_back();
  expect_error([&] { to_keras(w, 3, 5); }, bad, {"w_ih has 59 values, expected (4H=20, I=3) = 60"});
  w = good;
  w.w_hh.push_back(0);
  expect_error([&] { to_keras(w, 3, 5); }, bad, {"w_hh has 101 values, expected (4H=20, H=5) = 100"});
  w = good;
  w.b_ih.clear();
  expect_error([&] { to_keras(w, 3, 5); }, bad, {"b_ih has 0 values, expected (4H=20) = 20"});
  w = good;
  w.b_hh.resize(19);
  expect_error([&] { to_keras(w, 3, 5); }, bad, {"b_hh has 19 values"});
  expect_error([&] { to_keras(good, 3, 0); }, bad, {"to_keras: hidden_size is 0"});
}

}  // namespace
}  // namespace lstmrt::test
