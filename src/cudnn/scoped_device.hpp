// Internal: makes `device` current for a scope and restores the caller's device after it, so a
// backend on GPU k works whatever device the calling thread had selected.
#pragma once

#include <cuda_runtime_api.h>

#include "common/cuda_check.hpp"

namespace lstmrt::cudnn {

class ScopedDevice {
 public:
  explicit ScopedDevice(int device) {
    LSTMRT_CUDA_CHECK(cudaGetDevice(&previous_));
    if (previous_ != device) LSTMRT_CUDA_CHECK(cudaSetDevice(device));
    else previous_ = -1;  // nothing to restore
  }
  ~ScopedDevice() {
    if (previous_ >= 0) cudaSetDevice(previous_);  // cannot throw here; the device is valid
  }
  ScopedDevice(const ScopedDevice&) = delete;
  ScopedDevice& operator=(const ScopedDevice&) = delete;

 private:
  int previous_ = -1;
};

}  // namespace lstmrt::cudnn
