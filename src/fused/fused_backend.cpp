// The fused backend: lstmrt's own kernels. Host side: weights packed and uploaded at create,
// one plan per request key (fused_plan.hpp), its ops enqueued on the caller's stream and per-layer
// streams forked from and joined back into it, the whole call captured as a CUDA graph and replayed.
//
// Graphs: one per request key. A forward with the same buffer addresses as the key's previous one
// only launches the instantiated graph on the caller's stream (after uploading the lengths or the
// packed mask, which travel by value and so stay outside the graph): a few microseconds of host work for the whole
// sequence. New addresses: the plan's ops are captured again (host work only) and the instantiated
// graph is updated in place (cudaGraphExecUpdate: same topology, new addresses); the first forward
// of a key instantiates it. On the legacy default stream (not capturable) or a stream the caller is
// already capturing, the ops are enqueued directly (into the caller's capture in the second case).
//
// Kernel variants per layer (the rule and its reasons: kernel_choice.hpp): the first
// forward of a key chooses stepwise, persistent grid or persistent cluster for every layer from
// BackendOptions::fused_kernel, the planner's fit on this device (limits queried at create) and the
// co-residency query, or for kAuto the variant reserve(T, N) measured fastest (one forward of each
// usable variant timed on a private stream: warm-up, median of 3). A persistent layer is one
// kPersistent launch per time chunk; its exchange buffers and abort word live in the workspace and
// are cleared by the plan's first op. A persistent kernel that gives up on a wait (bounded spin)
// writes the host-mapped PersistentStatus; check_persistent_status (called by forward at entry)
// reports and clears it.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <utility>
#include <vector>

#include "backend.hpp"
#include "common/check.hpp"
#include "common/cuda_check.hpp"
#include "common/device_buffer.hpp"
#include "common/device_guard.hpp"
#include "common/mapped_host.hpp"
#include "fused/fused_gemm.hpp"
#include "fused/fused_params.hpp"
#include "fused/fused_plan.hpp"
#include "fused/fused_weights.hpp"
#include "fused/kernel_choice.hpp"
#include "fused/persistent_candidate.hpp"
#include "fused/persistent_params.hpp"
#include "fused/persistent_plan.hpp"
#include "kernels/cell_math_params.hpp"
#include "kernels/fused_step.hpp"
#include "kernels/persistent_lstm.hpp"
#include "kernels/upload_lengths.hpp"
#include "request_mask.hpp"

namespace lstmrt {
namespace {

using fused::OpKind;

// Buffer addresses a captured graph has baked in: x, y, h0, c0, h_n, c_n, workspace.
using BoundAddresses = std::array<const void*, 7>;

struct PreparedPlan {
  FusedKernel requested = FusedKernel::kAuto;  // what the choice was made for (key of the cache with plan.key)
  std::vector<fused::LayerChoice> choices;    // per layer
  fused::FusedPlan plan;
  cudaGraphExec_t exec = nullptr;
  BoundAddresses bound{};  // addresses of exec's last capture
  // Masked keys: the host staging of the packed mask (request_mask.hpp), sized when the plan is
  // made so that forward only refills it; its values travel by value (upload_lengths).
  std::vector<std::int32_t> mask_words;
};

// The variant a request asks for: the option, a measured choice (kAuto), or reserve's timing.
struct KernelRequest {
  FusedKernel kernel = FusedKernel::kAuto;
  bool measured = false;
};

const char* status_meaning(std::int32_t code) {
  switch (code) {
    case kernels::kPersistentTimeout: return "an h exchange wait passed its time bound (exchange timed out)";
    case kernels::kPersistentTagAhead:
      return "an exchange entry carried a newer step tag than awaited (exchange protocol violation)";
    default: return "unknown status code";
  }
}

// Device memory for one timed forward of reserve(): random inputs, outputs.
struct TimingBuffers {
  detail::DeviceBuffer x, y, h_n, c_n;
};

class FusedBackend final : public Backend {
 public:
  FusedBackend(const ModelDesc& desc, const Weights& weights, const BackendOptions& options)
      : Backend(desc, options) {
    const detail::DeviceGuard guard(options.device);
    gemm_ = std::make_unique<fused::GemmRunner>(options.data_type, options.math);
    weights_ = fused::upload_weights(desc, weights, options.data_type);
    for (int d = 0; d < 2; ++d) cell_[d] = kernels::make_cell_math_params(desc, d < desc.num_directions() ? d : 0);
    // The persistent variants are an optimisation: a failed device query leaves the stepwise path
    // (every variant then names the failure in execution_plan).
    persistent_device_ = fused::query_persistent_device(options.device);
    status_ = detail::MappedHost<kernels::PersistentStatus>::create();
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
    const detail::DeviceGuard guard(options().device);
    const std::size_t need = workspace_size(seq_len, batch);
    if (own_workspace_.bytes() < need) own_workspace_ = detail::DeviceBuffer(need);
    if (options().fused_kernel == FusedKernel::kAuto && timed_.insert({seq_len, batch}).second)
      time_variants(seq_len, batch);
  }

