// Bound ops of one call (see fused_bind.hpp).
#include "fused/fused_bind.hpp"

#include <atomic>
#include <cstdint>

#include "common/check.hpp"
#include "fused/persistent_params.hpp"
#include "request_mask.hpp"

namespace lstmrt::fused {

bool CallAddresses::operator==(const CallAddresses& o) const {
  return x == o.x && y == o.y && h0 == o.h0 && c0 == o.c0 && h_n == o.h_n && c_n == o.c_n && workspace == o.workspace &&
         workspace_bytes == o.workspace_bytes;
}

CallAddresses call_addresses(const ForwardRequest& req, void* workspace, std::size_t workspace_bytes) {
  return {req.x, req.y, req.h0, req.c0, req.h_n, req.c_n, workspace, workspace_bytes};
}

BoundCall bind(const ModelDesc& desc, DataType type, const FusedPlan& plan, const ForwardRequest& req,
               const BindInputs& in) {
  const std::size_t need = plan.workspace.total_bytes;
  if (!in.workspace)
    detail::invalid("fused backend: no workspace: T={} N={} needs {} bytes", req.seq_len, req.batch, need);
  if (in.workspace_bytes < need)
    detail::invalid("workspace_bytes is {}: backend fused needs at least {} for T={} N={} (Lstm::workspace_size)",
                    in.workspace_bytes, need, req.seq_len, req.batch);
  if (reinterpret_cast<std::uintptr_t>(in.workspace) % kWorkspaceAlignment != 0)
    detail::invalid("workspace is not {}-byte aligned: expected an address as cudaMalloc returns", kWorkspaceAlignment);
  if (const PlanKey key = plan_key(req); key != plan.key)
    detail::fail(ErrorCode::kInternal, "fused bind: a plan for {} bound to a request {}", to_string(plan.key),
                 to_string(key));
  const int L = desc.num_layers;
  if (!in.weights || static_cast<int>(in.weights->size()) != L)
    detail::fail(ErrorCode::kInternal, "fused bind: weights for {} layers, the model has {}",
                 in.weights ? in.weights->size() : 0, L);
  if (!in.staging || (req.lengths && static_cast<int>(in.staging->lengths.size()) != req.batch) ||
      (req.mask && in.staging->mask_words.size() != packed_mask_words(req.seq_len, req.batch)))
    detail::fail(ErrorCode::kInternal, "fused bind: the upload staging is not sized for T={} N={}", req.seq_len,
                 req.batch);

  CallBuffers b = call_buffers(plan.workspace, in.workspace, req);
  for (int l = 0; l < L; ++l) b.layers[l].weights = (*in.weights)[l];

  static std::atomic<std::uint64_t> generations{0};
  BoundCall call;
  call.addresses = call_addresses(req, in.workspace, in.workspace_bytes);
  call.generation = ++generations;
  call.streams = L;
  // Dependencies: the last op issued on each stream, the latest record of each stream's event, a
  // fork every other stream's next op must wait for.
  std::vector<int> last_on(L, -1), fork_pending(L, -1), event_record(L, -1);
  for (const Op& op : plan.ops) {
    BoundOp bound;
    bound.kind = op.kind;
    bound.stream = op.layer;
    const int index = static_cast<int>(call.ops.size());
    if (fork_pending[op.layer] >= 0) bound.after.push_back(fork_pending[op.layer]), fork_pending[op.layer] = -1;
    switch (op.kind) {
      case OpKind::kUploadLengths:
        bound.upload_source = in.staging->lengths.data();
        bound.upload_target = b.lengths;
        bound.upload_count = req.batch;
        break;
      case OpKind::kUploadMask:
        bound.upload_source = in.staging->mask_words.data();
        bound.upload_target = b.mask;
        bound.upload_count = static_cast<int>(in.staging->mask_words.size());
        break;
      case OpKind::kFork:
        for (int s = 1; s < L; ++s) fork_pending[s] = index;
        break;
      case OpKind::kInitState: bound.init = init_state_params(desc, plan, op.layer, b, type); break;
      case OpKind::kGemm:
        bound.gemm_call = gemm_call(op.gemm, type, in.math);
        bound.gemm_act = matrix_address(b, op.gemm.act, type);
        bound.gemm_weight = matrix_address(b, op.gemm.weight, type);
        bound.gemm_out = const_cast<void*>(matrix_address(b, op.gemm.out, type));
        bound.gemm_workspace = b.layers[op.layer].cublas_workspace;
        break;
      case OpKind::kGateStep: bound.gate = gate_step_params(desc, plan, op, b, in.cell, type); break;
      case OpKind::kRecordEvent: event_record[op.layer] = index; break;
      case OpKind::kWaitEvent:
        if (event_record[op.wait_layer] < 0)
          detail::fail(ErrorCode::kInternal, "fused bind: layer {} waits for layer {}'s event before any record",
                       op.layer, op.wait_layer);
        bound.wait_stream = op.wait_layer;
        bound.after.push_back(event_record[op.wait_layer]);
        break;
      case OpKind::kJoin:
        for (int s = 1; s < L; ++s)
          if (last_on[s] >= 0) bound.after.push_back(last_on[s]);
        break;
      case OpKind::kClearPersistent:
        bound.clear = b.persistent_abort;
        bound.clear_bytes = plan.workspace.persistent.bytes;
        break;
      case OpKind::kPersistent: {
        const PersistentPlan& pp = plan.choices.at(op.layer).persistent;
        bound.persistent = persistent_params(desc, plan, op, pp, b, in.cell, type, in.status);
        bound.blocks = pp.total_blocks();
        break;
      }
    }
    last_on[op.layer] = index;
    call.ops.push_back(std::move(bound));
  }
  return call;
}

}  // namespace lstmrt::fused
