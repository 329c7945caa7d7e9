// What the cudnn backend's copy kernels (cudnn_transforms.cu, cudnn_shift.cu) share: one thread per
// element over a grid of at most kMaxBlocks blocks of kThreads, striding by the whole grid beyond
// that, and the element sizes they copy (2 or 4 bytes, moved as uint16 / uint32).
#pragma once

#include <cstdint>

#include "common/check.hpp"
#include "kernels/device.cuh"

namespace lstmrt::kernels::grid_stride {

constexpr int kThreads = 256;
constexpr std::int64_t kMaxBlocks = 2048;  // grid-stride beyond this (16 blocks per H200 SM)

// The launch shape for `elements` threads' worth of work on `stream`.
inline dev::LaunchShape shape_for(std::int64_t elements, cudaStream_t stream) {
  const std::int64_t blocks = (elements + kThreads - 1) / kThreads;
  dev::LaunchShape shape;
  shape.grid = static_cast<unsigned>(blocks < kMaxBlocks ? blocks : kMaxBlocks);
  shape.block = kThreads;
  shape.stream = stream;
  return shape;
}

// Refuses, naming the launcher, an element size the kernels have no instantiation for.
inline void check_element_bytes(int bytes, const char* what) {
  if (bytes != 2 && bytes != 4) detail::invalid("{}: element_bytes is {}: expected 2 or 4", what, bytes);
}

}  // namespace lstmrt::kernels::grid_stride
