// Execute, the last step of the fused backend's pipeline (choose → plan → bind → execute): the
// bound ops of one call (fused_bind.hpp) on the GPU. Layer l's ops run on stream l: stream 0 is the
// caller's, the others are the executor's own, forked from and joined back into the caller's
// (kFork / kJoin) and ordered between each other by one event per stream (kRecordEvent /
// kWaitEvent).
//
// Graphs: run() captures the whole call into a CUDA graph and launches it. A later run of the same
// bound call (same generation: same plan and addresses) only launches the instantiated graph,
// after the uploads, which carry values and so stay outside it: a few microseconds of host work for
// the whole sequence. A new bound call for the same plan (new addresses) is captured again (host
// work only) and the instantiated graph updated in place (cudaGraphExecUpdate: same topology); the
// first one instantiates it. On the legacy default stream (not capturable) or a stream the caller
// is already capturing, the ops are enqueued directly (into the caller's capture in the second case).
// GEMM descriptors and algorithms are prepared before any capture, so the cuBLASLt heuristic query
// stays out of the graph.
#pragma once

#include <cstdint>
#include <vector>

#include "fused/fused_bind.hpp"
#include "fused/fused_gemm.hpp"

typedef struct CUstream_st* cudaStream_t;
typedef struct CUevent_st* cudaEvent_t;
typedef struct CUgraphExec_st* cudaGraphExec_t;

namespace lstmrt::fused {

// One instantiated graph and the bound call it was captured from.
struct CallGraph {
  cudaGraphExec_t exec = nullptr;
  std::uint64_t generation = 0;  // BoundCall::generation of the last capture (0: none)
};

class Executor {
 public:
  // Streams and events for calls of up to `streams` streams, on the current device.
  explicit Executor(int streams);
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // Runs `call` on `caller` through `graph` (see the header comment). `gemm` runs the GEMM ops
  // (may be null for calls without one).
  void run(CallGraph& graph, const BoundCall& call, GemmRunner* gemm, DataType type, cudaStream_t caller);
  // Enqueues the ops of `call` directly on `caller` and the executor's streams (uploads included).
  void enqueue(const BoundCall& call, GemmRunner* gemm, DataType type, cudaStream_t caller, bool uploads = true);
  // Destroys a graph's instantiation (its CallGraph may be reused).
  static void release(CallGraph& graph) noexcept;

 private:
  void enqueue_op(const BoundOp& op, GemmRunner* gemm, DataType type, cudaStream_t caller);
  void uploads(const BoundCall& call, cudaStream_t caller);
  cudaStream_t stream_of(int stream, cudaStream_t caller) const { return stream == 0 ? caller : streams_[stream - 1]; }

  std::vector<cudaStream_t> streams_;  // stream s >= 1 is streams_[s − 1]
  std::vector<cudaEvent_t> events_;    // [0]: the fork; [1 + s]: stream s's progress
};

}  // namespace lstmrt::fused
