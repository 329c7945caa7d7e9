// lstmrt-bench: summary statistics of repeated timings.
#pragma once

#include <vector>

namespace lstmrt::bench {

struct Summary {
  int count = 0;
  double median = 0, p10 = 0, p90 = 0, min = 0, max = 0, mean = 0;
};

// Percentile q in [0, 100] with linear interpolation between order statistics (numpy's default):
// position q/100·(n−1) in the sorted samples. Throws kInvalidArgument on no samples or q outside.
double percentile(std::vector<double> samples, double q);
Summary summarize(const std::vector<double>& samples);

}  // namespace lstmrt::bench
