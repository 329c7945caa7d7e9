// Internal: move-only owner of one host-mapped pinned object (cudaHostAllocMapped): the host reads
// what device code writes through device(), without a copy or a stream. Allocation happens at
// creation time, never in a forward pass.
#pragma once

#include <utility>

#include <cuda_runtime_api.h>

#include "common/cuda_check.hpp"

namespace lstmrt::detail {

template <typename T>
class MappedHost {
 public:
  MappedHost() = default;
  // Allocates one T, value-initialised.
  static MappedHost create() {
    MappedHost m;
    void* host = nullptr;
    LSTMRT_CUDA_CHECK(cudaHostAlloc(&host, sizeof(T), cudaHostAllocMapped));
    m.host_ = static_cast<T*>(host);
    *m.host_ = T{};
    void* device = nullptr;
    LSTMRT_CUDA_CHECK(cudaHostGetDevicePointer(&device, host, 0));  // m frees host if this throws
    m.device_ = static_cast<T*>(device);
    return m;
  }
  MappedHost(MappedHost&& o) noexcept
      : host_(std::exchange(o.host_, nullptr)), device_(std::exchange(o.device_, nullptr)) {}
  MappedHost& operator=(MappedHost&& o) noexcept {
    std::swap(host_, o.host_);
    std::swap(device_, o.device_);
    return *this;
  }
  MappedHost(const MappedHost&) = delete;
  MappedHost& operator=(const MappedHost&) = delete;
  ~MappedHost() {
    if (host_) cudaFreeHost(host_);  // cannot throw from a destructor
  }

  T* host() const { return host_; }      // read after the writing work has finished
  T* device() const { return device_; }  // for kernel parameters

 private:
  T* host_ = nullptr;
  T* device_ = nullptr;
};

}  // namespace lstmrt::detail
