// The host "device": KIND_CPU instances, and the CPU tests' stand-in for a GPU.
#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "device.hpp"
#include "lstmrt/error.hpp"
#include "row_ops.hpp"

namespace lstmrt::serving {
namespace {

void* aligned(std::size_t bytes) {
  void* p = std::aligned_alloc(256, (bytes + 255) / 256 * 256);
  if (!p) throw Error(ErrorCode::kInternal, fmt::format("out of host memory allocating {} bytes", bytes));
  return p;
}

class HostDevice final : public Device {
 public:
  bool is_host() const override { return true; }
  std::string name() const override { return "host"; }
  int ordinal() const override { return -1; }
  void activate() override {}
  void* allocate(std::size_t bytes) override { return aligned(bytes); }
  void release(void* p) noexcept override { std::free(p); }
  void* allocate_staging(std::size_t bytes) override { return aligned(bytes); }
  void release_staging(void* p) noexcept override { std::free(p); }

  void copy_2d(void* dst, std::size_t dpitch, const void* src, std::size_t spitch, std::size_t width,
               std::size_t rows) override {
    if (dst == src && dpitch == spitch) return;
    for (std::size_t r = 0; r < rows; ++r)
      std::memmove(static_cast<char*>(dst) + r * dpitch, static_cast<const char*>(src) + r * spitch, width);
  }
  void zero(void* dst, std::size_t bytes) override { std::memset(dst, 0, bytes); }

  void gather_state(const StateCopy& c) override { move_state(c, true); }
  void scatter_state(const StateCopy& c) override { move_state(c, false); }

  void merge_halves(MergeMode mode, const void* in, void* out, std::size_t rows, int width, DataType t) override {
    if (t != DataType::kFloat32)
      throw Error(ErrorCode::kUnsupported,
                  fmt::format("host merge of {} data: the host computes float32 only", lstmrt::to_string(t)));
    const float* a = static_cast<const float*>(in);
    float* o = static_cast<float*>(out);
    for (std::size_t r = 0; r < rows; ++r)
      for (int w = 0; w < width; ++w)
        o[r * width + w] = merge_value(static_cast<int>(mode), a[r * 2 * width + w], a[r * 2 * width + width + w]);
  }
  void synchronize() override {}
  cudaStream_t stream() const override { return nullptr; }

 private:
  static void move_state(const StateCopy& c, bool to_batch) {
    const std::size_t e = c.element_bytes, W = c.width;
    char* pool = static_cast<char*>(c.pool);
    char* batch = static_cast<char*>(c.batch);
    for (int n = 0; n < c.batch_n; ++n) {
      if (c.slots[n] < 0) continue;
      for (int r = 0; r < c.rows; ++r) {
        char* p = pool + pool_index(c.slots[n], r, 0, c.rows, W) * e;
        char* b = batch + batch_index(r, n, 0, c.batch_n, W) * e;
        if (to_batch)
          std::memcpy(b, p, W * e);
        else
          std::memcpy(p, b, W * e);
      }
    }
  }
};

}  // namespace

std::unique_ptr<Device> host_device() { return std::make_unique<HostDevice>(); }

void* DeviceBuffer::ensure(std::size_t bytes) {
  if (bytes <= bytes_ && data_) return data_;
  // Grow by at least half so that slowly rising sizes reallocate a few times only.
  const std::size_t target = std::max(bytes, bytes_ + bytes_ / 2);
  reset();
  const std::size_t rounded = std::max<std::size_t>(256, (target + 255) / 256 * 256);
  data_ = side_ == Side::kDevice ? device_->allocate(rounded) : device_->allocate_staging(rounded);
  bytes_ = rounded;
  return data_;
}

void DeviceBuffer::reset() noexcept {
  if (!data_) return;
  if (side_ == Side::kDevice)
    device_->release(data_);
  else
    device_->release_staging(data_);
  data_ = nullptr;
  bytes_ = 0;
}

}  // namespace lstmrt::serving
