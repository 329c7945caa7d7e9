// One persistent LSTM kernel launch outside the fused backend, on device memory this object owns:
// the exchange-cost benchmark (lstmrt-exchange-bench: exchange_only = 1, the per-step floor) and
// the forced-timeout test (tests/gpu/test_persistent.cpp: a block that never publishes) drive the
// kernel through it. Header-only, so the GPU test uses it without the bench being built.
//
// What it builds, for a one-layer model, (T, N) and a variant: the fused plan with layer 0
// persistent (src/fused/fused_plan.hpp), a zeroed device workspace of that plan (so the abort word,
// the grid exchanges, h_state/c_state and gates_x start at zero: the input GEMM and the init
// kernel do not run; values are irrelevant to an exchange measurement), random W_hh / W_hr / bias /
// peepholes in the storage type, device y / h_n / c_n, the host-mapped status, and the kernel
// parameters of the plan's first kPersistent op (src/fused/persistent_params.hpp). launch() clears
// the persistent region and the status and enqueues that one launch.
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
#include "fused/fused_params.hpp"
#include "fused/fused_plan.hpp"
#include "fused/fused_weights.hpp"
#include "fused/persistent_params.hpp"
#include "fused/persistent_plan.hpp"
#include "kernels/cell_math_params.hpp"
#include "kernels/persistent_lstm.hpp"
#include "lstmrt/lstmrt.hpp"

namespace lstmrt::bench {

// The planner's limits for `device`, as the fused backend derives them.
inline fused::DeviceLimits persistent_device_limits(int device) {
  return fused::device_limits(kernels::persistent_device_info(device));
}

class PersistentHarness {
 public:
  // Throws Error(kUnsupported) when the plan does not fit this device (the reason named) and
  // kInvalidArgument for float16 (no persistent kernels).
  PersistentHarness(const ModelDesc& desc, DataType type, int seq_len, int batch, fused::PersistentVariant variant,
                    std::uint64_t seed = 1)
      : desc_(desc), type_(type) {
    if (desc.num_layers != 1) detail::invalid("persistent harness: {} layers, expected 1", desc.num_layers);
    if (type == DataType::kFloat16) detail::invalid("persistent harness: float16 has no persistent kernels");
    int device = 0;
    LSTMRT_CUDA_CHECK(cudaGetDevice(&device));
    persistent_ = fused::make_persistent_plan(desc, type, batch, seq_len, persistent_device_limits(device), variant);
    if (!persistent_.fits)
      detail::unsupported("persistent harness: the {} plan does not fit: {}", fused::to_string(variant),
                          persistent_.reason);
    fused::PlanKey key;
    key.seq_len = seq_len;
    key.batch = batch;
    key.want_y = key.want_h_n = key.want_c_n = true;
    const fused::LayerKernel kernel = variant == fused::PersistentVariant::kCluster
                                          ? fused::LayerKernel::kPersistentCluster
                                          : fused::LayerKernel::kPersistentGrid;
    plan_ = fused::make_plan(desc, type, key, 0, {kernel});
    bool found = false;
    for (const fused::Op& op : plan_.ops)
      if (op.kind == fused::OpKind::kPersistent && op.layer == 0 && !found) op_ = op, found = true;
    if (!found) detail::fail(ErrorCode::kInternal, "persistent harness: the plan has no persistent launch");

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
    buffers_ = fused::call_buffers(plan_.workspace, workspace_.get(), req);
    fused::LayerBuffers& lb = buffers_.layers.at(0);
    lb.w_hh = w_hh_.get();
    lb.w_hr = P > 0 ? w_hr_.get() : nullptr;
    lb.bias = static_cast<const float*>(bias_.get());
    lb.peephole = desc.peepholes ? static_cast<const float*>(peephole_.get()) : nullptr;
    std::array<kernels::CellMathParams, 2> cell;
    for (int d = 0; d < 2; ++d) cell[d] = kernels::make_cell_math_params(desc, d < D ? d : 0);
    params_ = fused::persistent_params(desc, plan_, op_, persistent_, buffers_, cell, type,
                                       status_.device());
  }
  PersistentHarness(const PersistentHarness&) = delete;
  PersistentHarness& operator=(const PersistentHarness&) = delete;

  // The launch's parameters (chunk 0's kPersistent op); tests and benchmarks adjust
  // exchange_only, debug_stall_*, timeout_ns before launch().
  kernels::PersistentParams& params() { return params_; }
  const fused::PersistentPlan& persistent_plan() const { return persistent_; }
  int blocks() const { return persistent_.total_blocks(); }
  int steps() const { return op_.step_count; }
  // Host-mapped: read after the stream is synchronised.
  const volatile kernels::PersistentStatus& status() const { return *status_.host(); }

  // Whether the launch's blocks can be co-resident on this device (the kernels' occupancy query).
  bool fits(cudaStream_t stream) const {
    return kernels::persistent_launch_fits(params_, type_, blocks(), stream);
  }
  // Zeroes the abort word and the grid exchanges (stream-ordered) and the status: the next launch's
  // tags (from params().tag_base) then never match a stale entry.
  void clear(cudaStream_t stream) {
    const fused::Region& region = plan_.workspace.persistent;
    LSTMRT_CUDA_CHECK(cudaMemsetAsync(static_cast<std::uint8_t*>(workspace_.get()) + region.offset, 0, region.bytes,
                                      stream));
    status_.host()->code = kernels::kPersistentOk;
  }
  // Enqueues the launch alone (after clear()).
  void enqueue(cudaStream_t stream) { kernels::launch_persistent_lstm(params_, type_, blocks(), stream); }
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
  fused::PersistentPlan persistent_;
  fused::FusedPlan plan_;
  fused::Op op_;
  detail::DeviceBuffer workspace_, x_, y_, h_n_, c_n_, w_hh_, w_hr_, bias_, peephole_;
  fused::CallBuffers buffers_;
  detail::MappedHost<kernels::PersistentStatus> status_;
  kernels::PersistentParams params_{};
};

}  // namespace lstmrt::bench
