// lstmrt-bench timing: repeated runs of one forward pass, warm-up first, the run count adapted to
// a time budget. GPU passes are timed with CUDA events on the stream; CPU passes with
// std::chrono::steady_clock. Setup (creation, weight upload, reserve, allocation, input upload)
// happens before the timed region.
#pragma once

#include <functional>
#include <vector>

namespace lstmrt::bench {

struct TimingSettings {
  int warmup = 5;            // untimed runs first
  int min_runs = 10;         // timed runs: at least this many ...
  int max_runs = 200;        // ... at most this many ...
  double budget_ms = 300.0;  // ... aiming to spend about this long per backend and shape
};

// How many timed runs fit the budget given one run's estimated time, clamped to [min, max].
int planned_runs(const TimingSettings& settings, double estimate_ms);

// Times `run` on the host clock (the reference backend computes before returning).
// Returns one sample per timed run, in milliseconds.
std::vector<double> time_on_host(const std::function<void()>& run, const TimingSettings& settings);

}  // namespace lstmrt::bench
