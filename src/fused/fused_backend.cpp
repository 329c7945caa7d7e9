// The fused backend: lstmrt's own kernels. Host side: weights packed and uploaded at create,
// one plan per request key (fused_plan.hpp), its ops enqueued on the caller's stream and per-layer
// streams forked from and joined back into it, the whole call captured as a CUDA graph and replayed.
//
// Graphs: one per request key. A forward with the same buffer addresses as the key's previous one
// only launches the instantiated graph on the caller's stream (after uploading the lengths, which
// travel by value and so stay outside the graph): a few microseconds of host work for the whole
// sequence. New addresses: the plan's ops are captured again (host work only) and the instantiated
// graph is updated in place (cudaGraphExecUpdate: same topology, new addresses); the first forward
// of a key instantiates it. On the legacy default stream (not capturable) or a stream the caller is
// already capturing, the ops are enqueued directly (into the caller's capture in the second case).
#include <cuda_runtime_api.h>

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "backend.hpp"
#include "common/check.hpp"
#include "common/cuda_check.hpp"
#include "common/device_buffer.hpp"
#include "fused/fused_gemm.hpp"
#include "fused/fused_params.hpp"
#include "fused/fused_plan.hpp"
#include "fused/fused_weights.hpp"
#include "kernels/cell_math_params.hpp"
#include "kernels/fused_step.hpp"
#include "kernels/upload_lengths.hpp"

namespace lstmrt {
namespace {

using fused::OpKind;

// Makes the backend's device current for a call and restores the caller's on the way out.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device) {
    LSTMRT_CUDA_CHECK(cudaGetDevice(&previous_));
    if (previous_ != device) LSTMRT_CUDA_CHECK(cudaSetDevice(device));
  }
  ~DeviceGuard() { cudaSetDevice(previous_); }  // cannot throw from a destructor; restoring is best effort
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = 0;
};

// Buffer addresses a captured graph has baked in: x, y, h0, c0, h_n, c_n, workspace.
using BoundAddresses = std::array<const void*, 7>;

struct PreparedPlan {
  fused::FusedPlan plan;
  cudaGraphExec_t exec = nullptr;
  BoundAddresses bound{};  // addresses of exec's last capture
};

class FusedBackend final : public Backend {
 public:
  FusedBackend(const ModelDesc& desc, const Weights& weights, const BackendOptions& options)
      : Backend(desc, options) {
    const DeviceGuard guard(options.device);
    gemm_ = std::make_unique<fused::GemmRunner>(options.data_type, options.math);
    weights_ = fused::upload_weights(desc, weights, options.data_type);
    for (int d = 0; d < 2; ++d) cell_[d] = kernels::make_cell_math_params(desc, d < desc.num_directions() ? d : 0);
    try {
      for (int l = 1; l < desc.num_layers; ++l) {
        cudaStream_t s = nullptr;
        LSTMRT_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
        streams_.push_back(s);
      }
      for (int e = 0; e <= desc.num_layers; ++e) {
        cudaEvent_t ev = nullptr;
        LSTMRT_CUDA_CHECK(cudaEventCreateWithFlags(&ev, cudaEventDisableTiming));
        events_.push_back(ev);
      }
    } catch (...) {
      release();  // the destructor does not run for a constructor that throws
      throw;
    }
  }

  ~FusedBackend() override { release(); }

  std::string name() const override { return "fused"; }
  MemorySpace memory_space() const override { return MemorySpace::kDevice; }
  void check_request(const ForwardRequest&) const override {}  // serves every valid request

  std::size_t workspace_size(int seq_len, int batch) const override {
    return fused::workspace_bytes(desc(), options().data_type, seq_len, batch);
  }

  void reserve(int seq_len, int batch) override {
    const DeviceGuard guard(options().device);
    const std::size_t need = workspace_size(seq_len, batch);
    if (own_workspace_.bytes() < need) own_workspace_ = detail::DeviceBuffer(need);
  }

