// Persistent variant candidates: planner fit + co-residency (see persistent_candidate.hpp).
#include "fused/persistent_candidate.hpp"

#include <cuda_runtime_api.h>

#include "fused/fused_params.hpp"
#include "fused/persistent_params.hpp"
#include "kernels/persistent_lstm.hpp"
#include "lstmrt/error.hpp"

namespace lstmrt::fused {

PersistentDevice query_persistent_device(int device) {
  PersistentDevice d;
  try {
    const kernels::PersistentDeviceInfo info = kernels::persistent_device_info(device);
    d.limits = device_limits(info);
    d.cooperative_launch = info.cooperative_launch != 0;
  } catch (const Error& e) {
    (void)cudaGetLastError();
    d.refusal = std::string("the device query failed: ") + e.what();
  }
  return d;
}

VariantCandidate persistent_candidate(const ModelDesc& desc, DataType type, int seq_len, int batch,
                                      const PersistentDevice& device, PersistentVariant variant) {
  VariantCandidate c;
  if (!device.refusal.empty()) {
    c.plan.reason = device.refusal;
    return c;
  }
  c.plan = make_persistent_plan(desc, type, batch, seq_len, device.limits, variant);
  if (!c.plan.fits) return c;
  if (variant == PersistentVariant::kGrid && !device.cooperative_launch) {
    c.refusal = "the device has no cooperative launches";
    return c;
  }
  try {
    c.co_resident = kernels::persistent_launch_fits(persistent_shape_params(c.plan), type,
                                                    c.plan.total_blocks(), nullptr);
  } catch (const Error& e) {
    (void)cudaGetLastError();
    c.refusal = std::string("the co-residency query failed: ") + e.what();
  }
  return c;
}

}  // namespace lstmrt::fused
