// Summary statistics for lstmrt-bench timings.
#include "stats.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "common/check.hpp"

namespace lstmrt::bench {

double percentile(std::vector<double> samples, double q) {
  if (samples.empty()) detail::invalid("percentile of no samples: expected at least one");
  if (!(q >= 0.0 && q <= 100.0)) detail::invalid("percentile {}: expected 0..100", q);
  std::sort(samples.begin(), samples.end());
  const double position = q / 100.0 * static_cast<double>(samples.size() - 1);
  const std::size_t below = static_cast<std::size_t>(std::floor(position));
  const std::size_t above = std::min(below + 1, samples.size() - 1);
  const double weight = position - static_cast<double>(below);
  return samples[below] + weight * (samples[above] - samples[below]);
}

Summary summarize(const std::vector<double>& samples) {
  if (samples.empty()) detail::invalid("summary of no samples: expected at least one");
  Summary s;
  s.count = static_cast<int>(samples.size());
  s.median = percentile(samples, 50.0);
  s.p10 = percentile(samples, 10.0);
  s.p90 = percentile(samples, 90.0);
  s.min = *std::min_element(samples.begin(), samples.end());
  s.max = *std::max_element(samples.begin(), samples.end());
  s.mean = std::accumulate(samples.begin(), samples.end(), 0.0) / samples.size();
  return s;
}

}  // namespace lstmrt::bench
