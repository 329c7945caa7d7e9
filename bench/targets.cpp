// lstmrt-bench: the persistent kernels' performance targets against a run's rows.
#include "targets.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include <fmt/format.h>

namespace lstmrt::bench {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

bool timed_ok(const Row& r) { return r.status == "ok" && r.time_ms.count > 0 && std::isfinite(r.time_ms.median); }

std::string number(double v, const char* format) {
  return std::isfinite(v) ? fmt::format(fmt::runtime(format), v) : std::string();
}

}  // namespace

bool Target::covers(const Shape& s) const {
  if (s.layers != 1 || s.directions != 1 || s.proj != 0) return false;
  if (s.batch < batch_min || s.batch > batch_max || s.hidden < hidden_min || s.hidden > hidden_max) return false;
  if (steps != 0 && s.steps != steps) return false;
  return numerics.empty() || std::find(numerics.begin(), numerics.end(), s.numerics) != numerics.end();
}

const std::vector<Target>& persistent_targets() {
  static const std::vector<Target> targets = [] {
    Target n1;
    n1.name = "n1-h1024";
    n1.goal = "N=1 H=1024 T=256 fp32: <= 2 us/step and >= 3x cuDNN's best";
    n1.batch_min = n1.batch_max = 1;
    n1.hidden_min = n1.hidden_max = 1024;
    n1.steps = 256;
    n1.numerics = {Numerics{DataType::kFloat32}};
    n1.max_us_per_step = 2.0;
    n1.min_vs_cudnn = 3.0;
    Target small;
    small.name = "small-batch";
    small.goal = "N=8..32 H=512..1024 fp32/bf16: >= 2x cuDNN's best and >= 2x torch.nn.LSTM";
    small.batch_min = 8, small.batch_max = 32;
    small.hidden_min = 512, small.hidden_max = 1024;
    small.numerics = {Numerics{DataType::kFloat32}, Numerics{DataType::kBFloat16}};
    small.min_vs_cudnn = 2.0;
    small.min_vs_torch = 2.0;
    Target cluster;
    cluster.name = "cluster";
    cluster.goal = "H <= 512, N <= 64 (cluster variant): <= 0.6 us/step";
    cluster.batch_max = 64;
    cluster.hidden_max = 512;
    cluster.max_us_per_step = 0.6;
    return std::vector<Target>{n1, small, cluster};
  }();
  return targets;
}

std::vector<TargetResult> evaluate_targets(const std::vector<Target>& targets, const std::vector<Row>& rows) {
  // Rows grouped by shape, in first-seen order.
  std::vector<Shape> shapes;
  std::map<std::string, std::vector<const Row*>> by_shape;
  for (const Row& r : rows) {
    const std::string key = describe(r.shape);
    if (!by_shape.count(key)) shapes.push_back(r.shape);
    by_shape[key].push_back(&r);
  }
  std::vector<TargetResult> results;
  for (const Target& t : targets)
    for (const Shape& s : shapes) {
      if (!t.covers(s)) continue;
      const Row *fused = nullptr, *cudnn = nullptr, *torch = nullptr;
      for (const Row* r : by_shape[describe(s)]) {
        if (!timed_ok(*r)) continue;
        const Row** best = r->source == "torch"    ? &torch
                           : r->backend == "fused" ? &fused
                           : r->backend == "cudnn" ? &cudnn
                                                   : nullptr;
        if (best && (!*best || r->time_ms.median < (*best)->time_ms.median)) *best = r;
      }
      TargetResult res;
      res.target = t.name;
      res.shape = s;
      auto per_step = [&](const Row* r) { return r ? r->time_ms.median * 1e3 / s.steps : kNaN; };
      res.fused_us_per_step = per_step(fused);
      res.cudnn_best_us_per_step = per_step(cudnn);
      res.torch_best_us_per_step = per_step(torch);
      if (fused) res.fused_variant = fused->variant, res.fused_plan = fused->plan;
      if (cudnn) res.cudnn_best_algo = cudnn->variant;
      res.vs_cudnn = fused && cudnn ? cudnn->time_ms.median / fused->time_ms.median : kNaN;
      res.vs_torch = fused && torch ? torch->time_ms.median / fused->time_ms.median : kNaN;

      std::vector<std::string> missed, owed;
      if (!fused) {
        owed.push_back("no timed fused row with status ok");
      } else {
        if (t.max_us_per_step > 0 && res.fused_us_per_step > t.max_us_per_step)
          missed.push_back(fmt::format("{:.3g} us/step > {:.3g}", res.fused_us_per_step, t.max_us_per_step));
        if (t.min_vs_cudnn > 0) {
          if (!cudnn)
            owed.push_back("no cudnn row to compare with");
          else if (res.vs_cudnn < t.min_vs_cudnn)
            missed.push_back(
                fmt::format("{:.2f}x cuDNN's best ({}) < {:.3g}x", res.vs_cudnn, cudnn->variant, t.min_vs_cudnn));
        }
        if (t.min_vs_torch > 0) {
          if (!torch)
            owed.push_back("no torch row (torch_compare.py CSV) to compare with");
          else if (res.vs_torch < t.min_vs_torch)
            missed.push_back(
                fmt::format("{:.2f}x torch's best ({}) < {:.3g}x", res.vs_torch, torch->variant, t.min_vs_torch));
        }
      }
      res.verdict = !missed.empty() ? "missed" : !owed.empty() ? "owed" : "met";
      std::vector<std::string> notes;
      for (const std::string& m : missed) notes.push_back("missed: " + m);
      for (const std::string& o : owed) notes.push_back("owed: " + o);
      res.note = fmt::format("{}", fmt::join(notes, "; "));
      results.push_back(std::move(res));
    }
  return results;
}

