// Kernel parameters and GEMM operand addresses for the fused backend (see fused_params.hpp).
#include "fused/fused_params.hpp"

#include <type_traits>

#include "common/check.hpp"
#include "request_mask.hpp"

namespace lstmrt::fused {
namespace {

void* at(void* base, const Region& r) { return r.bytes ? static_cast<char*>(base) + r.offset : nullptr; }

const void* base_of(const CallBuffers& b, BufferKind kind, int layer) {
  if (kind == BufferKind::kX) return b.x;
  const LayerBuffers& l = b.layers.at(layer);
  switch (kind) {
    case BufferKind::kX: return b.x;
    case BufferKind::kLayerOut: return l.layer_out;
    case BufferKind::kGatesX: return l.gates_x;
    case BufferKind::kGatesH: return l.gates_h;
    case BufferKind::kGatesH0: return l.gates_h0;
    case BufferKind::kHState: return l.h_state;
    case BufferKind::kMState: return l.m_state;
    case BufferKind::kCState: return l.c_state;
    case BufferKind::kWeightIh: return l.weights.w_ih;
    case BufferKind::kWeightHh: return l.weights.w_hh;
    case BufferKind::kWeightHr: return l.weights.w_hr;
  }
  return nullptr;
}

// Byte offset of state slot l·D (the layer's first direction) in an (L·D, N, width) tensor.
std::size_t slot_offset(const ModelDesc& desc, const FusedPlan& plan, int layer, int width, DataType type) {
  return static_cast<std::size_t>(layer) * desc.num_directions() * plan.key.batch * width * detail::element_bytes(type);
}

template <typename P>
P offset_or_null(P base, std::size_t bytes) {
  if (!base) return nullptr;
  using Byte = std::conditional_t<std::is_const_v<std::remove_pointer_t<P>>, const char, char>;
  return reinterpret_cast<P>(reinterpret_cast<Byte*>(base) + bytes);
}

}  // namespace

CallBuffers call_buffers(const WorkspaceLayout& layout, void* workspace, const ForwardRequest& req) {
  CallBuffers b;
  b.x = req.x;
  b.y = req.y;
  b.h0 = req.h0;
  b.c0 = req.c0;
  b.h_n = req.h_n;
  b.c_n = req.c_n;
  if (req.lengths) b.lengths = static_cast<std::int32_t*>(at(workspace, layout.lengths));
  if (req.mask) b.mask = static_cast<std::int32_t*>(at(workspace, layout.mask));
  b.persistent_abort = static_cast<std::int32_t*>(at(workspace, layout.persistent));
  for (const LayerRegions& r : layout.layers) {
    LayerBuffers l;
    l.gates_x = at(workspace, r.gates_x);
    l.gates_h = at(workspace, r.gates_h);
    l.gates_h0 = at(workspace, r.gates_h0);
    l.h_state = at(workspace, r.h_state);
    l.c_state = at(workspace, r.c_state);
    l.m_state = at(workspace, r.m_state);
    l.layer_out = at(workspace, r.layer_out);
    l.cublas_workspace = at(workspace, r.cublas);
    l.h_exchange = at(workspace, r.h_exchange);
    l.m_exchange = at(workspace, r.m_exchange);
    b.layers.push_back(l);
  }
  return b;
}

std::size_t buffer_element_bytes(BufferKind kind, DataType type) {
  switch (kind) {
    case BufferKind::kGatesX:
    case BufferKind::kGatesH:
    case BufferKind::kGatesH0:
    case BufferKind::kCState: return 4;
    default: return detail::element_bytes(type);
  }
}

const void* matrix_address(const CallBuffers& buffers, const MatrixRef& ref, DataType type) {
  const void* base = base_of(buffers, ref.buffer, ref.layer);
  if (!base)
    detail::fail(ErrorCode::kInternal, "fused: buffer {} of layer {} is not set", to_string(ref.buffer), ref.layer);
  return static_cast<const char*>(base) +
         ref.offset * static_cast<std::int64_t>(buffer_element_bytes(ref.buffer, type));
}

kernels::GateStepParams gate_step_params(const ModelDesc& desc, const FusedPlan& plan, const Op& op,
                                         const CallBuffers& buffers, const std::array<kernels::CellMathParams, 2>& cell,
                                         DataType type) {
  if (op.kind != OpKind::kGateStep)
    detail::fail(ErrorCode::kInternal, "fused: gate_step_params for a {} op", to_string(op.kind));
  const int l = op.layer, D = desc.num_directions();
  const LayerBuffers& lb = buffers.layers.at(l);
  kernels::GateStepParams p{};
  p.seq_len = plan.key.seq_len;
  p.batch = plan.key.batch;
  p.hidden = desc.hidden_size;
  p.out_size = desc.output_size();
  p.directions = D;
  p.step = op.step;
  p.compute = op.compute;
  p.has_recurrent = op.has_recurrent;
  p.emit_previous = op.emit_previous;
  p.projected = desc.proj_size > 0;
  p.carry_last = plan.key.padding == PaddingMode::kCarryLast;
  for (int d = 0; d < 2; ++d) {
    p.reverse[d] = d < D && desc.is_reverse_slot(d);
    p.gates_time_base[d] = op.gates_time_base[d];
    p.cell[d] = cell[d];
  }
  p.gates_time_stride = op.gates_time_stride;
  p.gates_row_stride = op.gates_row_stride;
  p.gates_x = static_cast<const float*>(lb.gates_x);
  p.gates_h = static_cast<const float*>(lb.gates_h);
  p.bias = lb.weights.bias;
  p.peephole = desc.peepholes ? lb.weights.peephole : nullptr;
  p.c_state = static_cast<float*>(lb.c_state);
  p.h_state = lb.h_state;
  p.m_state = lb.m_state;
  const bool top = l == desc.num_layers - 1;
  p.out = top ? buffers.y : lb.layer_out;
  const SequenceStrides strides = output_strides(desc, plan.key, l);
  p.out_time_stride = strides.time;
  p.out_row_stride = strides.row;
  p.out_flip = strides.flip;
  p.lengths = buffers.lengths;
  if (plan.key.has_mask) {
    if (!buffers.mask) detail::fail(ErrorCode::kInternal, "fused: a masked plan without the mask buffer");
    const int W = mask_word_count(plan.key.seq_len), N = plan.key.batch;
    p.mask_bits = reinterpret_cast<const std::uint32_t*>(buffers.mask);
    p.mask_first = buffers.mask + static_cast<std::size_t>(N) * W;
    p.mask_last = p.mask_first + N;
    p.mask_words = W;
  }
  if (uses_gates_h0(desc, plan.key)) p.gates_h0 = static_cast<const float*>(lb.gates_h0);
  p.h_n = offset_or_null(buffers.h_n, slot_offset(desc, plan, l, desc.output_size(), type));
  p.c_n = offset_or_null(buffers.c_n, slot_offset(desc, plan, l, desc.hidden_size, type));
  return p;
}

kernels::InitStateParams init_state_params(const ModelDesc& desc, const FusedPlan& plan, int layer,
                                           const CallBuffers& buffers, DataType type) {
  const LayerBuffers& lb = buffers.layers.at(layer);
  kernels::InitStateParams p{};
  p.batch = plan.key.batch;
  p.hidden = desc.hidden_size;
  p.out_size = desc.output_size();
  p.directions = desc.num_directions();
  p.h0 = offset_or_null(buffers.h0, slot_offset(desc, plan, layer, desc.output_size(), type));
  p.c0 = offset_or_null(buffers.c0, slot_offset(desc, plan, layer, desc.hidden_size, type));
  p.h_state = lb.h_state;
  p.c_state = static_cast<float*>(lb.c_state);
  p.m_state = lb.m_state;
  return p;
}

}  // namespace lstmrt::fused
