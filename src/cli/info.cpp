// `lstmrt info`: what this build and this machine offer.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cli/commands.hpp"
#include "lstmrt/lstm.hpp"

namespace lstmrt::cli {
namespace {

// CUDA encodes 13.0 as 13000 (major·1000 + minor·10); cuDNN 9 and lstmrt's cuBLAS number as
// major·10000 + minor·100 + patch.
std::string cuda_version(int v) { return fmt::format("{}.{}", v / 1000, v % 1000 / 10); }
std::string decimal_version(std::size_t v) { return fmt::format("{}.{}.{}", v / 10000, v / 100 % 100, v % 100); }
std::string list(const std::vector<std::string>& names) {
  return names.empty() ? "none" : fmt::format("{}", fmt::join(names, ", "));
}

}  // namespace

int info_command(std::ostream& out) {
  const SystemInfo info = query_system();
  out << fmt::format("lstmrt {}\n", info.version);
  out << fmt::format("backends built in: {}\n", list(info.backends_built));
  out << fmt::format("backends usable here: {}\n", list(info.backends_usable));
  if (info.gpus.empty()) {
    out << fmt::format("GPUs: none ({})\n", info.gpu_status.empty() ? "no CUDA device found" : info.gpu_status);
  } else {
    for (const GpuInfo& g : info.gpus)
      out << fmt::format("GPU {}: {}, compute capability {}.{}, {:.1f} GiB, {} SMs\n", g.ordinal, g.name,
                         g.compute_major, g.compute_minor, g.memory_bytes / double(1ull << 30), g.multiprocessors);
  }
  out << fmt::format("CUDA runtime: {}\n", cuda_version(info.cuda_runtime_version));
  out << fmt::format("CUDA driver: {}\n", info.cuda_driver_version ? cuda_version(info.cuda_driver_version)
                                                                   : std::string("none (no NVIDIA driver loaded)"));
  out << fmt::format("cuDNN: {}\n", info.cudnn_version
                                        ? fmt::format("{} ({}, built for CUDA {})", decimal_version(info.cudnn_version),
                                                      info.cudnn_path, cuda_version(info.cudnn_cuda_version))
                                        : "not loadable");
  out << fmt::format("cuBLAS: {}\n", info.cublas_version ? fmt::format("{} ({})", decimal_version(info.cublas_version),
                                                                       info.cublas_path)
                                                         : "not loadable");
  out << fmt::format("GPU module: {}\n", info.gpu_libraries_status == "ok"
                                             ? info.gpu_module_path
                                             : "not loaded: " + info.gpu_libraries_status);
  return 0;
}

}  // namespace lstmrt::cli
