// Internal: the one autotuner of the GPU backends. Given `count` candidates (cuDNN algorithms,
// fused kernel variants, ...) and a callback that enqueues one run of candidate i on a stream, it
// times each candidate on a private stream — one untimed warm-up run, then kAutotuneTimedRuns runs
// timed with CUDA events, the candidate's time being their median — drops candidates that fail,
// and returns every candidate's time, the ranking and the fastest.
//
// Usage (a backend's reserve(); the current device is the backend's, inputs already on it):
//
//   detail::AutotuneCandidates c;
//   c.count = static_cast<int>(variants.size());
//   c.run = [&](int i, cudaStream_t s) { forced_ = variants[i]; forward(req, s); };
//   c.check = [&](int) { check_persistent_status(); };       // optional: after each run completed
//   c.recover = [&](int) { clear_status_word(); };           // optional: after a dropped failure
//   c.skips = [](const Error& e) { return e.code() == ErrorCode::kUnsupported; };  // optional
//   const detail::AutotuneResult r = detail::autotune(c);    // forced_ is the caller's to reset
//   if (r.fastest) measured_[shape] = variants[*r.fastest];
//
// A failure is an lstmrt::Error thrown by run or check. By default every Error drops the
// candidate; `skips` narrows that (an Error it rejects propagates at once). After a dropped
// failure the autotuner discards a launch error the candidate left pending, waits for its stream
// (a device failure there, e.g. a sticky fault, propagates as kCudaError) and then calls
// `recover`. Any other exception propagates. The stream and events are destroyed on every path.
#pragma once

#include <cuda_runtime_api.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "lstmrt/error.hpp"

namespace lstmrt::detail {

// Timed runs per candidate after its warm-up; odd, so the median is one measured run.
inline constexpr int kAutotuneTimedRuns = 5;
static_assert(kAutotuneTimedRuns % 2 == 1, "the median of an odd count is one measured run");

struct AutotuneResult {
  // Per candidate: the median of its timed runs in milliseconds; empty when it was dropped.
  std::vector<std::optional<float>> milliseconds;
  // Per candidate: the message of the Error that dropped it; empty when it was timed.
  std::vector<std::string> failures;
  // The timed candidates, fastest first; equal times keep candidate order.
  std::vector<int> ranking;
  // ranking.front(): the fastest (on a tie the lowest index); empty when none was timed.
  std::optional<int> fastest;
};

// ---- the statistic and the selection (host only) -------------------------------------------------
// The median of `samples` (the mean of the middle two for an even count). Throws kInternal for
// no samples or a sample that is not a finite, non-negative time.
float median_milliseconds(std::vector<float> samples);
// The result for per-candidate times (empty: dropped, with `failures[i]` its reason; `failures` may be
// empty for none). Throws kInternal for a time that is not finite and non-negative, or for
// `failures` of another size.
AutotuneResult select_fastest(std::vector<std::optional<float>> milliseconds, std::vector<std::string> failures = {});

// ---- the loop ----------------------------------------------------------------------------------------
struct AutotuneCandidates {
  int count = 0;
  // Enqueues one run of `candidate` on `stream` (required).
  std::function<void(int candidate, cudaStream_t stream)> run;
  // Optional: called after each run of `candidate` has completed on the device (warm-up included);
  // an Error it throws is that candidate's failure.
  std::function<void(int candidate)> check;
  // Optional: whether an Error drops the candidate (true) or propagates (false); default: drops.
  std::function<bool(const Error&)> skips;
  // Optional: called after a dropped failure of `candidate`, once its stream is idle.
  std::function<void(int candidate)> recover;
};

// Where the loop runs and how it measures: CUDA events on a private stream (autotune below), or a
// fake clock in the CPU tests.
class AutotuneClock {
 public:
  virtual ~AutotuneClock() = default;
  virtual cudaStream_t stream() = 0;
  virtual void start() = 0;        // marks the start of a timed run on stream()
  virtual float stop() = 0;        // marks its end, waits for it; milliseconds since start()
  virtual void synchronize() = 0;  // waits for everything enqueued on stream()
  virtual void settle() = 0;       // after a failed candidate: discards its pending launch error, synchronises
};

// Times candidates 0 .. count-1 in order against `clock`. Throws kInternal for a negative count or
// no run callback (before running anything).
AutotuneResult autotune(const AutotuneCandidates& candidates, AutotuneClock& clock);

// The same on a private non-blocking stream of the current device, timed with CUDA events (every
// CUDA call checked: a failure to create or destroy them throws kCudaError). Synchronises.
AutotuneResult autotune(const AutotuneCandidates& candidates);

}  // namespace lstmrt::detail
