// The machine: GPUs, driver, CUDA/cuDNN/cuBLAS versions. The core links no CUDA library: GPUs are
// found through the driver API (libcuda.so.1, loaded with dlopen), so a machine without an NVIDIA
// driver says exactly that; cuDNN, cuBLAS and the GPU module are loaded by gpu_loader.cpp.
#include <cuda.h>  // types, enums and CUDA_VERSION only: nothing is linked

#include <dlfcn.h>

#include <fmt/format.h>

#include "gpu_loader.hpp"
#include "lstmrt/lstm.hpp"
#include "lstmrt/version.hpp"
#include "system_probe.hpp"

namespace lstmrt {
namespace {

// The driver entry points the probe uses, resolved from libcuda.so.1.
struct Driver {
  CUresult (*init)(unsigned) = nullptr;
  CUresult (*driver_version)(int*) = nullptr;
  CUresult (*device_count)(int*) = nullptr;
  CUresult (*device_get)(CUdevice*, int) = nullptr;
  CUresult (*device_name)(char*, int, CUdevice) = nullptr;
  CUresult (*device_attribute)(int*, CUdevice_attribute, CUdevice) = nullptr;
  CUresult (*device_total_mem)(std::size_t*, CUdevice) = nullptr;
  CUresult (*error_name)(CUresult, const char**) = nullptr;
  CUresult (*error_string)(CUresult, const char**) = nullptr;

  std::string describe(const char* call, CUresult r) const {
    const char* name = nullptr;
    const char* text = nullptr;
    if (error_name) error_name(r, &name);
    if (error_string) error_string(r, &text);
    return fmt::format("{}: {} ({})", call, name ? name : fmt::format("CUresult {}", static_cast<int>(r)),
                       text ? text : "no description");
  }
};

template <typename F>
bool resolve(void* lib, const char* name, F& out) {
  out = reinterpret_cast<F>(dlsym(lib, name));
  return out != nullptr;
}

struct DriverProbe {
  GpuProbe probe;
  int driver_version = 0;
  std::vector<GpuInfo> gpus;
};

DriverProbe probe_driver() {
  DriverProbe out;
  GpuProbe& p = out.probe;
  dlerror();
  void* lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char* e = dlerror();
    p.status = fmt::format("no NVIDIA driver: libcuda.so.1 could not be loaded ({})", e ? e : "not found");
    return out;
  }
  Driver d;
  if (!resolve(lib, "cuInit", d.init) || !resolve(lib, "cuDriverGetVersion", d.driver_version) ||
      !resolve(lib, "cuDeviceGetCount", d.device_count) || !resolve(lib, "cuDeviceGet", d.device_get) ||
      !resolve(lib, "cuDeviceGetName", d.device_name) || !resolve(lib, "cuDeviceGetAttribute", d.device_attribute) ||
      !resolve(lib, "cuDeviceTotalMem_v2", d.device_total_mem)) {
    p.status = "the NVIDIA driver's libcuda.so.1 lacks the CUDA driver API entry points lstmrt needs";
    return out;  // the library stays loaded: unloading a driver library is never worth the risk
  }
  resolve(lib, "cuGetErrorName", d.error_name);
  resolve(lib, "cuGetErrorString", d.error_string);
  if (d.driver_version(&out.driver_version) != CUDA_SUCCESS) out.driver_version = 0;
  if (const CUresult r = d.init(0); r != CUDA_SUCCESS) {
    p.status = r == CUDA_ERROR_STUB_LIBRARY
                   ? "no NVIDIA driver: libcuda.so.1 is the CUDA toolkit's stub library, not a driver"
                   : d.describe("cuInit", r);
    return out;
  }
  if (out.driver_version > 0 && out.driver_version < CUDA_VERSION) {
    p.status = fmt::format(
        "the NVIDIA driver supports CUDA {}.{}; lstmrt's GPU backends are built with CUDA {}.{} "
        "and need a newer driver",
        out.driver_version / 1000, out.driver_version % 1000 / 10, CUDA_VERSION / 1000, CUDA_VERSION % 1000 / 10);
    return out;
  }
  int count = 0;
  if (const CUresult r = d.device_count(&count); r != CUDA_SUCCESS) {
    p.status = d.describe("cuDeviceGetCount", r);
    return out;
  }
  for (int i = 0; i < count; ++i) {
    CUdevice dev = 0;
    if (d.device_get(&dev, i) != CUDA_SUCCESS) continue;
    GpuInfo g;
    g.ordinal = i;
    char name[256] = {};
    if (d.device_name(name, sizeof name - 1, dev) == CUDA_SUCCESS) g.name = name;
    d.device_attribute(&g.compute_major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev);
    d.device_attribute(&g.compute_minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev);
    d.device_attribute(&g.multiprocessors, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, dev);
    d.device_total_mem(&g.memory_bytes, dev);
    out.gpus.push_back(std::move(g));
  }
  p.device_count = count;
  p.status = count > 0 ? "ok" : "the NVIDIA driver found no CUDA devices";
  return out;
}

const DriverProbe& driver_probe() {
  static const DriverProbe probe = probe_driver();
  return probe;
}

}  // namespace

const GpuProbe& probe_gpus() { return driver_probe().probe; }

bool gpu_available() { return probe_gpus().device_count > 0; }

SystemInfo query_system() {
  SystemInfo info;
  info.version = version();
  info.backends_built = {"reference", "cudnn", "fused"};
  info.backends_usable = {"reference"};
  info.cuda_runtime_version = CUDA_VERSION;
  const DriverProbe& probe = driver_probe();
  info.cuda_driver_version = probe.driver_version;
  info.gpus = probe.gpus;
  info.gpu_status = probe.probe.status;

  const detail::GpuLibraries& libs = detail::gpu_libraries();
  info.gpu_libraries_status = libs.api ? "ok" : libs.problem;
  info.cudnn_path = libs.cudnn_path;
  info.cublas_path = libs.cublas_path;
  info.gpu_module_path = libs.module_path;
  if (libs.api) {
    info.cuda_runtime_version = libs.versions.cuda_runtime;
    info.cudnn_version = libs.versions.cudnn;
    info.cudnn_cuda_version = static_cast<int>(libs.versions.cudnn_cuda);
    info.cublas_version = libs.versions.cublas;
    if (gpu_available()) info.backends_usable = {"reference", "cudnn", "fused"};
  }
  return info;
}

}  // namespace lstmrt
