// The fused backend: lstmrt's own kernels, as a one-way pipeline per request shape:
//   choose   (fused_choose.hpp)   which kernels run each layer: stepwise, persistent grid or cluster
//   plan     (fused_plan.hpp)     the ops, chunking, streams and workspace layout (pure host)
//   bind     (fused_bind.hpp)     the ops with this call's addresses: kernel parameters (pure host)
//   execute  (fused_execute.hpp)  the bound ops on the caller's stream, captured once as a CUDA graph
// Weights are packed and uploaded at create. The device's facts (limits, cooperative launch,
// co-residency) are queried once at create; the first forward of a request key chooses and plans
// (cached per key and requested variant), a forward with new addresses binds again, and every
// forward executes (a graph replay when nothing changed).
//
// Kernel variants (the rule and its reasons: fused_choose.hpp) come from BackendOptions::fused_kernel,
// or for kAuto from reserve(T, N), which times one forward of each usable variant with the shared
// autotuner (common/autotune.hpp) and keeps the fastest for (T, N). A persistent layer is one
// kPersistent launch per time chunk; its exchange buffers and abort word live in the workspace and
// are cleared by the plan's first op. A persistent kernel that gives up on a wait (bounded spin)
// writes the host-mapped PersistentStatus; check_persistent_status (called by forward at entry)
// reports and clears it.
#include <cuda_runtime_api.h>

#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <utility>
#include <vector>

#include "backend.hpp"
#include "common/autotune.hpp"
#include "common/check.hpp"
#include "common/cuda_check.hpp"
#include "common/device_buffer.hpp"
#include "common/device_guard.hpp"
#include "common/mapped_host.hpp"
#include "fused/fused_bind.hpp"
#include "fused/fused_choose.hpp"
#include "fused/fused_execute.hpp"
#include "fused/fused_gemm.hpp"
#include "fused/fused_plan.hpp"
#include "fused/fused_weights.hpp"
#include "kernels/cell_math_params.hpp"
#include "kernels/persistent_lstm.hpp"
#include "request_mask.hpp"

namespace lstmrt {
namespace {

using fused::OpKind;

// One request key's pipeline state: the choice and plan (made once), the last bound call and the
// graph captured from it, and the host staging its uploads read.
struct Prepared {
  FusedKernel requested = FusedKernel::kAuto;  // what the choice was made for (cache key with plan.key)
  fused::FusedPlan plan;
  fused::UploadStaging staging;  // sized when the plan is made, refilled by every forward
  fused::BoundCall call;
  fused::CallGraph graph;
};

const char* status_meaning(std::int32_t code) {
  switch (code) {
    case kernels::kPersistentTimeout: return "an h exchange wait passed its time bound (exchange timed out)";
    case kernels::kPersistentTagAhead:
      return "an exchange entry carried a newer step tag than awaited (exchange protocol violation)";
    default: return "unknown status code";
  }
}

// Device memory for the timed forwards of reserve(): random inputs, outputs.
struct TimingBuffers {
  detail::DeviceBuffer x, y, h_n, c_n;
};

class FusedBackend final : public Backend {
 public:
  FusedBackend(const ModelDesc& desc, const Weights& weights, const BackendOptions& options) : Backend(desc, options) {
    const detail::DeviceGuard guard(options.device);
    gemm_ = std::make_unique<fused::GemmRunner>();
    device_weights_ = fused::upload_weights(desc, weights, options.data_type);
    for (const fused::DeviceLayer& w : device_weights_)
      weights_.push_back({w.w_ih.get(), w.w_hh.get(), w.w_hr.get(), w.bias.as<float>(), w.peephole.as<float>()});
    for (int d = 0; d < 2; ++d) cell_[d] = kernels::make_cell_math_params(desc, d < desc.num_directions() ? d : 0);
    // The persistent variants are an optimisation: a failed device query leaves the stepwise path
    // (every variant then names the failure in execution_plan).
    facts_ = fused::query_device_facts(options.device, options.data_type);
    status_ = detail::MappedHost<kernels::PersistentStatus>::create();
    executor_ = std::make_unique<fused::Executor>(desc.num_layers);
  }

  ~FusedBackend() override {
    for (auto& p : prepared_) fused::Executor::release(p->graph);
  }

  std::string name() const override { return "fused"; }
  MemorySpace memory_space() const override { return MemorySpace::kDevice; }
  void check_request(const ForwardRequest&) const override {}  // serves every valid request

  std::size_t workspace_size(int seq_len, int batch) const override {
    return fused::workspace_bytes(desc(), options().data_type, seq_len, batch, facts_.limits);
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
    fused::PlanKey key;
    key.seq_len = seq_len;
    key.batch = batch;
    key.has_mask = masked;
    const std::vector<fused::LayerChoice> choices =
        fused::choose(desc(), options().data_type, key, kernel_request(seq_len, batch), facts_);
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
    detail::fail(
        ErrorCode::kCudaError,
        "fused backend: the persistent kernel of layer {} gave up at block {}, processing step {}: {} (code {}); "
        "the outputs of that forward are invalid",
        layer, block, step, status_meaning(code), code);
  }

  void forward(const ForwardRequest& req, cudaStream_t stream) override {
    const fused::KernelRequest request = kernel_request(req.seq_len, req.batch);
    run(req, stream, request);
  }

