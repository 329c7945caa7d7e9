// lstmrt-bench: the work a shape needs and the fastest it could possibly run
// (../shared/design/performance.md, "Floors").
//
//   FLOPs per layer l and direction = 2·4H·(I_l + H_out)·N·T  (+ 2·P·H·N·T with a projection),
//     I_l = I for layer 0 and D·H_out above; summed over L layers and D directions.
//   Bytes >= weights once + x once + outputs once, at the precision's storage size: weights are
//     w_ih, w_hh, both biases and w_hr of every layer and direction; outputs are y (T, N, D·H_out)
//     and h_n (L·D, N, H_out), c_n (L·D, N, H) — the bench requests all three.
//   Floor time = max(FLOPs / measured GEMM rate, bytes / measured copy bandwidth).
#pragma once

#include <map>

#include "config.hpp"

namespace lstmrt::bench {

double shape_flops(const Shape& s);
double shape_min_bytes(const Shape& s);

// Ceilings measured once per run on the GPU (cuBLAS GEMM rate per precision, device-to-device
// copy bandwidth counting bytes read plus bytes written). Zero = not measured.
struct Ceilings {
  std::map<Numerics, double> gemm_flops_per_s;
  double copy_bytes_per_s = 0.0;
};

// Seconds; NaN when a needed ceiling was not measured.
double floor_seconds(const Shape& s, const Ceilings& c);

}  // namespace lstmrt::bench
