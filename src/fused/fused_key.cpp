// The fused pipeline's request key (see fused_key.hpp).
#include "fused/fused_key.hpp"

#include <fmt/format.h>

namespace lstmrt::fused {

bool PlanKey::operator==(const PlanKey& o) const {
  return seq_len == o.seq_len && batch == o.batch && layout == o.layout && has_lengths == o.has_lengths &&
         has_mask == o.has_mask && has_initial_state == o.has_initial_state && want_y == o.want_y &&
         want_h_n == o.want_h_n && want_c_n == o.want_c_n && padding == o.padding && reverse_order == o.reverse_order;
}

PlanKey plan_key(const ForwardRequest& req) {
  PlanKey key;
  key.seq_len = req.seq_len;
  key.batch = req.batch;
  key.layout = req.layout;
  key.has_lengths = req.lengths != nullptr;
  key.has_mask = req.mask != nullptr;
  key.has_initial_state = req.h0 != nullptr;
  key.want_y = req.y != nullptr;
  key.want_h_n = req.h_n != nullptr;
  key.want_c_n = req.c_n != nullptr;
  key.padding = req.padding;
  key.reverse_order = req.reverse_order;
  return key;
}

std::string to_string(const PlanKey& key) {
  return fmt::format("T={} N={} {} lengths={} mask={} h0={} y={} h_n={} c_n={} padding={} order={}", key.seq_len,
                     key.batch, key.layout == TensorLayout::kTimeMajor ? "time-major" : "batch-major", key.has_lengths,
                     key.has_mask, key.has_initial_state, key.want_y, key.want_h_n, key.want_c_n,
                     key.padding == PaddingMode::kZero ? "zero" : "carry_last",
                     key.reverse_order == ReverseOutputOrder::kOriginal ? "original" : "processing");
}

}  // namespace lstmrt::fused