void print_targets(std::ostream& out, const std::vector<TargetResult>& results) {
  if (results.empty()) return;
  int met = 0, missed = 0, owed = 0;
  for (const TargetResult& r : results) (r.verdict == "met" ? met : r.verdict == "missed" ? missed : owed)++;
  out << fmt::format("\npersistent targets: {} met, {} missed, {} owed\n", met, missed, owed);
  std::string last;
  for (const TargetResult& r : results) {
    if (r.target != last) {
      for (const Target& t : persistent_targets())
        if (t.name == r.target) out << fmt::format("  {}: {}\n", t.name, t.goal);
      last = r.target;
    }
    auto us = [](double v) { return std::isfinite(v) ? fmt::format("{:.3f}", v) : std::string("-"); };
    auto ratio = [](double v) { return std::isfinite(v) ? fmt::format("{:.2f}x", v) : std::string("-"); };
    out << fmt::format("    {:<6} {:<38} fused {} {} us/step | cudnn best {} {} us/step ({}) | torch best {} ({})\n",
                       r.verdict == "met"      ? "MET"
                       : r.verdict == "missed" ? "MISSED"
                                               : "OWED",
                       describe(r.shape), r.fused_variant.empty() ? "-" : r.fused_variant, us(r.fused_us_per_step),
                       r.cudnn_best_algo.empty() ? "-" : r.cudnn_best_algo, us(r.cudnn_best_us_per_step),
                       ratio(r.vs_cudnn), us(r.torch_best_us_per_step), ratio(r.vs_torch));
    if (!r.note.empty()) out << fmt::format("           {}\n", r.note);
    if (!r.fused_plan.empty()) out << fmt::format("           plan: {}\n", r.fused_plan);
  }
}

const std::vector<std::string>& target_csv_columns() {
  static const std::vector<std::string> columns = {"target",
                                                   "batch",
                                                   "steps",
                                                   "input",
                                                   "hidden",
                                                   "precision",
                                                   "verdict",
                                                   "fused_variant",
                                                   "fused_us_per_step",
                                                   "cudnn_best_algo",
                                                   "cudnn_best_us_per_step",
                                                   "vs_cudnn",
                                                   "torch_best_us_per_step",
                                                   "vs_torch",
                                                   "note",
                                                   "fused_plan"};
  return columns;
}

void write_targets_csv(std::ostream& out, const std::vector<TargetResult>& results) {
  out << fmt::format("{}\n", fmt::join(target_csv_columns(), ","));
  for (const TargetResult& r : results) {
    std::vector<std::string> fields = {r.target,
                                       std::to_string(r.shape.batch),
                                       std::to_string(r.shape.steps),
                                       std::to_string(r.shape.input),
                                       std::to_string(r.shape.hidden),
                                       to_string(r.shape.numerics),
                                       r.verdict,
                                       r.fused_variant,
                                       number(r.fused_us_per_step, "{:.6g}"),
                                       r.cudnn_best_algo,
                                       number(r.cudnn_best_us_per_step, "{:.6g}"),
                                       number(r.vs_cudnn, "{:.6g}"),
                                       number(r.torch_best_us_per_step, "{:.6g}"),
                                       number(r.vs_torch, "{:.6g}"),
                                       r.note,
                                       r.fused_plan};
    for (std::string& f : fields) f = csv_escape(f);
    out << fmt::format("{}\n", fmt::join(fields, ","));
  }
}

}  // namespace lstmrt::bench
