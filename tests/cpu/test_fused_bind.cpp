// The fused backend's bind step (src/fused/fused_bind.hpp) on random models, request keys and kernel
// choices, bound to made-up addresses: every pointer a bound op carries lies in the buffer it must
// name (the request's arrays, the layer's weights, the workspace regions of the plan), every extent
// a kernel or GEMM reaches through its strides stays inside that buffer, the copies and clears
// cover exactly their regions, and the dependencies point backwards at the right ops. Plus bind's
// refusals (workspace null, small or misaligned; mismatched plan, weights or staging).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "common/compare.hpp"
#include "common/expect_error.hpp"
#include "common/fused_plan_helpers.hpp"
#include "fused/fused_bind.hpp"
#include "request_mask.hpp"

namespace lstmrt::fused {
namespace {

// A made-up address range: bind only does arithmetic on addresses, nothing is dereferenced.
struct Range {
  std::string name;
  std::uintptr_t base = 0;
  std::size_t bytes = 0;
};

struct BindCase {
  ModelDesc desc;
  DataType type = DataType::kFloat32;
  PlanKey key;
  FusedPlan plan;
  ForwardRequest req;
  std::vector<LayerWeights> weights;
  UploadStaging staging;
  std::vector<Range> ranges;         // every buffer bind may point into, by name
  std::uintptr_t next = 0x10000000;  // the next free made-up address (256-byte aligned)

