// lstmrt-exchange-bench: shapes, CSV and table of the exchange-floor measurement.
#include "exchange.hpp"

#include <cmath>

#include <fmt/format.h>

#include "common/check.hpp"
#include "report.hpp"

namespace lstmrt::bench {
namespace {

std::string number(double v) { return std::isfinite(v) ? fmt::format("{:.6g}", v) : std::string(); }

}  // namespace

bool operator==(const ExchangeShape& a, const ExchangeShape& b) {
  return a.variant == b.variant && a.type == b.type && a.batch == b.batch && a.hidden == b.hidden && a.steps == b.steps;
}

std::string describe(const ExchangeShape& s) {
  return fmt::format("{} {} N={} H={} T={}", s.variant, to_string(Numerics{s.type}), s.batch, s.hidden, s.steps);
}

std::vector<ExchangeShape> default_exchange_shapes(int steps) {
  constexpr DataType f32 = DataType::kFloat32, bf16 = DataType::kBFloat16;
  return {{"grid", f32, 1, 256, steps},    {"grid", f32, 1, 1024, steps},   {"grid", bf16, 1, 1024, steps},
          {"grid", f32, 8, 1024, steps},   {"cluster", f32, 1, 128, steps}, {"cluster", f32, 1, 512, steps},
          {"cluster", f32, 64, 256, steps}};
}

std::vector<ExchangeShape> exchange_shapes(const std::vector<std::string>& variants,
                                           const std::vector<std::string>& precisions, const std::vector<int>& batches,
                                           const std::vector<int>& hiddens, int steps) {
  if (steps < 1) detail::invalid("--steps {}: expected >= 1", steps);
  for (const std::string& v : variants)
    if (v != "grid" && v != "cluster") detail::invalid("--variants: unknown variant '{}': expected grid or cluster", v);
  std::vector<DataType> types;
  for (const std::string& p : precisions) {
    const Numerics n = numerics_from_string(p);
    if (n != Numerics{DataType::kFloat32} && n != Numerics{DataType::kBFloat16})
      detail::invalid("--precision: {} has no persistent kernel: expected fp32 or bf16", p);
    types.push_back(n.type);
  }
  for (int n : batches)
    if (n < 1) detail::invalid("--batch {}: expected >= 1", n);
  for (int h : hiddens)
    if (h < 1) detail::invalid("--hidden {}: expected >= 1", h);
  std::vector<ExchangeShape> shapes;
  for (const std::string& v : variants)
    for (DataType t : types)
      for (int h : hiddens)
        for (int n : batches) shapes.push_back({v, t, n, h, steps});
  return shapes;
}

const std::vector<std::string>& exchange_csv_columns() {
  static const std::vector<std::string> columns = {"variant",
                                                   "precision",
                                                   "batch",
                                                   "hidden",
                                                   "steps",
                                                   "status",
                                                   "blocks",
                                                   "runs",
                                                   "exchange_us_per_step",
                                                   "exchange_p10_us",
                                                   "exchange_p90_us",
                                                   "full_us_per_step",
                                                   "exchange_fraction",
                                                   "note"};
  return columns;
}

void write_exchange_csv(std::ostream& out, const std::vector<ExchangeResult>& results) {
  out << fmt::format("{}\n", fmt::join(exchange_csv_columns(), ","));
  for (const ExchangeResult& r : results) {
    const bool timed = r.status == "ok" && r.runs > 0;
    auto when = [&](double v) { return timed ? number(v) : std::string(); };
    std::vector<std::string> fields = {r.shape.variant,
                                       to_string(Numerics{r.shape.type}),
                                       std::to_string(r.shape.batch),
                                       std::to_string(r.shape.hidden),
                                       std::to_string(r.shape.steps),
                                       r.status,
                                       r.blocks ? std::to_string(r.blocks) : "",
                                       timed ? std::to_string(r.runs) : "",
                                       when(r.exchange_us_per_step),
                                       when(r.exchange_p10),
                                       when(r.exchange_p90),
                                       when(r.full_us_per_step),
                                       when(r.exchange_us_per_step / r.full_us_per_step),
                                       r.note};
    for (std::string& f : fields) f = csv_escape(f);
    out << fmt::format("{}\n", fmt::join(fields, ","));
  }
}

void print_exchange_table(std::ostream& out, const std::vector<ExchangeResult>& results) {
  out << fmt::format("{:<34} {:<11} {:>6} {:>14} {:>17} {:>14} {:>9}\n", "shape", "status", "blocks", "exchange us/st",
                     "p10..p90 us/st", "full us/step", "exch/full");
  for (const ExchangeResult& r : results) {
    const bool timed = r.status == "ok" && r.runs > 0;
    auto cell = [&](double v, const char* f) {
      return timed && std::isfinite(v) ? fmt::format(fmt::runtime(f), v) : std::string("-");
    };
    out << fmt::format("{:<34} {:<11} {:>6} {:>14} {:>17} {:>14} {:>9}\n", describe(r.shape), r.status,
                       r.blocks ? std::to_string(r.blocks) : "-", cell(r.exchange_us_per_step, "{:.3f}"),
                       timed ? fmt::format("{:.3f}..{:.3f}", r.exchange_p10, r.exchange_p90) : "-",
                       cell(r.full_us_per_step, "{:.3f}"), cell(r.exchange_us_per_step / r.full_us_per_step, "{:.2f}"));
    if (!r.note.empty()) out << fmt::format("      {}\n", r.note);
  }
}

}  // namespace lstmrt::bench
