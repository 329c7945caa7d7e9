// Test helpers shared by CPU and GPU tests: comparing any output against the reference, with the
// worst element reported (where, expected, got), poisoning buffers, random data.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

namespace lstmrt::test {

// NaN with a recognisable payload: an output element still holding it was never written.
// Fresh seed per run (reported on failure so a run can be replayed with LSTMRT_TEST_SEED).
inline std::uint64_t test_seed() {
  static const std::uint64_t seed = [] {
    if (const char* s = std::getenv("LSTMRT_TEST_SEED")) return static_cast<std::uint64_t>(std::stoull(s));
    return static_cast<std::uint64_t>(std::random_device{}()) << 32 | std::random_device{}();
  }();
  return seed;
}

inline float poison_value() { return std::numeric_limits<float>::quiet_NaN(); }
inline std::vector<float> poisoned(std::size_t n) { return std::vector<float>(n, poison_value()); }

inline std::vector<float> random_vector(std::size_t n, std::mt19937_64& rng, float scale = 1.0f) {
  std::uniform_real_distribution<float> dist(-scale, scale);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// Passes when every element of `got` is finite (written) and
//   |got − expected| <= atol + rtol·|expected|.
// On failure names the worst element: its index, expected, got.
inline ::testing::AssertionResult all_close(const std::vector<float>& expected, const std::vector<float>& got,
                                            double atol, double rtol, const std::string& what) {
  if (expected.size() != got.size())
    return ::testing::AssertionFailure() << what << ": size " << got.size() << ", expected " << expected.size();
  std::size_t worst = 0;
  double worst_excess = -1.0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (!std::isfinite(got[i]))
      return ::testing::AssertionFailure()
             << what << "[" << i << "] = " << got[i] << " (not written or not finite), expected " << expected[i];
    const double err = std::fabs(static_cast<double>(got[i]) - expected[i]);
    const double excess = err - (atol + rtol * std::fabs(expected[i]));
    if (excess > worst_excess) worst_excess = excess, worst = i;
  }
  if (worst_excess > 0.0)
    return ::testing::AssertionFailure() << fmt::format(
               "{}: worst element [{}] expected {:.9g} got {:.9g} (|diff| {:.3g} > atol {:.3g} + rtol "
               "{:.3g}·|expected|); "
               "replay with LSTMRT_TEST_SEED={}",
               what, worst, expected[worst], got[worst], std::fabs(double(got[worst]) - expected[worst]), atol, rtol,
               test_seed());
  return ::testing::AssertionSuccess();
}

}  // namespace lstmrt::test
