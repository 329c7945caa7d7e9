// DeviceGuard (device_guard.hpp): every CUDA call checked; the destructor reports instead of throwing.
#include "common/device_guard.hpp"

#include <cuda_runtime_api.h>

#include <cstdio>

#include "common/cuda_check.hpp"

namespace lstmrt::detail {

DeviceGuard::DeviceGuard(int device) : device_(device) {
  int current = -1;
  LSTMRT_CUDA_CHECK(cudaGetDevice(&current));
  if (current == device) return;
  LSTMRT_CUDA_CHECK(cudaSetDevice(device));
  previous_ = current;
}

DeviceGuard::~DeviceGuard() {
  if (previous_ < 0) return;
  const cudaError_t status = cudaSetDevice(previous_);
  if (status == cudaSuccess) return;
  (void)cudaGetLastError();
  std::fprintf(stderr, "lstmrt: warning: could not restore CUDA device %d after a call on device %d: %s (%s)\n",
               previous_, device_, cudaGetErrorName(status), cudaGetErrorString(status));
}

}  // namespace lstmrt::detail
