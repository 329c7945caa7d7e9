// Test helpers for the fused plan's CPU tests: small models and plan keys, the op sequence as one
// string, and the happens-before order of a plan's ops under CUDA stream semantics.
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include "fused/fused_plan.hpp"
#include "fused/persistent_plan.hpp"

namespace lstmrt::test {

// An H200's limits as fused::device_limits derives them from its queried facts (132 SMs, 64 Ki
// registers per SM, 255 per thread, 227 KiB opt-in shared memory per block, clusters of 16): the
// device the CPU tests plan for.
inline constexpr fused::DeviceLimits kH200Limits{132, 65536, 255, 232448, 16};

// make_plan with `kernels` per layer (empty: every layer stepwise), each persistent layer carrying
// its variant's plan on `limits` (as fused::choose would when the variant is requested and usable;
// a plan that does not fit makes make_plan refuse it).
inline fused::FusedPlan plan_for(const ModelDesc& m, DataType type, const fused::PlanKey& key, int chunk_steps = 0,
                                 const std::vector<FusedKernel>& kernels = {},
                                 const fused::DeviceLimits& limits = kH200Limits) {
  std::vector<fused::LayerChoice> choices;
  for (FusedKernel k : kernels) {
    fused::LayerChoice c;
    c.kernel = k;
    if (fused::is_persistent(k)) c.persistent = fused::make_persistent_plan(m, type, key.batch, key.seq_len, limits, k);
    choices.push_back(c);
  }
  return fused::make_plan(m, type, key, choices, limits, chunk_steps);
}

inline ModelDesc plan_model(Direction dir, int layers, int I, int H, int P = 0) {
  ModelDesc m;
  m.input_size = I;
  m.hidden_size = H;
  m.proj_size = P;
  m.num_layers = layers;
  m.direction = dir;
  return m;
}

// Every output requested.
inline fused::PlanKey plan_key(int T, int N, bool lengths = false, bool h0 = false,
                               TensorLayout layout = TensorLayout::kTimeMajor) {
  fused::PlanKey k;
  k.seq_len = T;
  k.batch = N;
  k.layout = layout;
  k.has_lengths = lengths;
  k.has_initial_state = h0;
  k.want_y = k.want_h_n = k.want_c_n = true;
  return k;
}

// One token per op: "0:input", "0:gate3+e" (emits the previous step), "0:emit4+e",
// "1:wait0@2", "0:record@1", "0:persistent4+4" (steps [4, 8)), "0:fork", ...
inline std::string node_order(const fused::FusedPlan& plan) {
  using fused::OpKind;
  std::string s;
  for (const fused::Op& op : plan.ops) {
    if (!s.empty()) s += " ";
    s += std::to_string(op.layer) + ":";
    switch (op.kind) {
      case OpKind::kGemm: s += to_string(op.gemm.role); break;
      case OpKind::kGateStep:
        s += (op.compute ? "gate" : "emit") + std::to_string(op.step) + (op.emit_previous ? "+e" : "");
        break;
      case OpKind::kPersistent:
        s += "persistent" + std::to_string(op.step) + "+" + std::to_string(op.step_count);
        break;
      case OpKind::kWaitEvent: s += "wait" + std::to_string(op.wait_layer) + "@" + std::to_string(op.chunk); break;
      case OpKind::kRecordEvent: s += "record@" + std::to_string(op.chunk); break;
      default: s += to_string(op.kind);
    }
  }
  return s;
}

// Op A happens before op B when B follows A on A's stream, or through record/wait pairs, fork and
// join. Computed with vector clocks over the plan's issue order (one clock entry per layer stream).
struct StreamOrder {
  std::vector<std::vector<int>> clock_of_op;  // vector clock after each op
  std::vector<int> stream_of_op;
  bool before(std::size_t a, std::size_t b) const {
    const int s = stream_of_op[a];
    return clock_of_op[a][s] <= clock_of_op[b][s];
  }
};

inline StreamOrder stream_order(const fused::FusedPlan& plan) {
  using fused::OpKind;
  const int L = plan.layers;
  std::vector<std::vector<int>> stream(L, std::vector<int>(L, 0)), event(L, std::vector<int>(L, 0));
  auto join = [](std::vector<int>& into, const std::vector<int>& from) {
    for (std::size_t i = 0; i < into.size(); ++i) into[i] = std::max(into[i], from[i]);
  };
  StreamOrder order;
  for (const fused::Op& op : plan.ops) {
    std::vector<int>& clock = stream[op.layer];
    if (op.kind == OpKind::kFork)
      for (int l = 1; l < L; ++l) join(stream[l], clock);
    if (op.kind == OpKind::kWaitEvent) join(clock, event[op.wait_layer]);
    if (op.kind == OpKind::kJoin)
      for (int l = 1; l < L; ++l) join(clock, stream[l]);
    ++clock[op.layer];
    if (op.kind == OpKind::kRecordEvent) event[op.layer] = clock;
    order.clock_of_op.push_back(clock);
    order.stream_of_op.push_back(op.layer);
  }
  return order;
}

}  // namespace lstmrt::test
