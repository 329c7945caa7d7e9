// GPU backend construction in the core: the device check, then the backend is created inside the
// GPU module (gpu_module/module_api.hpp) and driven through its table; a Status that is not ok
// becomes the lstmrt::Error it stands for.
#include "backend.hpp"
#include "common/check.hpp"
#include "gpu_loader.hpp"
#include "system_probe.hpp"

namespace lstmrt {
namespace {

void raise_if_failed(const gpu_module::Status& s) {
  if (!s.ok) throw Error(s.code, s.message);
}

class ModuleBackend final : public Backend {
 public:
  ModuleBackend(const ModelDesc& desc, const BackendOptions& options, gpu_module::GpuBackend* impl)
      : Backend(desc, options), impl_(impl), name_(impl->name()) {}
  ~ModuleBackend() override { impl_->destroy(); }

  std::string name() const override { return name_; }
  MemorySpace memory_space() const override { return MemorySpace::kDevice; }
  void check_request(const ForwardRequest& req) const override { raise_if_failed(impl_->check_request(req)); }
  void forward(const ForwardRequest& req, cudaStream_t stream) override {
    raise_if_failed(impl_->forward(req, stream));
  }
  void forward_host(const ForwardRequest& req) override { raise_if_failed(impl_->forward_host(req)); }
  std::size_t workspace_size(int seq_len, int batch) const override {
    std::size_t bytes = 0;
    raise_if_failed(impl_->workspace_size(seq_len, batch, &bytes));
    return bytes;
  }
  void reserve(int seq_len, int batch) override { raise_if_failed(impl_->reserve(seq_len, batch)); }
  std::string execution_plan(int seq_len, int batch, bool masked) const override {
    std::string plan;
    raise_if_failed(impl_->execution_plan(seq_len, batch, masked, &plan));
    return plan;
  }
  void check_persistent_status() override { raise_if_failed(impl_->check_persistent_status()); }

 private:
  gpu_module::GpuBackend* impl_;
  std::string name_;
};

}  // namespace

std::unique_ptr<Backend> make_gpu_backend(const ModelDesc& desc, const Weights& weights,
                                          const BackendOptions& options) {
  const std::string name = to_string(options.kind);
  if (options.kind != BackendKind::kCudnn && options.kind != BackendKind::kFused)
    detail::invalid("backend {} is not a GPU backend", name);
  const GpuProbe& probe = probe_gpus();
  if (probe.device_count == 0)
    detail::fail(ErrorCode::kNoDevice, "backend {} needs a CUDA GPU and none is usable here ({})", name, probe.status);
  if (options.device < 0 || options.device >= probe.device_count)
    detail::invalid("device is {}: expected 0..{} ({} GPU(s) present)", options.device, probe.device_count - 1,
                    probe.device_count);
  const gpu_module::GpuModuleApi& api = detail::require_gpu_module(name);
  gpu_module::GpuBackend* impl = nullptr;
  raise_if_failed(api.create(desc, weights, options, &impl));
  try {
    return std::make_unique<ModuleBackend>(desc, options, impl);
  } catch (...) {
    impl->destroy();
    throw;
  }
}

}  // namespace lstmrt
