// The kernels' per-element gate math (kernels/lstm_cell_math.cuh), compiled here as plain C++:
// (a) every activation against its formula at chosen points, clip and the cell equations by hand;
// (b) a host LSTM whose cell is cell_step (float) against the reference backend (double) on random
//     models covering every activation, clip, peepholes, coupled gate, projection, bidirectional.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "common/compare.hpp"
#include "common/reference_runner.hpp"
#include "kernels/cell_math_params.hpp"
#include "kernels/lstm_cell_math.cuh"
#include "lstmrt/lstmrt.hpp"

namespace lstmrt {
namespace {

using kernels::activate;
using kernels::ActKind;
using kernels::ActParams;
using kernels::cell_step;
using kernels::CellMathParams;
using kernels::CellResult;
using kernels::clip_value;

float act(const Activation& a, float x) { return activate(kernels::to_act_params(a), x); }

constexpr double kTol = 2e-7;  // a few float ulps around values of order 1

TEST(CellMathActivation, SigmoidTanh) {
  EXPECT_FLOAT_EQ(act(Activation::sigmoid(), 0.0f), 0.5f);
  EXPECT_NEAR(act(Activation::sigmoid(), 2.0f), 0.8807970779778823, kTol);
  EXPECT_NEAR(act(Activation::sigmoid(), -2.0f), 0.11920292202211755, kTol);
  EXPECT_EQ(act(Activation::sigmoid(), -200.0f), 0.0f);  // e^200 overflows to inf: 1/inf
  EXPECT_EQ(act(Activation::sigmoid(), 200.0f), 1.0f);
  EXPECT_NEAR(act(Activation::tanh(), -1.0f), -0.7615941559557649, kTol);
  EXPECT_NEAR(act(Activation::tanh(), 0.5f), 0.46211715726000974, kTol);
}

TEST(CellMathActivation, ReluAffineLeaky) {
  EXPECT_EQ(act(Activation::relu(), -2.0f), 0.0f);
  EXPECT_EQ(act(Activation::relu(), 3.0f), 3.0f);
  EXPECT_EQ(act(Activation::affine(2.0f, 0.5f), -1.0f), -1.5f);
  EXPECT_EQ(act(Activation::affine(-0.5f, 1.0f), 4.0f), -1.0f);
  EXPECT_EQ(act(Activation::leaky_relu(0.1f), 2.0f), 2.0f);
  EXPECT_FLOAT_EQ(act(Activation::leaky_relu(0.1f), -2.0f), -0.2f);
  EXPECT_EQ(act(Activation::leaky_relu(0.1f), 0.0f), 0.0f);
}

TEST(CellMathActivation, ThresholdedReluIsStrictAboveAlpha) {
  const Activation a = Activation::thresholded_relu(1.0f);
  EXPECT_EQ(act(a, 1.0f), 0.0f);  // x > alpha, strictly
  EXPECT_EQ(act(a, 1.5f), 1.5f);
  EXPECT_EQ(act(a, 0.5f), 0.0f);
  EXPECT_EQ(act(a, -3.0f), 0.0f);
  EXPECT_EQ(act(Activation::thresholded_relu(-1.0f), -0.5f), -0.5f);
}

TEST(CellMathActivation, ScaledTanh) {
  EXPECT_NEAR(act(Activation::scaled_tanh(2.0f, 0.5f), 1.0f), 2.0 * std::tanh(0.5), kTol);
  EXPECT_NEAR(act(Activation::scaled_tanh(2.0f, 0.5f), -3.0f), 2.0 * std::tanh(-1.5), 4e-7);
}

TEST(CellMathActivation, HardSigmoidOnnxAndKeras3Differ) {
  const Activation onnx = Activation::hard_sigmoid();  // clamp(0.2x + 0.5, 0, 1)
  EXPECT_EQ(act(onnx, -3.0f), 0.0f);
  EXPECT_EQ(act(onnx, -2.5f), 0.0f);  // threshold
  EXPECT_FLOAT_EQ(act(onnx, -1.0f), 0.3f);
  EXPECT_EQ(act(onnx, 0.0f), 0.5f);
  EXPECT_FLOAT_EQ(act(onnx, 1.0f), 0.7f);
  EXPECT_EQ(act(onnx, 2.5f), 1.0f);  // threshold
  EXPECT_EQ(act(onnx, 3.0f), 1.0f);
  EXPECT_FLOAT_EQ(act(Activation::hard_sigmoid(0.5f, 0.25f), 1.0f), 0.75f);

  const Activation keras3 = Activation::hard_sigmoid_keras3();  // clamp(x/6 + 1/2, 0, 1)
  EXPECT_EQ(act(keras3, -4.0f), 0.0f);
  EXPECT_EQ(act(keras3, -3.0f), 0.0f);  // threshold
  EXPECT_NEAR(act(keras3, 1.0f), 2.0 / 3.0, kTol);
  EXPECT_EQ(act(keras3, 0.0f), 0.5f);
  EXPECT_FLOAT_EQ(act(keras3, 1.5f), 0.75f);
  EXPECT_EQ(act(keras3, 3.0f), 1.0f);  // threshold
  EXPECT_EQ(act(keras3, 4.0f), 1.0f);
  EXPECT_NE(act(onnx, 1.0f), act(keras3, 1.0f));
  // Keras 3's form ignores alpha/beta even when they are set.
  EXPECT_EQ(act(Activation{ActivationKind::kHardSigmoidKeras3, 5.0f, 5.0f}, 0.0f), 0.5f);
}

TEST(CellMathActivation, EluSoftsignSoftplus) {
  EXPECT_EQ(act(Activation::elu(), 2.0f), 2.0f);
  EXPECT_NEAR(act(Activation::elu(), -1.0f), std::exp(-1.0) - 1.0, kTol);
  EXPECT_NEAR(act(Activation::elu(0.5f), -2.0f), 0.5 * (std::exp(-2.0) - 1.0), kTol);
  EXPECT_NEAR(act(Activation::elu(), -1e-4f), std::expm1(-1e-4), 1e-11);  // accurate near 0
  EXPECT_FLOAT_EQ(act(Activation::softsign(), 3.0f), 0.75f);
  EXPECT_FLOAT_EQ(act(Activation::softsign(), -1.0f), -0.5f);
  EXPECT_NEAR(act(Activation::softplus(), 0.0f), std::log(2.0), kTol);
  EXPECT_NEAR(act(Activation::softplus(), 2.0f), std::log1p(std::exp(2.0)), 4e-7);
  EXPECT_NEAR(act(Activation::softplus(), -30.0f), std::log1p(std::exp(-30.0)), 1e-19);  // no underflow to 0
  EXPECT_GT(act(Activation::softplus(), -30.0f), 0.0f);
  EXPECT_EQ(act(Activation::softplus(), 100.0f), 100.0f);  // no overflow to inf
}

// Keras 3's other activations at chosen points (values from the formulas in double precision).
TEST(CellMathActivation, KerasSmoothActivations) {
  EXPECT_NEAR(act(Activation::gelu(), 1.0f), 0.8413447460685429, kTol);
  EXPECT_NEAR(act(Activation::gelu(), -2.0f), -0.04550026389635842, kTol);
  EXPECT_EQ(act(Activation::gelu(), 0.0f), 0.0f);
  EXPECT_NEAR(act(Activation::silu(), 1.5f), 1.2263617142904655, kTol);
  EXPECT_EQ(act(Activation::silu(), -200.0f), -0.0f);  // x / inf, no NaN
  EXPECT_NEAR(act(Activation::selu(), -1.0f), -1.1113307378125625, kTol);
  EXPECT_NEAR(act(Activation::selu(), 2.0f), 2.0 * 1.0507009873554805, kTol);
  EXPECT_NEAR(act(Activation::celu(0.5f), -1.0f), -0.43233235838169365, kTol);
  EXPECT_EQ(act(Activation::celu(0.5f), 3.0f), 3.0f);
  EXPECT_NEAR(act(Activation::exponential(), 1.3f), 3.6692966676192444, 4e-7);
  EXPECT_NEAR(act(Activation::mish(), 0.7f), 0.5611483776438518, kTol);
  EXPECT_NEAR(act(Activation::mish(), -3.0f), -0.1456474612756246, kTol);
  EXPECT_NEAR(act(Activation::log_sigmoid(), -2.0f), -2.1269280110429727, 4e-7);
  EXPECT_NEAR(act(Activation::log_sigmoid(), 3.0f), -0.04858735157374206, kTol);
  EXPECT_NEAR(act(Activation::log_sigmoid(), 100.0f), -3.72e-44, 1e-44);  // −e^−100: no log(0), no overflow
  EXPECT_NEAR(act(Activation::log_sigmoid(), -100.0f), -100.0, 1e-5);
  EXPECT_NEAR(act(Activation::tanh_shrink(), 0.5f), 0.03788284273999026, kTol);
  EXPECT_NEAR(act(Activation::squareplus(), -3.0f), 0.30277563773199456, kTol);
  EXPECT_NEAR(act(Activation::squareplus(1.0f), 2.0f), 2.118033988749895, 4e-7);
  // Far left the naive (x + √(x² + b))/2 loses every digit in float; the stable form keeps them.
  EXPECT_NEAR(act(Activation::squareplus(), -100.0f), 0.009999000199947261, 1e-9);
  EXPECT_EQ(act(Activation::squareplus(0.0f), -2.0f), 0.0f);
}

TEST(CellMathActivation, KerasPiecewiseActivations) {
  EXPECT_FLOAT_EQ(act(Activation::hard_silu(), 1.5f), 1.5f * 0.75f);
  EXPECT_EQ(act(Activation::hard_silu(), -3.0f), -0.0f);
  EXPECT_EQ(act(Activation::hard_silu(), 4.0f), 4.0f);
  EXPECT_EQ(act(Activation::hard_tanh(), -2.0f), -1.0f);
  EXPECT_EQ(act(Activation::hard_tanh(), 0.3f), 0.3f);
  EXPECT_EQ(act(Activation::hard_tanh(), 7.0f), 1.0f);
  EXPECT_EQ(act(Activation::hard_shrink(), 0.5f), 0.0f);  // |x| > threshold, strictly
  EXPECT_EQ(act(Activation::hard_shrink(), -0.7f), -0.7f);
  EXPECT_EQ(act(Activation::hard_shrink(0.1f), 0.2f), 0.2f);
  EXPECT_FLOAT_EQ(act(Activation::soft_shrink(), 0.7f), 0.2f);
  EXPECT_FLOAT_EQ(act(Activation::soft_shrink(), -0.9f), -0.4f);
  EXPECT_EQ(act(Activation::soft_shrink(), 0.4f), 0.0f);
  EXPECT_EQ(act(Activation::relu6(), -1.0f), 0.0f);
  EXPECT_EQ(act(Activation::relu6(), 4.5f), 4.5f);
  EXPECT_EQ(act(Activation::relu6(), 9.0f), 6.0f);
  EXPECT_EQ(act(Activation::sparse_plus(), -1.0f), 0.0f);
  EXPECT_FLOAT_EQ(act(Activation::sparse_plus(), 0.0f), 0.25f);
  EXPECT_FLOAT_EQ(act(Activation::sparse_plus(), 0.5f), 0.5625f);
  EXPECT_EQ(act(Activation::sparse_plus(), 1.0f), 1.0f);
  EXPECT_EQ(act(Activation::sparse_plus(), 3.0f), 3.0f);
  EXPECT_EQ(act(Activation::sparse_sigmoid(), -1.5f), 0.0f);
  EXPECT_FLOAT_EQ(act(Activation::sparse_sigmoid(), 0.5f), 0.75f);
  EXPECT_EQ(act(Activation::sparse_sigmoid(), 1.0f), 1.0f);
  // Keras's leaky_relu slope by name is 0.2: keras.activations.leaky_relu(-1.0) == -0.2.
  EXPECT_FLOAT_EQ(act(Activation::from_keras("leaky_relu"), -1.0f), -0.2f);
  EXPECT_FLOAT_EQ(act(Activation::from_onnx("LeakyRelu"), -1.0f), -0.01f);
}

// The persistent kernels' activate_classic: bit-identical to activate for every kind
// persistent_evaluates accepts (the same formulas), NaN for the others (which the planner keeps
// off those kernels).
TEST(CellMathActivation, ClassicSubsetEqualsActivate) {
  std::mt19937_64 rng(test::test_seed());
  std::uniform_real_distribution<float> xs(-8.0f, 8.0f), ps(0.1f, 0.9f);
  int classic = 0, others = 0;
  for (int k = 0; k <= static_cast<int>(ActKind::kSquareplus); ++k) {
    ActParams a{static_cast<ActKind>(k), ps(rng), ps(rng)};
    if (!kernels::persistent_evaluates(a.kind)) {
      EXPECT_TRUE(std::isnan(kernels::activate_classic(a, 0.5f))) << "kind " << k;
      ++others;
      continue;
    }
    ++classic;
    for (int i = 0; i < 200; ++i) {
      const float x = i == 0 ? 0.0f : i == 1 ? std::nanf("") : xs(rng);
      const float want = activate(a, x), got = kernels::activate_classic(a, x);
      if (std::isnan(want))
        EXPECT_TRUE(std::isnan(got)) << "kind " << k;
      else
        EXPECT_EQ(got, want) << "kind " << k << " x=" << x;
    }
  }
  EXPECT_EQ(classic, 12);
  EXPECT_EQ(others, 16);
}

TEST(CellMathActivation, ClipClampsOnlyWhenPositive) {
  EXPECT_EQ(clip_value(5.0f, 3.0f), 3.0f);
  EXPECT_EQ(clip_value(-5.0f, 3.0f), -3.0f);
  EXPECT_EQ(clip_value(2.0f, 3.0f), 2.0f);
  EXPECT_EQ(clip_value(-50.0f, 0.0f), -50.0f);
  EXPECT_TRUE(std::isnan(clip_value(std::nanf(""), 3.0f)));  // NaN propagates as in the reference
  EXPECT_TRUE(std::isnan(act(Activation::hard_sigmoid(), std::nanf(""))));
}

TEST(CellMathParams, EveryKindMapsToItsNamesake) {
  const std::pair<ActivationKind, ActKind> pairs[] = {
      {ActivationKind::kSigmoid, ActKind::kSigmoid},
      {ActivationKind::kTanh, ActKind::kTanh},
      {ActivationKind::kRelu, ActKind::kRelu},
      {ActivationKind::kAffine, ActKind::kAffine},
      {ActivationKind::kLeakyRelu, ActKind::kLeakyRelu},
      {ActivationKind::kThresholdedRelu, ActKind::kThresholdedRelu},
      {ActivationKind::kScaledTanh, ActKind::kScaledTanh},
      {ActivationKind::kHardSigmoid, ActKind::kHardSigmoid},
      {ActivationKind::kHardSigmoidKeras3, ActKind::kHardSigmoidKeras3},
      {ActivationKind::kElu, ActKind::kElu},
      {ActivationKind::kSoftsign, ActKind::kSoftsign},
      {ActivationKind::kSoftplus, ActKind::kSoftplus},
      {ActivationKind::kGelu, ActKind::kGelu},
      {ActivationKind::kSilu, ActKind::kSilu},
      {ActivationKind::kSelu, ActKind::kSelu},
      {ActivationKind::kCelu, ActKind::kCelu},
      {ActivationKind::kExponential, ActKind::kExponential},
      {ActivationKind::kHardSilu, ActKind::kHardSilu},
      {ActivationKind::kHardTanh, ActKind::kHardTanh},
      {ActivationKind::kHardShrink, ActKind::kHardShrink},
      {ActivationKind::kSoftShrink, ActKind::kSoftShrink},
      {ActivationKind::kTanhShrink, ActKind::kTanhShrink},
      {ActivationKind::kLogSigmoid, ActKind::kLogSigmoid},
      {ActivationKind::kMish, ActKind::kMish},
      {ActivationKind::kRelu6, ActKind::kRelu6},
      {ActivationKind::kSparsePlus, ActKind::kSparsePlus},
      {ActivationKind::kSparseSigmoid, ActKind::kSparseSigmoid},
      {ActivationKind::kSquareplus, ActKind::kSquareplus},
  };
  for (const auto& [pub, kernel] : pairs) {
    const ActParams p = kernels::to_act_params(Activation{pub, 0.25f, -0.75f});
    EXPECT_EQ(p.kind, kernel) << static_cast<int>(pub);
    EXPECT_EQ(p.alpha, 0.25f);
    EXPECT_EQ(p.beta, -0.75f);
  }
  EXPECT_THROW(kernels::to_act_params(Activation{static_cast<ActivationKind>(99)}), Error);
}

TEST(CellMathParams, TakesTheSlotsActivationsAndCellOptions) {
  ModelDesc desc;
  desc.input_size = 3;
  desc.hidden_size = 4;
  desc.direction = Direction::kBidirectional;
  desc.activations[0] = {Activation::hard_sigmoid(0.3f, 0.4f), Activation::elu(0.7f), Activation::softsign()};
  desc.activations[1] = {Activation::relu(), Activation::scaled_tanh(1.5f, 0.5f), Activation::affine(2.0f, 1.0f)};
  desc.clip = 2.5f;
  desc.peepholes = true;
  desc.coupled_input_forget = true;
  const CellMathParams p0 = kernels::make_cell_math_params(desc, 0);
  EXPECT_EQ(p0.gate.kind, ActKind::kHardSigmoid);
  EXPECT_EQ(p0.gate.alpha, 0.3f);
  EXPECT_EQ(p0.gate.beta, 0.4f);
  EXPECT_EQ(p0.cell.kind, ActKind::kElu);
  EXPECT_EQ(p0.cell.alpha, 0.7f);
  EXPECT_EQ(p0.hidden.kind, ActKind::kSoftsign);
  EXPECT_EQ(p0.clip, 2.5f);
  EXPECT_TRUE(p0.peepholes);
  EXPECT_TRUE(p0.coupled_input_forget);
  const CellMathParams p1 = kernels::make_cell_math_params(desc, 1);
  EXPECT_EQ(p1.gate.kind, ActKind::kRelu);
  EXPECT_EQ(p1.cell.kind, ActKind::kScaledTanh);
  EXPECT_EQ(p1.cell.beta, 0.5f);
  EXPECT_EQ(p1.hidden.kind, ActKind::kAffine);
  EXPECT_EQ(p1.hidden.alpha, 2.0f);

  desc.peepholes = desc.coupled_input_forget = false;
  desc.clip = 0.0f;
  const CellMathParams plain = kernels::make_cell_math_params(desc, 0);
  EXPECT_FALSE(plain.peepholes);
  EXPECT_FALSE(plain.coupled_input_forget);
  EXPECT_EQ(plain.clip, 0.0f);
}

TEST(CellMathParams, RejectsASlotTheModelDoesNotHave) {
  ModelDesc desc;
  desc.input_size = 3;
  desc.hidden_size = 4;
  for (int slot : {-1, 1}) {
    try {
      kernels::make_cell_math_params(desc, slot);
      FAIL() << "slot " << slot << " accepted for a forward model";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      EXPECT_NE(std::string(e.what()).find("direction slot"), std::string::npos) << e.what();
    }
  }
  desc.direction = Direction::kBidirectional;
  EXPECT_THROW(kernels::make_cell_math_params(desc, 2), Error);
}

// The equations written out by hand in double for one unit.
CellResult hand_cell(bool peepholes, bool coupled, float clip, float zi, float zf, float zg, float zo, float c_prev,
                     float pi, float pf, float po) {
  auto cl = [clip](double v) { return clip > 0 ? std::clamp(v, -double(clip), double(clip)) : v; };
  auto sig = [](double v) { return 1.0 / (1.0 + std::exp(-v)); };
  const double i = sig(cl(zi + (peepholes ? double(pi) * c_prev : 0.0)));
  const double f = coupled ? 1.0 - i : sig(cl(zf + (peepholes ? double(pf) * c_prev : 0.0)));
  const double g = std::tanh(cl(zg));
  const double c = f * c_prev + i * g;
  const double o = sig(cl(zo + (peepholes ? double(po) * c : 0.0)));
  return {static_cast<float>(c), static_cast<float>(o * std::tanh(cl(c)))};
}

TEST(CellMathStep, EquationsByHand) {
  const float zi = 0.3f, zf = -1.2f, zg = 2.9f, zo = 0.8f, c_prev = 1.7f, pi = 0.5f, pf = -0.25f, po = 1.5f;
  for (bool peepholes : {false, true})
    for (bool coupled : {false, true})
      for (float clip : {0.0f, 1.0f}) {
        CellMathParams p{};
        p.gate = kernels::to_act_params(Activation::sigmoid());
        p.cell = p.hidden = kernels::to_act_params(Activation::tanh());
        p.clip = clip;
        p.peepholes = peepholes;
        p.coupled_input_forget = coupled;
        const CellResult got = cell_step(p, zi, zf, zg, zo, c_prev, pi, pf, po);
        const CellResult want = hand_cell(peepholes, coupled, clip, zi, zf, zg, zo, c_prev, pi, pf, po);
        SCOPED_TRACE(testing::Message() << "peepholes " << peepholes << " coupled " << coupled << " clip " << clip);
        EXPECT_NEAR(got.c, want.c, 1e-6);
        EXPECT_NEAR(got.h, want.h, 1e-6);
      }
}

TEST(CellMathStep, OutputPeepholeSeesNewCellAndStoredCellIsNotClipped) {
  CellMathParams p{};
  p.gate = kernels::to_act_params(Activation::affine(1.0f, 0.0f));  // identity gates expose the inputs
  p.cell = kernels::to_act_params(Activation::affine(1.0f, 0.0f));
  p.hidden = kernels::to_act_params(Activation::affine(1.0f, 0.0f));
  p.clip = 100.0f;
  p.peepholes = true;
  // i = 0.5, f = 0.25, g = 3, c_prev = 4 → c = 0.25·4 + 0.5·3 = 2.5; o = z_o + p_o·c = 2.5 (the old
  // c would give 4); h = o·hidden(c) = 6.25.
  const CellResult r = cell_step(p, 0.5f, 0.25f, 3.0f, 0.0f, /*c_prev=*/4.0f, 0.0f, 0.0f, 1.0f);
  EXPECT_FLOAT_EQ(r.c, 0.25f * 4.0f + 0.5f * 3.0f);  // 2.5
  EXPECT_FLOAT_EQ(r.h, 2.5f * 2.5f);                 // o = p_o·c_new = 2.5, hidden(c) = 2.5
  p.clip = 1.0f;                                     // every activation input clamped to [−1, 1]; c itself stays 2.5
  const CellResult clipped = cell_step(p, 0.5f, 0.25f, 3.0f, 0.0f, 4.0f, 0.0f, 0.0f, 1.0f);
  EXPECT_FLOAT_EQ(clipped.c, 0.25f * 4.0f + 0.5f * 1.0f);  // g = clip(3) = 1 → c = 1.5
  EXPECT_FLOAT_EQ(clipped.h, 1.0f * 1.0f);                 // o = clip(1.5) = 1, hidden(clip(1.5)) = 1
}

TEST(CellMathStep, CoupledGateIgnoresForgetInputs) {
  CellMathParams p{};
  p.gate = kernels::to_act_params(Activation::sigmoid());
  p.cell = p.hidden = kernels::to_act_params(Activation::tanh());
  p.coupled_input_forget = true;
  const CellResult a = cell_step(p, 0.4f, -5.0f, 0.7f, 0.1f, 0.9f, 0.0f, 0.0f, 0.0f);
  const CellResult b = cell_step(p, 0.4f, 5.0f, 0.7f, 0.1f, 0.9f, 0.0f, 0.0f, 0.0f);
  EXPECT_EQ(a.c, b.c);
  const double i = 1.0 / (1.0 + std::exp(-0.4));
  EXPECT_NEAR(a.c, (1.0 - i) * 0.9 + i * std::tanh(0.7), 1e-6);
}

// ---- (b) a host LSTM around cell_step vs the reference backend ---------------------------------

// Runs `desc` on time-major x (T, N, I) with every row running T steps, zero initial state. The
// GEMMs accumulate in double and are rounded to float, so differences from the reference come
// from the float cell math and the float state it carries.
test::HostOutputs host_lstm(const ModelDesc& desc, const Weights& w, const std::vector<float>& x, int T, int N) {
  const int D = desc.num_directions(), H = desc.hidden_size, H_out = desc.output_size(), L = desc.num_layers;
  test::HostOutputs out;
  out.h_n.assign(static_cast<std::size_t>(L) * D * N * H_out, 0.0f);
  out.c_n.assign(static_cast<std::size_t>(L) * D * N * H, 0.0f);
  std::vector<float> input = x;  // (T, N, I_l)
  for (int l = 0; l < L; ++l) {
    const int I_l = desc.layer_input_size(l);
    std::vector<float> output(static_cast<std::size_t>(T) * N * D * H_out);
    for (int d = 0; d < D; ++d) {
      const LayerWeights& lw = w.at(desc, l, d);
      const CellMathParams params = kernels::make_cell_math_params(desc, d);
      for (int b = 0; b < N; ++b) {
        std::vector<float> h(H_out, 0.0f), c(H, 0.0f), hidden(H);
        for (int s = 0; s < T; ++s) {
          const int t = desc.is_reverse_slot(d) ? T - 1 - s : s;
          const float* xt = input.data() + (static_cast<std::size_t>(t) * N + b) * I_l;
          std::vector<float> z(4 * H);
          for (int r = 0; r < 4 * H; ++r) {
            double sum = double(lw.b_ih[r]) + lw.b_hh[r];
            for (int k = 0; k < I_l; ++k) sum += double(lw.w_ih[r * I_l + k]) * xt[k];
            for (int k = 0; k < H_out; ++k) sum += double(lw.w_hh[r * H_out + k]) * h[k];
            z[r] = static_cast<float>(sum);
          }
          for (int j = 0; j < H; ++j) {
            const float p_i = desc.peepholes ? lw.peephole[j] : 0.0f;  // peephole blocks i f o
            const float p_f = desc.peepholes ? lw.peephole[H + j] : 0.0f;
            const float p_o = desc.peepholes ? lw.peephole[2 * H + j] : 0.0f;
            const CellResult r = cell_step(params, z[j], z[H + j], z[2 * H + j], z[3 * H + j], c[j], p_i, p_f, p_o);
            c[j] = r.c;
            hidden[j] = r.h;
          }
          if (desc.proj_size > 0) {
            for (int p = 0; p < H_out; ++p) {
              double sum = 0.0;
              for (int j = 0; j < H; ++j) sum += double(lw.w_hr[p * H + j]) * hidden[j];
              h[p] = static_cast<float>(sum);
            }
          } else {
            h = hidden;
          }
          std::copy(h.begin(), h.end(), output.begin() + (static_cast<std::size_t>(t) * N + b) * D * H_out + d * H_out);
        }
        const std::size_t slot_row = static_cast<std::size_t>(l * D + d) * N + b;
        std::copy(h.begin(), h.end(), out.h_n.begin() + slot_row * H_out);
        std::copy(c.begin(), c.end(), out.c_n.begin() + slot_row * H);
      }
    }
    input = std::move(output);
  }
  out.y = std::move(input);
  return out;
}

double max_abs(const std::vector<float>& v) {
  double m = 0.0;
  for (float x : v) m = std::max(m, double(std::fabs(x)));
  return m;
}

// Every activation with parameters that keep a short sequence bounded.
std::vector<Activation> all_activations() {
  return {Activation::sigmoid(),
          Activation::tanh(),
          Activation::relu(),
          Activation::affine(0.8f, 0.1f),
          Activation::leaky_relu(0.2f),
          Activation::thresholded_relu(0.1f),
          Activation::scaled_tanh(1.3f, 0.7f),
          Activation::hard_sigmoid(0.25f, 0.45f),
          Activation::hard_sigmoid_keras3(),
          Activation::elu(0.6f),
          Activation::softsign(),
          Activation::softplus(),
          Activation::gelu(),
          Activation::silu(),
          Activation::selu(),
          Activation::celu(0.7f),
          Activation::exponential(),
          Activation::hard_silu(),
          Activation::hard_tanh(),
          Activation::hard_shrink(0.3f),
          Activation::soft_shrink(0.2f),
          Activation::tanh_shrink(),
          Activation::log_sigmoid(),
          Activation::mish(),
          Activation::relu6(),
          Activation::sparse_plus(),
          Activation::sparse_sigmoid(),
          Activation::squareplus(2.0f)};
}

struct ModelCase {
  Direction direction;
  int layers;
  int proj;
  float clip;
  bool peepholes;
  bool coupled;
};

TEST(CellMathVsReference, RandomModelsCoverEveryActivationAndCellOption) {
  const std::uint64_t seed = test::test_seed();
  SCOPED_TRACE(testing::Message() << "LSTMRT_TEST_SEED=" << seed);
  std::mt19937_64 rng(seed);
  const std::vector<Activation> acts = all_activations();
  const ModelCase cases[] = {
      {Direction::kForward, 1, 0, 0.0f, false, false},       {Direction::kReverse, 2, 0, 0.0f, true, false},
      {Direction::kBidirectional, 2, 0, 1.5f, false, false}, {Direction::kForward, 1, 3, 0.0f, false, true},
      {Direction::kBidirectional, 1, 4, 2.0f, true, true},   {Direction::kForward, 2, 2, 0.7f, true, false},
  };
  const int K = static_cast<int>(acts.size());
  int model_index = 0;
  // Each activation takes every role (gate, cell, hidden) of each direction slot in turn, beside
  // the default activations: two unbounded ones together (exponential gates feeding an exponential
  // hidden) blow up in any precision and would test float overflow, not the cell math.
  for (int round = 0; round < 3 * K; ++round) {
    const ModelCase& mc = cases[round % (sizeof(cases) / sizeof(cases[0]))];
    const int role = round / K;
    const Activation& a = acts[round % K];
    const Activation& b = acts[(round + 5) % K];
    // An exponential gate above 1 (and f = 1 − i below −1 with the coupled gate) makes c grow
    // geometrically with every rounding difference: it stays in the cell and hidden roles.
    if (role == 0 && (a.kind == ActivationKind::kExponential || b.kind == ActivationKind::kExponential)) continue;
    std::uniform_int_distribution<int> size(2, 7);
    ModelDesc desc;
    desc.input_size = size(rng);
    desc.hidden_size = size(rng) + 4;  // > proj
    desc.proj_size = mc.proj;
    desc.num_layers = mc.layers;
    desc.direction = mc.direction;
    desc.clip = mc.clip;
    desc.peepholes = mc.peepholes;
    desc.coupled_input_forget = mc.coupled;
    for (int d = 0; d < 2; ++d) {
      CellActivations& slot = desc.activations[d];
      const Activation& pick = d == 0 ? a : b;
      (role == 0 ? slot.gate : role == 1 ? slot.cell : slot.hidden) = pick;
    }
    const Weights w = random_weights(desc, rng(), 0.6f);
    const int T = size(rng) + 1, N = size(rng) - 1;
    const test::HostInputs in = test::random_inputs(desc, T, N, rng, /*with_lengths=*/false, /*with_state=*/false);

    const test::HostOutputs got = host_lstm(desc, w, in.x, T, N);
    Lstm reference = test::reference_lstm(desc, w);
    const test::HostOutputs want = test::run_host(reference, in);
    const std::vector<float>& y = want.y;
    const std::vector<float>& h_n = want.h_n;
    const std::vector<float>& c_n = want.c_n;

    SCOPED_TRACE(testing::Message() << "model " << model_index++ << ": " << describe(desc) << " T=" << T << " N=" << N);
    // ~1e-5 relative to each output's scale.
    const double y_scale = std::max(max_abs(y), 1e-3), c_scale = std::max(max_abs(c_n), 1e-3);
    EXPECT_TRUE(test::all_close(y, got.y, 1e-5 * y_scale, 1e-5, "y"));
    EXPECT_TRUE(test::all_close(h_n, got.h_n, 1e-5 * y_scale, 1e-5, "h_n"));
    EXPECT_TRUE(test::all_close(c_n, got.c_n, 1e-5 * c_scale, 1e-5, "c_n"));
  }
}

}  // namespace
}  // namespace lstmrt
