// The fused backend's forward on the CPU: the backend's own pipeline — choose (the requested
// variant per layer, src/fused/fused_choose.hpp), plan (fused_plan.hpp), bind (fused_bind.hpp) —
// on host buffers, and the bound ops run here instead of on the GPU executor: every kernel op by
// the kernels' own launchers (kernels/*.hpp) through the SIMT executor, GEMM ops as cpu_gemm on the
// descriptor the GPU path gives cuBLASLt (gemm_call.hpp). The layer streams run in a seeded random
// interleaving that respects stream order and the bound ops' dependencies (kFork / kJoin and the
// plan's events), as concurrent streams may on a GPU; each op runs to completion before the next.
//
// Buffers are host memory in the storage type: the workspace starts as 0xFF bytes (NaN in every
// float type) and y / h_n / c_n are poisoned, so an element nothing wrote fails the comparison.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "common/reference_runner.hpp"
#include "fused/fused_bind.hpp"
#include "fused/fused_plan.hpp"
#include "fused/persistent_plan.hpp"
#include "kernels/persistent_lstm.hpp"

namespace lstmrt::simt {

struct FusedRunOptions {
  DataType type = DataType::kFloat32;
  MathMode math = MathMode::kStrict;
  std::vector<FusedKernel> kernels;  // per layer; empty: every layer stepwise
  int chunk_steps = 0;               // > 0: override the plan's chunk length
  PaddingMode padding = PaddingMode::kZero;
  ReverseOutputOrder order = ReverseOutputOrder::kOriginal;
  test::Wanted wanted{};
  // Planner limits for the persistent layers; default: those of fused::query_device_facts(0), i.e.
  // the executor's DeviceFacts (as the backend does).
  std::optional<fused::DeviceLimits> limits;
  // > 0: the planner's registers per SM instead (fewer weight registers: rows split between
  // registers and shared memory; no real device has such a budget, the kernel takes any plan).
  int planner_registers_per_sm = 0;
  std::uint64_t schedule_seed = 1;  // stream interleaving and every launch's schedule
  std::int64_t timeout_ns = kernels::kPersistentDefaultTimeoutNs;
  int debug_stall_block = -1, debug_stall_step = -1;  // every persistent launch (tests)
};

struct FusedRunResult {
  test::HostOutputs out;
  kernels::PersistentStatus status{};             // the persistent kernels' report (code 0: none gave up)
  std::vector<fused::PersistentPlan> persistent;  // per layer (fits = false for stepwise layers)
  int kernel_launches = 0, gemms = 0;
};

// Runs the bound ops of the fused backend's own bind (src/fused/fused_bind.hpp) on the CPU: kernels
// through the SIMT executor, GEMMs as cpu_gemm of the descriptor cuBLASLt would get. Returns the
// number of kernel launches.
int execute(const fused::BoundCall& call, DataType type, std::uint64_t seed);

// A whole forward: inputs and outputs as float32 host arrays (converted to and from the storage
// type). Throws lstmrt::Error for a persistent layer whose plan does not fit or whose blocks are
// not co-resident, simt::KernelFault for a kernel fault.
FusedRunResult run_fused(const ModelDesc& desc, const Weights& weights, const test::HostInputs& in,
                         const FusedRunOptions& options);

}  // namespace lstmrt::simt