  const void* take(const std::string& name, std::size_t bytes) {
    ranges.push_back({name, next, bytes});
    const std::uintptr_t at = next;
    next += (bytes + 4096) / 256 * 256 + 256;  // a gap between buffers
    return reinterpret_cast<const void*>(at);
  }
  const Range& range(const std::string& name) const {
    for (const Range& r : ranges)
      if (r.name == name) return r;
    ADD_FAILURE() << "no range " << name;
    return ranges.front();
  }
};

std::size_t es(DataType t) { return detail::element_bytes(t); }

BindCase random_setup(std::mt19937_64& rng) {
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  BindCase s;
  ModelDesc& m = s.desc;
  m.input_size = pick(1, 24);
  m.hidden_size = pick(1, 40);
  m.proj_size = pick(0, 2) == 0 ? pick(1, m.hidden_size) : 0;
  if (m.proj_size == m.hidden_size) m.proj_size = 0;
  m.num_layers = pick(1, 3);
  m.direction = static_cast<Direction>(pick(0, 2));
  m.peepholes = pick(0, 1);
  s.type = static_cast<DataType>(pick(0, 2));
  PlanKey& k = s.key;
  k.seq_len = pick(1, 30);
  k.batch = pick(1, 9);
  k.layout = pick(0, 1) ? TensorLayout::kBatchMajor : TensorLayout::kTimeMajor;
  k.has_lengths = pick(0, 1);
  k.has_mask = !k.has_lengths && pick(0, 3) == 0;
  k.has_initial_state = pick(0, 1);
  k.want_y = pick(0, 3) > 0;
  k.want_h_n = pick(0, 1);
  k.want_c_n = !k.want_y && !k.want_h_n ? true : pick(0, 1);
  k.padding = pick(0, 1) ? PaddingMode::kCarryLast : PaddingMode::kZero;
  k.reverse_order = pick(0, 1) ? ReverseOutputOrder::kProcessing : ReverseOutputOrder::kOriginal;
  std::vector<FusedKernel> kernels(m.num_layers, FusedKernel::kStepwise);
  if (s.type != DataType::kFloat16 && !k.has_mask)
    for (FusedKernel& kk : kernels) kk = static_cast<FusedKernel>(pick(1, 3));  // stepwise, persistent, cluster
  for (int l = 0; l < m.num_layers; ++l)
    if (is_persistent(kernels[l]) &&
        !make_persistent_plan(m, s.type, k.batch, k.seq_len, test::kH200Limits, kernels[l]).fits)
      kernels[l] = FusedKernel::kStepwise;
  s.plan = test::plan_for(m, s.type, k, pick(0, 1) ? pick(1, 6) : 0, kernels);

  const std::size_t T = k.seq_len, N = k.batch, D = m.num_directions(), H = m.hidden_size, Ho = m.output_size();
  const std::size_t L = m.num_layers, P = m.proj_size, e = es(s.type);
  ForwardRequest& r = s.req;
  r.seq_len = k.seq_len;
  r.batch = k.batch;
  r.layout = k.layout;
  r.padding = k.padding;
  r.reverse_order = k.reverse_order;
  r.x = s.take("x", T * N * m.input_size * e);
  if (k.want_y) r.y = const_cast<void*>(s.take("y", T * N * D * Ho * e));
  if (k.has_initial_state) {
    r.h0 = s.take("h0", L * D * N * Ho * e);
    r.c0 = s.take("c0", L * D * N * H * e);
  }
  if (k.want_h_n) r.h_n = const_cast<void*>(s.take("h_n", L * D * N * Ho * e));
  if (k.want_c_n) r.c_n = const_cast<void*>(s.take("c_n", L * D * N * H * e));
  static const std::int32_t lengths[64] = {};
  static const std::uint8_t mask[64 * 64] = {};
  if (k.has_lengths) r.lengths = lengths;
  if (k.has_mask) r.mask = mask;
  if (k.has_lengths) s.staging.lengths.assign(N, 1);
  if (k.has_mask) s.staging.mask_words.assign(packed_mask_words(k.seq_len, k.batch), 0);
  for (std::size_t l = 0; l < L; ++l) {
    const std::size_t in = l == 0 ? m.input_size : D * Ho;
    LayerWeights w;
    w.w_ih = s.take(fmt::format("w_ih{}", l), D * 4 * H * in * e);
    w.w_hh = s.take(fmt::format("w_hh{}", l), D * 4 * H * Ho * e);
    if (P > 0) w.w_hr = s.take(fmt::format("w_hr{}", l), D * P * H * e);
    w.bias = static_cast<const float*>(s.take(fmt::format("bias{}", l), D * 4 * H * 4));
    if (m.peepholes) w.peephole = static_cast<const float*>(s.take(fmt::format("peephole{}", l), D * 3 * H * 4));
    s.weights.push_back(w);
  }
  // The workspace last, with its regions as ranges of their own.
  const WorkspaceLayout& w = s.plan.workspace;
  const std::uintptr_t ws = reinterpret_cast<std::uintptr_t>(s.take("workspace", w.total_bytes));
  auto region = [&](const std::string& name, const Region& reg) {
    if (reg.bytes) s.ranges.push_back({name, ws + reg.offset, reg.bytes});
  };
  region("lengths", w.lengths);
  region("mask", w.mask);
  region("persistent", w.persistent);
  for (std::size_t l = 0; l < L; ++l) {
    const LayerRegions& lr = w.layers[l];
    region(fmt::format("cublas{}", l), lr.cublas);
    region(fmt::format("gates_x{}", l), lr.gates_x);
    region(fmt::format("gates_h{}", l), lr.gates_h);
    region(fmt::format("gates_h0{}", l), lr.gates_h0);
    region(fmt::format("h_state{}", l), lr.h_state);
    region(fmt::format("c_state{}", l), lr.c_state);
    region(fmt::format("m_state{}", l), lr.m_state);
    region(fmt::format("layer_out{}", l), lr.layer_out);
    region(fmt::format("h_exchange{}", l), lr.h_exchange);
    region(fmt::format("m_exchange{}", l), lr.m_exchange);
  }
  return s;
}

BoundCall bind_setup(const BindCase& s, void* workspace, std::size_t bytes) {
  BindInputs in;
  in.workspace = workspace;
  in.workspace_bytes = bytes;
  in.weights = &s.weights;
  in.staging = &s.staging;
  static kernels::PersistentStatus status{};
  in.status = &status;
  return bind(s.desc, s.type, s.plan, s.req, in);
}

void* workspace_of(const BindCase& s) { return reinterpret_cast<void*>(s.range("workspace").base); }

// [p, p + bytes) lies in range `name` (null p: only when `may_be_null`).
::testing::AssertionResult inside(const BindCase& s, const void* p, std::int64_t bytes, const std::string& name,
                                  bool may_be_null = false) {
  if (!p) return may_be_null ? ::testing::AssertionSuccess() : ::testing::AssertionFailure() << name << ": null";
  const Range& r = s.range(name);
  const auto a = reinterpret_cast<std::uintptr_t>(p);
  if (bytes < 0 || a < r.base || a + static_cast<std::uintptr_t>(bytes) > r.base + r.bytes)
    return ::testing::AssertionFailure() << name << ": [" << (a - r.base) << ", +" << bytes << ") outside its "
                                         << r.bytes << " bytes";
  return ::testing::AssertionSuccess();
}

std::string range_of(BufferKind kind, int layer, bool top) {
  switch (kind) {
    case BufferKind::kX: return "x";
    case BufferKind::kLayerOut: return top ? "y" : fmt::format("layer_out{}", layer);
    case BufferKind::kGatesX: return fmt::format("gates_x{}", layer);
    case BufferKind::kGatesH: return fmt::format("gates_h{}", layer);
    case BufferKind::kGatesH0: return fmt::format("gates_h0{}", layer);
    case BufferKind::kHState: return fmt::format("h_state{}", layer);
    case BufferKind::kMState: return fmt::format("m_state{}", layer);
    case BufferKind::kCState: return fmt::format("c_state{}", layer);
    case BufferKind::kWeightIh: return fmt::format("w_ih{}", layer);
    case BufferKind::kWeightHh: return fmt::format("w_hh{}", layer);
    case BufferKind::kWeightHr: return fmt::format("w_hr{}", layer);
  }
  return "?";
}

// One GEMM operand: `rows` × `cols` elements with ld and batch stride, from `p`.
void expect_operand(const BindCase& s, const void* p, const MatrixRef& ref, int rows, int cols, int batch,
                    const std::string& what) {
  const std::int64_t last = (batch - 1) * ref.batch_stride + (rows - 1) * ref.ld + cols;
  EXPECT_TRUE(inside(s, p, last * static_cast<std::int64_t>(buffer_element_bytes(ref.buffer, s.type)),
                     range_of(ref.buffer, ref.layer, false)))
      << what << " " << to_string(ref.buffer);
}

// The gate-step parameters' pointers and the extents their strides reach.
void expect_gate(const BindCase& s, const kernels::GateStepParams& g, int layer, int chunk, const std::string& what) {
  const ModelDesc& m = s.desc;
  const std::int64_t T = s.key.seq_len, N = s.key.batch, D = m.num_directions(), H = m.hidden_size;
  const std::int64_t Ho = m.output_size(), e = es(s.type);
  const bool top = layer == m.num_layers - 1;
  // gates_x: every row of every direction at every input time of the chunk.
  std::int64_t gx_last = 0;
  for (int d = 0; d < D; ++d) {
    const TimeRange r = chunk_time_range(m, d, chunk, s.plan.chunk_steps, s.key.seq_len);
    EXPECT_GE(r.first, g.gates_time_base[d]) << what;
    if (r.last > r.first)
      gx_last = std::max(gx_last, (r.last - 1 - g.gates_time_base[d]) * g.gates_time_stride +
                                      (N - 1) * g.gates_row_stride + (d + 1) * 4 * H);
  }
  EXPECT_TRUE(inside(s, g.gates_x, gx_last * 4, fmt::format("gates_x{}", layer))) << what;
  EXPECT_TRUE(inside(s, g.gates_h, D * N * 4 * H * 4, fmt::format("gates_h{}", layer))) << what;
  EXPECT_TRUE(inside(s, g.bias, D * 4 * H * 4, fmt::format("bias{}", layer))) << what;
  EXPECT_TRUE(inside(s, g.peephole, D * 3 * H * 4, fmt::format("peephole{}", layer), !m.peepholes)) << what;
  EXPECT_EQ(g.peephole != nullptr, m.peepholes) << what;
  EXPECT_TRUE(inside(s, g.c_state, D * N * H * 4, fmt::format("c_state{}", layer))) << what;
  EXPECT_TRUE(inside(s, g.h_state, D * N * Ho * e, fmt::format("h_state{}", layer))) << what;
  if (m.proj_size > 0) EXPECT_TRUE(inside(s, g.m_state, D * N * H * e, fmt::format("m_state{}", layer))) << what;
  const std::string out = top ? "y" : fmt::format("layer_out{}", layer);
  if (top && !s.key.want_y) {
    EXPECT_EQ(g.out, nullptr) << what;
  } else {
    EXPECT_TRUE(inside(s, g.out, ((T - 1) * g.out_time_stride + (N - 1) * g.out_row_stride + D * Ho) * e, out)) << what;
  }
  const std::int64_t slot = static_cast<std::int64_t>(layer) * D * N;
  if (s.key.want_h_n) {
    EXPECT_TRUE(inside(s, g.h_n, D * N * Ho * e, "h_n")) << what;
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(g.h_n) - s.range("h_n").base, static_cast<std::uintptr_t>(slot * Ho * e))
        << what;
  } else {
    EXPECT_EQ(g.h_n, nullptr) << what;
  }
  if (s.key.want_c_n) {
    EXPECT_TRUE(inside(s, g.c_n, D * N * H * e, "c_n")) << what;
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(g.c_n) - s.range("c_n").base, static_cast<std::uintptr_t>(slot * H * e))
        << what;
  } else {
    EXPECT_EQ(g.c_n, nullptr) << what;
  }
  EXPECT_TRUE(inside(s, g.lengths, N * 4, "lengths", !s.key.has_lengths)) << what;
  EXPECT_EQ(g.lengths != nullptr, s.key.has_lengths) << what;
  if (s.key.has_mask) {
    EXPECT_TRUE(inside(s, g.mask_bits, N * g.mask_words * 4, "mask")) << what;
    EXPECT_TRUE(inside(s, g.mask_first, N * 4, "mask")) << what;
    EXPECT_TRUE(inside(s, g.mask_last, N * 4, "mask")) << what;
  } else {
    EXPECT_EQ(g.mask_bits, nullptr) << what;
  }
  if (g.gates_h0) EXPECT_TRUE(inside(s, g.gates_h0, D * N * 4 * H * 4, fmt::format("gates_h0{}", layer))) << what;
}

