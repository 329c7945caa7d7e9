// The autotuner (src/common/autotune.hpp) on the CPU: the statistic, the selection (ties, dropped
// candidates), and the loop against a fake clock that logs every call and measures only the work
// enqueued between start() and stop().
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/autotune.hpp"
#include "common/expect_error.hpp"
#include "lstmrt/lstm.hpp"

namespace lstmrt {
namespace {

using detail::AutotuneCandidates;
using detail::AutotuneResult;
using detail::kAutotuneTimedRuns;
using test::expect_error;

// ---- the statistic -----------------------------------------------------------------------------------

TEST(AutotuneStatistic, MedianOfAnOddCountIsTheMiddleWhateverTheOrder) {
  EXPECT_EQ(detail::median_milliseconds({4.0f}), 4.0f);
  std::vector<float> s = {0.5f, 9.0f, 1.25f, 1.0f, 50.0f};
  std::sort(s.begin(), s.end());
  do {
    EXPECT_EQ(detail::median_milliseconds(s), 1.25f);
  } while (std::next_permutation(s.begin(), s.end()));
  EXPECT_EQ(detail::median_milliseconds({0.0f, 0.0f, 3.0f}), 0.0f);  // zero is a time
}

TEST(AutotuneStatistic, MedianOfAnEvenCountIsTheMeanOfTheMiddleTwo) {
  EXPECT_EQ(detail::median_milliseconds({7.0f, 1.0f, 100.0f, 3.0f}), 5.0f);
  EXPECT_EQ(detail::median_milliseconds({2.0f, 1.0f}), 1.5f);
}

TEST(AutotuneStatistic, NoSamplesOrANonTimeIsAnInternalError) {
  expect_error([] { detail::median_milliseconds({}); }, ErrorCode::kInternal, {"no timed runs"});
  for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(), -0.5f})
    expect_error(
        [&] {
          detail::median_milliseconds({1.0f, bad, 2.0f});
        },
        ErrorCode::kInternal, {"a timed run measured", "expected a finite, non-negative time"});
}

// ---- the selection -----------------------------------------------------------------------------------

TEST(AutotuneSelection, FastestFirstEqualTimesKeepCandidateOrder) {
  const AutotuneResult r = detail::select_fastest({3.0f, 1.5f, 3.0f, 0.25f});
  EXPECT_EQ(r.ranking, (std::vector<int>{3, 1, 0, 2}));
  ASSERT_TRUE(r.fastest);
  EXPECT_EQ(*r.fastest, 3);
  ASSERT_EQ(r.milliseconds.size(), 4u);
  EXPECT_EQ(*r.milliseconds[2], 3.0f);
  EXPECT_EQ(r.failures, std::vector<std::string>(4));
}

TEST(AutotuneSelection, ATieForFastestGoesToTheLowestIndex) {
  const AutotuneResult r = detail::select_fastest({2.0f, 1.0f, 5.0f, 1.0f, 1.0f});
  ASSERT_TRUE(r.fastest);
  EXPECT_EQ(*r.fastest, 1);
  EXPECT_EQ(r.ranking, (std::vector<int>{1, 3, 4, 0, 2}));
}

TEST(AutotuneSelection, DroppedCandidatesAreLeftOutButKeepTheirPlace) {
  const AutotuneResult r = detail::select_fastest({std::nullopt, 4.0f, std::nullopt, 2.0f}, {"a", "", "c", ""});
  EXPECT_EQ(r.ranking, (std::vector<int>{3, 1}));
  EXPECT_EQ(*r.fastest, 3);
  EXPECT_FALSE(r.milliseconds[0]);
  EXPECT_EQ(r.failures, (std::vector<std::string>{"a", "", "c", ""}));
}

TEST(AutotuneSelection, NoneTimedMeansNoFastest) {
  const AutotuneResult all_dropped = detail::select_fastest({std::nullopt, std::nullopt});
  EXPECT_FALSE(all_dropped.fastest);
  EXPECT_TRUE(all_dropped.ranking.empty());
  EXPECT_EQ(all_dropped.milliseconds.size(), 2u);
  const AutotuneResult none = detail::select_fastest({});
  EXPECT_FALSE(none.fastest);
  EXPECT_TRUE(none.ranking.empty());
}

