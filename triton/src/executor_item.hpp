// The executor's record of one request that passed its checks (shared by executor.cpp and
// request_checks.cpp).
#pragma once

#include <cstdint>
#include <vector>

#include "executor.hpp"

namespace lstmrt::serving {

// A request that passed its checks: where its rows go and how long they are.
struct Executor::Item {
  std::size_t index = 0;
  bool skip = false;  // nothing to compute (a sequence batcher's padding request)
  int B = 0, T = 0, offset = 0;
  std::vector<std::int32_t> lengths;  // per row; empty = every row runs T steps
  SequenceStore::Claim claim;
};

}  // namespace lstmrt::serving
