// Internal: every cuBLASLt call is checked; a failure becomes Error(kCudaError) naming the call,
// the status and where it happened.
#pragma once

#include <cublasLt.h>

#include "common/check.hpp"

#define LSTMRT_CUBLAS_CHECK(call)                                                                                      \
  do {                                                                                                                 \
    const cublasStatus_t lstmrt_cublas_status_ = (call);                                                               \
    if (lstmrt_cublas_status_ != CUBLAS_STATUS_SUCCESS) {                                                              \
      ::lstmrt::detail::fail(::lstmrt::ErrorCode::kCudaError, "{} failed: {} ({}) at {}:{}", #call,                    \
                             cublasGetStatusName(lstmrt_cublas_status_), cublasGetStatusString(lstmrt_cublas_status_), \
                             __FILE__, __LINE__);                                                                      \
    }                                                                                                                  \
  } while (0)