void expect_bound(const BindCase& s, const BoundCall& call) {
  const ModelDesc& m = s.desc;
  const std::int64_t N = s.key.batch, D = m.num_directions(), H = m.hidden_size, Ho = m.output_size(), e = es(s.type);
  const std::string base = fmt::format("{} {} {}", describe(m), to_string(s.type), to_string(s.key));
  ASSERT_EQ(call.ops.size(), s.plan.ops.size()) << base;
  EXPECT_EQ(call.streams, m.num_layers);
  for (std::size_t i = 0; i < call.ops.size(); ++i) {
    const BoundOp& op = call.ops[i];
    const Op& planned = s.plan.ops[i];
    const int l = planned.layer;
    const std::string what = fmt::format("{} | op {} {} layer {}", base, i, to_string(op.kind), l);
    EXPECT_EQ(op.kind, planned.kind) << what;
    EXPECT_EQ(op.stream, l) << what;
    for (int dep : op.after) EXPECT_LT(dep, static_cast<int>(i)) << what;
    switch (op.kind) {
      case OpKind::kUploadLengths:
        EXPECT_EQ(op.upload_source, s.staging.lengths.data()) << what;
        EXPECT_EQ(op.upload_count, N) << what;
        EXPECT_TRUE(inside(s, op.upload_target, op.upload_count * 4, "lengths")) << what;
        break;
      case OpKind::kUploadMask:
        EXPECT_EQ(op.upload_source, s.staging.mask_words.data()) << what;
        EXPECT_EQ(op.upload_count, static_cast<int>(s.staging.mask_words.size())) << what;
        EXPECT_TRUE(inside(s, op.upload_target, op.upload_count * 4, "mask")) << what;
        break;
      case OpKind::kInitState: {
        const kernels::InitStateParams& p = op.init;
        EXPECT_TRUE(inside(s, p.h_state, D * N * Ho * e, fmt::format("h_state{}", l))) << what;
        EXPECT_TRUE(inside(s, p.c_state, D * N * H * 4, fmt::format("c_state{}", l))) << what;
        if (s.key.has_initial_state) {
          EXPECT_TRUE(inside(s, p.h0, D * N * Ho * e, "h0")) << what;
          EXPECT_TRUE(inside(s, p.c0, D * N * H * e, "c0")) << what;
          EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p.h0) - s.range("h0").base,
                    static_cast<std::uintptr_t>(l * D * N * Ho * e))
              << what;
        } else {
          EXPECT_EQ(p.h0, nullptr) << what;
        }
        break;
      }
      case OpKind::kGemm: {
        const GemmOp& g = planned.gemm;
        expect_operand(s, op.gemm_act, g.act, g.rows, g.depth, g.batch, what + " act");
        expect_operand(s, op.gemm_weight, g.weight, g.cols, g.depth, g.batch, what + " weight");
        const bool top_y = g.out.buffer == BufferKind::kLayerOut && l == m.num_layers - 1;
        EXPECT_FALSE(top_y) << what;  // GEMMs never write y
        expect_operand(s, op.gemm_out, g.out, g.rows, g.cols, g.batch, what + " out");
        EXPECT_TRUE(inside(s, op.gemm_workspace, kCublasWorkspaceBytes, fmt::format("cublas{}", l))) << what;
        break;
      }
      case OpKind::kGateStep: expect_gate(s, op.gate, l, planned.chunk, what); break;
      case OpKind::kPersistent: {
        const kernels::PersistentParams& p = op.persistent;
        expect_gate(s, p.g, l, planned.chunk, what);
        EXPECT_EQ(op.blocks, s.plan.choices[l].persistent.total_blocks()) << what;
        EXPECT_TRUE(inside(s, p.w_hh, D * 4 * H * Ho * e, fmt::format("w_hh{}", l))) << what;
        EXPECT_TRUE(inside(s, p.abort_flag, 4, "persistent")) << what;
        if (!p.cluster) {
          EXPECT_TRUE(inside(s, p.h_exchange, D * p.h_exchange_bytes, fmt::format("h_exchange{}", l))) << what;
          if (m.proj_size > 0)
            EXPECT_TRUE(inside(s, p.m_exchange, D * p.m_exchange_bytes, fmt::format("m_exchange{}", l))) << what;
        }
        break;
      }
      case OpKind::kClearPersistent:
        EXPECT_EQ(reinterpret_cast<std::uintptr_t>(op.clear), s.range("persistent").base) << what;
        EXPECT_EQ(op.clear_bytes, s.range("persistent").bytes) << what;
        break;
      case OpKind::kWaitEvent:
        ASSERT_EQ(op.after.size(), 1u) << what;
        EXPECT_EQ(call.ops[op.after[0]].kind, OpKind::kRecordEvent) << what;
        EXPECT_EQ(call.ops[op.after[0]].stream, planned.wait_layer) << what;
        EXPECT_EQ(op.wait_stream, planned.wait_layer) << what;
        break;
      case OpKind::kJoin: EXPECT_EQ(static_cast<int>(op.after.size()), m.num_layers - 1) << what; break;
      case OpKind::kFork:
      case OpKind::kRecordEvent: break;
    }
  }
}

