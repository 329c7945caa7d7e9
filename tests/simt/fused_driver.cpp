// The fused backend's plan on the CPU (see fused_driver.hpp).
#include "simt/fused_driver.hpp"

#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>

#include "common/check.hpp"
#include "fused/fused_choose.hpp"
#include "fused/fused_weights.hpp"
#include "fused/gemm_call.hpp"
#include "kernels/cell_math_params.hpp"
#include "kernels/fused_step.hpp"
#include "kernels/upload_lengths.hpp"
#include "request_mask.hpp"
#include "simt/cpu_gemm.hpp"
#include "simt/executor.hpp"

namespace lstmrt::simt {
namespace {

using fused::OpKind;

// A fake stream handle per layer stream (launches run in issue order; the handle is only passed on).
cudaStream_t stream_handle(int stream) {
  return reinterpret_cast<cudaStream_t>(static_cast<std::uintptr_t>(0x5000 + stream));
}

// Host bytes with the alignment the workspace promises (kWorkspaceAlignment), freed on scope exit.
struct AlignedBytes {
  struct Free {
    void operator()(void* p) const { std::free(p); }
  };
  std::unique_ptr<void, Free> memory;
  std::size_t bytes = 0;
  explicit AlignedBytes(std::size_t n, unsigned char fill) : bytes(n) {
    const std::size_t a = fused::kWorkspaceAlignment;
    memory.reset(std::aligned_alloc(a, (n + a - 1) / a * a + a));
    if (!memory) throw std::bad_alloc();
    std::memset(memory.get(), fill, n);
  }
  void* get() const { return memory.get(); }
};

// A storage-type output buffer, poisoned (0xFF: NaN in float32, float16 and bfloat16).
std::vector<std::uint8_t> poisoned_storage(std::size_t count, DataType type) {
  return std::vector<std::uint8_t>(count * detail::element_bytes(type), 0xFF);
}

}  // namespace

int execute(const fused::BoundCall& call, DataType type, std::uint64_t seed) {
  const std::vector<fused::BoundOp>& ops = call.ops;
  int streams = 0;
  for (const fused::BoundOp& op : ops) streams = std::max(streams, op.stream + 1);
  std::vector<std::vector<int>> queue(streams);
  for (int i = 0; i < static_cast<int>(ops.size()); ++i) queue[ops[i].stream].push_back(i);
  std::vector<std::size_t> head(streams, 0);
  std::vector<bool> done(ops.size(), false);
  std::mt19937_64 rng(seed ^ 0x51ED5EEDull);
  int launches = 0;
  for (std::size_t finished = 0; finished < ops.size(); ++finished) {
    std::vector<int> runnable;
    for (int s = 0; s < streams; ++s) {
      if (head[s] == queue[s].size()) continue;
      const fused::BoundOp& op = ops[queue[s][head[s]]];
      bool ready = true;
      for (int dep : op.after) ready = ready && done[dep];
      if (ready) runnable.push_back(s);
    }
    if (runnable.empty())
      detail::fail(ErrorCode::kInternal, "simt driver: the plan's streams wait on each other forever");
    const int s = runnable[rng() % runnable.size()];
    const int index = queue[s][head[s]++];
    const fused::BoundOp& op = ops[index];
    const cudaStream_t stream = stream_handle(op.stream);
    switch (op.kind) {
      case OpKind::kUploadLengths:
      case OpKind::kUploadMask:
        kernels::upload_lengths(op.upload_source, op.upload_count, op.upload_target, stream);
        launches += kernels::length_chunk_count(op.upload_count);
        break;
      case OpKind::kInitState: kernels::launch_init_state(op.init, type, stream), ++launches; break;
      case OpKind::kGemm: cpu_gemm(op.gemm_call, op.gemm_weight, op.gemm_act, op.gemm_out); break;
      case OpKind::kGateStep: kernels::launch_gate_step(op.gate, type, stream), ++launches; break;
      case OpKind::kClearPersistent: std::memset(op.clear, 0, op.clear_bytes); break;  // cudaMemsetAsync
      case OpKind::kPersistent:
        kernels::launch_persistent_lstm(op.persistent, type, op.blocks, stream);
        ++launches;
        break;
      case OpKind::kFork:
      case OpKind::kRecordEvent:
      case OpKind::kWaitEvent:
      case OpKind::kJoin: break;  // dependencies only (BoundOp::after)
    }
    done[index] = true;
  }
  return launches;
}

FusedRunResult run_fused(const ModelDesc& desc, const Weights& weights_in, const test::HostInputs& in,
                         const FusedRunOptions& opt) {
  const DataType t = opt.type;
  const int T = in.seq_len, N = in.batch, L = desc.num_layers;
  FusedRunResult result;
  set_schedule_seed(opt.schedule_seed);

  // The request over storage-type copies of the inputs and poisoned outputs.
  const std::vector<std::uint8_t> x = detail::to_storage(in.x, t);
  std::vector<std::uint8_t> h0, c0;
  if (in.h0) h0 = detail::to_storage(*in.h0, t);
  if (in.c0) c0 = detail::to_storage(*in.c0, t);
  std::vector<std::uint8_t> y, h_n, c_n;
  ForwardRequest req;
  req.seq_len = T;
  req.batch = N;
  req.layout = in.layout;
  req.x = x.data();
  req.lengths = in.lengths ? in.lengths->data() : nullptr;
  req.mask = in.mask ? in.mask->data() : nullptr;
  req.h0 = in.h0 ? h0.data() : nullptr;
  req.c0 = in.c0 ? c0.data() : nullptr;
  req.padding = opt.padding;
  req.reverse_order = opt.order;
  if (opt.wanted.sequences) {
    y = poisoned_storage(test::y_count(desc, T, N), t);
    req.y = y.data();
  }
  if (opt.wanted.state) {
    h_n = poisoned_storage(test::h_count(desc, N), t);
    c_n = poisoned_storage(test::c_count(desc, N), t);
    req.h_n = h_n.data();
    req.c_n = c_n.data();
  }
  validate(desc, req);

  // Choose (the requested variant of each layer, refused where the backend's candidate is not
  // usable), plan and bind, as the backend does (fused_backend.cpp), on host memory.
  std::vector<FusedKernel> kernels = opt.kernels;
  if (kernels.empty()) kernels.assign(L, FusedKernel::kStepwise);
  // The backend's own device facts, asked of the executor's device (its occupancy answers the
  // co-residency query); tests may override the planner's limits.
  fused::DeviceFacts facts = fused::query_device_facts(0, t);
  if (opt.limits) facts.limits = *opt.limits;
  if (opt.planner_registers_per_sm > 0) facts.limits.registers_per_sm = opt.planner_registers_per_sm;
  const fused::PlanKey key = fused::plan_key(req);
  std::vector<fused::LayerChoice> choices(L);
  result.persistent.resize(L);
  for (int l = 0; l < L; ++l) {
    choices[l].kernel = kernels[l];
    if (!fused::is_persistent(kernels[l])) continue;
    const fused::VariantCandidate c = fused::variant_candidate(desc, t, T, N, facts, kernels[l]);
    if (!c.usable())
      detail::unsupported("simt driver: layer {}'s {} variant cannot run: {}", l, to_string(kernels[l]), c.why_not());
    choices[l].persistent = c.plan;
    result.persistent[l] = c.plan;
  }
  const fused::FusedPlan plan = fused::make_plan(desc, t, key, choices, facts.limits, opt.chunk_steps);

  // Workspace and weights in host memory.
  const AlignedBytes workspace(plan.workspace.total_bytes, 0xFF);
  struct HostLayer {
    std::vector<std::uint8_t> w_ih, w_hh, w_hr, bias, peephole;
  };
  std::vector<HostLayer> host(L);
  std::vector<fused::LayerWeights> weights(L);
  for (int l = 0; l < L; ++l) {
    const fused::PackedLayer p = fused::pack_layer(desc, weights_in, l);
    host[l] = {detail::to_storage(p.w_ih, t), detail::to_storage(p.w_hh, t), detail::to_storage(p.w_hr, t),
               detail::to_storage(p.bias, DataType::kFloat32), detail::to_storage(p.peephole, DataType::kFloat32)};
    weights[l].w_ih = host[l].w_ih.data();
    weights[l].w_hh = host[l].w_hh.data();
    weights[l].w_hr = host[l].w_hr.empty() ? nullptr : host[l].w_hr.data();
    weights[l].bias = reinterpret_cast<const float*>(host[l].bias.data());
    weights[l].peephole = host[l].peephole.empty() ? nullptr : reinterpret_cast<const float*>(host[l].peephole.data());
  }

  fused::UploadStaging staging;
  if (req.lengths) staging.lengths.assign(req.lengths, req.lengths + N);
  if (req.mask) {
    staging.mask_words.resize(packed_mask_words(T, N));
    pack_mask(req.mask, T, N, staging.mask_words.data());
  }
  fused::BindInputs bi;
  bi.workspace = workspace.get();
  bi.workspace_bytes = workspace.bytes;
  bi.weights = &weights;
  for (int d = 0; d < 2; ++d) bi.cell[d] = kernels::make_cell_math_params(desc, d < desc.num_directions() ? d : 0);
  bi.math = opt.math;
  bi.status = &result.status;
  bi.staging = &staging;
  fused::BoundCall call = fused::bind(desc, t, plan, req, bi);
  for (fused::BoundOp& op : call.ops) {
    if (op.kind == OpKind::kGemm) ++result.gemms;
    if (op.kind != OpKind::kPersistent) continue;
    op.persistent.timeout_ns = opt.timeout_ns;
    op.persistent.debug_stall_block = opt.debug_stall_block;
    op.persistent.debug_stall_step = opt.debug_stall_step;
  }
  result.kernel_launches = execute(call, t, opt.schedule_seed);

  if (opt.wanted.sequences) result.out.y = detail::from_storage(y, t);
  if (opt.wanted.state) {
    result.out.h_n = detail::from_storage(h_n, t);
    result.out.c_n = detail::from_storage(c_n, t);
  }
  return result;
}

}  // namespace lstmrt::simt
