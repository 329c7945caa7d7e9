// lstmrt-bench: the performance targets of the persistent kernels, checked against the rows of
// one run (lstmrt rows, and torch rows when torch_compare.py's CSV is read in beside them).
//
// A target covers a set of shapes (one layer, one direction, no projection; batch, hidden and steps
// ranges; precisions) and asks, of the FASTEST fused row of each covered shape (any kernel variant:
// auto, stepwise, persistent, cluster; status ok), for a time per step at most max_us_per_step
// and/or a speed-up of at least min_vs_cudnn over the best cudnn algorithm of the same shape and
// run (cudnn median / fused median) and min_vs_torch over the best torch.nn.LSTM row (plain or
// CUDA graph). A criterion whose comparison rows are absent (no GPU, cuDNN refused every
// algorithm, no torch rows) is "owed", not met: the verdict is then owed unless another criterion
// already missed.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "config.hpp"
#include "report.hpp"

namespace lstmrt::bench {

struct Target {
  std::string name;  // "n1-h1024", "small-batch", "cluster"
  std::string goal;  // what the target asks, in words, for the report
  int batch_min = 1, batch_max = 1 << 30;
  int hidden_min = 1, hidden_max = 1 << 30;
  int steps = 0;                   // 0: any
  std::vector<Numerics> numerics;  // empty: any
  double max_us_per_step = 0;      // 0: no time criterion
  double min_vs_cudnn = 0;         // 0: no cuDNN criterion
  double min_vs_torch = 0;         // 0: no torch criterion
  bool covers(const Shape& s) const;
};

// The persistent kernels' targets on an H200 (against cuDNN's best and torch.nn.LSTM's best).
const std::vector<Target>& persistent_targets();

struct TargetResult {
  std::string target;  // Target::name
  Shape shape;
  std::string verdict;                    // "met", "missed", "owed"
  std::string fused_variant, fused_plan;  // the fastest fused row (empty: none timed)
  double fused_us_per_step = 0;           // NaN when there is no fused row
  double cudnn_best_us_per_step = 0;      // NaN: no cudnn row
  std::string cudnn_best_algo;
  double torch_best_us_per_step = 0;  // NaN: no torch row
  double vs_cudnn = 0, vs_torch = 0;  // speed-ups (> 1: fused faster); NaN when not measurable
  std::string note;                   // which criterion missed or is owed, and why
};

// One result per (target, covered shape that occurs in `rows`), in target then row order.
std::vector<TargetResult> evaluate_targets(const std::vector<Target>& targets, const std::vector<Row>& rows);

// "targets: 3 met, 1 missed, 2 owed" and a line per result; nothing when `results` is empty.
void print_targets(std::ostream& out, const std::vector<TargetResult>& results);
const std::vector<std::string>& target_csv_columns();
void write_targets_csv(std::ostream& out, const std::vector<TargetResult>& results);

}  // namespace lstmrt::bench
