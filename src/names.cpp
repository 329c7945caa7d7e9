// Names of the public enums (lstm.hpp): to_string and the parsers that name the valid choices.
// Shared by the core and the GPU module (both compile this file).
#include <string>

#include "common/check.hpp"
#include "lstmrt/lstm.hpp"

namespace lstmrt {

std::string to_string(BackendKind kind) {
  switch (kind) {
    case BackendKind::kReference: return "reference";
    case BackendKind::kCudnn: return "cudnn";
    case BackendKind::kFused: return "fused";
    case BackendKind::kAuto: return "auto";
  }
  return "unknown";
}

BackendKind backend_from_string(const std::string& name) {
  for (BackendKind k : {BackendKind::kReference, BackendKind::kCudnn, BackendKind::kFused, BackendKind::kAuto})
    if (name == to_string(k)) return k;
  detail::invalid("unknown backend '{}': expected reference, cudnn, fused or auto", name);
}

std::string to_string(DataType t) { return data_type_name(t); }

DataType data_type_from_string(const std::string& name) {
  std::string names;
  for (DataType t : kAllDataTypes) {
    if (name == to_string(t)) return t;
    names += (names.empty() ? "" : ", ") + to_string(t);
  }
  detail::invalid("unknown data type '{}': expected one of {}", name, names);
}

std::string to_string(CudnnAlgo a) {
  switch (a) {
    case CudnnAlgo::kAuto: return "auto";
    case CudnnAlgo::kStandard: return "standard";
    case CudnnAlgo::kPersistStatic: return "persist_static";
    case CudnnAlgo::kPersistStaticSmallH: return "persist_static_small_h";
    case CudnnAlgo::kPersistDynamic: return "persist_dynamic";
  }
  return "unknown";
}

std::string to_string(FusedKernel k) {
  switch (k) {
    case FusedKernel::kAuto: return "auto";
    case FusedKernel::kStepwise: return "stepwise";
    case FusedKernel::kPersistent: return "persistent";
    case FusedKernel::kCluster: return "cluster";
  }
  return "unknown";
}

FusedKernel fused_kernel_from_string(const std::string& name) {
  for (FusedKernel k : {FusedKernel::kAuto, FusedKernel::kStepwise, FusedKernel::kPersistent, FusedKernel::kCluster})
    if (name == to_string(k)) return k;
  detail::invalid("unknown fused kernel '{}': expected auto, stepwise, persistent or cluster", name);
}

}  // namespace lstmrt
