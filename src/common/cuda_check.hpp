// Internal: every CUDA runtime call is checked; a failure becomes Error(kCudaError) naming the
// call, the CUDA error and where it happened.
#pragma once

#include <cuda_runtime_api.h>

#include "common/check.hpp"

#define LSTMRT_CUDA_CHECK(call)                                                                              \
  do {                                                                                                       \
    const cudaError_t lstmrt_status_ = (call);                                                               \
    if (lstmrt_status_ != cudaSuccess) {                                                                     \
      ::lstmrt::detail::fail(::lstmrt::ErrorCode::kCudaError, "{} failed: {} ({}) at {}:{}", #call,          \
                             cudaGetErrorName(lstmrt_status_), cudaGetErrorString(lstmrt_status_), __FILE__, \
                             __LINE__);                                                                      \
    }                                                                                                        \
  } while (0)

// After every kernel launch: a launch-configuration error is reported at once; with
// LSTMRT_DEBUG_SYNC the stream is synchronised so execution errors surface at their launch.
#ifdef LSTMRT_DEBUG_SYNC
#define LSTMRT_CHECK_LAUNCH(stream)                   \
  do {                                                \
    LSTMRT_CUDA_CHECK(cudaGetLastError());            \
    LSTMRT_CUDA_CHECK(cudaStreamSynchronize(stream)); \
  } while (0)
#else
#define LSTMRT_CHECK_LAUNCH(stream) LSTMRT_CUDA_CHECK(cudaGetLastError())
#endif
