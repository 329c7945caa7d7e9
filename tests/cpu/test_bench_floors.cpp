// lstmrt-bench arithmetic: FLOP and byte floors on performance.md's examples, statistics, run
// planning, buffer rotation, and the host timer.
#include <gtest/gtest.h>

#include <cmath>

#include "bench/floors.hpp"
#include "bench/gpu.hpp"
#include "bench/runner.hpp"
#include "bench/stats.hpp"
#include "bench/timing.hpp"

namespace lstmrt::bench {
namespace {

TEST(BenchFloors, LargeBatchExampleIs429Point5Gflop) {
  // performance.md: N=256, H=I=1024, T=100 → 429.5 GFLOP; 0.43 ms bf16 (~990 TFLOP/s dense),
  // 0.87 ms TF32 (495), 6.4 ms fp32 (67) at peak.
  Shape s{256, 100, 1024, 1024, 0, 1, 1, Numerics{DataType::kBFloat16}};
  EXPECT_DOUBLE_EQ(shape_flops(s), 2.0 * 4 * 1024 * (1024 + 1024) * 256 * 100);
  EXPECT_NEAR(shape_flops(s) / 1e9, 429.5, 0.05);
  Ceilings c;
  c.copy_bytes_per_s = 4.3e12;
  c.gemm_flops_per_s = {{Numerics{DataType::kBFloat16}, 990e12},
                        {Numerics{DataType::kFloat32, MathMode::kTF32}, 495e12},
                        {Numerics{DataType::kFloat32}, 67e12}};
  EXPECT_NEAR(floor_seconds(s, c) * 1e3, 0.43, 0.005);
  s.numerics = Numerics{DataType::kFloat32, MathMode::kTF32};
  EXPECT_NEAR(floor_seconds(s, c) * 1e3, 0.87, 0.005);
  s.numerics = Numerics{DataType::kFloat32};
  EXPECT_NEAR(floor_seconds(s, c) * 1e3, 6.4, 0.05);
}

TEST(BenchFloors, SmallBatchIsBoundByReadingTheWeights) {
  // N=1, H=I=1024, T=100, fp32: W_hh alone is 16.8 MB; all weights + x + y + states once.
  const Shape s{1, 100, 1024, 1024, 0, 1, 1, Numerics{DataType::kFloat32}};
  const double weights = 4.0 * 1024 * (1024 + 1024) + 8.0 * 1024;
  const double x = 100.0 * 1024, y = 100.0 * 1024, states = 1024.0 + 1024.0;
  EXPECT_DOUBLE_EQ(shape_min_bytes(s), 4.0 * (weights + x + y + states));
  EXPECT_GT(shape_min_bytes(s), 4.0 * 4 * 1024 * 1024);  // at least W_hh, 16.8 MB
  Ceilings c;
  c.copy_bytes_per_s = 4.3e12;
  c.gemm_flops_per_s = {{Numerics{DataType::kFloat32}, 67e12}};
  // 1.68 GFLOP / 67 TFLOP/s = 25 µs, but 33.6 MB / 4.3 TB/s = 7.8 µs: compute-bound at this rate.
  EXPECT_NEAR(floor_seconds(s, c), shape_flops(s) / 67e12, 1e-12);
  c.gemm_flops_per_s[Numerics{DataType::kFloat32}] = 1e16;  // a machine with unbounded math: bandwidth-bound
  EXPECT_NEAR(floor_seconds(s, c), shape_min_bytes(s) / 4.3e12, 1e-12);
}

TEST(BenchFloors, ProjectionStackingAndDirectionsCount) {
  // L=2, D=2, I=24, H=32, P=16, N=3, T=5: layer 0 input I, layer 1 input D·P.
  const Shape s{3, 5, 24, 32, 16, 2, 2, Numerics{DataType::kFloat16}};
  const double NT = 15.0;
  const double layer0 = 2.0 * 4 * 32 * (24 + 16) * NT + 2.0 * 16 * 32 * NT;
  const double layer1 = 2.0 * 4 * 32 * (2 * 16 + 16) * NT + 2.0 * 16 * 32 * NT;
  EXPECT_DOUBLE_EQ(shape_flops(s), 2 * (layer0 + layer1));
  const double weights0 = 4.0 * 32 * (24 + 16) + 8.0 * 32 + 16.0 * 32;
  const double weights1 = 4.0 * 32 * (32 + 16) + 8.0 * 32 + 16.0 * 32;
  const double io = NT * 24 + NT * 2 * 16 + 2.0 * 2 * 3 * (16 + 32);
  EXPECT_DOUBLE_EQ(shape_min_bytes(s), 2.0 * (2 * weights0 + 2 * weights1 + io));
}

TEST(BenchFloors, NoCeilingNoFloor) {
  const Shape s{1, 2, 8, 8};
  EXPECT_TRUE(std::isnan(floor_seconds(s, Ceilings{})));
  Ceilings other_precision;
  other_precision.copy_bytes_per_s = 1e12;
  other_precision.gemm_flops_per_s = {{Numerics{DataType::kBFloat16}, 1e15}};
  EXPECT_TRUE(std::isnan(floor_seconds(s, other_precision)));  // s is fp32
}

TEST(BenchStats, PercentilesInterpolateLikeNumpy) {
  const std::vector<double> v = {7, 1, 10, 3, 2, 9, 4, 8, 6, 5};  // 1..10 shuffled
  EXPECT_DOUBLE_EQ(percentile(v, 50), 5.5);
  EXPECT_DOUBLE_EQ(percentile(v, 10), 1.9);  // numpy.percentile(range(1, 11), 10)
  EXPECT_DOUBLE_EQ(percentile(v, 90), 9.1);
  EXPECT_DOUBLE_EQ(percentile(v, 0), 1);
  EXPECT_DOUBLE_EQ(percentile(v, 100), 10);
  const Summary s = summarize({3.0, 1.0, 2.0});
  EXPECT_EQ(s.count, 3);
  EXPECT_DOUBLE_EQ(s.median, 2.0);
  EXPECT_DOUBLE_EQ(s.p10, 1.2);
  EXPECT_DOUBLE_EQ(s.p90, 2.8);
  EXPECT_DOUBLE_EQ(s.min, 1.0);
  EXPECT_DOUBLE_EQ(s.max, 3.0);
  EXPECT_DOUBLE_EQ(s.mean, 2.0);
  const Summary one = summarize({4.5});
  EXPECT_DOUBLE_EQ(one.median, 4.5);
  EXPECT_DOUBLE_EQ(one.p90, 4.5);
  EXPECT_THROW(summarize({}), Error);
  EXPECT_THROW(percentile({1.0}, 101), Error);
  EXPECT_THROW(percentile({1.0}, -1), Error);
}

TEST(BenchTiming, RunPlanningFitsTheBudget) {
  const TimingSettings t{2, 10, 200, 300.0};
  EXPECT_EQ(planned_runs(t, 1.0), 200);   // 300 would fit: capped
  EXPECT_EQ(planned_runs(t, 3.0), 100);   // 300 ms / 3 ms
  EXPECT_EQ(planned_runs(t, 100.0), 10);  // 3 fit: at least min_runs
  EXPECT_EQ(planned_runs(t, 0.0), 200);
}

TEST(BenchTiming, HostTimerRunsWarmupThenTimedRuns) {
  int calls = 0;
  const TimingSettings t{2, 4, 4, 1.0};
  const std::vector<double> samples = time_on_host([&] { ++calls; }, t);
  EXPECT_EQ(samples.size(), 4u);
  EXPECT_EQ(calls, 6);
  for (double ms : samples) EXPECT_GE(ms, 0.0);
}

TEST(BenchTiming, ReferenceCheckTruncatesLongSequencesToTheBudget) {
  const Shape s{256, 100, 1024, 1024, 0, 1, 1, Numerics{DataType::kBFloat16}};  // 4.29 GFLOP per step
  EXPECT_EQ(check_steps_for(s, 1e15), 100);
  EXPECT_EQ(check_steps_for(s, 10e9), 2);
  EXPECT_EQ(check_steps_for(s, 1.0), 1);  // never fewer than one step
}

TEST(BenchTiming, BufferRotationCoversTwiceTheL2WithinMemory) {
  const std::size_t MB = 1 << 20;
  EXPECT_EQ(rotation_count(10 * MB, 50 * MB, 100000 * MB), 8);   // 10 needed, capped at 8
  EXPECT_EQ(rotation_count(30 * MB, 50 * MB, 100000 * MB), 4);   // ceil(100 / 30)
  EXPECT_EQ(rotation_count(500 * MB, 50 * MB, 100000 * MB), 2);  // always at least 2
  EXPECT_EQ(rotation_count(10 * MB, 50 * MB, 160 * MB), 4);      // a quarter of 160 MB holds 4
}

}  // namespace
}  // namespace lstmrt::bench
