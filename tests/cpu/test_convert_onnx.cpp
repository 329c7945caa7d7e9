// ONNX LSTM converters: gate order i o f c, peepholes i o f, B = [Wb | Rb], round trips, errors.
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

struct Shape {
  int directions, input, hidden;
  bool bias, peepholes;
};
constexpr Shape kShapes[] = {{1, 3, 5, true, false},  {2, 4, 6, true, true}, {1, 1, 1, false, true},
                             {2, 7, 3, false, false}, {1, 9, 8, true, true}, {2, 2, 11, true, false}};

OnnxLstmWeights random_onnx(const Shape& s, std::mt19937_64& rng) {
  const std::int64_t d = s.directions, h = s.hidden;
  OnnxLstmWeights o;
  o.W = random_tensor({d, 4 * h, s.input}, rng);
  o.R = random_tensor({d, 4 * h, h}, rng);
  if (s.bias) o.B = random_tensor({d, 8 * h}, rng);
  if (s.peepholes) o.P = random_tensor({d, 3 * h}, rng);
  return o;
}

std::string trace(const Shape& s) {
  return fmt::format("D={} I={} H={} bias={} peepholes={}", s.directions, s.input, s.hidden, s.bias, s.peepholes);
}

TEST(ConvertOnnx, ForeignRoundTripIsExact) {
  std::mt19937_64 rng(test_seed());
  for (const Shape& s : kShapes) {
    SCOPED_TRACE(trace(s));
    const OnnxLstmWeights o = random_onnx(s, rng);
    const std::vector<LayerWeights> layer = from_onnx(o, s.directions, s.input, s.hidden);
    ASSERT_EQ(layer.size(), static_cast<std::size_t>(s.directions));
    const OnnxLstmWeights back = to_onnx(layer, s.input, s.hidden);
    EXPECT_TRUE(same_tensor(o.W, back.W, "W"));
    EXPECT_TRUE(same_tensor(o.R, back.R, "R"));
    ASSERT_TRUE(back.B.has_value());  // always written; zeros when the input had none
    if (s.bias)
      EXPECT_TRUE(same_tensor(*o.B, *back.B, "B"));
    else
      EXPECT_EQ(back.B->data, std::vector<float>(8 * s.hidden * s.directions, 0.0f));
    ASSERT_EQ(back.P.has_value(), s.peepholes);
    if (s.peepholes) EXPECT_TRUE(same_tensor(*o.P, *back.P, "P"));
  }
}

TEST(ConvertOnnx, CanonicalRoundTripIsExact) {
  for (const Shape& s : kShapes) {
    SCOPED_TRACE(trace(s));
    ModelDesc m;
    m.input_size = s.input;
    m.hidden_size = s.hidden;
    m.direction = s.directions == 2 ? Direction::kBidirectional : Direction::kReverse;
    m.peepholes = s.peepholes;
    const Weights w = random_weights(m, test_seed() + s.hidden, 1.0f);
    const Weights back{from_onnx(to_onnx(w.layers, s.input, s.hidden), s.directions, s.input, s.hidden)};
    EXPECT_TRUE(same_weights(w, back));
  }
}

// Block k of ONNX's 4H rows holds gate "iofc"[k]; canonical block k holds "ifgo"[k] (g = c).
TEST(ConvertOnnx, GateBlocksAreReordered) {
  const int D = 2, I = 3, H = 2;
  const char onnx_gates[] = "iofc";
  auto code = [](char gate) { return static_cast<float>(std::string("ifco").find(gate) + 1); };  // i1 f2 c3 o4
  OnnxLstmWeights o;
  o.W = Tensor{{D, 4 * H, I}, std::vector<float>(D * 4 * H * I)};
  o.R = Tensor{{D, 4 * H, H}, std::vector<float>(D * 4 * H * H)};
  o.B = Tensor{{D, 8 * H}, std::vector<float>(D * 8 * H)};
  o.P = Tensor{{D, 3 * H}, std::vector<float>(D * 3 * H)};
  // Value = 100·direction + 10·gate code + row within the block (+ 0.5 for the R half of B).
  for (int d = 0; d < D; ++d)
    for (int k = 0; k < 4; ++k)
      for (int j = 0; j < H; ++j) {
        const float v = 100.0f * d + 10.0f * code(onnx_gates[k]) + j;
        const int row = k * H + j;
        for (int c = 0; c < I; ++c) o.W.data[(d * 4 * H + row) * I + c] = v;
        for (int c = 0; c < H; ++c) o.R.data[(d * 4 * H + row) * H + c] = -v;
        o.B->data[d * 8 * H + row] = v;
        o.B->data[d * 8 * H + 4 * H + row] = v + 0.5f;
        if (k < 3) o.P->data[d * 3 * H + row] = v;  // P blocks i o f
      }
  const std::vector<LayerWeights> w = from_onnx(o, D, I, H);
  const char canonical[] = "ifco";  // i f g o with g written c
  for (int d = 0; d < D; ++d)
    for (int k = 0; k < 4; ++k)
      for (int j = 0; j < H; ++j) {
        const float v = 100.0f * d + 10.0f * code(canonical[k]) + j;
        const int row = k * H + j;
        for (int c = 0; c < I; ++c) EXPECT_EQ(w[d].w_ih[row * I + c], v) << "w_ih d" << d << " gate " << canonical[k];
        for (int c = 0; c < H; ++c) EXPECT_EQ(w[d].w_hh[row * H + c], -v) << "w_hh d" << d << " gate " << canonical[k];
        EXPECT_EQ(w[d].b_ih[row], v);
        EXPECT_EQ(w[d].b_hh[row], v + 0.5f);
      }
  // Canonical peephole blocks i f o hold ONNX's i, f, o (ONNX order i o f).
  const char peephole_gates[] = "ifo";
  for (int d = 0; d < D; ++d)
    for (int k = 0; k < 3; ++k)
      for (int j = 0; j < H; ++j)
        EXPECT_EQ(w[d].peephole[k * H + j], 100.0f * d + 10.0f * code(peephole_gates[k]) + j)
            << "peephole d" << d << " gate " << peephole_gates[k];
}

