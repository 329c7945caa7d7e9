// lstmrt-bench on the GPU: the device, its ceilings (cuBLAS GEMM rate, copy bandwidth), and the
// CUDA-event timing of Lstm::forward on device buffers. Only called when a GPU is usable.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "config.hpp"
#include "floors.hpp"
#include "timing.hpp"

namespace lstmrt::bench {

struct GpuDevice {
  int ordinal = 0;
  std::string name;
  std::size_t l2_bytes = 0;
  std::size_t free_bytes = 0;
};
GpuDevice open_gpu(int ordinal);  // cudaSetDevice + properties; throws kCudaError

// GEMM rate per precision (n×n×n cuBLAS GEMM, median of several after warm-up) and the
// device-to-device cudaMemcpy bandwidth (bytes read + bytes written per second).
Ceilings measure_ceilings(const std::vector<Numerics>& numerics, int gemm_n = 8192);

struct GpuTiming {
  std::vector<double> samples_ms;
  int rotation_sets = 0;  // input/output buffer sets cycled through
};

// Times lstm.forward (a device-memory backend) on shape `s`: reserve, stream, events and buffers
// are set up first; x is random (never zeros) in the precision's storage type; h0/c0 are null
// (zero initial state); y, h_n and c_n are requested. Each timed run uses the next of several
// buffer sets, enough of them to exceed twice the L2 where memory allows.
GpuTiming time_on_gpu(Lstm& lstm, const Shape& s, const TimingSettings& settings, const GpuDevice& gpu,
                      std::uint64_t seed);

// How many buffer sets of `set_bytes` to rotate: enough to cover 2×L2, between 2 and 8, and within
// a quarter of the free memory when that allows two.
int rotation_count(std::size_t set_bytes, std::size_t l2_bytes, std::size_t free_bytes);

}  // namespace lstmrt::bench
