// The fused backend's plan on the CPU (see fused_driver.hpp).
#include "simt/fused_driver.hpp"


#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>

#include "common/check.hpp"
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
cudaStream_t stream_handle(int stream) { return reinterpret_cast<cudaStream_t>(static_cast<std::uintptr_t>(0x5000 + stream)); }

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

std::vector<BoundOp> bind(const BindInputs& in) {
  const ModelDesc& desc = *in.desc;
  const fused::FusedPlan& plan = *in.plan;
  const fused::CallBuffers& b = *in.buffers;
  const DataType t = in.type;
  std::vector<BoundOp> ops;
  // Dependencies: the last op issued on each stream, the pending event records, a fork to honour.
  const int streams = desc.num_layers;
  std::vector<int> last_on(streams, -1), fork_pending(streams, -1), event_record(streams + 1, -1);
  for (const fused::Op& op : plan.ops) {
    BoundOp bound;
    bound.kind = op.kind;
    bound.stream = op.layer;
    const int index = static_cast<int>(ops.size());
    if (fork_pending[op.layer] >= 0) bound.after.push_back(fork_pending[op.layer]), fork_pending[op.layer] = -1;
    switch (op.kind) {
      case OpKind::kUploadLengths:
        bound.host_lengths = in.request->lengths;
        bound.lengths = b.lengths;
        bound.count = in.request->batch;
        break;
      case OpKind::kUploadMask:
        if (!in.mask_words) detail::fail(ErrorCode::kInternal, "simt driver: a masked plan without the packed mask");
        bound.host_lengths = in.mask_words->data();
        bound.lengths = b.mask;
        bound.count = static_cast<int>(in.mask_words->size());
        break;
      case OpKind::kFork:  // every layer stream waits for the caller's stream up to here
        for (int s = 1; s < streams; ++s) fork_pending[s] = index;
        break;
      case OpKind::kInitState: bound.init = fused::init_state_params(desc, plan, op.layer, b, t); break;
      case OpKind::kGemm:
        bound.gemm = fused::gemm_call(op.gemm, t, in.math);
        bound.gemm_a = fused::matrix_address(b, op.gemm.weight, t);
        bound.gemm_b = fused::matrix_address(b, op.gemm.act, t);
        bound.gemm_c = const_cast<void*>(fused::matrix_address(b, op.gemm.out, t));
        break;
      case OpKind::kGateStep: bound.gate = fused::gate_step_params(desc, plan, op, b, in.cell, t); break;
      case OpKind::kRecordEvent: event_record[1 + op.layer] = index; break;
      case OpKind::kWaitEvent:
        if (event_record[1 + op.wait_layer] < 0)
          detail::fail(ErrorCode::kInternal, "simt driver: layer {} waits for layer {}'s event before any record",
                       op.layer, op.wait_layer);
        bound.after.push_back(event_record[1 + op.wait_layer]);
        break;
      case OpKind::kJoin:  // the caller's stream waits for every layer stream
        for (int s = 1; s < streams; ++s)
          if (last_on[s] >= 0) bound.after.push_back(last_on[s]);
        break;
      case OpKind::kClearPersistent:
        bound.clear = b.persistent_abort;
        bound.clear_bytes = plan.workspace.persistent.bytes;
        break;
      case OpKind::kPersistent: {
        const fused::PersistentPlan& pp = in.persistent->at(op.layer);
        bound.persistent = fused::persistent_params(desc, plan, op, pp, b, in.cell, t, in.status);
        bound.blocks = pp.total_blocks();
        break;
      }
    }
    last_on[op.layer] = index;
    ops.push_back(std::move(bound));
  }
  return ops;
}

