// Host-clock timing for lstmrt-bench (the CUDA-event timing is in gpu.cpp).
#include "timing.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace lstmrt::bench {

int planned_runs(const TimingSettings& settings, double estimate_ms) {
  const double fit = estimate_ms > 0.0 ? std::floor(settings.budget_ms / estimate_ms) : settings.max_runs;
  return static_cast<int>(std::clamp<double>(fit, settings.min_runs, std::max(settings.min_runs, settings.max_runs)));
}

std::vector<double> time_on_host(const std::function<void()>& run, const TimingSettings& settings) {
  using clock = std::chrono::steady_clock;
  auto elapsed_ms = [](clock::time_point a, clock::time_point b) {
    return std::chrono::duration<double, std::milli>(b - a).count();
  };
  double estimate = 0.0;
  for (int i = 0; i < std::max(settings.warmup, 1); ++i) {
    const auto start = clock::now();
    run();
    estimate = elapsed_ms(start, clock::now());
  }
  const int runs = planned_runs(settings, estimate);
  std::vector<double> samples;
  samples.reserve(runs);
  for (int i = 0; i < runs; ++i) {
    const auto start = clock::now();
    run();
    samples.push_back(elapsed_ms(start, clock::now()));
  }
  return samples;
}

}  // namespace lstmrt::bench
