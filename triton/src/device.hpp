// Where a model instance keeps its batch buffers and sequence states, and the few operations the
// executor needs on them. Two implementations:
//   host_device()      KIND_CPU instances (the reference backend): "device" memory is host memory,
//                      operations run at once. It is also the fake device that lets the CPU tests
//                      drive the executor's device path.
//   cuda_device(ord)   KIND_GPU instances: device memory on GPU `ord`, pinned staging, every
//                      operation enqueued on the instance's own stream.
// All operations are asynchronous with respect to the host until synchronize().
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "lstmrt/import.hpp"
#include "lstmrt/lstm.hpp"

namespace lstmrt::serving {

// State rows between the pool and a batch (element size 2 or 4 bytes; layouts in row_ops.hpp):
//   pool   (slots, R, W)  one (R, W) block per sequence slot
//   batch  (R, N, W)      lstmrt's h0/c0/h_n/c_n layout, R = L·D
// slots[n] names row n's slot; a negative entry leaves row n alone. `slots` is device memory.
struct StateCopy {
  void* pool = nullptr;
  void* batch = nullptr;
  const std::int32_t* slots = nullptr;
  int rows = 0;     // R
  int batch_n = 0;  // N
  int width = 0;    // W
  std::size_t element_bytes = 4;
};

class Device {
 public:
  virtual ~Device() = default;
  virtual bool is_host() const = 0;  // device memory is host memory (no staging copies needed)
  virtual std::string name() const = 0;
  virtual int ordinal() const = 0;  // CUDA device, -1 for the host
  virtual void activate() = 0;      // make it the calling thread's current device

  virtual void* allocate(std::size_t bytes) = 0;  // device memory
  virtual void release(void* p) noexcept = 0;
  virtual void* allocate_staging(std::size_t bytes) = 0;  // host memory the device copies fast (pinned)
  virtual void release_staging(void* p) noexcept = 0;

  // rows × width bytes from src (pitch spitch) to dst (pitch dpitch); either side may be host or
  // device memory.
  virtual void copy_2d(void* dst, std::size_t dpitch, const void* src, std::size_t spitch, std::size_t width,
                       std::size_t rows) = 0;
  void copy(void* dst, const void* src, std::size_t bytes) {
    if (bytes) copy_2d(dst, bytes, src, bytes, bytes, 1);
  }
  virtual void zero(void* dst, std::size_t bytes) = 0;  // device memory
  virtual void gather_state(const StateCopy& c) = 0;    // batch[r, n] = pool[slots[n], r]
  virtual void scatter_state(const StateCopy& c) = 0;   // pool[slots[n], r] = batch[r, n]
  // out (rows, W) = merge(in[:, :W], in[:, W:]) for in (rows, 2W), elements of type t.
  virtual void merge_halves(MergeMode mode, const void* in, void* out, std::size_t rows, int width, DataType t) = 0;
  virtual void synchronize() = 0;
  virtual cudaStream_t stream() const = 0;
};

std::unique_ptr<Device> host_device();
// Throws Error(kNoDevice / kCudaError) when the GPU cannot be used.
std::unique_ptr<Device> cuda_device(int ordinal);

// A growable buffer on one side of a Device: reallocated (contents dropped) when a larger size is
// asked for, so steady traffic allocates nothing.
class DeviceBuffer {
 public:
  enum class Side { kDevice, kStaging };
  DeviceBuffer(Device& device, Side side) : device_(&device), side_(side) {}
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() { reset(); }
  void* ensure(std::size_t bytes);  // at least `bytes`, 256-byte aligned
  void* get() const { return data_; }
  std::size_t size() const { return bytes_; }
  void reset() noexcept;
  void swap(DeviceBuffer& other) noexcept {
    std::swap(device_, other.device_);
    std::swap(side_, other.side_);
    std::swap(data_, other.data_);
    std::swap(bytes_, other.bytes_);
  }

 private:
  Device* device_;
  Side side_;
  void* data_ = nullptr;
  std::size_t bytes_ = 0;
};

}  // namespace lstmrt::serving
