// GPU backend construction: device checks shared by the cudnn and fused backends.
#include "backend.hpp"
#include "common/check.hpp"
#include "system_probe.hpp"

namespace lstmrt {

std::unique_ptr<Backend> make_gpu_backend(const ModelDesc& desc, const Weights& weights, const BackendOptions& options) {
  const std::string name = to_string(options.kind);
  const GpuProbe probe = probe_gpus();
  if (probe.device_count == 0)
    detail::fail(ErrorCode::kNoDevice, "backend {} needs a CUDA GPU and none is usable here ({})", name,
                 probe.status);
  if (options.device < 0 || options.device >= probe.device_count)
    detail::invalid("device is {}: expected 0..{} ({} GPU(s) present)", options.device, probe.device_count - 1,
                    probe.device_count);
  if (options.kind == BackendKind::kCudnn) return make_cudnn_backend(desc, weights, options);
  if (options.kind == BackendKind::kFused) return make_fused_backend(desc, weights, options);
  detail::invalid("backend {} is not a GPU backend", name);
}

}  // namespace lstmrt
