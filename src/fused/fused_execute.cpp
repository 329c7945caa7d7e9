// The bound ops of one call on the GPU (see fused_execute.hpp).
#include "fused/fused_execute.hpp"

#include <cuda_runtime_api.h>

#include "common/check.hpp"
#include "common/cuda_check.hpp"
#include "kernels/fused_step.hpp"
#include "kernels/persistent_lstm.hpp"
#include "kernels/upload_lengths.hpp"

namespace lstmrt::fused {

Executor::Executor(int streams) {
  try {
    for (int s = 1; s < streams; ++s) {
      cudaStream_t stream = nullptr;
      LSTMRT_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
      streams_.push_back(stream);
    }
    for (int e = 0; e <= streams; ++e) {
      cudaEvent_t event = nullptr;
      LSTMRT_CUDA_CHECK(cudaEventCreateWithFlags(&event, cudaEventDisableTiming));
      events_.push_back(event);
    }
  } catch (...) {
    for (cudaEvent_t e : events_) cudaEventDestroy(e);
    for (cudaStream_t s : streams_) cudaStreamDestroy(s);
    throw;
  }
}

Executor::~Executor() {
  for (cudaEvent_t e : events_) cudaEventDestroy(e);
  for (cudaStream_t s : streams_) cudaStreamDestroy(s);
}

void Executor::release(CallGraph& graph) noexcept {
  if (graph.exec) cudaGraphExecDestroy(graph.exec);
  graph.exec = nullptr;
  graph.generation = 0;
}

void Executor::run(CallGraph& graph, const BoundCall& call, GemmRunner* gemm, DataType type, cudaStream_t caller) {
  cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
  LSTMRT_CUDA_CHECK(cudaStreamIsCapturing(caller, &capture));
  const bool use_graph = caller != nullptr && caller != cudaStreamLegacy && capture == cudaStreamCaptureStatusNone;
  if (use_graph && graph.exec && graph.generation == call.generation) {  // replay
    uploads(call, caller);
    LSTMRT_CUDA_CHECK(cudaGraphLaunch(graph.exec, caller));
    return;
  }
  if (!use_graph) {
    enqueue(call, gemm, type, caller, true);
    return;
  }
  for (const BoundOp& op : call.ops)  // the cuBLASLt heuristic queries stay out of the capture
    if (op.kind == OpKind::kGemm && gemm) gemm->prepare(op.gemm_call, op.gemm_act, op.gemm_weight, op.gemm_out);
  graph.generation = 0;  // until the capture below succeeds
  LSTMRT_CUDA_CHECK(cudaStreamBeginCapture(caller, cudaStreamCaptureModeThreadLocal));
  cudaGraph_t captured = nullptr;
  try {
    enqueue(call, gemm, type, caller, false);
  } catch (...) {
    cudaStreamEndCapture(caller, &captured);  // leave the caller's stream usable
    if (captured) cudaGraphDestroy(captured);
    throw;
  }
  LSTMRT_CUDA_CHECK(cudaStreamEndCapture(caller, &captured));
  try {
    bool updated = false;
    if (graph.exec) {
      cudaGraphExecUpdateResultInfo info{};
      updated = cudaGraphExecUpdate(graph.exec, captured, &info) == cudaSuccess;
      if (!updated) {
        (void)cudaGetLastError();  // a refused update (topology changed, e.g. another cuBLASLt kernel): rebuild
        cudaGraphExec_t old = graph.exec;
        graph.exec = nullptr;
        LSTMRT_CUDA_CHECK(cudaGraphExecDestroy(old));
      }
    }
    if (!updated) LSTMRT_CUDA_CHECK(cudaGraphInstantiate(&graph.exec, captured, 0));
  } catch (...) {
    cudaGraphDestroy(captured);
    throw;
  }
  LSTMRT_CUDA_CHECK(cudaGraphDestroy(captured));
  graph.generation = call.generation;
  uploads(call, caller);
  LSTMRT_CUDA_CHECK(cudaGraphLaunch(graph.exec, caller));
}

void Executor::uploads(const BoundCall& call, cudaStream_t caller) {
  for (const BoundOp& op : call.ops)
    if (op.kind == OpKind::kUploadLengths || op.kind == OpKind::kUploadMask)
      kernels::upload_lengths(op.upload_source, op.upload_count, op.upload_target, caller);
}

void Executor::enqueue(const BoundCall& call, GemmRunner* gemm, DataType type, cudaStream_t caller, bool with_uploads) {
  if (call.streams > static_cast<int>(streams_.size()) + 1)
    detail::fail(ErrorCode::kInternal, "fused executor: a call on {} streams, the executor has {}", call.streams,
                 streams_.size() + 1);
  for (const BoundOp& op : call.ops) {
    if (!with_uploads && (op.kind == OpKind::kUploadLengths || op.kind == OpKind::kUploadMask)) continue;
    enqueue_op(op, gemm, type, caller);
  }
}

void Executor::enqueue_op(const BoundOp& op, GemmRunner* gemm, DataType type, cudaStream_t caller) {
  const cudaStream_t s = stream_of(op.stream, caller);
  switch (op.kind) {
    case OpKind::kUploadLengths:
    case OpKind::kUploadMask:
      kernels::upload_lengths(op.upload_source, op.upload_count, op.upload_target, caller);
      break;
    case OpKind::kFork:
      LSTMRT_CUDA_CHECK(cudaEventRecord(events_[0], caller));
      for (cudaStream_t side : streams_) LSTMRT_CUDA_CHECK(cudaStreamWaitEvent(side, events_[0], 0));
      break;
    case OpKind::kInitState: kernels::launch_init_state(op.init, type, s); break;
    case OpKind::kGemm:
      if (!gemm) detail::fail(ErrorCode::kInternal, "fused executor: a GEMM op without a GEMM runner");
      gemm->run(op.gemm_call, op.gemm_act, op.gemm_weight, op.gemm_out, op.gemm_workspace, s);
      break;
    case OpKind::kGateStep: kernels::launch_gate_step(op.gate, type, s); break;
    case OpKind::kRecordEvent: LSTMRT_CUDA_CHECK(cudaEventRecord(events_[1 + op.stream], s)); break;
    case OpKind::kWaitEvent: LSTMRT_CUDA_CHECK(cudaStreamWaitEvent(s, events_[1 + op.wait_stream], 0)); break;
    case OpKind::kClearPersistent: LSTMRT_CUDA_CHECK(cudaMemsetAsync(op.clear, 0, op.clear_bytes, caller)); break;
    case OpKind::kPersistent: kernels::launch_persistent_lstm(op.persistent, type, op.blocks, s); break;
    case OpKind::kJoin:
      for (std::size_t l = 0; l < streams_.size(); ++l) {
        LSTMRT_CUDA_CHECK(cudaEventRecord(events_[2 + l], streams_[l]));
        LSTMRT_CUDA_CHECK(cudaStreamWaitEvent(caller, events_[2 + l], 0));
      }
      break;
  }
}

}  // namespace lstmrt::fused