TEST(FusedBind, RandomPlansStayInTheirBuffers) {
  std::mt19937_64 rng(test::test_seed());
  int persistent = 0, masked = 0;
  for (int k = 0; k < 300; ++k) {
    const BindCase s = random_setup(rng);
    const BoundCall call = bind_setup(s, workspace_of(s), s.range("workspace").bytes);
    expect_bound(s, call);
    persistent += s.plan.any_persistent();
    masked += s.key.has_mask;
    if (HasFailure()) break;
  }
  EXPECT_GT(persistent, 30);  // the persistent ops were checked too
  EXPECT_GT(masked, 10);
}

TEST(FusedBind, AddressesAndGenerations) {
  std::mt19937_64 rng(7);
  const BindCase s = random_setup(rng);
  const BoundCall a = bind_setup(s, workspace_of(s), s.range("workspace").bytes);
  const BoundCall b = bind_setup(s, workspace_of(s), s.range("workspace").bytes);
  EXPECT_NE(a.generation, b.generation);
  EXPECT_EQ(a.addresses, call_addresses(s.req, workspace_of(s), s.range("workspace").bytes));
  EXPECT_EQ(a.addresses, b.addresses);
  ForwardRequest moved = s.req;
  moved.x = static_cast<const char*>(s.req.x) + 256;
  EXPECT_NE(call_addresses(moved, workspace_of(s), s.range("workspace").bytes), a.addresses);
  EXPECT_NE(call_addresses(s.req, workspace_of(s), s.range("workspace").bytes + 1), a.addresses);
}

