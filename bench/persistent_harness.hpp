// One persistent LSTM kernel launch outside the fused backend, on device memory this object owns:
// the exchange-cost benchmark (lstmrt-exchange-bench: exchange_only = 1, the per-step floor) and
// the forced-timeout test (tests/gpu/test_persistent.cpp: a block that never publishes) drive the
// kernel through it. Header-only, so the GPU test uses it without the bench being built.
//
// What it builds, for a one-layer model, (T, N) and a variant, through the fused backend's own
// pipeline: the variant's candidate on this device (fused_choose.hpp: the planner's fit and the
// co-residency query), the plan with layer 0 persistent (fused_plan.hpp), bound (fused_bind.hpp)
// to a zeroed device workspace of that plan (so the abort word, the grid exchanges,
// h_state/c_state and gates_x start at zero: the input GEMM and the init kernel do not run; values
// are irrelevant to an exchange measurement), random W_hh / W_hr / bias / peepholes in the storage
// type, device x / y / h_n / c_n and the host-mapped status. It keeps two of the bound ops, the
// kClearPersistent and the first kPersistent, and the backend's executor (fused_execute.hpp) runs
// them: launch() clears the persistent region and enqueues that one launch.
#pragma once

#include <cuda_runtime_api.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "common/check.hpp"
#include "common/cuda_check.hpp"
#include "common/device_buffer.hpp"
#include "common/mapped_host.hpp"
#include "fused/fused_bind.hpp"
#include "fused/fused_choose.hpp"
#include "fused/fused_execute.hpp"
#include "fused/fused_plan.hpp"
#include "kernels/cell_math_params.hpp"
#include "kernels/persistent_lstm.hpp"
#include "lstmrt/lstmrt.hpp"

namespace lstmrt::bench {

class PersistentHarness {
 public:
  // Throws Error(kUnsupported) when the plan does not fit this device (the reason named) and
  // kInvalidArgument for float16 (no persistent kernels).
  PersistentHarness(const ModelDesc& desc, DataType type, int seq_len, int batch, FusedKernel variant,
                    std::uint64_t seed = 1)
      : desc_(desc), type_(type), executor_(1) {
    if (desc.num_layers != 1) detail::invalid("persistent harness: {} layers, expected 1", desc.num_layers);
    if (type == DataType::kFloat16) detail::invalid("persistent harness: float16 has no persistent kernels");
    int device = 0;
    LSTMRT_CUDA_CHECK(cudaGetDevice(&device));
    const fused::DeviceFacts facts = fused::query_device_facts(device, type);
    const fused::VariantCandidate candidate = fused::variant_candidate(desc, type, seq_len, batch, facts, variant);
    if (!candidate.plan.fits)
      detail::unsupported("persistent harness: the {} plan does not fit: {}", to_string(variant),
                          candidate.plan.reason);
    fused::PlanKey key;
    key.seq_len = seq_len;
    key.batch = batch;
    key.want_y = key.want_h_n = key.want_c_n = true;
    fused::LayerChoice choice;
    choice.kernel = variant;
    choice.persistent = candidate.plan;
    plan_ = fused::make_plan(desc, type, key, {choice}, facts.limits);

    const int D = desc.num_directions(), H = desc.hidden_size, P = desc.proj_size, H_out = desc.output_size();
    const std::size_t elem = detail::element_bytes(type);
    workspace_ = detail::DeviceBuffer(plan_.workspace.total_bytes);
    LSTMRT_CUDA_CHECK(cudaMemset(workspace_.get(), 0, workspace_.bytes()));
    x_ = detail::DeviceBuffer(std::size_t(seq_len) * batch * desc.input_size * elem);
    y_ = detail::DeviceBuffer(std::size_t(seq_len) * batch * D * H_out * elem);
    h_n_ = detail::DeviceBuffer(std::size_t(D) * batch * H_out * elem);
    c_n_ = detail::DeviceBuffer(std::size_t(D) * batch * H * elem);
    std::mt19937_64 rng(seed);
    const float scale = 1.0f / std::sqrt(static_cast<float>(H));
    w_ih_ = upload(random(std::size_t(D) * 4 * H * desc.input_size, rng, scale), type);
    w_hh_ = upload(random(std::size_t(D) * 4 * H * H_out, rng, scale), type);
    if (P > 0) w_hr_ = upload(random(std::size_t(D) * P * H, rng, scale), type);
    bias_ = upload(random(std::size_t(D) * 4 * H, rng, scale), DataType::kFloat32);
    peephole_ = upload(random(std::size_t(D) * 3 * H, rng, scale), DataType::kFloat32);
    status_ = detail::MappedHost<kernels::PersistentStatus>::create();

    ForwardRequest req;
    req.seq_len = seq_len;
    req.batch = batch;
    req.x = x_.get();
    req.y = y_.get();
    req.h_n = h_n_.get();
    req.c_n = c_n_.get();
    const std::vector<fused::LayerWeights> weights{
        {w_ih_.get(), w_hh_.get(), P > 0 ? w_hr_.get() : nullptr, static_cast<const float*>(bias_.get()),
         desc.peepholes ? static_cast<const float*>(peephole_.get()) : nullptr}};
    const fused::UploadStaging staging;
    fused::BindInputs in;
    in.workspace = workspace_.get();
    in.workspace_bytes = workspace_.bytes();
    in.weights = &weights;
    for (int d = 0; d < 2; ++d) in.cell[d] = kernels::make_cell_math_params(desc, d < D ? d : 0);
    in.status = status_.device();
    in.staging = &staging;
    const fused::BoundCall bound = fused::bind(desc, type, plan_, req, in);
    for (fused::BoundCall* c : {&clear_, &launch_}) c->addresses = bound.addresses, c->streams = 1;
    for (const fused::BoundOp& op : bound.ops) {
      if (op.kind == fused::OpKind::kClearPersistent && clear_.ops.empty()) clear_.ops.push_back(op);
      if (op.kind == fused::OpKind::kPersistent && launch_.ops.empty()) launch_.ops.push_back(op);
    }
    if (clear_.ops.empty() || launch_.ops.empty())
      detail::fail(ErrorCode::kInternal, "persistent harness: the bound plan has no clear and persistent launch");
  }
  PersistentHarness(const PersistentHarness&) = delete;
  PersistentHarness& operator=(const PersistentHarness&) = delete;

