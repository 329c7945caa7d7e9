// Bind, the third step of the fused backend's pipeline (choose → plan → bind → execute): a plan's
// ops (fused_plan.hpp) with the call's addresses become bound ops — every kernel's by-value
// parameters, every GEMM's operand addresses, every copy's source and destination resolved, and
// the stream order made explicit. Pure host arithmetic, CPU-tested (tests/cpu/test_fused_bind.cpp:
// every pointer and extent inside the buffer it names). Three executors run the same bound ops:
// the GPU one (fused_execute.hpp: streams, events, a CUDA graph), the CPU SIMT executor
// (tests/simt/fused_driver.cpp: kernels through the executor, GEMMs on the CPU) and the benchmark
// harness (bench/persistent_harness.hpp: one persistent launch).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "fused/fused_params.hpp"
#include "fused/fused_plan.hpp"
#include "fused/gemm_call.hpp"
#include "kernels/fused_step_math.cuh"
#include "kernels/persistent_lstm.hpp"

namespace lstmrt::fused {

// The addresses a bound call (and a CUDA graph captured from it) has baked in.
struct CallAddresses {
  const void* x = nullptr;
  const void* y = nullptr;
  const void* h0 = nullptr;
  const void* c0 = nullptr;
  const void* h_n = nullptr;
  const void* c_n = nullptr;
  const void* workspace = nullptr;
  std::size_t workspace_bytes = 0;
  bool operator==(const CallAddresses& o) const;
  bool operator!=(const CallAddresses& o) const { return !(*this == o); }
};
CallAddresses call_addresses(const ForwardRequest& req, void* workspace, std::size_t workspace_bytes);

// Host memory the upload ops copy from (by value, at enqueue time, so never baked into a graph):
// the request's lengths (N) and its mask packed as src/request_mask.hpp packs it. The caller
// refills it before every execution; the bound ops keep pointing at it.
struct UploadStaging {
  std::vector<std::int32_t> lengths;
  std::vector<std::int32_t> mask_words;
};

// One op of the plan with everything resolved, on stream `stream` (layer l's ops run on stream l;
// stream 0 is the caller's).
struct BoundOp {
  OpKind kind = OpKind::kFork;
  int stream = 0;
  // Indices of earlier ops that must finish first besides stream order (kFork's successors on the
  // other streams, kWaitEvent's record, kJoin's last op of each stream). The GPU executor gets the
  // same order from its events; the CPU executor schedules by it.
  std::vector<int> after;
  int wait_stream = 0;                     // kWaitEvent: the stream whose recorded event this op waits for
  kernels::InitStateParams init{};         // kInitState
  kernels::GateStepParams gate{};          // kGateStep
  kernels::PersistentParams persistent{};  // kPersistent
  int blocks = 0;                          // kPersistent: blocks of the launch
  GemmCall gemm_call;                      // kGemm: the cuBLASLt call of the plan's GemmOp, and its operands:
  const void* gemm_act = nullptr;
  const void* gemm_weight = nullptr;
  void* gemm_out = nullptr;
  void* gemm_workspace = nullptr;  // the stream's cuBLASLt scratch (kCublasWorkspaceBytes)
  void* clear = nullptr;           // kClearPersistent: zero [clear, clear + clear_bytes)
  std::size_t clear_bytes = 0;
  const std::int32_t* upload_source = nullptr;  // kUploadLengths / kUploadMask: count values
  std::int32_t* upload_target = nullptr;        //   from host staging into the workspace
  int upload_count = 0;
};

struct BoundCall {
  CallAddresses addresses;
  std::uint64_t generation = 0;  // unique per bind() (a graph captured from it remembers which)
  int streams = 0;
  std::vector<BoundOp> ops;  // issue order
};

// Everything bind reads besides the plan.
struct BindInputs {
  void* workspace = nullptr;
  std::size_t workspace_bytes = 0;
  const std::vector<LayerWeights>* weights = nullptr;  // per layer
  std::array<kernels::CellMathParams, 2> cell{};
  MathMode math = MathMode::kStrict;            // float32 GEMMs: exact or TF32
  kernels::PersistentStatus* status = nullptr;  // the persistent kernels' report (may be null)
  const UploadStaging* staging = nullptr;       // sized for the plan (lengths N, mask words)
};

// Binds `plan` (made for this request's key). Throws kInvalidArgument for a workspace that is
// null, too small (naming the bytes needed and Lstm::workspace_size) or not kWorkspaceAlignment
// aligned; kInternal when the plan, the weights or the staging do not match the request.
BoundCall bind(const ModelDesc& desc, DataType type, const FusedPlan& plan, const ForwardRequest& req,
               const BindInputs& in);

}  // namespace lstmrt::fused
