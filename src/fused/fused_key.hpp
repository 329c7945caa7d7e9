// The key of the fused backend's pipeline: everything about a request that choose and plan
// depend on (shapes, layout, which optional inputs and outputs it has, padding, output order). A
// request with the same key reuses the key's choice and plan, and while its addresses stay the
// same also the bound call and the captured graph (fused_backend.cpp).
#pragma once

#include <string>

#include "lstmrt/lstm.hpp"

namespace lstmrt::fused {

// What the plan (and the captured graph) depends on: a request with the same key replays it.
struct PlanKey {
  int seq_len = 0;
  int batch = 0;
  TensorLayout layout = TensorLayout::kTimeMajor;
  bool has_lengths = false;
  bool has_mask = false;
  bool has_initial_state = false;
  bool want_y = false, want_h_n = false, want_c_n = false;
  PaddingMode padding = PaddingMode::kZero;
  ReverseOutputOrder reverse_order = ReverseOutputOrder::kOriginal;
  bool operator==(const PlanKey& o) const;
  bool operator!=(const PlanKey& o) const { return !(*this == o); }
};
PlanKey plan_key(const ForwardRequest& req);
std::string to_string(const PlanKey& key);

}  // namespace lstmrt::fused
