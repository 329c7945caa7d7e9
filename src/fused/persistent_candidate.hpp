// Internal: what a persistent variant can do for one request shape on the current device — the
// planner's fit on the device's limits, then the kernels' co-residency query for the plan's blocks
// (grid: all at once; cluster: one cluster at least). The fused backend chooses its kernels from
// these candidates (kernel_choice.hpp); the GPU tests derive the kernel they expect from the same
// call, so an expectation can never disagree with the backend's own fit.
#pragma once

#include <string>

#include "fused/kernel_choice.hpp"
#include "fused/persistent_plan.hpp"
#include "lstmrt/lstm.hpp"

namespace lstmrt::fused {

// The device facts the candidates need, queried once (kernels::persistent_device_info).
struct PersistentDevice {
  DeviceLimits limits;
  bool cooperative_launch = false;
  std::string refusal;  // why the persistent kernels cannot run at all (a failed device query)
};
// Queries `device`; a failed query is recorded in `refusal` (and the CUDA error cleared), not thrown.
PersistentDevice query_persistent_device(int device);

// `variant`'s candidate for a (seq_len, batch) request of `desc` in `type` on the current device
// (the one `device` describes). Sets the kernel's shared-memory attributes on the way; no device work.
VariantCandidate persistent_candidate(const ModelDesc& desc, DataType type, int seq_len, int batch,
                                      const PersistentDevice& device, PersistentVariant variant);

}  // namespace lstmrt::fused
