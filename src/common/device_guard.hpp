// Internal: the one way lstmrt's GPU code switches devices. A DeviceGuard makes `device` current
// for a scope and restores the device the calling thread had before, so a backend on GPU k works
// whatever device its caller selected, and the caller finds its own device selected afterwards.
// Nothing is switched (nor restored) when `device` is already current.
#pragma once

namespace lstmrt::detail {

class DeviceGuard {
 public:
  // Throws Error(kCudaError) naming the call when the current device cannot be read or `device`
  // cannot be made current; the current device is then unchanged.
  explicit DeviceGuard(int device);
  // Restores the previous device. A destructor may not throw: a failure (a lost device, the CUDA
  // runtime shutting down at exit) is written as one warning line to stderr and the error is
  // cleared, so that the next checked call is not blamed for it.
  ~DeviceGuard();
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = -1;  // the device to restore; -1 when nothing was switched
  int device_ = -1;
};

}  // namespace lstmrt::detail
