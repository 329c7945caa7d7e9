// Internal: every cuDNN call is checked. A failure becomes Error(kCudaError) naming the call, the
// cuDNN status and cuDNN's own last message. Where cuDNN may refuse an algorithm or a shape, the
// backend asks cudnn::status_action (cudnn_plan.hpp) first, so that a refusal reads as "cannot
// serve" (kUnsupported), never as a crash.
#pragma once

#include <cudnn.h>

#include <string>

#include "common/check.hpp"

namespace lstmrt::detail {

// "CUDNN_STATUS_NOT_SUPPORTED_SHAPE: <cuDNN's last message>" (the message part only when cuDNN
// has one).
inline std::string cudnn_status_text(cudnnStatus_t status) {
  std::string text = cudnnGetErrorString(status);
  char last[512] = {0};
  cudnnGetLastErrorString(last, sizeof(last));
  if (last[0] != '\0') text += std::string(": ") + last;
  return text;
}

[[noreturn]] inline void fail_cudnn(cudnnStatus_t status, const char* call, const char* file, int line) {
  fail(ErrorCode::kCudaError, "{} failed: {} at {}:{}", call, cudnn_status_text(status), file, line);
}

}  // namespace lstmrt::detail

#define LSTMRT_CUDNN_CHECK(call)                                                     \
  do {                                                                               \
    const cudnnStatus_t lstmrt_cudnn_status_ = (call);                               \
    if (lstmrt_cudnn_status_ != CUDNN_STATUS_SUCCESS)                                \
      ::lstmrt::detail::fail_cudnn(lstmrt_cudnn_status_, #call, __FILE__, __LINE__); \
  } while (0)
