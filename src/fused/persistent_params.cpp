// Persistent kernel parameters for the fused backend (see persistent_params.hpp).
#include "fused/persistent_params.hpp"

#include <limits>

#include "common/check.hpp"

namespace lstmrt::fused {
namespace {

std::uint32_t smem_offset(std::size_t bytes, const char* what) {
  if (bytes > std::numeric_limits<std::uint32_t>::max())
    detail::fail(ErrorCode::kInternal, "persistent params: shared-memory {} offset {} does not fit 32 bits", what,
                 bytes);
  return static_cast<std::uint32_t>(bytes);
}

// The persistent plan must describe this layer and request.
void check_matches(const ModelDesc& desc, const FusedPlan& plan, const Op& op, const PersistentPlan& pp,
                   DataType type) {
  const int l = op.layer;
  if (type == DataType::kFloat16)
    detail::invalid("persistent params: float16 data: the persistent kernels take float32 or bfloat16");
  if (!pp.fits) detail::invalid("persistent params: layer {}'s persistent plan does not fit: {}", l, pp.reason);
  const FusedKernel k = plan.choices.at(l).kernel;
  if (!is_persistent(k) || pp.variant != k)
    detail::fail(ErrorCode::kInternal, "persistent params: layer {} runs {} but the persistent plan is the {} variant",
                 l, to_string(k), to_string(pp.variant));
  if (pp.weight_type != type || pp.directions != desc.num_directions() || pp.hidden != desc.hidden_size ||
      pp.out_size != desc.output_size() || pp.proj != desc.proj_size || pp.batch != plan.key.batch)
    detail::fail(ErrorCode::kInternal,
                 "persistent params: layer {}'s persistent plan (D={} H={} H_out={} P={} N={}) does not match the "
                 "model and request (D={} H={} H_out={} P={} N={}) or the data type",
                 l, pp.directions, pp.hidden, pp.out_size, pp.proj, pp.batch, desc.num_directions(), desc.hidden_size,
                 desc.output_size(), desc.proj_size, plan.key.batch);
  if (plan.key.has_mask)  // the kernel reads lengths only: a mask would be ignored
    detail::fail(ErrorCode::kInternal,
                 "persistent params: layer {} of a masked request: the persistent kernels take no mask", l);
  if (op.step_count < 1 || op.step < 0 || op.step + op.step_count > plan.key.seq_len)
    detail::fail(ErrorCode::kInternal, "persistent params: steps [{}, {}) outside T={}", op.step,
                 op.step + op.step_count, plan.key.seq_len);
}

}  // namespace

std::int32_t persistent_tag_base(const FusedPlan& plan, int chunk) {
  const std::int64_t advance = kernels::persistent_tags_per_launch(plan.chunk_steps);
  return static_cast<std::int32_t>(chunk * advance);
}

kernels::PersistentParams persistent_shape_params(const PersistentPlan& pp) {
  kernels::PersistentParams p{};
  p.g.batch = pp.batch;
  p.g.hidden = pp.hidden;
  p.g.out_size = pp.out_size;
  p.g.directions = pp.directions;
  p.g.projected = pp.proj > 0;
  const bool cluster = pp.variant == FusedKernel::kCluster;
  p.cluster = cluster ? 1 : 0;
  p.blocks_per_direction = pp.blocks_per_direction;
  p.clusters_per_direction = pp.clusters_per_direction;
  p.rows_per_cluster = pp.rows_per_cluster;
  p.units_per_block = pp.units_per_block;
  p.proj_per_block = pp.proj_per_block;
  p.register_slots = pp.register_slots;
  p.register_rows = pp.register_rows;
  p.cols_per_lane = pp.cols_per_lane;

  const SmemLayout& s = pp.smem;
  p.smem.w_hh = smem_offset(s.w_hh.offset, "w_hh");
  p.smem.w_hr = smem_offset(s.w_hr.offset, "w_hr");
  p.smem.h_stage = smem_offset(s.h_stage.offset, "h_stage");
  p.smem.m_stage = smem_offset(s.m_stage.offset, "m_stage");
  p.smem.gates = smem_offset(s.gates.offset, "gates");
  p.smem.c_state = smem_offset(s.c_state.offset, "c_state");
  p.smem.vectors = smem_offset(s.vectors.offset, "vectors");
  p.smem.exchange = smem_offset(s.exchange.offset, "exchange");
  p.smem.total = smem_offset(s.total_bytes, "total");
  p.smem.w_hh_ld = static_cast<std::int32_t>(s.w_hh_ld);
  p.smem.w_hr_ld = static_cast<std::int32_t>(s.w_hr_ld);

  p.h_exchange_bytes = static_cast<std::int64_t>(pp.h_exchange.total_bytes);
  p.m_exchange_bytes = static_cast<std::int64_t>(pp.m_exchange.total_bytes);
  p.timeout_ns = kernels::kPersistentDefaultTimeoutNs;
  p.debug_stall_block = -1;
  p.debug_stall_step = -1;
  return p;
}

kernels::PersistentParams persistent_params(const ModelDesc& desc, const FusedPlan& plan, const Op& op,
                                            const PersistentPlan& persistent, const CallBuffers& buffers,
                                            const std::array<kernels::CellMathParams, 2>& cell, DataType type,
                                            kernels::PersistentStatus* status) {
  if (op.kind != OpKind::kPersistent)
    detail::fail(ErrorCode::kInternal, "fused: persistent_params for a {} op", to_string(op.kind));
  const PersistentPlan& pp = persistent;
  check_matches(desc, plan, op, pp, type);
  const int l = op.layer, D = desc.num_directions();
  const LayerBuffers& lb = buffers.layers.at(l);

  // The gate ops of this chunk, as the stepwise path would run them from its first step.
  Op gate = op;
  gate.kind = OpKind::kGateStep;
  gate.compute = true;
  gate.has_recurrent = true;
  gate.emit_previous = false;
  kernels::PersistentParams p = persistent_shape_params(pp);
  p.g = gate_step_params(desc, plan, gate, buffers, cell, type);
  p.step_count = op.step_count;
  const bool cluster = pp.variant == FusedKernel::kCluster;
  const SmemLayout& s = pp.smem;
  p.w_hh = lb.weights.w_hh;
  p.w_hr = desc.proj_size > 0 ? lb.weights.w_hr : nullptr;
  if (cluster) {
    // The receive buffers as the kernel places them: h (values, then per-slice tags), m right after.
    if (pp.h_exchange.total_bytes + pp.m_exchange.total_bytes > s.exchange.bytes)
      detail::fail(
          ErrorCode::kInternal,
          "persistent params: layer {}'s cluster exchange (h {} + m {} bytes) overruns its {}-byte shared-memory "
          "region",
          l, pp.h_exchange.total_bytes, pp.m_exchange.total_bytes, s.exchange.bytes);
  } else {
    const Region& hx = plan.workspace.layers.at(l).h_exchange;
    const Region& mx = plan.workspace.layers.at(l).m_exchange;
    const std::size_t h_need = D * pp.h_exchange.total_bytes, m_need = D * pp.m_exchange.total_bytes;
    if (!lb.h_exchange || hx.bytes < h_need || (m_need > 0 && (!lb.m_exchange || mx.bytes < m_need)))
      detail::fail(ErrorCode::kInternal,
                   "persistent params: layer {}'s grid exchanges need {} + {} bytes, the workspace has {} + {}{}", l,
                   h_need, m_need, hx.bytes, mx.bytes, lb.h_exchange ? "" : " (not placed)");
    p.h_exchange = lb.h_exchange;
    p.m_exchange = m_need > 0 ? lb.m_exchange : nullptr;
  }
  p.tag_base = persistent_tag_base(plan, op.chunk);
  if (!buffers.persistent_abort)
    detail::fail(ErrorCode::kInternal, "persistent params: the workspace has no persistent region (abort word)");
  p.abort_flag = buffers.persistent_abort;
  p.status = status;
  p.layer = l;
  return p;
}

}  // namespace lstmrt::fused
