// The autotuner (autotune.hpp): the statistic and the selection, the loop against a clock, and the
// clock of CUDA events on a private stream.
#include "common/autotune.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

#include "common/check.hpp"
#include "common/cuda_check.hpp"

namespace lstmrt::detail {
namespace {

bool is_time(float ms) { return std::isfinite(ms) && ms >= 0.0f; }

// A private non-blocking stream and two timing events of the current device. close() destroys them
// checked (the normal path); the destructor, reached only while an exception propagates, waits for
// the stream (so nothing of a candidate still runs when the caller frees its buffers) and destroys
// them best effort, clearing the error it may leave so the next checked call is not blamed.
class CudaEventClock final : public AutotuneClock {
 public:
  CudaEventClock() {
    try {
      LSTMRT_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
      LSTMRT_CUDA_CHECK(cudaEventCreate(&start_));
      LSTMRT_CUDA_CHECK(cudaEventCreate(&stop_));
    } catch (...) {
      release();  // the destructor does not run for a constructor that throws
      throw;
    }
  }
  ~CudaEventClock() override { release(); }
  CudaEventClock(const CudaEventClock&) = delete;
  CudaEventClock& operator=(const CudaEventClock&) = delete;

  cudaStream_t stream() override { return stream_; }
  void start() override { LSTMRT_CUDA_CHECK(cudaEventRecord(start_, stream_)); }
  float stop() override {
    LSTMRT_CUDA_CHECK(cudaEventRecord(stop_, stream_));
    LSTMRT_CUDA_CHECK(cudaEventSynchronize(stop_));
    float ms = 0.0f;
    LSTMRT_CUDA_CHECK(cudaEventElapsedTime(&ms, start_, stop_));
    return ms;
  }
  void synchronize() override { LSTMRT_CUDA_CHECK(cudaStreamSynchronize(stream_)); }
  void settle() override {
    // A launch error (bad configuration, too many resources) is the failed candidate's own, already
    // reported by its Error: read and cleared here. A sticky device error is not cleared by this
    // and the synchronisation reports it.
    (void)cudaGetLastError();
    synchronize();
  }

  // One handle at a time: those not yet destroyed when a call fails are the destructor's.
  void close() {
    LSTMRT_CUDA_CHECK(cudaEventDestroy(std::exchange(stop_, nullptr)));
    LSTMRT_CUDA_CHECK(cudaEventDestroy(std::exchange(start_, nullptr)));
    LSTMRT_CUDA_CHECK(cudaStreamDestroy(std::exchange(stream_, nullptr)));
  }

 private:
  void release() noexcept {
    if (stream_) (void)cudaStreamSynchronize(stream_);
    if (stop_) (void)cudaEventDestroy(stop_);
    if (start_) (void)cudaEventDestroy(start_);
    if (stream_) (void)cudaStreamDestroy(stream_);
    stream_ = nullptr, start_ = nullptr, stop_ = nullptr;
    (void)cudaGetLastError();
  }

  cudaStream_t stream_ = nullptr;
  cudaEvent_t start_ = nullptr, stop_ = nullptr;
};

void check_candidates(const AutotuneCandidates& c) {
  if (c.count < 0) fail(ErrorCode::kInternal, "autotune: {} candidates: expected a count of zero or more", c.count);
  if (!c.run) fail(ErrorCode::kInternal, "autotune: no run callback for {} candidates", c.count);
}

}  // namespace

float median_milliseconds(std::vector<float> samples) {
  if (samples.empty()) fail(ErrorCode::kInternal, "autotune: the median of no timed runs was asked for");
  for (float ms : samples)
    if (!is_time(ms))
      fail(ErrorCode::kInternal, "autotune: a timed run measured {} ms: expected a finite, non-negative time", ms);
  const std::size_t mid = samples.size() / 2;
  std::nth_element(samples.begin(), samples.begin() + mid, samples.end());
  if (samples.size() % 2 == 1) return samples[mid];
  const float upper = samples[mid];
  const float lower = *std::max_element(samples.begin(), samples.begin() + mid);
  return lower + (upper - lower) / 2.0f;
}

AutotuneResult select_fastest(std::vector<std::optional<float>> milliseconds, std::vector<std::string> failures) {
  if (failures.empty()) failures.resize(milliseconds.size());
  if (failures.size() != milliseconds.size())
    fail(ErrorCode::kInternal, "autotune: {} failure messages for {} candidates", failures.size(), milliseconds.size());
  AutotuneResult r;
  for (std::size_t i = 0; i < milliseconds.size(); ++i) {
    if (!milliseconds[i]) continue;
    if (!is_time(*milliseconds[i]))
      fail(ErrorCode::kInternal, "autotune: candidate {} measured {} ms: expected a finite, non-negative time", i,
           *milliseconds[i]);
    r.ranking.push_back(static_cast<int>(i));
  }
  std::stable_sort(r.ranking.begin(), r.ranking.end(),
                   [&](int a, int b) { return *milliseconds[a] < *milliseconds[b]; });
  if (!r.ranking.empty()) r.fastest = r.ranking.front();
  r.milliseconds = std::move(milliseconds);
  r.failures = std::move(failures);
  return r;
}

AutotuneResult autotune(const AutotuneCandidates& c, AutotuneClock& clock) {
  check_candidates(c);
  const auto n = static_cast<std::size_t>(c.count);
  std::vector<std::optional<float>> medians(n);
  std::vector<std::string> failures(n);
  std::vector<float> samples;
  samples.reserve(kAutotuneTimedRuns);
  for (int i = 0; i < c.count; ++i) {
    samples.clear();
    try {
      c.run(i, clock.stream());  // warm-up: first-use set-up (plans, graph capture) stays out of the timing
      clock.synchronize();
      if (c.check) c.check(i);
      for (int t = 0; t < kAutotuneTimedRuns; ++t) {
        clock.start();
        c.run(i, clock.stream());
        samples.push_back(clock.stop());
        if (c.check) c.check(i);
      }
    } catch (const Error& e) {
      if (c.skips && !c.skips(e)) throw;
      clock.settle();
      if (c.recover) c.recover(i);
      failures[i] = e.what();
      continue;
    }
    medians[i] = median_milliseconds(samples);
  }
  return select_fastest(std::move(medians), std::move(failures));
}

AutotuneResult autotune(const AutotuneCandidates& candidates) {
  check_candidates(candidates);
  CudaEventClock clock;
  AutotuneResult result = autotune(candidates, clock);
  clock.close();
  return result;
}

}  // namespace lstmrt::detail