  void forward(const ForwardRequest& req, cudaStream_t stream) override {
    const DeviceGuard guard(options().device);
    PreparedPlan& prepared = prepared_plan(fused::plan_key(req));
    const fused::FusedPlan& plan = prepared.plan;
    void* workspace = resolve_workspace(req, plan.workspace.total_bytes);
    const BoundAddresses addresses{req.x, req.y, req.h0, req.c0, req.h_n, req.c_n, workspace};
    cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
    LSTMRT_CUDA_CHECK(cudaStreamIsCapturing(stream, &capture));
    const bool use_graph = stream != nullptr && stream != cudaStreamLegacy && capture == cudaStreamCaptureStatusNone;
    if (use_graph && prepared.exec && prepared.bound == addresses) {  // replay
      launch(prepared, req, plan, workspace, stream);
      return;
    }
    fused::CallBuffers buffers = fused::call_buffers(plan.workspace, workspace, req);
    for (int l = 0; l < desc().num_layers; ++l) {
      fused::LayerBuffers& b = buffers.layers[l];
      b.w_ih = weights_[l].w_ih.get();
      b.w_hh = weights_[l].w_hh.get();
      b.w_hr = weights_[l].w_hr.get();
      b.bias = weights_[l].bias.as<float>();
      b.peephole = weights_[l].peephole.as<float>();
    }
    prepare_gemms(plan, buffers);

    if (!use_graph) {
      enqueue(plan, req, buffers, stream, true);
      return;
    }
    prepared.bound = {};  // until the capture below succeeds
    LSTMRT_CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
    cudaGraph_t graph = nullptr;
    try {
      enqueue(plan, req, buffers, stream, false);
    } catch (...) {
      cudaStreamEndCapture(stream, &graph);  // leave the caller's stream usable
      if (graph) cudaGraphDestroy(graph);
      throw;
    }
    LSTMRT_CUDA_CHECK(cudaStreamEndCapture(stream, &graph));
    try {
      update_or_instantiate(prepared, graph);
    } catch (...) {
      cudaGraphDestroy(graph);
      throw;
    }
    LSTMRT_CUDA_CHECK(cudaGraphDestroy(graph));
    prepared.bound = addresses;
    launch(prepared, req, plan, workspace, stream);
  }

 private:
  void release() noexcept {
    for (auto& p : prepared_)
      if (p->exec) cudaGraphExecDestroy(p->exec), p->exec = nullptr;
    for (cudaEvent_t e : events_) cudaEventDestroy(e);
    for (cudaStream_t s : streams_) cudaStreamDestroy(s);
    events_.clear();
    streams_.clear();
  }

  PreparedPlan& prepared_plan(const fused::PlanKey& key) {
    for (auto& p : prepared_)
      if (p->plan.key == key) return *p;
    auto p = std::make_unique<PreparedPlan>();
    p->plan = fused::make_plan(desc(), options().data_type, key);
    prepared_.push_back(std::move(p));
    return *prepared_.back();
  }

  void* resolve_workspace(const ForwardRequest& req, std::size_t need) {
    if (req.workspace) {
      if (req.workspace_bytes < need)
        detail::invalid("workspace_bytes is {}: backend fused needs at least {} for T={} N={} (Lstm::workspace_size)",
                        req.workspace_bytes, need, req.seq_len, req.batch);
      if (reinterpret_cast<std::uintptr_t>(req.workspace) % fused::kWorkspaceAlignment != 0)
        detail::invalid("workspace is not {}-byte aligned: expected an address as cudaMalloc returns",
                        fused::kWorkspaceAlignment);
      return req.workspace;
    }
    if (own_workspace_.bytes() < need)
      detail::invalid("backend fused has {} workspace bytes and T={} N={} needs {}: call Lstm::reserve({}, {}) first or "
                      "pass a workspace",
                      own_workspace_.bytes(), req.seq_len, req.batch, need, req.seq_len, req.batch);
    return own_workspace_.get();
  }

  // GEMM descriptors and algorithms before any capture: the heuristic query stays out of the graph.
  void prepare_gemms(const fused::FusedPlan& plan, const fused::CallBuffers& b) {
    const DataType t = options().data_type;
    for (const fused::Op& op : plan.ops) {
      if (op.kind != OpKind::kGemm) continue;
      gemm_->prepare(op.gemm, fused::matrix_address(b, op.gemm.act, t), fused::matrix_address(b, op.gemm.weight, t),
                    const_cast<void*>(fused::matrix_address(b, op.gemm.out, t)));
    }
  }