  std::string execution_plan(int seq_len, int batch, bool masked) const override {
    const detail::DeviceGuard guard(options().device);
    const std::vector<fused::LayerChoice> choices =
        choose_kernels(kernel_request(seq_len, batch), seq_len, batch, masked);
    std::string text;
    for (int l = 0; l < desc().num_layers; ++l) {
      if (l > 0) text += "\n";
      text += fused::describe_layer(l, choices[l], desc().num_directions());
    }
    return text;
  }

  // The first persistent block that gave up since the last check (host-mapped, written by the
  // kernel): reported once, then cleared.
  void check_persistent_status() override {
    if (!status_.host()) return;
    volatile kernels::PersistentStatus* st = status_.host();
    const std::int32_t code = st->code;
    if (code == kernels::kPersistentOk) return;
    const std::int32_t layer = st->layer, block = st->block, step = st->step;
    st->code = kernels::kPersistentOk;
    detail::fail(ErrorCode::kCudaError,
                 "fused backend: the persistent kernel of layer {} gave up at block {}, processing step {}: {} (code {}); "
                 "the outputs of that forward are invalid",
                 layer, block, step, status_meaning(code), code);
  }

  void forward(const ForwardRequest& req, cudaStream_t stream) override {
    const detail::DeviceGuard guard(options().device);
    check_persistent_status();
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
    if (req.mask) pack_mask(req.mask, req.seq_len, req.batch, prepared.mask_words.data());
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
      enqueue(prepared, req, buffers, stream, true);
      return;
    }
    prepared.bound = {};  // until the capture below succeeds
    LSTMRT_CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
    cudaGraph_t graph = nullptr;
    try {
      enqueue(prepared, req, buffers, stream, false);
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
  static constexpr int kTimedRuns = 3;

  void release() noexcept {
    for (auto& p : prepared_)
      if (p->exec) cudaGraphExecDestroy(p->exec), p->exec = nullptr;
    for (cudaEvent_t e : events_) cudaEventDestroy(e);
    for (cudaStream_t s : streams_) cudaStreamDestroy(s);
    events_.clear();
    streams_.clear();
  }

  KernelRequest kernel_request(int seq_len, int batch) const {
    if (forced_) return {*forced_, false};
    const FusedKernel option = options().fused_kernel;
    if (option == FusedKernel::kAuto) {
      const auto it = measured_.find({seq_len, batch});
      if (it != measured_.end()) return {it->second, true};
    }
    return {option, false};
  }

  // A persistent variant's plan on this device and whether its blocks can be co-resident (the
  // query sets the kernel's shared-memory attribute; no device work).
  fused::VariantCandidate candidate(fused::PersistentVariant variant, int seq_len, int batch) const {
    return fused::persistent_candidate(desc(), options().data_type, seq_len, batch, persistent_device_, variant);
  }

  // Every layer has the same recurrent shape (W_hh is (4H, H_out) whatever the layer's input), so
  // one choice serves all layers.
  std::vector<fused::LayerChoice> choose_kernels(const KernelRequest& request, int seq_len, int batch,
                                                 bool masked) const {
    fused::LayerChoice choice;
    if (request.kernel != FusedKernel::kStepwise) {
      const fused::VariantCandidate grid = candidate(fused::PersistentVariant::kGrid, seq_len, batch);
      const fused::VariantCandidate cluster = candidate(fused::PersistentVariant::kCluster, seq_len, batch);
      choice = fused::choose_layer_kernel(request.kernel, request.measured, options().data_type, desc().hidden_size,
                                          batch, persistent_device_.limits.sm_count, grid, cluster);
    } else if (request.measured) {
      choice.note = "measured fastest";
    }
    if (masked) choice = fused::masked_layer_choice(choice);
    return std::vector<fused::LayerChoice>(desc().num_layers, choice);
  }

  PreparedPlan& prepared_plan(const fused::PlanKey& key) {
    const KernelRequest request = kernel_request(key.seq_len, key.batch);
    for (auto& p : prepared_)
      if (p->plan.key == key && p->requested == request.kernel) return *p;
    auto p = std::make_unique<PreparedPlan>();
    p->requested = request.kernel;
    p->choices = choose_kernels(request, key.seq_len, key.batch, key.has_mask);
    std::vector<fused::LayerKernel> kernels;
    for (const fused::LayerChoice& c : p->choices) kernels.push_back(c.kernel);
    p->plan = fused::make_plan(desc(), options().data_type, key, 0, kernels);
    if (key.has_mask) p->mask_words.resize(packed_mask_words(key.seq_len, key.batch));
    prepared_.push_back(std::move(p));
    return *prepared_.back();
  }

  // reserve(T, N) with kAuto: one forward of each usable variant on random inputs, timed on a private
  // stream (warm-up, then the median of kTimedRuns); the fastest serves (T, N) from now on. A
  // variant that fails is skipped; nothing is recorded when only the stepwise path is usable.
  void time_variants(int seq_len, int batch) {
    if (options().data_type == DataType::kFloat16) return;
    check_persistent_status();  // an earlier forward's report goes to the caller, not to a timed variant
    std::vector<FusedKernel> variants{FusedKernel::kStepwise};
    for (FusedKernel k : {FusedKernel::kPersistent, FusedKernel::kCluster})
      if (is_persistent(choose_kernels({k, false}, seq_len, batch, false)[0].kernel)) variants.push_back(k);
    if (variants.size() < 2) return;

    // The timed forwards use the object's own workspace: nothing the caller enqueued may still use it.
    LSTMRT_CUDA_CHECK(cudaDeviceSynchronize());
    const TimingBuffers buffers = timing_buffers(seq_len, batch);
    ForwardRequest req;
    req.seq_len = seq_len;
    req.batch = batch;
    req.x = buffers.x.get();
    req.y = buffers.y.get();
    req.h_n = buffers.h_n.get();
    req.c_n = buffers.c_n.get();
    cudaStream_t stream = nullptr;
    cudaEvent_t start = nullptr, stop = nullptr;
    LSTMRT_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    FusedKernel best = FusedKernel::kStepwise;
    float best_ms = std::numeric_limits<float>::infinity();
    try {
      LSTMRT_CUDA_CHECK(cudaEventCreate(&start));
      LSTMRT_CUDA_CHECK(cudaEventCreate(&stop));
      for (FusedKernel variant : variants) {
        forced_ = variant;
        try {
          const float ms = time_forward(req, stream, start, stop);
          if (ms < best_ms) best_ms = ms, best = variant;
        } catch (const Error&) {
          cudaStreamSynchronize(stream);  // best effort: leave nothing of the failed variant running
          (void)cudaGetLastError();
          status_.host()->code = kernels::kPersistentOk;
        }
      }
    } catch (...) {
      forced_.reset();
      destroy_timing(stream, start, stop);
      throw;
    }
    forced_.reset();
    destroy_timing(stream, start, stop);
    if (best_ms < std::numeric_limits<float>::infinity()) measured_[{seq_len, batch}] = best;
  }

  // Warm-up (the graph's capture), then the median of kTimedRuns forwards, in milliseconds.
  float time_forward(const ForwardRequest& req, cudaStream_t stream, cudaEvent_t start, cudaEvent_t stop) {
    forward(req, stream);
    LSTMRT_CUDA_CHECK(cudaStreamSynchronize(stream));
    check_persistent_status();
    std::array<float, kTimedRuns> ms{};
    for (float& m : ms) {
      LSTMRT_CUDA_CHECK(cudaEventRecord(start, stream));
      forward(req, stream);
      LSTMRT_CUDA_CHECK(cudaEventRecord(stop, stream));
      LSTMRT_CUDA_CHECK(cudaEventSynchronize(stop));
      check_persistent_status();
      LSTMRT_CUDA_CHECK(cudaEventElapsedTime(&m, start, stop));
    }
    std::sort(ms.begin(), ms.end());
    return ms[kTimedRuns / 2];
  }

  static void destroy_timing(cudaStream_t stream, cudaEvent_t start, cudaEvent_t stop) noexcept {
    if (start) cudaEventDestroy(start);
    if (stop) cudaEventDestroy(stop);
    if (stream) cudaStreamDestroy(stream);
  }

  // Random x in (−1, 1) and output buffers for a time-major (T, N) forward (synchronous uploads:
  // reserve may synchronise).
  TimingBuffers timing_buffers(int seq_len, int batch) const {
    const DataType t = options().data_type;
    const std::size_t T = seq_len, N = batch, D = desc().num_directions(), L = desc().num_layers;
    const std::size_t es = detail::element_bytes(t);
    std::mt19937 rng(12345);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    std::vector<float> x(T * N * desc().input_size);
    for (float& v : x) v = dist(rng);
    const std::vector<std::uint8_t> x_bytes = detail::to_storage(x, t);
    TimingBuffers b;
    b.x = detail::DeviceBuffer(x_bytes.size());
    LSTMRT_CUDA_CHECK(cudaMemcpy(b.x.get(), x_bytes.data(), x_bytes.size(), cudaMemcpyHostToDevice));
    b.y = detail::DeviceBuffer(T * N * D * desc().output_size() * es);
    b.h_n = detail::DeviceBuffer(L * D * N * desc().output_size() * es);
    b.c_n = detail::DeviceBuffer(L * D * N * desc().hidden_size * es);
    return b;
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

  // The lengths or the packed mask (by value, so never baked into the graph), then the graph, on
  // the caller's stream.
  void launch(PreparedPlan& prepared, const ForwardRequest& req, const fused::FusedPlan& plan, void* workspace,
              cudaStream_t stream) {
    if (req.lengths) {
      auto* d_lengths = reinterpret_cast<std::int32_t*>(static_cast<char*>(workspace) + plan.workspace.lengths.offset);
      kernels::upload_lengths(req.lengths, req.batch, d_lengths, stream);
    }
    if (req.mask) {
      pack_mask(req.mask, req.seq_len, req.batch, prepared.mask_words.data());
      auto* d_mask = reinterpret_cast<std::int32_t*>(static_cast<char*>(workspace) + plan.workspace.mask.offset);
      kernels::upload_lengths(prepared.mask_words.data(), static_cast<int>(prepared.mask_words.size()), d_mask, stream);
    }
    LSTMRT_CUDA_CHECK(cudaGraphLaunch(prepared.exec, stream));
  }

  cudaStream_t stream_of(int layer, cudaStream_t caller) const { return layer == 0 ? caller : streams_[layer - 1]; }

  // Every op of the plan in issue order; kUploadLengths / kUploadMask only when `with_lengths`
  // (graphs upload them outside, before the launch; the mask is already packed in `prepared`).
  void enqueue(const PreparedPlan& prepared, const ForwardRequest& req, const fused::CallBuffers& b,
               cudaStream_t caller, bool with_lengths) {
    const fused::FusedPlan& plan = prepared.plan;
    const DataType t = options().data_type;
    for (const fused::Op& op : plan.ops) {
      const cudaStream_t s = stream_of(op.layer, caller);
      switch (op.kind) {
        case OpKind::kUploadLengths:
          if (with_lengths) kernels::upload_lengths(req.lengths, req.batch, b.lengths, caller);
          break;
        case OpKind::kUploadMask:
          if (with_lengths)
            kernels::upload_lengths(prepared.mask_words.data(), static_cast<int>(prepared.mask_words.size()), b.mask,
                                    caller);
          break;
        case OpKind::kFork:
          LSTMRT_CUDA_CHECK(cudaEventRecord(events_[0], caller));
          for (cudaStream_t side : streams_) LSTMRT_CUDA_CHECK(cudaStreamWaitEvent(side, events_[0], 0));
          break;
        case OpKind::kInitState:
          kernels::launch_init_state(fused::init_state_params(desc(), plan, op.layer, b, t), t, s);
          break;
        case OpKind::kGemm:
          gemm_->run(op.gemm, fused::matrix_address(b, op.gemm.act, t), fused::matrix_address(b, op.gemm.weight, t),
                    const_cast<void*>(fused::matrix_address(b, op.gemm.out, t)), b.layers[op.layer].cublas_workspace, s);
          break;
        case OpKind::kGateStep:
          kernels::launch_gate_step(fused::gate_step_params(desc(), plan, op, b, cell_, t), t, s);
          break;
        case OpKind::kRecordEvent: LSTMRT_CUDA_CHECK(cudaEventRecord(events_[1 + op.layer], s)); break;
        case OpKind::kWaitEvent: LSTMRT_CUDA_CHECK(cudaStreamWaitEvent(s, events_[1 + op.wait_layer], 0)); break;
        case OpKind::kClearPersistent:
          LSTMRT_CUDA_CHECK(cudaMemsetAsync(b.persistent_abort, 0, plan.workspace.persistent.bytes, caller));
          break;
        case OpKind::kPersistent: {
          const fused::PersistentPlan& pp = prepared.choices.at(op.layer).persistent;
          kernels::launch_persistent_lstm(fused::persistent_params(desc(), plan, op, pp, b, cell_, t, status_.device()),
                                          t, pp.total_blocks(), s);
          break;
        }
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
  fused::PersistentDevice persistent_device_;  // this device, for the persistent planner
  detail::MappedHost<kernels::PersistentStatus> status_;  // the persistent kernels' report
  std::map<std::pair<int, int>, FusedKernel> measured_;  // (T, N) → fastest variant (reserve, kAuto)
  std::set<std::pair<int, int>> timed_;                  // (T, N) shapes reserve has timed (or tried to)
  std::optional<FusedKernel> forced_;                    // the variant reserve is timing
};

}  // namespace

// Serves every model and data type (MathMode::kTF32 only changes float32 GEMMs).
std::unique_ptr<Backend> make_fused_backend(const ModelDesc& desc, const Weights& weights, const BackendOptions& options) {
  return std::make_unique<FusedBackend>(desc, weights, options);
}

}  // namespace lstmrt
