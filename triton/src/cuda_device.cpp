// The CUDA device of a KIND_GPU instance: its own non-blocking stream on GPU `ordinal`, device
// buffers, pinned staging; every call checked, every operation enqueued on the stream.
#include <cuda_runtime_api.h>
#include <fmt/format.h>

#include "device.hpp"
#include "device_kernels.hpp"
#include "lstmrt/error.hpp"

namespace lstmrt::serving {
namespace {

void check(cudaError_t status, const char* what) {
  if (status == cudaSuccess) return;
  const ErrorCode code =
      status == cudaErrorNoDevice || status == cudaErrorInsufficientDriver || status == cudaErrorInvalidDevice
          ? ErrorCode::kNoDevice
          : ErrorCode::kCudaError;
  throw Error(code, fmt::format("{}: {} ({})", what, cudaGetErrorString(status), cudaGetErrorName(status)));
}

class CudaDevice final : public Device {
 public:
  explicit CudaDevice(int ordinal) : ordinal_(ordinal) {
    int count = 0;
    check(cudaGetDeviceCount(&count), "cudaGetDeviceCount");
    if (ordinal < 0 || ordinal >= count)
      throw Error(ErrorCode::kNoDevice, fmt::format("GPU {} does not exist: expected 0..{}", ordinal, count - 1));
    check(cudaSetDevice(ordinal_), "cudaSetDevice");
    check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
  }
  ~CudaDevice() override {
    if (!stream_) return;
    cudaSetDevice(ordinal_);
    cudaStreamSynchronize(stream_);
    cudaStreamDestroy(stream_);
  }

  bool is_host() const override { return false; }
  std::string name() const override { return fmt::format("GPU {}", ordinal_); }
  int ordinal() const override { return ordinal_; }

  void* allocate(std::size_t bytes) override {
    activate();
    void* p = nullptr;
    check(cudaMalloc(&p, bytes), "cudaMalloc");
    return p;
  }
  void release(void* p) noexcept override {
    cudaSetDevice(ordinal_);
    cudaFree(p);
  }
  void* allocate_staging(std::size_t bytes) override {
    activate();
    void* p = nullptr;
    check(cudaHostAlloc(&p, bytes, cudaHostAllocPortable), "cudaHostAlloc");
    return p;
  }
  void release_staging(void* p) noexcept override { cudaFreeHost(p); }

  void copy_2d(void* dst, std::size_t dpitch, const void* src, std::size_t spitch, std::size_t width,
               std::size_t rows) override {
    if (!width || !rows) return;
    activate();
    check(cudaMemcpy2DAsync(dst, dpitch, src, spitch, width, rows, cudaMemcpyDefault, stream_), "cudaMemcpy2DAsync");
  }
  void zero(void* dst, std::size_t bytes) override {
    if (!bytes) return;
    activate();
    check(cudaMemsetAsync(dst, 0, bytes, stream_), "cudaMemsetAsync");
  }
  void gather_state(const StateCopy& c) override {
    activate();
    check(static_cast<cudaError_t>(launch_state_copy(c, true, stream_)), "state gather kernel");
  }
  void scatter_state(const StateCopy& c) override {
    activate();
    check(static_cast<cudaError_t>(launch_state_copy(c, false, stream_)), "state scatter kernel");
  }
  void merge_halves(MergeMode mode, const void* in, void* out, std::size_t rows, int width, DataType t) override {
    activate();
    check(static_cast<cudaError_t>(launch_merge_halves(static_cast<int>(mode), in, out, rows, width, t, stream_)),
          "merge kernel");
  }
  void synchronize() override {
    activate();
    check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
  }
  cudaStream_t stream() const override { return stream_; }
  void activate() override { check(cudaSetDevice(ordinal_), "cudaSetDevice"); }

 private:
  int ordinal_;
  cudaStream_t stream_ = nullptr;
};

}  // namespace

std::unique_ptr<Device> cuda_device(int ordinal) { return std::make_unique<CudaDevice>(ordinal); }

}  // namespace lstmrt::serving