  // The lengths (by value, so never baked into the graph), then the graph, on the caller's stream.
  void launch(const PreparedPlan& prepared, const ForwardRequest& req, const fused::FusedPlan& plan, void* workspace,
              cudaStream_t stream) {
    if (req.lengths) {
      auto* d_lengths = reinterpret_cast<std::int32_t*>(static_cast<char*>(workspace) + plan.workspace.lengths.offset);
      kernels::upload_lengths(req.lengths, req.batch, d_lengths, stream);
    }
    LSTMRT_CUDA_CHECK(cudaGraphLaunch(prepared.exec, stream));
  }

  cudaStream_t stream_of(int layer, cudaStream_t caller) const { return layer == 0 ? caller : streams_[layer - 1]; }

  // Every op of the plan in issue order; kUploadLengths only when `with_lengths` (graphs upload them
  // outside, before the launch).
  void enqueue(const fused::FusedPlan& plan, const ForwardRequest& req, const fused::CallBuffers& b,
               cudaStream_t caller, bool with_lengths) {
    const DataType t = options().data_type;
    const kernels::StorageType storage = fused::storage_type(t);
    for (const fused::Op& op : plan.ops) {
      const cudaStream_t s = stream_of(op.layer, caller);
      switch (op.kind) {
        case OpKind::kUploadLengths:
          if (with_lengths) kernels::upload_lengths(req.lengths, req.batch, b.lengths, caller);
          break;
        case OpKind::kFork:
          LSTMRT_CUDA_CHECK(cudaEventRecord(events_[0], caller));
          for (cudaStream_t side : streams_) LSTMRT_CUDA_CHECK(cudaStreamWaitEvent(side, events_[0], 0));
          break;
        case OpKind::kInitState:
          kernels::launch_init_state(fused::init_state_params(desc(), plan, op.layer, b, t), storage, s);
          break;
        case OpKind::kGemm:
          gemm_->run(op.gemm, fused::matrix_address(b, op.gemm.act, t), fused::matrix_address(b, op.gemm.weight, t),
                    const_cast<void*>(fused::matrix_address(b, op.gemm.out, t)), b.layers[op.layer].cublas_workspace, s);
          break;
        case OpKind::kGateStep:
          kernels::launch_gate_step(fused::gate_step_params(desc(), plan, op, b, cell_, t), storage, s);
          break;
        case OpKind::kRecordEvent: LSTMRT_CUDA_CHECK(cudaEventRecord(events_[1 + op.layer], s)); break;
        case OpKind::kWaitEvent: LSTMRT_CUDA_CHECK(cudaStreamWaitEvent(s, events_[1 + op.wait_layer], 0)); break;
        case OpKind::kJoin:
          for (std::size_t l = 0; l < streams_.size(); ++l) {
            LSTMRT_CUDA_CHECK(cudaEventRecord(events_[2 + l], streams_[l]));
            LSTMRT_CUDA_CHECK(cudaStreamWaitEvent(caller, events_[2 + l], 0));
          }
          break;
      }
    }
  }

  void update_or_instantiate(PreparedPlan& prepared, cudaGraph_t graph) {
    if (prepared.exec) {
      cudaGraphExecUpdateResultInfo info{};
      if (cudaGraphExecUpdate(prepared.exec, graph, &info) == cudaSuccess) return;
      (void)cudaGetLastError();  // a refused update (topology changed, e.g. another cuBLASLt kernel): rebuild
      LSTMRT_CUDA_CHECK(cudaGraphExecDestroy(prepared.exec));
      prepared.exec = nullptr;
    }
    LSTMRT_CUDA_CHECK(cudaGraphInstantiate(&prepared.exec, graph, 0));
  }

  std::unique_ptr<fused::GemmRunner> gemm_;  // created with the backend's device current
  std::vector<fused::DeviceLayer> weights_;
  std::array<kernels::CellMathParams, 2> cell_{};
  std::vector<cudaStream_t> streams_;  // layer l >= 1 runs on streams_[l − 1]
  std::vector<cudaEvent_t> events_;    // [0]: fork; [1 + l]: layer l's progress
  detail::DeviceBuffer own_workspace_;
  std::vector<std::unique_ptr<PreparedPlan>> prepared_;
};

}  // namespace

// Serves every model and data type (MathMode::kTF32 only changes float32 GEMMs).
std::unique_ptr<Backend> make_fused_backend(const ModelDesc& desc, const Weights& weights, const BackendOptions& options) {
  return std::make_unique<FusedBackend>(desc, weights, options);
}

}  // namespace lstmrt