int execute(const std::vector<BoundOp>& ops, DataType type, std::uint64_t seed) {
  int streams = 0;
  for (const BoundOp& op : ops) streams = std::max(streams, op.stream + 1);
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
      const BoundOp& op = ops[queue[s][head[s]]];
      bool ready = true;
      for (int dep : op.after) ready = ready && done[dep];
      if (ready) runnable.push_back(s);
    }
    if (runnable.empty()) detail::fail(ErrorCode::kInternal, "simt driver: the plan's streams wait on each other forever");
    const int s = runnable[rng() % runnable.size()];
    const int index = queue[s][head[s]++];
    const BoundOp& op = ops[index];
    const cudaStream_t stream = stream_handle(op.stream);
    switch (op.kind) {
      case OpKind::kUploadLengths:
      case OpKind::kUploadMask:
        kernels::upload_lengths(op.host_lengths, op.count, op.lengths, stream);
        launches += kernels::length_chunk_count(op.count);
        break;
      case OpKind::kInitState: kernels::launch_init_state(op.init, type, stream), ++launches; break;
      case OpKind::kGemm: cpu_gemm(op.gemm, op.gemm_a, op.gemm_b, op.gemm_c); break;
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

FusedRunResult run_fused(const ModelDesc& desc, const Weights& weights, const test::HostInputs& in,
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

  // The plan and each persistent layer's plan, as the backend makes them (fused_backend.cpp).
  std::vector<fused::LayerKernel> kernels = opt.kernels;
  if (kernels.empty()) kernels.assign(L, fused::LayerKernel::kStepwise);
  fused::DeviceLimits limits = opt.limits ? *opt.limits : fused::device_limits(kernels::persistent_device_info(0));
  if (opt.planner_registers_per_sm > 0) limits.registers_per_sm = opt.planner_registers_per_sm;
  const fused::FusedPlan plan = fused::make_plan(desc, t, fused::plan_key(req), opt.chunk_steps, kernels);
  result.persistent.resize(L);
  for (int l = 0; l < L; ++l) {
    if (!fused::is_persistent(kernels[l])) continue;
    const auto variant = kernels[l] == fused::LayerKernel::kPersistentCluster ? fused::PersistentVariant::kCluster
                                                                              : fused::PersistentVariant::kGrid;
    fused::PersistentPlan pp = fused::make_persistent_plan(desc, t, N, T, limits, variant);
    if (!pp.fits) detail::unsupported("simt driver: layer {}'s {} plan does not fit: {}", l, to_string(variant), pp.reason);
    if (!kernels::persistent_launch_fits(fused::persistent_shape_params(pp), t, pp.total_blocks(),
                                         nullptr))
      detail::unsupported("simt driver: layer {}'s {} blocks are not co-resident on the executor's device", l,
                          pp.total_blocks());
    result.persistent[l] = std::move(pp);
  }

  // Workspace and weights in host memory.
  const AlignedBytes workspace(plan.workspace.total_bytes, 0xFF);
  fused::CallBuffers buffers = fused::call_buffers(plan.workspace, workspace.get(), req);
  struct HostLayer {
    std::vector<std::uint8_t> w_ih, w_hh, w_hr, bias, peephole;
  };
  std::vector<HostLayer> host(L);
  for (int l = 0; l < L; ++l) {
    const fused::PackedLayer p = fused::pack_layer(desc, weights, l);
    host[l] = {detail::to_storage(p.w_ih, t), detail::to_storage(p.w_hh, t), detail::to_storage(p.w_hr, t),
               detail::to_storage(p.bias, DataType::kFloat32), detail::to_storage(p.peephole, DataType::kFloat32)};
    fused::LayerBuffers& lb = buffers.layers[l];
    lb.w_ih = host[l].w_ih.data();
    lb.w_hh = host[l].w_hh.data();
    lb.w_hr = host[l].w_hr.empty() ? nullptr : host[l].w_hr.data();
    lb.bias = reinterpret_cast<const float*>(host[l].bias.data());
    lb.peephole = host[l].peephole.empty() ? nullptr : reinterpret_cast<const float*>(host[l].peephole.data());
  }

  BindInputs bi;
  bi.desc = &desc;
  bi.plan = &plan;
  bi.persistent = &result.persistent;
  bi.buffers = &buffers;
  bi.request = &req;
  for (int d = 0; d < 2; ++d) bi.cell[d] = kernels::make_cell_math_params(desc, d < desc.num_directions() ? d : 0);
  bi.type = t;
  bi.math = opt.math;
  bi.status = &result.status;
  std::vector<std::int32_t> mask_words;
  if (req.mask) {
    mask_words.resize(packed_mask_words(T, N));
    pack_mask(req.mask, T, N, mask_words.data());
    bi.mask_words = &mask_words;
  }
  std::vector<BoundOp> ops = bind(bi);
  for (BoundOp& op : ops) {
    if (op.kind == OpKind::kGemm) ++result.gemms;
    if (op.kind != OpKind::kPersistent) continue;
    op.persistent.timeout_ns = opt.timeout_ns;
    op.persistent.debug_stall_block = opt.debug_stall_block;
    op.persistent.debug_stall_step = opt.debug_stall_step;
  }
  result.kernel_launches = execute(ops, t, opt.schedule_seed);

  if (opt.wanted.sequences) result.out.y = detail::from_storage(y, t);
  if (opt.wanted.state) {
    result.out.h_n = detail::from_storage(h_n, t);
    result.out.c_n = detail::from_storage(c_n, t);
  }
  return result;
}

}  // namespace lstmrt::simt
