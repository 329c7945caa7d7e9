// The fused backend's host plan (see fused_plan.hpp for the execution model).
#include "fused/fused_plan.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "common/check.hpp"
#include "fused/persistent_plan.hpp"
#include "kernels/persistent_lstm.hpp"
#include "request_mask.hpp"

namespace lstmrt::fused {

const char* to_string(BufferKind kind) {
  switch (kind) {
    case BufferKind::kX: return "x";
    case BufferKind::kLayerOut: return "layer_out";
    case BufferKind::kGatesX: return "gates_x";
    case BufferKind::kGatesH: return "gates_h";
    case BufferKind::kGatesH0: return "gates_h0";
    case BufferKind::kHState: return "h_state";
    case BufferKind::kMState: return "m_state";
    case BufferKind::kCState: return "c_state";
    case BufferKind::kWeightIh: return "w_ih";
    case BufferKind::kWeightHh: return "w_hh";
    case BufferKind::kWeightHr: return "w_hr";
  }
  return "unknown";
}

const char* to_string(GemmRole role) {
  switch (role) {
    case GemmRole::kInput: return "input";
    case GemmRole::kRecurrent: return "recurrent";
    case GemmRole::kProjection: return "projection";
  }
  return "unknown";
}

const char* to_string(OpKind kind) {
  switch (kind) {
    case OpKind::kUploadLengths: return "upload_lengths";
    case OpKind::kUploadMask: return "upload_mask";
    case OpKind::kFork: return "fork";
    case OpKind::kInitState: return "init_state";
    case OpKind::kGemm: return "gemm";
    case OpKind::kGateStep: return "gate_step";
    case OpKind::kRecordEvent: return "record_event";
    case OpKind::kWaitEvent: return "wait_event";
    case OpKind::kJoin: return "join";
    case OpKind::kClearPersistent: return "clear_persistent";
    case OpKind::kPersistent: return "persistent";
  }
  return "unknown";
}

bool FusedPlan::any_persistent() const {
  return std::any_of(choices.begin(), choices.end(), [](const LayerChoice& c) { return is_persistent(c.kernel); });
}

bool uses_gates_h0(const ModelDesc& desc, const PlanKey& key) {
  return key.has_mask && desc.proj_size > 0 && key.has_initial_state;
}

bool recurrent_into_gates(const ModelDesc& desc, const PlanKey& key) {
  return desc.num_directions() == 1 && !(desc.direction == Direction::kReverse && key.has_lengths) &&
         !uses_gates_h0(desc, key);
}

int plan_chunk_steps(const ModelDesc& desc, int seq_len, int batch, bool has_lengths, bool layers_overlap) {
  if (seq_len < 1 || batch < 1) detail::invalid("fused plan: T={} N={}: expected both >= 1", seq_len, batch);
  if (desc.direction != Direction::kForward && has_lengths) return seq_len;
  const std::size_t per_step = static_cast<std::size_t>(batch) * desc.num_directions() * 4 * desc.hidden_size * 4;
  const std::size_t budget = layers_overlap ? kGatesChunkBudgetBytes : kPersistentGatesChunkBudgetBytes;
  std::size_t steps = std::max<std::size_t>(1, budget / per_step);
  steps = std::min<std::size_t>(steps, static_cast<std::size_t>(seq_len));
  // Stacked one-direction models chunk finely for the wavefront; a bidirectional layer needs the
  // whole lower layer (its reverse half starts at the end), so chunking it buys no overlap.
  if (layers_overlap && desc.num_layers > 1 && desc.num_directions() == 1)
    steps = std::min<std::size_t>(steps, static_cast<std::size_t>(kWavefrontChunkSteps));
  return static_cast<int>(steps);
}

TimeRange chunk_time_range(const ModelDesc& desc, int d, int chunk, int chunk_steps, int seq_len) {
  const int begin = chunk * chunk_steps, end = std::min(seq_len, (chunk + 1) * chunk_steps);
  if (begin >= seq_len || begin < 0)
    detail::fail(ErrorCode::kInternal, "fused plan: chunk {} of {} steps is outside T={}", chunk, chunk_steps, seq_len);
  // A reverse direction processes input times T−1, T−2, ...: its chunk c is the mirrored range.
  if (desc.is_reverse_slot(d)) return {seq_len - end, seq_len - begin};
  return {begin, end};
}

int chunk_of_time(const ModelDesc& desc, int d, int t, int chunk_steps, int seq_len) {
  return desc.is_reverse_slot(d) ? (seq_len - 1 - t) / chunk_steps : t / chunk_steps;
}

SequenceStrides output_strides(const ModelDesc& desc, const PlanKey& key, int layer) {
  const std::int64_t C = static_cast<std::int64_t>(desc.num_directions()) * desc.output_size();
  if (layer < desc.num_layers - 1) return {key.batch * C, C, false};
  const bool flip = key.reverse_order == ReverseOutputOrder::kProcessing;
  if (key.layout == TensorLayout::kTimeMajor) return {key.batch * C, C, flip};
  return {C, static_cast<std::int64_t>(key.seq_len) * C, flip};
}

namespace {

Op make_op(OpKind kind, int layer, int chunk = 0, int step = 0) {
  Op op;
  op.kind = kind;
  op.layer = layer;
  op.chunk = chunk;
  op.step = step;
  return op;
}

std::size_t align_up(std::size_t v) {
  return (v + kWorkspaceAlignment - 1) / kWorkspaceAlignment * kWorkspaceAlignment;
}

// Appends regions back to back, each aligned; zero-byte regions take no space.
struct RegionAllocator {
  std::size_t end = 0;
  Region take(std::size_t bytes) {
    Region r{end, bytes};
    end += align_up(bytes);
    return r;
  }
};

// The input GEMMs of layer l, chunk c: one GEMM for every direction when the chunk is the whole
// sequence (every direction reads the same times), else one per direction over its own times.
void add_input_gemms(const ModelDesc& desc, const PlanKey& key, int l, int c, int chunk_steps, int chunk_count,
                     std::vector<Op>& ops) {
  const int D = desc.num_directions(), H4 = 4 * desc.hidden_size, N = key.batch, T = key.seq_len;
  const std::int64_t in = desc.layer_input_size(l), gates_ld = static_cast<std::int64_t>(D) * H4;
  const bool together = chunk_count == 1;
  for (int d = 0; d < (together ? 1 : D); ++d) {
    const TimeRange times = together ? TimeRange{0, T} : chunk_time_range(desc, d, c, chunk_steps, T);
    const int steps = times.last - times.first;
    Op op = make_op(OpKind::kGemm, l, c);
    GemmOp& g = op.gemm;
    g.role = GemmRole::kInput;
    g.cols = together ? D * H4 : H4;
    g.depth = static_cast<int>(in);
    // gates_x row (t − times.first)·N + b, columns [d·4H, d·4H + cols).
    g.weight = {BufferKind::kWeightIh, l, together ? 0 : d * H4 * in, in, 0};
    g.out = {BufferKind::kGatesX, l, together ? 0 : d * H4, gates_ld, 0};
    if (l > 0) {
      const std::int64_t C = static_cast<std::int64_t>(D) * desc.output_size();
      g.rows = steps * N;
      g.act = {BufferKind::kLayerOut, l - 1, times.first * N * C, C, 0};
    } else if (key.layout == TensorLayout::kTimeMajor) {
      g.rows = steps * N;
      g.act = {BufferKind::kX, 0, times.first * N * in, in, 0};
    } else if (together) {
      // Batch-major x, whole sequence: one plain GEMM over its N·T rows (b·T + t); gates_x keeps
      // that row order (gates_batch_major).
      g.rows = T * N;
      g.act = {BufferKind::kX, 0, 0, in, 0};
    } else if (N >= steps) {
      // Batch-major x: row b·T + t. One batch entry per time step, N rows each.
      g.rows = N;
      g.batch = steps;
      g.act = {BufferKind::kX, 0, times.first * in, T * in, in};
      g.out.batch_stride = N * gates_ld;
    } else {
      // Batch-major x with few rows: one batch entry per row, `steps` times each.
      g.rows = steps;
      g.batch = N;
      g.act = {BufferKind::kX, 0, times.first * in, in, T * in};
      g.out.ld = N * gates_ld;
      g.out.batch_stride = gates_ld;
    }
    ops.push_back(op);
  }
}

// gates_x rows are b·T + t (not t·N + b) for a batch-major layer-0 input projected in one GEMM.
bool gates_batch_major(const PlanKey& key, int l, int chunk_count) {
  return l == 0 && key.layout == TensorLayout::kBatchMajor && chunk_count == 1;
}

// `into_gates`: the time block of gates_x holding step s's input time (start `gates_offset`, rows
// `gates_row_stride` apart) instead of gates_h.
Op recurrent_gemm(const ModelDesc& desc, const PlanKey& key, int l, int c, int s, bool into_gates,
                  std::int64_t gates_offset, std::int64_t gates_row_stride) {
  const int D = desc.num_directions(), H4 = 4 * desc.hidden_size, N = key.batch;
  const std::int64_t Ho = desc.output_size();
  Op op = make_op(OpKind::kGemm, l, c, s);
  op.gemm = {GemmRole::kRecurrent,
             N,
             H4,
             static_cast<int>(Ho),
             D,
             {BufferKind::kHState, l, 0, Ho, N * Ho},
             {BufferKind::kWeightHh, l, 0, Ho, H4 * Ho},
             {BufferKind::kGatesH, l, 0, H4, static_cast<std::int64_t>(N) * H4}};
  if (into_gates) {
    op.gemm.out = {BufferKind::kGatesX, l, gates_offset, gates_row_stride, 0};
    op.gemm.accumulate = true;
  }
  return op;
}

Op projection_gemm(const ModelDesc& desc, const PlanKey& key, int l, int c, int s) {
  const int D = desc.num_directions(), N = key.batch, P = desc.proj_size;
  const std::int64_t H = desc.hidden_size;
  Op op = make_op(OpKind::kGemm, l, c, s);
  op.gemm = {GemmRole::kProjection,
             N,
             P,
             static_cast<int>(H),
             D,
             {BufferKind::kMState, l, 0, H, N * H},
             {BufferKind::kWeightHr, l, 0, H, P * H},
             {BufferKind::kHState, l, 0, P, static_cast<std::int64_t>(N) * P}};
  return op;
}

// The lowest-layer chunk that layer l's chunk c needs: the latest chunk in which layer l−1
// produces any input time that chunk c reads.
int dependency_chunk(const ModelDesc& desc, int c, int chunk_steps, int chunk_count, int T) {
  if (chunk_count == 1) return 0;
  int dep = 0;
  for (int d = 0; d < desc.num_directions(); ++d) {
    const TimeRange times = chunk_time_range(desc, d, c, chunk_steps, T);
    for (int t = times.first; t < times.last; ++t)
      for (int d_low = 0; d_low < desc.num_directions(); ++d_low)
        dep = std::max(dep, chunk_of_time(desc, d_low, t, chunk_steps, T));
  }
  return dep;
}

// Every op of layer l's chunk c, in stream order. `persistent`: the chunk's steps are one kPersistent
// launch with the gates_x addressing the stepwise gate ops of the chunk would have.
void add_chunk(const ModelDesc& desc, const PlanKey& key, int l, int c, int chunk_steps, int chunk_count, int dep,
               bool persistent, std::vector<Op>& ops) {
  const int T = key.seq_len, D = desc.num_directions();
  const bool projected = desc.proj_size > 0;
  if (c == 0) {
    ops.push_back(make_op(OpKind::kInitState, l));
    if (uses_gates_h0(desc, key)) {  // gates_h0 = h_state · W_hh^T while h_state still holds h0
      Op h0 = recurrent_gemm(desc, key, l, c, 0, false, 0, 0);
      h0.gemm.out.buffer = BufferKind::kGatesH0;
      ops.push_back(h0);
    }
  }
  if (l > 0) {
    Op wait = make_op(OpKind::kWaitEvent, l, dep);
    wait.wait_layer = l - 1;
    ops.push_back(wait);
  }
  add_input_gemms(desc, key, l, c, chunk_steps, chunk_count, ops);
  std::array<int, 2> base{0, 0};
  if (chunk_count > 1)
    for (int d = 0; d < D; ++d) base[d] = chunk_time_range(desc, d, c, chunk_steps, T).first;
  const std::int64_t gates_ld = static_cast<std::int64_t>(D) * 4 * desc.hidden_size;
  const bool batch_major = gates_batch_major(key, l, chunk_count);
  const std::int64_t time_stride = batch_major ? gates_ld : key.batch * gates_ld;
  const std::int64_t row_stride = batch_major ? T * gates_ld : gates_ld;
  const int first = c * chunk_steps, last = std::min(T, first + chunk_steps);
  if (persistent) {
    Op launch = make_op(OpKind::kPersistent, l, c, first);
    launch.step_count = last - first;
    launch.gates_time_base = base;
    launch.gates_time_stride = time_stride;
    launch.gates_row_stride = row_stride;
    ops.push_back(launch);
    if (l < desc.num_layers - 1) ops.push_back(make_op(OpKind::kRecordEvent, l, c));
    return;
  }
  const bool into_gates = recurrent_into_gates(desc, key);
  for (int s = first; s < last; ++s) {
    const bool has_recurrent = s > 0 || key.has_initial_state;
    const int t = desc.is_reverse_slot(0) ? T - 1 - s : s;  // every row's time when into_gates
    if (has_recurrent)
      ops.push_back(recurrent_gemm(desc, key, l, c, s, into_gates, (t - base[0]) * time_stride, row_stride));
    Op gate = make_op(OpKind::kGateStep, l, c, s);
    gate.gates_time_base = base;
    gate.gates_time_stride = time_stride;
    gate.gates_row_stride = row_stride;
    gate.has_recurrent = has_recurrent && !into_gates;
    gate.emit_previous = projected && s > first;
    ops.push_back(gate);
    if (projected) ops.push_back(projection_gemm(desc, key, l, c, s));
  }
  // Projected: the chunk's last h is emitted before the chunk ends, so the chunk's output is
  // complete when the layer above (wavefront) or the caller reads it.
  if (projected) {
    Op emit = make_op(OpKind::kGateStep, l, c, last);
    emit.gates_time_base = base;
    emit.gates_time_stride = time_stride;
    emit.gates_row_stride = row_stride;
    emit.compute = false;
    emit.emit_previous = true;
    ops.push_back(emit);
  }
  if (l < desc.num_layers - 1) ops.push_back(make_op(OpKind::kRecordEvent, l, c));
}

}  // namespace

ExchangeBytes grid_exchange_bytes(const ModelDesc& desc, DataType type, int batch) {
  if (type == DataType::kFloat16) return {};
  const std::size_t h = kernels::persistent_exchange_bytes(1, batch, desc.output_size(), 0);
  const std::size_t m = kernels::persistent_exchange_bytes(1, batch, desc.hidden_size, 0);
  return {h, desc.proj_size > 0 ? m : 0};
}

WorkspaceLayout plan_workspace(const ModelDesc& desc, DataType type, int seq_len, int batch, int chunk_steps) {
  const std::size_t es = detail::element_bytes(type), N = batch, T = seq_len, D = desc.num_directions();
  const std::size_t H = desc.hidden_size, Ho = desc.output_size();
  RegionAllocator alloc;
  WorkspaceLayout w;
  w.lengths = alloc.take(N * sizeof(std::int32_t));
  w.mask = alloc.take(packed_mask_words(seq_len, batch) * sizeof(std::int32_t));
  // The persistent region: abort word, then each layer's grid exchanges (one memset clears it).
  std::vector<Region> h_exchange(desc.num_layers), m_exchange(desc.num_layers);
  if (type != DataType::kFloat16) {
    const ExchangeBytes x = grid_exchange_bytes(desc, type, batch);
    const std::size_t start = alloc.take(kPersistentStatusBytes).offset;
    for (int l = 0; l < desc.num_layers; ++l) {
      h_exchange[l] = alloc.take(D * x.h);
      m_exchange[l] = alloc.take(D * x.m);
    }
    w.persistent = {start, alloc.end - start};
  }
  for (int l = 0; l < desc.num_layers; ++l) {
    LayerRegions r;
    r.h_exchange = h_exchange[l];
    r.m_exchange = m_exchange[l];
    r.cublas = alloc.take(kCublasWorkspaceBytes);
    r.gates_x = alloc.take(static_cast<std::size_t>(chunk_steps) * N * D * 4 * H * 4);
    r.gates_h = alloc.take(D * N * 4 * H * 4);
    r.gates_h0 = alloc.take(desc.proj_size > 0 ? D * N * 4 * H * 4 : 0);
    r.h_state = alloc.take(D * N * Ho * es);
    r.c_state = alloc.take(D * N * H * 4);
    r.m_state = alloc.take(desc.proj_size > 0 ? D * N * H * es : 0);
    r.layer_out = alloc.take(l < desc.num_layers - 1 ? T * N * D * Ho * es : 0);
    w.layers.push_back(r);
  }
  w.total_bytes = alloc.end;
  return w;
}

bool persistent_possible(const ModelDesc& desc, DataType type, int batch, const DeviceLimits& limits) {
  return type != DataType::kFloat16 &&
         static_cast<std::size_t>(batch) * desc.output_size() * sizeof(float) <= limits.smem_per_block;
}

std::size_t workspace_bytes(const ModelDesc& desc, DataType type, int seq_len, int batch, const DeviceLimits& limits) {
  std::size_t bytes = 0;
  const bool persistent = persistent_possible(desc, type, batch, limits);
  for (bool has_lengths : {false, true})
    for (bool overlap : {false, true}) {
      if (!overlap && !persistent) continue;
      bytes = std::max(bytes, plan_workspace(desc, type, seq_len, batch,
                                             plan_chunk_steps(desc, seq_len, batch, has_lengths, overlap))
                                  .total_bytes);
    }
  return bytes;
}

FusedPlan make_plan(const ModelDesc& desc, DataType type, const PlanKey& key, const std::vector<LayerChoice>& choices,
                    const DeviceLimits& limits, int chunk_steps) {
  if (key.seq_len < 1 || key.batch < 1)
    detail::invalid("fused plan: T={} N={}: expected both >= 1", key.seq_len, key.batch);
  if (!choices.empty() && static_cast<int>(choices.size()) != desc.num_layers)
    detail::invalid("fused plan: {} per-layer kernel choices for a model of {} layers", choices.size(),
                    desc.num_layers);
  FusedPlan plan;
  plan.choices = choices.empty() ? std::vector<LayerChoice>(desc.num_layers) : choices;
  const bool persistent = plan.any_persistent();
  if (persistent && type == DataType::kFloat16)
    detail::invalid(
        "fused plan: a persistent layer with float16 data: the persistent kernels take float32 or bfloat16");
  if (persistent && !persistent_possible(desc, type, key.batch, limits))
    detail::invalid(
        "fused plan: a persistent layer with N={} rows of H_out={}: their staged h ({} bytes) exceeds the "
        "device's {} bytes of shared memory per block",
        key.batch, desc.output_size(), static_cast<std::size_t>(key.batch) * desc.output_size() * 4,
        limits.smem_per_block);
  if (persistent) {
    if (std::string why = persistent_activation_refusal(desc); !why.empty())
      detail::invalid("fused plan: a persistent layer: {}", why);
  }
  if (persistent && key.has_mask)
    detail::invalid("fused plan: a persistent layer with a masked request: the persistent kernels take no mask");
  for (int l = 0; l < desc.num_layers; ++l) {
    const LayerChoice& c = plan.choices[l];
    if (c.kernel == FusedKernel::kAuto)
      detail::invalid("fused plan: layer {}'s kernel is auto: expected the chosen stepwise, persistent or cluster", l);
    if (!is_persistent(c.kernel)) continue;
    const PersistentPlan& p = c.persistent;
    if (!p.fits || p.variant != c.kernel || p.batch != key.batch || p.weight_type != type ||
        p.directions != desc.num_directions() || p.hidden != desc.hidden_size || p.out_size != desc.output_size())
      detail::invalid(
          "fused plan: layer {}'s {} choice carries a persistent plan ({}, {} rows, H={}{}) that does not "
          "serve N={} H={} of this model",
          l, to_string(c.kernel), to_string(p.variant), p.batch, p.hidden, p.fits ? "" : ", not fitting", key.batch,
          desc.hidden_size);
  }
  plan.key = key;
  plan.layers = desc.num_layers;
  plan.directions = desc.num_directions();
  plan.hidden = desc.hidden_size;
  plan.out_size = desc.output_size();
  plan.proj = desc.proj_size;
  plan.chunk_steps = plan_chunk_steps(desc, key.seq_len, key.batch, key.has_lengths, !persistent);
  if (chunk_steps > 0 && !(desc.direction != Direction::kForward && key.has_lengths))
    plan.chunk_steps = std::min(chunk_steps, key.seq_len);
  plan.chunk_count = (key.seq_len + plan.chunk_steps - 1) / plan.chunk_steps;
  plan.workspace = plan_workspace(desc, type, key.seq_len, key.batch, plan.chunk_steps);

  const int L = desc.num_layers, C = plan.chunk_count;
  std::vector<int> dep(C);
  // With a persistent layer the layers do not overlap: layer l+1 waits for all of layer l.
  for (int c = 0; c < C; ++c) dep[c] = persistent ? C - 1 : dependency_chunk(desc, c, plan.chunk_steps, C, key.seq_len);
  plan.wavefront = !persistent && L > 1 && C > 1;
  for (int c = 0; c < C; ++c) plan.wavefront = plan.wavefront && dep[c] == c;

  if (persistent) plan.ops.push_back(make_op(OpKind::kClearPersistent, 0));
  if (key.has_lengths) plan.ops.push_back(make_op(OpKind::kUploadLengths, 0));
  if (key.has_mask) plan.ops.push_back(make_op(OpKind::kUploadMask, 0));
  plan.ops.push_back(make_op(OpKind::kFork, 0));
  // Issue order: each pass gives every layer its next chunk once the chunk it depends on is issued
  // (layer 0 always can). Wavefront plans come out diagonal: layer l chunk c right after layer l−1
  // chunk c, so layer l−1 chunk c+1 and layer l chunk c are in flight together. One event per
  // layer is enough: each wait follows the record it needs with no later record in between.
  std::vector<int> next(L, 0), issued(L, -1);
  for (bool progress = true; progress;) {
    progress = false;
    for (int l = 0; l < L; ++l) {
      if (next[l] >= C || (l > 0 && issued[l - 1] < dep[next[l]])) continue;
      add_chunk(desc, key, l, next[l], plan.chunk_steps, C, dep[next[l]], is_persistent(plan.choices[l].kernel),
                plan.ops);
      issued[l] = next[l]++;
      progress = true;
    }
  }
  plan.ops.push_back(make_op(OpKind::kJoin, 0));
  return plan;
}

}  // namespace lstmrt::fused
