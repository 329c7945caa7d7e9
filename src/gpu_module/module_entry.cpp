// The GPU module's side of the seam (module_api.hpp): the exported table, and GpuBackend objects
// wrapping the cudnn and fused backends. Every entry catches whatever the backends throw and
// returns it as a Status.
#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>

#include <memory>
#include <new>
#include <optional>

#include "backend.hpp"
#include "common/cuda_check.hpp"
#include "common/device_guard.hpp"
#include "common/elements.hpp"
#include "gpu_module/module_api.hpp"
#include "lstmrt/version.hpp"

namespace lstmrt::gpu_module {
namespace {

template <typename F>
Status guarded(F&& f) noexcept {
  try {
    f();
    return {};
  } catch (const Error& e) {
    return {false, e.code(), e.what()};
  } catch (const std::bad_alloc&) {
    return {false, ErrorCode::kInternal, "GPU module: out of host memory"};
  } catch (const std::exception& e) {
    return {false, ErrorCode::kInternal, fmt::format("GPU module: {}", e.what())};
  } catch (...) {
    return {false, ErrorCode::kInternal, "GPU module: unknown exception"};
  }
}

class ModuleBackend final : public GpuBackend {
 public:
  explicit ModuleBackend(std::unique_ptr<Backend> impl) : impl_(std::move(impl)), name_(impl_->name()) {}

  const char* name() const noexcept override { return name_.c_str(); }
  Status check_request(const ForwardRequest& req) const noexcept override {
    return guarded([&] { impl_->check_request(req); });
  }
  Status forward(const ForwardRequest& req, cudaStream_t stream) noexcept override {
    return guarded([&] { impl_->forward(req, stream); });
  }
  Status forward_host(const ForwardRequest& req) noexcept override {
    return guarded([&] {
      impl_->reserve(req.seq_len, req.batch);
      forward_staged(*impl_, req);
    });
  }
  Status workspace_size(int seq_len, int batch, std::size_t* bytes) const noexcept override {
    return guarded([&] { *bytes = impl_->workspace_size(seq_len, batch); });
  }
  Status reserve(int seq_len, int batch) noexcept override {
    return guarded([&] { impl_->reserve(seq_len, batch); });
  }
  Status execution_plan(int seq_len, int batch, bool masked, std::string* plan) const noexcept override {
    return guarded([&] { *plan = impl_->execution_plan(seq_len, batch, masked); });
  }
  Status check_persistent_status() noexcept override {
    return guarded([&] { impl_->check_persistent_status(); });
  }
  // The backend's streams, events, graphs, cuDNN/cuBLAS handles and buffers are released on its
  // own device. A device that cannot be selected any more (lost) cannot be reported from here:
  // they are then released from the current one, best effort.
  void destroy() noexcept override {
    std::optional<detail::DeviceGuard> guard;
    try {
      guard.emplace(impl_->options().device);
    } catch (...) {  // noexcept: nothing may escape
    }
    impl_.reset();
    guard.reset();
    delete this;
  }

 private:
  ~ModuleBackend() = default;
  std::unique_ptr<Backend> impl_;
  std::string name_;
};

void versions(GpuModuleVersions* out) noexcept {
  out->cuda_runtime = CUDART_VERSION;
  out->cudnn = cudnnGetVersion();
  out->cudnn_cuda = cudnnGetCudartVersion();
  int major = 0, minor = 0, patch = 0;
  if (cublasGetProperty(MAJOR_VERSION, &major) == CUBLAS_STATUS_SUCCESS &&
      cublasGetProperty(MINOR_VERSION, &minor) == CUBLAS_STATUS_SUCCESS &&
      cublasGetProperty(PATCH_LEVEL, &patch) == CUBLAS_STATUS_SUCCESS)
    out->cublas = major * 10000 + minor * 100 + patch;
}

Status create(const ModelDesc& desc, const Weights& weights, const BackendOptions& options, GpuBackend** out) noexcept {
  return guarded([&] {
    std::unique_ptr<Backend> impl;
    detail::require_storage_type(options.data_type, "GPU module: data type");
    if (options.kind == BackendKind::kCudnn)
      impl = make_cudnn_backend(desc, weights, options);
    else if (options.kind == BackendKind::kFused)
      impl = make_fused_backend(desc, weights, options);
    else
      detail::invalid("GPU module: backend {} is not a GPU backend", to_string(options.kind));
    *out = new ModuleBackend(std::move(impl));
  });
}

Status device_alloc(int device, std::size_t bytes, cudaStream_t stream, void** out) noexcept {
  return guarded([&] {
    const detail::DeviceGuard guard(device);
    LSTMRT_CUDA_CHECK(cudaMallocAsync(out, bytes, stream));
  });
}

Status device_free(int device, void* ptr, cudaStream_t stream) noexcept {
  return guarded([&] {
    const detail::DeviceGuard guard(device);
    LSTMRT_CUDA_CHECK(cudaFreeAsync(ptr, stream));
  });
}

}  // namespace
}  // namespace lstmrt::gpu_module

extern "C" __attribute__((visibility("default"))) const lstmrt::gpu_module::GpuModuleApi* lstmrt_gpu_module_v1() {
  using namespace lstmrt::gpu_module;
  static const std::string id = build_id(lstmrt::version());
  static const GpuModuleApi api{kAbiVersion, id.c_str(), versions, create, device_alloc, device_free};
  return &api;
}
