// Internal: what CUDA devices this process can use (cached after the first call).
#pragma once

#include <string>

namespace lstmrt {

struct GpuProbe {
  int device_count = 0;  // 0 when no driver, no device or any CUDA error
  std::string status;    // "ok", or the CUDA error that explains device_count == 0
};

const GpuProbe& probe_gpus();

}  // namespace lstmrt
