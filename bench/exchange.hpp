// lstmrt-exchange-bench: the per-step cost of the persistent kernels' h exchange measured alone
// (kernels/persistent_lstm.hpp exchange_only = 1: every wait and publish of every step, no
// arithmetic), beside the same launch with its arithmetic (exchange_only = 0), for the grid and
// cluster variants at a few shapes. The exchange time per step is the floor under any persistent
// step time, so it is reported measured alone. This file: the shapes,
// the result rows and their CSV / table (CPU-tested); exchange_main.cpp: the GPU part.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "config.hpp"

namespace lstmrt::bench {

struct ExchangeShape {
  std::string variant;                 // "grid" or "cluster"
  DataType type = DataType::kFloat32;  // float32 (fp32) or bfloat16 (bf16)
  int batch = 1, hidden = 0, steps = 256;
};
bool operator==(const ExchangeShape& a, const ExchangeShape& b);
std::string describe(const ExchangeShape& s);  // "grid fp32 N=1 H=1024 T=256"

// The default set: grid N=1 H=256,1024 fp32 and bf16 H=1024, N=8 H=1024 fp32; cluster N=1
// H=128,512 fp32, N=64 H=256 fp32 — the exchange floors of the persistent targets' shapes.
std::vector<ExchangeShape> default_exchange_shapes(int steps);
// The cartesian product of the lists (variants grid/cluster, precisions fp32/bf16); throws
// kInvalidArgument naming the bad item.
std::vector<ExchangeShape> exchange_shapes(const std::vector<std::string>& variants,
                                           const std::vector<std::string>& precisions, const std::vector<int>& batches,
                                           const std::vector<int>& hiddens, int steps);

struct ExchangeResult {
  ExchangeShape shape;
  std::string status;  // ok | unsupported (plan does not fit / not co-resident) | error
  int blocks = 0;
  int runs = 0;
  double exchange_us_per_step = 0, exchange_p10 = 0, exchange_p90 = 0;  // exchange_only = 1 (NaN: not timed)
  double full_us_per_step = 0;  // the same launch with its arithmetic (NaN: not timed)
  std::string note;
};

const std::vector<std::string>& exchange_csv_columns();
void write_exchange_csv(std::ostream& out, const std::vector<ExchangeResult>& results);
void print_exchange_table(std::ostream& out, const std::vector<ExchangeResult>& results);

}  // namespace lstmrt::bench