TEST(AutotuneSelection, BadTimesOrMismatchedFailuresAreInternalErrors) {
  expect_error(
      [] {
        detail::select_fastest({1.0f, std::numeric_limits<float>::quiet_NaN()});
      },
      ErrorCode::kInternal, {"candidate 1 measured nan ms", "expected a finite, non-negative time"});
  expect_error([] { detail::select_fastest({1.0f, -1.0f}); }, ErrorCode::kInternal, {"candidate 1 measured -1 ms"});
  expect_error(
      [] {
        detail::select_fastest({1.0f, 2.0f}, {"x"});
      },
      ErrorCode::kInternal, {"1 failure messages for 2 candidates"});
}

// ---- the loop ----------------------------------------------------------------------------------------

// Measures the work "enqueued" (advance) between start() and stop(); logs every call.
class FakeClock final : public detail::AutotuneClock {
 public:
  cudaStream_t stream() override { return kStream; }
  void start() override {
    log.push_back("start");
    pending_ = 0.0f;
    timing_ = true;
  }
  float stop() override {
    log.push_back("stop");
    EXPECT_TRUE(timing_) << "stop() without start()";
    timing_ = false;
    return pending_;
  }
  void synchronize() override { log.push_back("sync"); }
  void settle() override {
    log.push_back("settle");
    timing_ = false;
    if (settle_fails) throw Error(ErrorCode::kCudaError, "cudaStreamSynchronize failed: sticky");
  }
  void advance(float ms) { pending_ += ms; }

  static inline const cudaStream_t kStream = reinterpret_cast<cudaStream_t>(std::uintptr_t{0x5a5a0});
  std::vector<std::string> log;
  bool settle_fails = false;

 private:
  float pending_ = 0.0f;
  bool timing_ = false;
};

// Candidates whose r-th run (0: warm-up) costs cost[i][r] ms; throw[i] == r makes that run fail.
struct Script {
  std::vector<std::vector<float>> cost;
  std::vector<int> throw_at;  // -1: never
  ErrorCode code = ErrorCode::kUnsupported;
};

AutotuneCandidates scripted(const Script& s, FakeClock& clock) {
  auto runs = std::make_shared<std::vector<int>>(s.cost.size(), 0);
  AutotuneCandidates c;
  c.count = static_cast<int>(s.cost.size());
  c.run = [&s, &clock, runs](int i, cudaStream_t stream) {
    EXPECT_EQ(stream, FakeClock::kStream) << "a candidate ran off the autotuner's stream";
    const int r = (*runs)[i]++;
    clock.log.push_back("run " + std::to_string(i));
    if (!s.throw_at.empty() && s.throw_at[i] == r) throw Error(s.code, "candidate " + std::to_string(i) + " refused");
    clock.advance(s.cost[i][r]);
  };
  c.check = [&clock](int i) { clock.log.push_back("check " + std::to_string(i)); };
  c.recover = [&clock](int i) { clock.log.push_back("recover " + std::to_string(i)); };
  return c;
}

std::vector<float> flat(float warm_up, float ms) {
  std::vector<float> v(1 + kAutotuneTimedRuns, ms);
  v[0] = warm_up;
  return v;
}

// The log of one candidate timed in full.
std::vector<std::string> timed_log(int i) {
  const std::string run = "run " + std::to_string(i), check = "check " + std::to_string(i);
  std::vector<std::string> log = {run, "sync", check};
  for (int t = 0; t < kAutotuneTimedRuns; ++t) log.insert(log.end(), {"start", run, "stop", check});
  return log;
}

TEST(AutotuneLoop, WarmUpUntimedThenTheTimedRunsEachChecked) {
  FakeClock clock;
  Script s{{flat(1000.0f, 2.0f), flat(1000.0f, 1.0f)}, {}};
  const AutotuneResult r = detail::autotune(scripted(s, clock), clock);
  std::vector<std::string> expected = timed_log(0);
  const std::vector<std::string> second = timed_log(1);
  expected.insert(expected.end(), second.begin(), second.end());
  EXPECT_EQ(clock.log, expected);
  // The warm-up's 1000 ms is in no time.
  EXPECT_EQ(*r.milliseconds[0], 2.0f);
  EXPECT_EQ(*r.milliseconds[1], 1.0f);
  EXPECT_EQ(*r.fastest, 1);
  EXPECT_EQ(r.ranking, (std::vector<int>{1, 0}));
}

