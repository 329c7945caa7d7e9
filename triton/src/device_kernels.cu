// Serving kernels: moving sequence states between the state pool and a batch, and merging the two
// halves of a bidirectional stage's y. Index math in row_ops.hpp (CPU-tested through the host
// device); one thread per element, w fastest so that accesses coalesce along a state row.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "device_kernels.hpp"
#include "row_ops.hpp"

namespace lstmrt::serving {
namespace {

static_assert(static_cast<int>(MergeMode::kSum) == 1 && static_cast<int>(MergeMode::kAverage) == 2 &&
                  static_cast<int>(MergeMode::kMultiply) == 3,
              "row_ops.hpp's merge_value numbers the merge modes as lstmrt::MergeMode does");

constexpr int kThreads = 256;

unsigned blocks_for(std::size_t elements) {
  const std::size_t b = (elements + kThreads - 1) / kThreads;
  return static_cast<unsigned>(b < 65535u * 32u ? b : 65535u * 32u);  // grid-stride beyond this
}

template <typename E>
__global__ void state_copy_kernel(E* pool, E* batch, const std::int32_t* slots, int R, int N, int W, bool to_batch) {
  const std::size_t total = static_cast<std::size_t>(N) * R * W;
  for (std::size_t e = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x; e < total;
       e += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
    const std::size_t w = e % W, r = (e / W) % R, n = e / (static_cast<std::size_t>(W) * R);
    const int slot = slots[n];
    if (slot < 0) continue;
    E* p = pool + pool_index(slot, r, w, R, W);
    E* b = batch + batch_index(r, n, w, N, W);
    if (to_batch)
      *b = *p;
    else
      *p = *b;
  }
}

template <typename T>
__global__ void merge_kernel(int mode, const T* in, T* out, std::size_t rows, int W) {
  const std::size_t total = rows * W;
  for (std::size_t e = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x; e < total;
       e += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
    const std::size_t r = e / W, w = e % W;
    const float a = static_cast<float>(in[r * 2 * W + w]), b = static_cast<float>(in[r * 2 * W + W + w]);
    out[e] = static_cast<T>(merge_value(mode, a, b));
  }
}

}  // namespace

int launch_state_copy(const StateCopy& c, bool to_batch, cudaStream_t stream) {
  const std::size_t total = static_cast<std::size_t>(c.batch_n) * c.rows * c.width;
  if (total == 0) return cudaSuccess;
  if (c.element_bytes == 4)
    state_copy_kernel<std::uint32_t><<<blocks_for(total), kThreads, 0, stream>>>(
        static_cast<std::uint32_t*>(c.pool), static_cast<std::uint32_t*>(c.batch), c.slots, c.rows, c.batch_n, c.width,
        to_batch);
  else if (c.element_bytes == 2)
    state_copy_kernel<std::uint16_t><<<blocks_for(total), kThreads, 0, stream>>>(
        static_cast<std::uint16_t*>(c.pool), static_cast<std::uint16_t*>(c.batch), c.slots, c.rows, c.batch_n, c.width,
        to_batch);
  else
    return cudaErrorInvalidValue;
  return cudaGetLastError();
}

int launch_merge_halves(int mode, const void* in, void* out, std::size_t rows, int width, DataType t,
                        cudaStream_t stream) {
  const std::size_t total = rows * width;
  if (total == 0) return cudaSuccess;
  switch (t) {
    case DataType::kFloat32:
      merge_kernel<<<blocks_for(total), kThreads, 0, stream>>>(mode, static_cast<const float*>(in),
                                                               static_cast<float*>(out), rows, width);
      break;
    case DataType::kFloat16:
      merge_kernel<<<blocks_for(total), kThreads, 0, stream>>>(mode, static_cast<const __half*>(in),
                                                               static_cast<__half*>(out), rows, width);
      break;
    case DataType::kBFloat16:
      merge_kernel<<<blocks_for(total), kThreads, 0, stream>>>(mode, static_cast<const __nv_bfloat16*>(in),
                                                               static_cast<__nv_bfloat16*>(out), rows, width);
      break;
    default: return cudaErrorInvalidValue;  // not a storage type
  }
  return cudaGetLastError();
}

}  // namespace lstmrt::serving
