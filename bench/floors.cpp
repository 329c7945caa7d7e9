// Floor arithmetic for lstmrt-bench (formulas in floors.hpp).
#include "floors.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "common/elements.hpp"

namespace lstmrt::bench {

double shape_flops(const Shape& s) {
  const ModelDesc desc = model_desc(s);
  const double H = s.hidden, P = s.proj, H_out = desc.output_size();
  const double steps_rows = static_cast<double>(s.batch) * s.steps;
  double flops = 0.0;
  for (int layer = 0; layer < s.layers; ++layer) {
    const double per_direction = 2.0 * 4.0 * H * (desc.layer_input_size(layer) + H_out) * steps_rows +
                                 (s.proj > 0 ? 2.0 * P * H * steps_rows : 0.0);
    flops += per_direction * s.directions;
  }
  return flops;
}

double shape_min_bytes(const Shape& s) {
  const ModelDesc desc = model_desc(s);
  const double H = s.hidden, H_out = desc.output_size(), D = s.directions;
  double weights = 0.0;
  for (int layer = 0; layer < s.layers; ++layer)
    weights += D * (4.0 * H * (desc.layer_input_size(layer) + H_out) + 8.0 * H + (s.proj > 0 ? s.proj * H : 0.0));
  const double steps_rows = static_cast<double>(s.batch) * s.steps;
  const double x = steps_rows * s.input;
  const double y = steps_rows * D * H_out;
  const double states = static_cast<double>(s.layers) * D * s.batch * (H_out + H);
  return static_cast<double>(detail::element_bytes(s.numerics.type)) * (weights + x + y + states);
}

double floor_seconds(const Shape& s, const Ceilings& c) {
  const auto rate = c.gemm_flops_per_s.find(s.numerics);
  if (rate == c.gemm_flops_per_s.end() || rate->second <= 0.0 || c.copy_bytes_per_s <= 0.0)
    return std::numeric_limits<double>::quiet_NaN();
  return std::max(shape_flops(s) / rate->second, shape_min_bytes(s) / c.copy_bytes_per_s);
}

}  // namespace lstmrt::bench