TEST(AutotuneLoop, TheStatisticIsTheMedianNotTheMinimumNorTheMean) {
  static_assert(kAutotuneTimedRuns == 5, "the samples below are five per candidate");
  FakeClock clock;
  // 0: steady 1.0. 1: two lucky runs (min 0.1) but median 5. 2: one outlier (mean 21.6), median 2.
  // 3: steady 3 (beats 2 on the mean).
  Script s{{{9, 1, 1, 1, 1, 1}, {9, 0.1f, 5, 0.2f, 5, 5}, {9, 2, 2, 100, 2, 2}, {9, 3, 3, 3, 3, 3}}, {}};
  const AutotuneResult r = detail::autotune(scripted(s, clock), clock);
  EXPECT_EQ(*r.milliseconds[0], 1.0f);
  EXPECT_EQ(*r.milliseconds[1], 5.0f);
  EXPECT_EQ(*r.milliseconds[2], 2.0f);
  EXPECT_EQ(*r.milliseconds[3], 3.0f);
  EXPECT_EQ(r.ranking, (std::vector<int>{0, 2, 3, 1}));
}

TEST(AutotuneLoop, AFailureAtWarmUpOrATimedRunDropsTheCandidateSettlesThenRecovers) {
  for (int at : {0, 1, kAutotuneTimedRuns}) {
    FakeClock clock;
    Script s{{flat(5, 4.0f), flat(5, 0.5f), flat(5, 3.0f)}, {-1, at, -1}};
    const AutotuneResult r = detail::autotune(scripted(s, clock), clock);
    EXPECT_FALSE(r.milliseconds[1]) << "failure at run " << at;
    EXPECT_EQ(r.failures[1], "candidate 1 refused");
    EXPECT_TRUE(r.failures[0].empty());
    EXPECT_EQ(r.ranking, (std::vector<int>{2, 0}));
    EXPECT_EQ(*r.fastest, 2);
    // Candidate 1's log ends with its failing run, then settle, then recover; 2 is timed in full.
    std::vector<std::string> expected = timed_log(0);
    const std::vector<std::string> one = timed_log(1);
    const std::size_t upto = at == 0 ? 1 : 3 + 4 * (at - 1) + 2;  // through the failing "run 1"
    expected.insert(expected.end(), one.begin(), one.begin() + static_cast<std::ptrdiff_t>(upto));
    expected.insert(expected.end(), {"settle", "recover 1"});
    const std::vector<std::string> two = timed_log(2);
    expected.insert(expected.end(), two.begin(), two.end());
    EXPECT_EQ(clock.log, expected) << "failure at run " << at;
  }
}

TEST(AutotuneLoop, AFailingCheckDropsTheCandidate) {
  FakeClock clock;
  Script s{{flat(1, 1.0f), flat(1, 2.0f)}, {}};
  AutotuneCandidates c = scripted(s, clock);
  int checks = 0;
  c.check = [&](int i) {
    clock.log.push_back("check " + std::to_string(i));
    if (i == 0 && ++checks == 3) throw Error(ErrorCode::kCudaError, "persistent block gave up");
  };
  const AutotuneResult r = detail::autotune(c, clock);
  EXPECT_FALSE(r.milliseconds[0]);
  EXPECT_EQ(r.failures[0], "persistent block gave up");
  EXPECT_EQ(*r.fastest, 1);
  EXPECT_NE(std::find(clock.log.begin(), clock.log.end(), "recover 0"), clock.log.end());
}

TEST(AutotuneLoop, AnErrorSkipsRejectsPropagatesAtOnce) {
  FakeClock clock;
  Script s{{flat(1, 1.0f), flat(1, 2.0f), flat(1, 3.0f)}, {-1, 2, -1}, ErrorCode::kCudaError};
  AutotuneCandidates c = scripted(s, clock);
  c.skips = [](const Error& e) { return e.code() == ErrorCode::kUnsupported; };
  expect_error([&] { detail::autotune(c, clock); }, ErrorCode::kCudaError, {"candidate 1 refused"});
  for (const std::string& entry : clock.log) {
    EXPECT_NE(entry, "run 2") << "a candidate ran after a failure that propagates";
    EXPECT_NE(entry, "settle");
    EXPECT_NE(entry, "recover 1");
  }
}

