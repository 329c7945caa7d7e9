// upload_lengths: the values travel by value in the launch parameters (upload_lengths.hpp); the
// device primitives (indices, launch) are kernels/device.cuh's.
#include "kernels/upload_lengths.hpp"

#include "kernels/device.cuh"

namespace lstmrt::kernels {
namespace {

// One chunk's worth of lengths, passed by value. __grid_constant__ keeps it in the parameter
// bank: indexing values[] at run time reads it there instead of copying it to local memory.
struct LengthsParams {
  std::int32_t* dst;  // device, already offset to the chunk's first row
  int count;          // valid entries of values
  std::int32_t values[kLengthsPerLaunch];
};
static_assert(sizeof(LengthsParams) <= 4096, "kernel parameters must fit the 4 KB launch limit");

constexpr int kUploadThreads = 256;

__global__ void __launch_bounds__(kUploadThreads) upload_lengths_kernel(const __grid_constant__ LengthsParams p) {
  for (int k = dev::thread_x(); k < p.count; k += dev::block_dim_x()) p.dst[k] = p.values[k];
}

}  // namespace

void upload_lengths(const std::int32_t* h_lengths, int count, std::int32_t* d_lengths, cudaStream_t stream) {
  const int chunks = length_chunk_count(count);  // validates count
  if (chunks == 0) return;
  if (!h_lengths || !d_lengths)
    detail::invalid("upload_lengths: {} is null: expected an array of {} lengths",
                    !h_lengths ? "h_lengths" : "d_lengths", count);
  LengthsParams params;
  dev::LaunchShape shape;
  shape.block = kUploadThreads;
  shape.stream = stream;
  for (int index = 0; index < chunks; ++index) {
    const LengthChunk chunk = length_chunk(count, index);
    params.dst = d_lengths + chunk.offset;
    params.count = chunk.count;
    for (int k = 0; k < chunk.count; ++k) params.values[k] = h_lengths[chunk.offset + k];
    dev::launch("upload_lengths_kernel", upload_lengths_kernel, shape, params);
  }
}

}  // namespace lstmrt::kernels
