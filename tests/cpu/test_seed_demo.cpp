// The seed example: return_sequences, return_state, both; last y equals h; c differs from h.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "cli/demo.hpp"
#include "lstmrt/lstmrt.hpp"

namespace lstmrt {
namespace {

struct SeedOutputs {
  std::vector<float> y, h, c;
};

SeedOutputs run_seed(bool sequences, bool state) {
  Lstm lstm = Lstm::create(cli::demo_model(), cli::demo_weights(), BackendOptions{BackendKind::kReference});
  const std::vector<float> x = {0.1f, 0.2f, 0.3f};
  SeedOutputs out{std::vector<float>(3, NAN), std::vector<float>(1, NAN), std::vector<float>(1, NAN)};
  ForwardRequest req;
  req.seq_len = 3;
  req.batch = 1;
  req.x = x.data();
  if (sequences) req.y = out.y.data();
  if (state) req.h_n = out.h.data(), req.c_n = out.c.data();
  lstm.forward_host(req);
  return out;
}

// The same cell written out by hand for H = I = 1 (independent of the backend's loops).
std::vector<double> hand_computed_seed() {
  auto sigmoid = [](double v) { return 1.0 / (1.0 + std::exp(-v)); };
  const double x[3] = {0.1, 0.2, 0.3};
  double h = 0.0, c = 0.0;
  std::vector<double> ys;
  for (double xt : x) {
    const double i = sigmoid(0.5f * xt + 0.2f * h + 0.1f);
    const double f = sigmoid(-0.4f * xt + 0.1f * h + 0.2f);
    const double g = std::tanh(0.3f * xt + -0.3f * h + -0.1f);
    const double o = sigmoid(0.7f * xt + 0.4f * h + 0.05f);
    c = f * c + i * g;
    h = o * std::tanh(c);
    ys.push_back(h);
  }
  ys.push_back(c);
  return ys;  // y0 y1 y2 c
}

TEST(ReferenceSeed, ReturnSequencesOnly) {
  const SeedOutputs out = run_seed(true, false);
  const std::vector<double> expected = hand_computed_seed();
  for (int t = 0; t < 3; ++t) EXPECT_NEAR(out.y[t], expected[t], 1e-6) << "t=" << t;
  EXPECT_TRUE(std::isnan(out.h[0])) << "h_n was written although not requested";
  EXPECT_TRUE(std::isnan(out.c[0])) << "c_n was written although not requested";
}

TEST(ReferenceSeed, ReturnStateOnly) {
  const SeedOutputs out = run_seed(false, true);
  const std::vector<double> expected = hand_computed_seed();
  EXPECT_NEAR(out.h[0], expected[2], 1e-6);
  EXPECT_NEAR(out.c[0], expected[3], 1e-6);
  for (float v : out.y) EXPECT_TRUE(std::isnan(v)) << "y was written although not requested";
}

TEST(ReferenceSeed, BothLastSequenceValueEqualsHAndCDiffers) {
  const SeedOutputs out = run_seed(true, true);
  EXPECT_EQ(out.y[2], out.h[0]);
  EXPECT_NE(out.c[0], out.h[0]);
  EXPECT_NE(out.y[0], out.y[1]);
}

}  // namespace
}  // namespace lstmrt