TEST(AutotuneLoop, ByDefaultEveryErrorDropsButOtherExceptionsPropagate) {
  {
    FakeClock clock;
    Script s{{flat(1, 1.0f), flat(1, 2.0f)}, {0, -1}, ErrorCode::kCudaError};
    const AutotuneResult r = detail::autotune(scripted(s, clock), clock);
    EXPECT_FALSE(r.milliseconds[0]);
    EXPECT_EQ(*r.fastest, 1);
  }
  FakeClock clock;
  Script s{{flat(1, 1.0f), flat(1, 2.0f)}, {}};
  AutotuneCandidates c = scripted(s, clock);
  c.run = [](int, cudaStream_t) { throw std::runtime_error("not an lstmrt error"); };
  EXPECT_THROW(detail::autotune(c, clock), std::runtime_error);
}

TEST(AutotuneLoop, ADeviceFailureWhileSettlingPropagatesWithoutRecovery) {
  FakeClock clock;
  clock.settle_fails = true;
  Script s{{flat(1, 1.0f), flat(1, 2.0f)}, {1, -1}};
  expect_error([&] { detail::autotune(scripted(s, clock), clock); }, ErrorCode::kCudaError, {"sticky"});
  EXPECT_EQ(clock.log.back(), "settle");
}

TEST(AutotuneLoop, EveryCandidateDroppedMeansNoFastest) {
  FakeClock clock;
  Script s{{flat(1, 1.0f), flat(1, 2.0f)}, {0, 3}};
  const AutotuneResult r = detail::autotune(scripted(s, clock), clock);
  EXPECT_FALSE(r.fastest);
  EXPECT_TRUE(r.ranking.empty());
  EXPECT_EQ(r.failures, (std::vector<std::string>{"candidate 0 refused", "candidate 1 refused"}));
}

TEST(AutotuneLoop, OptionalCallbacksMayBeAbsent) {
  FakeClock clock;
  Script s{{flat(1, 2.0f), flat(1, 1.0f), flat(1, 3.0f)}, {-1, -1, 1}};
  AutotuneCandidates c = scripted(s, clock);
  c.check = nullptr;
  c.recover = nullptr;
  const AutotuneResult r = detail::autotune(c, clock);
  EXPECT_EQ(r.ranking, (std::vector<int>{1, 0}));
}

TEST(AutotuneLoop, NoCandidatesOrABadCallIsHandledBeforeAnythingRuns) {
  FakeClock clock;
  AutotuneCandidates none;
  none.run = [&](int, cudaStream_t) { clock.log.push_back("run"); };
  const AutotuneResult r = detail::autotune(none, clock);
  EXPECT_FALSE(r.fastest);
  EXPECT_TRUE(r.milliseconds.empty());

  AutotuneCandidates negative = none;
  negative.count = -1;
  expect_error([&] { detail::autotune(negative, clock); }, ErrorCode::kInternal,
               {"-1 candidates", "expected a count of zero or more"});

  AutotuneCandidates no_run;
  no_run.count = 2;
  expect_error([&] { detail::autotune(no_run, clock); }, ErrorCode::kInternal, {"no run callback for 2 candidates"});
  // The CUDA overload checks the call before it touches the device.
  expect_error([&] { detail::autotune(no_run); }, ErrorCode::kInternal, {"no run callback"});
  EXPECT_TRUE(clock.log.empty());
}

// The CUDA clock without a GPU: its stream cannot be created; nothing runs (on a GPU machine,
// tests/gpu/test_autotune_gpu.cpp covers it).
TEST(AutotuneCuda, WithoutAGpuFailsNamingTheCallBeforeAnyCandidateRuns) {
  if (gpu_available()) GTEST_SKIP() << "a GPU is present: tests/gpu/test_autotune_gpu.cpp times on it";
  AutotuneCandidates c;
  c.count = 2;
  int runs = 0;
  c.run = [&](int, cudaStream_t) { ++runs; };
  expect_error([&] { detail::autotune(c); }, ErrorCode::kCudaError, {"cudaStreamCreateWithFlags"});
  EXPECT_EQ(runs, 0);
}

}  // namespace
}  // namespace lstmrt
