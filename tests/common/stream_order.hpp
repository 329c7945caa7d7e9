// Test helper: the happens-before order of a fused plan's ops under CUDA stream semantics. Op A
// happens before op B when B follows A on A's stream, or through record/wait pairs, fork and join.
// Computed with vector clocks over the plan's issue order (one clock entry per layer stream).
#pragma once

#include <algorithm>
#include <vector>

#include "fused/fused_plan.hpp"

namespace lstmrt::test {

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