TEST(FusedBind, Refusals) {
  std::mt19937_64 rng(11);
  BindCase s = random_setup(rng);
  void* ws = workspace_of(s);
  const std::size_t need = s.plan.workspace.total_bytes;
  test::expect_error([&] { bind_setup(s, nullptr, need); }, ErrorCode::kInvalidArgument, {"no workspace"});
  test::expect_error(
      [&] { bind_setup(s, ws, need - 1); }, ErrorCode::kInvalidArgument,
      {fmt::format("workspace_bytes is {}", need - 1), fmt::format("at least {}", need), "Lstm::workspace_size"});
  test::expect_error([&] { bind_setup(s, static_cast<char*>(ws) + 16, need); }, ErrorCode::kInvalidArgument,
                     {"256-byte aligned"});
  BindCase other = s;
  other.req.seq_len = s.req.seq_len + 1;
  test::expect_error([&] { bind_setup(other, ws, need); }, ErrorCode::kInternal, {"a plan for"});
  other = s;
  other.weights.pop_back();
  test::expect_error([&] { bind_setup(other, ws, need); }, ErrorCode::kInternal, {"weights for"});
  // Upload staging not sized for the request (a setup with lengths).
  while (!s.key.has_lengths) s = random_setup(rng);
  s.staging.lengths.push_back(0);
  test::expect_error([&] { bind_setup(s, workspace_of(s), s.plan.workspace.total_bytes); }, ErrorCode::kInternal,
                     {"upload staging"});
}

}  // namespace
}  // namespace lstmrt::fused
