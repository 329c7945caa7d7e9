// The device facts the fused backend chooses its kernels from (fused_choose.hpp): the kernels'
// device query, and their occupancy query as the co-residency test. GPU code (CUDA runtime calls);
// everything it feeds is host logic.
#include <cuda_runtime_api.h>

#include "fused/fused_choose.hpp"
#include "fused/persistent_params.hpp"
#include "kernels/persistent_lstm.hpp"
#include "lstmrt/error.hpp"

namespace lstmrt::fused {

DeviceFacts query_device_facts(int device, DataType type) {
  DeviceFacts facts;
  try {
    const kernels::PersistentDeviceInfo info = kernels::persistent_device_info(device);
    facts.limits = device_limits(info);
    facts.cooperative_launch = info.cooperative_launch != 0;
  } catch (const Error& e) {
    (void)cudaGetLastError();
    facts.refusal = std::string("the device query failed: ") + e.what();
    return facts;
  }
  // The occupancy query for the plan's blocks on the current device (the one `device` names
  // while the backend runs); a failed query clears the CUDA error and throws to the chooser.
  facts.co_resident = [type](const PersistentPlan& plan) {
    try {
      return kernels::persistent_launch_fits(persistent_shape_params(plan), type, plan.total_blocks(), nullptr);
    } catch (const Error&) {
      (void)cudaGetLastError();
      throw;
    }
  };
  return facts;
}

}  // namespace lstmrt::fused