TEST(ConvertOnnx, AbsentBiasAndPeepholes) {
  std::mt19937_64 rng(test_seed());
  const OnnxLstmWeights o = random_onnx({2, 3, 4, false, false}, rng);
  for (const LayerWeights& w : from_onnx(o, 2, 3, 4)) {
    EXPECT_EQ(w.b_ih, std::vector<float>(16, 0.0f));
    EXPECT_EQ(w.b_hh, std::vector<float>(16, 0.0f));
    EXPECT_TRUE(w.peephole.empty());
    EXPECT_TRUE(w.w_hr.empty());
  }
}

TEST(ConvertOnnx, FromOnnxShapeErrorsNameTheTensor) {
  std::mt19937_64 rng(test_seed());
  const OnnxLstmWeights good = random_onnx({2, 3, 4, true, true}, rng);
  const ErrorCode bad = ErrorCode::kInvalidArgument;
  expect_error([&] { from_onnx(good, 1, 3, 4); }, bad, {"W has shape (2, 16, 3), expected (D=1, 4H=16, I=3)"});
  expect_error([&] { from_onnx(good, 2, 5, 4); }, bad, {"W has shape (2, 16, 3), expected (D=2, 4H=16, I=5)"});
  expect_error([&] { from_onnx(good, 2, 3, 5); }, bad, {"W has shape (2, 16, 3), expected (D=2, 4H=20, I=3)"});
  OnnxLstmWeights o = good;
  o.R = random_tensor({2, 16, 3}, rng);
  expect_error([&] { from_onnx(o, 2, 3, 4); }, bad, {"R has shape (2, 16, 3), expected (D=2, 4H=16, H=4)"});
  o = good;
  o.B = random_tensor({2, 16}, rng);
  expect_error([&] { from_onnx(o, 2, 3, 4); }, bad, {"B has shape (2, 16), expected (D=2, 8H=32)"});
  o = good;
  o.P = random_tensor({2, 4, 3}, rng);
  expect_error([&] { from_onnx(o, 2, 3, 4); }, bad, {"P has shape (2, 4, 3), expected (D=2, 3H=12)"});
  o = good;
  o.R.data.resize(10);
  expect_error([&] { from_onnx(o, 2, 3, 4); }, bad, {"R holds 10 values but its shape (2, 16, 4) has 128"});
  expect_error([&] { from_onnx(good, 3, 3, 4); }, bad, {"from_onnx: num_directions is 3, expected 1 or 2"});
  expect_error([&] { from_onnx(good, 2, 0, 4); }, bad, {"from_onnx: input_size is 0"});
  expect_error([&] { from_onnx(good, 2, 3, 0); }, bad, {"from_onnx: hidden_size is 0"});
}

TEST(ConvertOnnx, ToOnnxRefusesWhatOnnxCannotHold) {
  ModelDesc m;
  m.input_size = 3;
  m.hidden_size = 4;
  m.direction = Direction::kBidirectional;
  m.peepholes = true;
  const Weights good = random_weights(m, test_seed(), 1.0f);
  const ErrorCode bad = ErrorCode::kInvalidArgument;
  std::vector<LayerWeights> w = good.layers;
  w[1].w_hr.assign(8, 1.0f);
  expect_error([&] { to_onnx(w, 3, 4); }, bad, {"direction 1", "no projection", "w_hr holds 8 values"});
  w = good.layers;
  w[1].peephole.clear();
  expect_error([&] { to_onnx(w, 3, 4); }, bad, {"direction 1 peephole has 0 values, expected (3H=12)"});
  w = good.layers;
  w[0].peephole.clear();
  expect_error([&] { to_onnx(w, 3, 4); }, bad, {"direction 1 peephole has 12 values, expected empty"});
  w = good.layers;
  w[0].w_ih.pop_back();
  expect_error([&] { to_onnx(w, 3, 4); }, bad, {"direction 0 w_ih has 47 values, expected (4H=16, I=3) = 48"});
  w = good.layers;
  w[1].w_hh.pop_back();
  expect_error([&] { to_onnx(w, 3, 4); }, bad, {"direction 1 w_hh has 63 values"});
  w = good.layers;
  w[0].b_hh.pop_back();
  expect_error([&] { to_onnx(w, 3, 4); }, bad, {"direction 0 b_hh has 15 values"});
  w = good.layers;
  w[0].b_ih.pop_back();
  expect_error([&] { to_onnx(w, 3, 4); }, bad, {"direction 0 b_ih has 15 values"});
  expect_error([&] { to_onnx({}, 3, 4); }, bad, {"to_onnx: num_directions is 0, expected 1 or 2"});
  w = good.layers;
  w.push_back(w[0]);
  expect_error([&] { to_onnx(w, 3, 4); }, bad, {"to_onnx: num_directions is 3"});
}

}  // namespace
}  // namespace lstmrt::test
