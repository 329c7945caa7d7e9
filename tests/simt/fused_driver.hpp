// The fused backend's forward on the CPU: the backend's own plan (src/fused/fused_plan.hpp) with
// its own parameter builders (fused_params.hpp, persistent_params.hpp) bound to host buffers, and
// every kernel op run by the kernels' own launchers (kernels/*.hpp) through the SIMT executor;
// GEMM ops run as cpu_gemm on the descriptor the GPU path gives cuBLASLt (gemm_call.hpp).
//
// Two steps, as the GPU path: bind() turns the plan's op list into bound ops (every parameter and
// address resolved, stream dependencies explicit), execute() runs them. The layer streams run in
// a seeded random interleaving that respects stream order, kFork / kJoin and the plan's events,
// as concurrent streams may on a GPU; each op runs to completion before the next starts.
//
// Buffers are host memory in the storage type: the workspace starts as 0xFF bytes (NaN in every
// float type) and y / h_n / c_n are poisoned, so an element nothing wrote fails the comparison.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "common/reference_runner.hpp"
#include "fused/fused_params.hpp"
#include "fused/gemm_call.hpp"
#include "fused/fused_plan.hpp"
#include "fused/persistent_params.hpp"
#include "fused/persistent_plan.hpp"
#include "kernels/persistent_lstm.hpp"

namespace lstmrt::simt {

struct FusedRunOptions {
  DataType type = DataType::kFloat32;
  MathMode math = MathMode::kStrict;
  std::vector<fused::LayerKernel> kernels;  // per layer; empty: every layer stepwise
  int chunk_steps = 0;                      // > 0: override the plan's chunk length
  PaddingMode padding = PaddingMode::kZero;
  ReverseOutputOrder order = ReverseOutputOrder::kOriginal;
  test::Wanted wanted{};
  // Planner limits for the persistent layers; default: fused::device_limits of
  // kernels::persistent_device_info(0), i.e. the executor's DeviceFacts (as the backend does).
  std::optional<fused::DeviceLimits> limits;
  // > 0: the planner's registers per SM instead (fewer weight registers: rows split between
  // registers and shared memory; no real device has such a budget, the kernel takes any plan).
  int planner_registers_per_sm = 0;
  std::uint64_t schedule_seed = 1;          // stream interleaving and every launch's schedule
  std::int64_t timeout_ns = kernels::kPersistentDefaultTimeoutNs;
  int debug_stall_block = -1, debug_stall_step = -1;  // every persistent launch (tests)
};

struct FusedRunResult {
  test::HostOutputs out;
  kernels::PersistentStatus status{};  // the persistent kernels' report (code 0: none gave up)
  std::vector<fused::PersistentPlan> persistent;  // per layer (fits = false for stepwise layers)
  int kernel_launches = 0, gemms = 0;
};

// One bound op (the plan's op with everything resolved) on stream `stream`.
struct BoundOp {
  fused::OpKind kind = fused::OpKind::kFork;
  int stream = 0;
  std::vector<int> after;  // indices of ops that must finish first, besides stream order
  kernels::GateStepParams gate{};
  kernels::InitStateParams init{};
  kernels::PersistentParams persistent{};
  int blocks = 0;
  fused::GemmCall gemm{};
  const void* gemm_a = nullptr;  // weight
  const void* gemm_b = nullptr;  // act
  void* gemm_c = nullptr;        // out
  void* clear = nullptr;
  std::size_t clear_bytes = 0;
  const std::int32_t* host_lengths = nullptr;
  std::int32_t* lengths = nullptr;
  int count = 0;
};

// Everything a plan's ops refer to, for bind().
struct BindInputs {
  const ModelDesc* desc = nullptr;
  const fused::FusedPlan* plan = nullptr;
  const std::vector<fused::PersistentPlan>* persistent = nullptr;  // per layer
  const fused::CallBuffers* buffers = nullptr;
  const ForwardRequest* request = nullptr;
  std::array<kernels::CellMathParams, 2> cell{};
  DataType type = DataType::kFloat32;
  MathMode math = MathMode::kStrict;
  kernels::PersistentStatus* status = nullptr;
  // A masked request: its mask packed as the backend packs it (src/request_mask.hpp), which the
  // kUploadMask op uploads as the backend does (upload_lengths, by value).
  const std::vector<std::int32_t>* mask_words = nullptr;
};
std::vector<BoundOp> bind(const BindInputs& in);
// Runs the bound ops; returns the number of kernel launches.
int execute(const std::vector<BoundOp>& ops, DataType type, std::uint64_t seed);

// A whole forward: inputs and outputs as float32 host arrays (converted to and from the storage
// type). Throws lstmrt::Error for a persistent layer whose plan does not fit or whose blocks are
// not co-resident, simt::KernelFault for a kernel fault.
FusedRunResult run_fused(const ModelDesc& desc, const Weights& weights, const test::HostInputs& in,
                         const FusedRunOptions& options);

}  // namespace lstmrt::simt
