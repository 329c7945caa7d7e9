// Internal: finding and loading cuDNN 9, cuBLAS / cuBLASLt and the GPU module (module_api.hpp),
// once per process, on first use.
//
// Each CUDA library is looked for by its soname (libcudnn.so.9, libcublasLt.so.<CUDA major>,
// libcublas.so.<CUDA major>), in this order, and the first copy that loads and has the right
// major version is used:
//   1. a copy already loaded in the process (e.g. by PyTorch): the module would bind to it anyway;
//   2. LSTMRT_GPU_LIBRARY_PATH, a ':'-separated list of folders; when set, nothing else is searched;
//   3. the nvidia-* pip packages (what PyTorch installs): ROOT/nvidia/*/lib for every ROOT among the
//      Python package roots given to add_library_roots() and the folder above the binary holding
//      lstmrt's core (site-packages, for the Python extension);
//   4. the system's search by soname (LD_LIBRARY_PATH, the binary's RUNPATH, ld.so.cache);
//   5. the folders the build found them in (the CUDA toolkit's, cuDNN's).
// The module (liblstmrt_gpu.so) is LSTMRT_GPU_MODULE when set, else looked for beside the binary
// holding the core and in ../lib from it, then by name (RUNPATH, LD_LIBRARY_PATH), then in this
// build's tree. When anything is missing, `problem` says which library and where it looked.
#pragma once

#include <string>
#include <vector>

#include "gpu_module/module_api.hpp"

namespace lstmrt::detail {

struct GpuLibraries {
  const gpu_module::GpuModuleApi* api = nullptr;                    // null when anything could not be loaded
  std::string problem;                                              // why api is null (one line)
  std::string cudnn_path, cublas_path, cublaslt_path, module_path;  // what was loaded
  gpu_module::GpuModuleVersions versions;                           // valid when api is set
};

// Loads everything the first time it is called (thread-safe); later calls return the same result.
const GpuLibraries& gpu_libraries();
// The module's table, or Error(kUnsupported) "backend NAME: <problem>".
const gpu_module::GpuModuleApi& require_gpu_module(const std::string& backend_name);
// Adds folders holding Python packages (site-packages) to search for nvidia/*/lib. Has an
// effect only before the first gpu_libraries() call.
void add_library_roots(const std::vector<std::string>& roots);
// The folder of the executable or shared object that holds this code.
std::string core_binary_dir();

}  // namespace lstmrt::detail
