// Index arithmetic and per-element math shared by the host device and the CUDA kernels (so the
// CPU tests check what the GPU runs).
//   state pool   (slots, R, W): element (slot, r, w) at (slot·R + r)·W + w
//   state batch  (R, N, W):     element (r, n, w)    at (r·N + n)·W + w     (lstmrt's h/c layout)
#pragma once

#include <cstddef>

#if defined(__CUDACC__)
#define LSTMRT_SERVING_HD __host__ __device__
#else
#define LSTMRT_SERVING_HD
#endif

namespace lstmrt::serving {

LSTMRT_SERVING_HD inline std::size_t pool_index(std::size_t slot, std::size_t r, std::size_t w, std::size_t R,
                                                std::size_t W) {
  return (slot * R + r) * W + w;
}

LSTMRT_SERVING_HD inline std::size_t batch_index(std::size_t r, std::size_t n, std::size_t w, std::size_t N,
                                                 std::size_t W) {
  return (r * N + n) * W + w;
}

// Keras Bidirectional merge modes other than concat (1 = sum, 2 = average, 3 = multiply; the
// values of lstmrt::MergeMode's enumerators after kConcat).
LSTMRT_SERVING_HD inline float merge_value(int mode, float forward, float reverse) {
  switch (mode) {
    case 1: return forward + reverse;
    case 2: return 0.5f * (forward + reverse);
    default: return forward * reverse;
  }
}

}  // namespace lstmrt::serving