 private:
  // The variant a request of this shape asks for: the option, or for kAuto reserve's measurement.
  fused::KernelRequest kernel_request(int seq_len, int batch) const {
    const FusedKernel option = options().fused_kernel;
    if (option == FusedKernel::kAuto) {
      const auto it = measured_.find({seq_len, batch});
      if (it != measured_.end()) return {it->second, true};
    }
    return {option, false};
  }

  // One forward through the pipeline with the kernels `request` asks for.
  void run(const ForwardRequest& req, cudaStream_t stream, const fused::KernelRequest& request) {
    const detail::DeviceGuard guard(options().device);
    check_persistent_status();
    const DataType type = options().data_type;
    const fused::PlanKey key = fused::plan_key(req);
    Prepared* p = nullptr;
    for (auto& candidate : prepared_)
      if (candidate->plan.key == key && candidate->requested == request.kernel) {
        p = candidate.get();
        break;
      }
    if (!p) {  // choose → plan, once per key and requested variant
      auto made = std::make_unique<Prepared>();
      made->requested = request.kernel;
      const std::vector<fused::LayerChoice> choices = fused::choose(desc(), type, key, request, facts_);
      made->plan = fused::make_plan(desc(), type, key, choices, facts_.limits);
      if (key.has_lengths) made->staging.lengths.resize(key.batch);
      if (key.has_mask) made->staging.mask_words.resize(packed_mask_words(key.seq_len, key.batch));
      prepared_.push_back(std::move(made));
      p = prepared_.back().get();
    }
    // The uploads' values (by value, never baked into a graph).
    if (req.lengths) std::memcpy(p->staging.lengths.data(), req.lengths, sizeof(std::int32_t) * req.batch);
    if (req.mask) pack_mask(req.mask, req.seq_len, req.batch, p->staging.mask_words.data());
    void* workspace = req.workspace ? req.workspace : own_workspace_.get();
    const std::size_t workspace_bytes = req.workspace ? req.workspace_bytes : own_workspace_.bytes();
    if (!req.workspace && workspace_bytes < p->plan.workspace.total_bytes)
      detail::invalid(
          "backend fused has {} workspace bytes and T={} N={} needs {}: call Lstm::reserve({}, {}) first or "
          "pass a workspace",
          workspace_bytes, req.seq_len, req.batch, p->plan.workspace.total_bytes, req.seq_len, req.batch);
    if (p->call.addresses != fused::call_addresses(req, workspace, workspace_bytes)) {
      fused::BindInputs in;
      in.workspace = workspace;
      in.workspace_bytes = workspace_bytes;
      in.weights = &weights_;
      in.cell = cell_;
      in.math = options().math;
      in.status = status_.device();
      in.staging = &p->staging;
      p->call = fused::bind(desc(), type, p->plan, req, in);
    }
    executor_->run(p->graph, p->call, gemm_.get(), type, stream);
  }

  // reserve(T, N) with kAuto: one forward of each usable variant on random inputs, timed by the
  // shared autotuner; the fastest serves (T, N) from now on. A variant that fails is skipped;
  // nothing is recorded when only the stepwise path is usable.
  void time_variants(int seq_len, int batch) {
    if (options().data_type == DataType::kFloat16) return;
    check_persistent_status();  // an earlier forward's report goes to the caller, not to a timed variant
    fused::PlanKey key;
    key.seq_len = seq_len;
    key.batch = batch;
    std::vector<FusedKernel> variants{FusedKernel::kStepwise};
    for (FusedKernel k : {FusedKernel::kPersistent, FusedKernel::kCluster})
      if (fused::is_persistent(fused::choose(desc(), options().data_type, key, {k, false}, facts_)[0].kernel))
        variants.push_back(k);
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
    detail::AutotuneCandidates candidates;
    candidates.count = static_cast<int>(variants.size());
    candidates.run = [&](int i, cudaStream_t stream) { run(req, stream, {variants[i], false}); };
    candidates.check = [&](int) { check_persistent_status(); };
    candidates.recover = [&](int) { status_.host()->code = kernels::kPersistentOk; };
    const detail::AutotuneResult result = detail::autotune(candidates);
    if (result.fastest) measured_[{seq_len, batch}] = variants[*result.fastest];
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

  std::unique_ptr<fused::GemmRunner> gemm_;
  std::vector<fused::DeviceLayer> device_weights_;
  std::vector<fused::LayerWeights> weights_;  // device_weights_' addresses
  std::array<kernels::CellMathParams, 2> cell_{};
  fused::DeviceFacts facts_;                              // this device, for choose and plan
  detail::MappedHost<kernels::PersistentStatus> status_;  // the persistent kernels' report
  std::unique_ptr<fused::Executor> executor_;
  detail::DeviceBuffer own_workspace_;
  std::vector<std::unique_ptr<Prepared>> prepared_;
  std::map<std::pair<int, int>, FusedKernel> measured_;  // (T, N) → fastest variant (reserve, kAuto)
  std::set<std::pair<int, int>> timed_;                  // (T, N) shapes reserve has timed (or tried to)
};

}  // namespace

// Serves every model and data type (MathMode::kTF32 only changes float32 GEMMs).
std::unique_ptr<Backend> make_fused_backend(const ModelDesc& desc, const Weights& weights,
                                            const BackendOptions& options) {
  return std::make_unique<FusedBackend>(desc, weights, options);
}

}  // namespace lstmrt
