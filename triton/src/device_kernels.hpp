// Launchers of the serving kernels (device_kernels.cu); plain C++. Each enqueues one kernel on
// `stream` and returns the launch's error (cudaSuccess = 0).
#pragma once

#include <cstddef>

#include "device.hpp"

namespace lstmrt::serving {

// gather: batch[r, n, :] = pool[slots[n], r, :]; scatter: the reverse (rows with slots[n] < 0 untouched).
int launch_state_copy(const StateCopy& c, bool to_batch, cudaStream_t stream);
// out (rows, W) = merge(in[:, :W], in[:, W:]); mode as in row_ops.hpp's merge_value.
int launch_merge_halves(int mode, const void* in, void* out, std::size_t rows, int width, DataType t,
                        cudaStream_t stream);

}  // namespace lstmrt::serving
