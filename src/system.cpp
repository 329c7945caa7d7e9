// The machine: GPUs, driver, CUDA/cuDNN/cuBLAS versions. Works with no driver installed:
// cudart is linked statically and reports cudaErrorInsufficientDriver / cudaErrorNoDevice.
#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>

#include <fmt/format.h>

#include "lstmrt/lstm.hpp"
#include "lstmrt/version.hpp"
#include "system_probe.hpp"

namespace lstmrt {

const GpuProbe& probe_gpus() {
  static const GpuProbe probe = [] {
    GpuProbe p;
    int count = 0;
    const cudaError_t status = cudaGetDeviceCount(&count);
    if (status != cudaSuccess) {
      p.status = fmt::format("cudaGetDeviceCount: {} ({})", cudaGetErrorName(status), cudaGetErrorString(status));
      cudaGetLastError();  // clear the sticky-free error so later calls start clean
      return p;
    }
    p.device_count = count;
    p.status = count > 0 ? "ok" : "cudaGetDeviceCount found no devices";
    return p;
  }();
  return probe;
}

bool gpu_available() { return probe_gpus().device_count > 0; }

SystemInfo query_system() {
  SystemInfo info;
  info.version = version();
  info.backends_built = {"reference", "cudnn", "fused"};
  info.backends_usable = {"reference"};
  if (gpu_available()) info.backends_usable = {"reference", "cudnn", "fused"};
  cudaRuntimeGetVersion(&info.cuda_runtime_version);
  if (cudaDriverGetVersion(&info.cuda_driver_version) != cudaSuccess) info.cuda_driver_version = 0;
  info.cudnn_version = cudnnGetVersion();
  int major = 0, minor = 0, patch = 0;
  if (cublasGetProperty(MAJOR_VERSION, &major) == CUBLAS_STATUS_SUCCESS &&
      cublasGetProperty(MINOR_VERSION, &minor) == CUBLAS_STATUS_SUCCESS &&
      cublasGetProperty(PATCH_LEVEL, &patch) == CUBLAS_STATUS_SUCCESS)
    info.cublas_version = major * 10000 + minor * 100 + patch;
  const GpuProbe& probe = probe_gpus();
  info.gpu_status = probe.status;
  for (int d = 0; d < probe.device_count; ++d) {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, d) != cudaSuccess) continue;
    info.gpus.push_back({d, prop.name, prop.major, prop.minor, prop.totalGlobalMem, prop.multiProcessorCount});
  }
  return info;
}

}  // namespace lstmrt