  // The launch's parameters (chunk 0's bound kPersistent op); tests and benchmarks adjust
  // exchange_only, debug_stall_*, timeout_ns before launch().
  kernels::PersistentParams& params() { return launch_.ops[0].persistent; }
  const fused::PersistentPlan& persistent_plan() const { return plan_.choices[0].persistent; }
  int blocks() const { return launch_.ops[0].blocks; }
  int steps() const { return launch_.ops[0].persistent.step_count; }
  // Host-mapped: read after the stream is synchronised.
  const volatile kernels::PersistentStatus& status() const { return *status_.host(); }

  // Whether the launch's blocks can be co-resident on this device (the kernels' occupancy query).
  bool fits(cudaStream_t stream) const {
    return kernels::persistent_launch_fits(launch_.ops[0].persistent, type_, blocks(), stream);
  }
  // Zeroes the abort word and the grid exchanges (stream-ordered: the bound kClearPersistent) and
  // the status: the next launch's tags (from params().tag_base) then never match a stale entry.
  void clear(cudaStream_t stream) {
    executor_.enqueue(clear_, nullptr, type_, stream);
    status_.host()->code = kernels::kPersistentOk;
  }
  // Enqueues the launch alone (after clear()).
  void enqueue(cudaStream_t stream) { executor_.enqueue(launch_, nullptr, type_, stream); }
  void launch(cudaStream_t stream) {
    clear(stream);
    enqueue(stream);
  }

 private:
  static std::vector<float> random(std::size_t n, std::mt19937_64& rng, float scale) {
    std::uniform_real_distribution<float> dist(-scale, scale);
    std::vector<float> v(n);
    for (float& e : v) e = dist(rng);
    return v;
  }
  static detail::DeviceBuffer upload(const std::vector<float>& v, DataType type) {
    const std::vector<std::uint8_t> bytes = detail::to_storage(v, type);
    detail::DeviceBuffer buffer(bytes.size());
    if (!bytes.empty()) LSTMRT_CUDA_CHECK(cudaMemcpy(buffer.get(), bytes.data(), bytes.size(), cudaMemcpyHostToDevice));
    return buffer;
  }

  ModelDesc desc_;
  DataType type_;
  fused::Executor executor_;
  fused::FusedPlan plan_;
  detail::DeviceBuffer workspace_, x_, y_, h_n_, c_n_, w_ih_, w_hh_, w_hr_, bias_, peephole_;
  detail::MappedHost<kernels::PersistentStatus> status_;
  fused::BoundCall clear_, launch_;  // the bound kClearPersistent, the first bound kPersistent
};

}  // namespace lstmrt::bench
