// Copies a HOST array of per-row lengths (ForwardRequest::lengths) into device memory without a
// blocking copy and without pinned staging: the values travel BY VALUE in kernel launch parameters,
// which the launch copies at enqueue time. So the forward stays asynchronous (the host array may be
// reused as soon as upload_lengths returns) and capturable in a CUDA graph (each captured node keeps
// its own copy of the values).
//
// Kernel parameters are limited to 4 KB, so `count` lengths go in chunks of kLengthsPerLaunch:
// chunk k covers rows [k·kLengthsPerLaunch, min((k+1)·kLengthsPerLaunch, count)).
#pragma once

#include <cstdint>

typedef struct CUstream_st* cudaStream_t;  // as cuda_runtime_api.h declares it

namespace lstmrt::kernels {

// 1000 int32 values + the destination pointer and two ints = 4016 bytes, under the 4096-byte
// kernel-parameter limit every CUDA architecture accepts.
constexpr int kLengthsPerLaunch = 1000;

struct LengthChunk {
  int offset;  // first row of the chunk
  int count;   // rows in it, 1 .. kLengthsPerLaunch
};

// Number of launches for `count` rows: ceil(count / kLengthsPerLaunch); 0 for count == 0.
// Throws Error(kInvalidArgument) for count < 0.
int length_chunk_count(int count);
// Chunk `index` (0 .. length_chunk_count(count) − 1) of `count` rows. Throws Error(kInvalidArgument)
// for a bad count or index.
LengthChunk length_chunk(int count, int index);

// d_lengths[b] = h_lengths[b] for b in [0, count), enqueued on `stream` as length_chunk_count(count)
// kernel launches. h_lengths: HOST array; d_lengths: DEVICE array; both may be null only when
// count == 0. Throws Error(kInvalidArgument) for a bad count or pointer, Error(kCudaError) on a
// launch error.
void upload_lengths(const std::int32_t* h_lengths, int count, std::int32_t* d_lengths, cudaStream_t stream);

}  // namespace lstmrt::kernels
