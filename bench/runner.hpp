// lstmrt-bench: runs a list of shapes through every requested backend and variant that can serve
// them — check once against the reference, then time — and returns one Row per attempt. A fused
// row's variant is the requested kernel (auto, stepwise, persistent, cluster) and its plan the
// backend's execution_plan for the shape (what actually ran: a persistent request that cannot
// serve the shape falls back to stepwise and says so).
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "config.hpp"
#include "report.hpp"
#include "timing.hpp"

namespace lstmrt::bench {

struct BenchOptions {
  // Backends to try (fused with a kernel variant: fused:stepwise, fused:persistent, fused:cluster;
  // plain fused = auto). Empty = fused and cudnn with a GPU, reference without.
  std::vector<BackendChoice> backends;
  std::vector<CudnnAlgo> cudnn_algos = {CudnnAlgo::kStandard, CudnnAlgo::kPersistStatic,
                                        CudnnAlgo::kPersistStaticSmallH, CudnnAlgo::kPersistDynamic};
  TimingSettings gpu_timing{5, 20, 500, 300.0};
  TimingSettings cpu_timing{1, 3, 50, 500.0};
  double cpu_max_flops = 1e9;    // the reference is timed only on shapes up to this many FLOPs
  double check_max_flops = 1e9;  // the reference check runs the first steps that fit this budget
  std::uint64_t seed = 1;
  int device = 0;
  bool use_gpu = true;   // false: behave as if no GPU were present
  bool progress = true;  // a progress line per attempt on the progress stream
};

struct BenchResult {
  RunInfo info;
  std::vector<Row> rows;
  bool gpu = false;  // a GPU was used
  int failures = 0;  // rows with status mismatch or error
};

// Steps of the reference check for `s`: all of them when the shape's FLOPs fit `max_flops`, else
// as many leading steps as fit (at least 1). Returned rows report it as check_steps.
int check_steps_for(const Shape& s, double max_flops);

// Lstm::execution_plan's lines (one per layer) on one line, joined by "; ", blank lines dropped.
std::string plan_summary(const std::string& plan);

// Why no GPU is used, or "" when one is.
std::string gpu_absence_reason(const BenchOptions& options);

BenchResult run_benchmark(const std::vector<Shape>& shapes, const BenchOptions& options, std::ostream& progress);

}  // namespace lstmrt::bench
