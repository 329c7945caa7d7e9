// Internal: the one interface between lstmrt's core and its GPU module.
//
// The core — API objects, validation, the reference backend, file formats, the CLI — links no CUDA
// library. The GPU backends (src/cudnn, src/fused, kernels/) and the CUDA runtime (linked
// statically) live in a shared module, liblstmrt_gpu.so, which depends on cuDNN 9 and cuBLAS /
// cuBLASLt. The core loads it with dlopen on the first use of a GPU backend (or query_system()):
// src/gpu_loader.cpp first loads cuDNN and cuBLAS from where it finds them (see gpu_loader.hpp),
// so that the module's DT_NEEDED entries bind to those copies, then the module itself.
//
// The module exports exactly one symbol, the C function kModuleEntryName, which returns a pointer
// to a static GpuModuleApi. What crosses the boundary:
//   - lstmrt's public structs (ModelDesc, Weights, BackendOptions, ForwardRequest) by reference
//     and std::string. Core and module come from one build: the loader refuses a module whose
//     build_id differs from its own (lstmrt version, ABI number and the sizes of those structs).
//   - no exception: every entry is noexcept and reports a failure as a Status, which the core
//     rethrows as lstmrt::Error with the same code and message.
//   - no memory ownership other than GpuBackend objects, which the module allocates and
//     GpuBackend::destroy frees.
// Device pointers and cudaStream_t handles mean the same in both (the driver's primary context).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include <fmt/format.h>

#include "lstmrt/error.hpp"
#include "lstmrt/lstm.hpp"

namespace lstmrt::gpu_module {

constexpr std::uint32_t kAbiVersion = 2;  // 2: execution_plan takes whether the request is masked
inline constexpr const char* kModuleEntryName = "lstmrt_gpu_module_v1";

// Identity both sides compute; equal strings mean the module can be called.
inline std::string build_id(const char* lstmrt_version) {
  return fmt::format("lstmrt {} abi {} desc {} weights {} options {} request {}", lstmrt_version, kAbiVersion,
                     sizeof(ModelDesc), sizeof(Weights), sizeof(BackendOptions), sizeof(ForwardRequest));
}

// The outcome of one call: ok, or the lstmrt::Error it would have thrown.
struct Status {
  bool ok = true;
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
};

// One cudnn or fused backend inside the module; the methods mirror lstmrt::Backend (backend.hpp)
// and Lstm (lstm.hpp). `this` is only used from one thread at a time unless stated.
class GpuBackend {
 public:
  virtual const char* name() const noexcept = 0;  // "cudnn" or "fused"
  virtual Status check_request(const ForwardRequest& req) const noexcept = 0;
  virtual Status forward(const ForwardRequest& req, cudaStream_t stream) noexcept = 0;  // device pointers
  virtual Status forward_host(const ForwardRequest& req) noexcept = 0;  // host pointers: staged, synchronised
  virtual Status workspace_size(int seq_len, int batch, std::size_t* bytes) const noexcept = 0;
  virtual Status reserve(int seq_len, int batch) noexcept = 0;
  virtual Status execution_plan(int seq_len, int batch, bool masked, std::string* plan) const noexcept = 0;
  virtual Status check_persistent_status() noexcept = 0;
  virtual void destroy() noexcept = 0;  // deletes this object (module-side allocation)

 protected:
  ~GpuBackend() = default;  // only destroy() deletes
};

// Versions of what the module runs on, as loaded in this process.
struct GpuModuleVersions {
  int cuda_runtime = 0;        // the statically linked CUDA runtime, e.g. 13000
  std::size_t cudnn = 0;       // cudnnGetVersion(), e.g. 91900
  std::size_t cudnn_cuda = 0;  // cudnnGetCudartVersion(): the CUDA cuDNN was built for
  int cublas = 0;              // major·10000 + minor·100 + patch
};

struct GpuModuleApi {
  std::uint32_t abi_version;  // kAbiVersion
  const char* build_id;       // build_id(version()) as the module computed it
  void (*versions)(GpuModuleVersions* out) noexcept;
  // options.kind is kCudnn or kFused; desc and weights are already validated by the core, and
  // options.device names an existing GPU. On success *out owns a new backend.
  Status (*create)(const ModelDesc& desc, const Weights& weights, const BackendOptions& options,
                   GpuBackend** out) noexcept;
  // Stream-ordered device memory (cudaMallocAsync / cudaFreeAsync on `device`), for callers that
  // need buffers outside any framework's allocator (the Python package's outputs for jax).
  Status (*device_alloc)(int device, std::size_t bytes, cudaStream_t stream, void** out) noexcept;
  Status (*device_free)(int device, void* ptr, cudaStream_t stream) noexcept;
};

// The type of the exported function: extern "C" const GpuModuleApi* lstmrt_gpu_module_v1().
using ModuleEntry = const GpuModuleApi* (*)();

}  // namespace lstmrt::gpu_module
