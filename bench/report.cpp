// lstmrt-bench output: derived numbers, CSV, JSON and the terminal table.
#include "report.hpp"

#include <cmath>
#include <cstdlib>
#include <istream>
#include <limits>
#include <map>
#include <tuple>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/check.hpp"

namespace lstmrt::bench {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

bool timed(const Row& r) { return r.time_ms.count > 0 && (r.status == "ok" || r.status == "mismatch"); }

// Shortest round-tripping text; empty for NaN/inf so spreadsheets and pandas read a missing value.
std::string number(double v) { return std::isfinite(v) ? fmt::format("{:.6g}", v) : std::string(); }

nlohmann::json json_number(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

// Every CSV column's value for a row, in csv_columns() order.
std::vector<std::string> csv_fields(const Row& r) {
  const Shape& s = r.shape;
  const bool t = timed(r);
  auto when_timed = [&](double v) { return t ? number(v) : std::string(); };
  return {r.source,
          r.backend,
          r.variant,
          std::to_string(s.batch),
          std::to_string(s.steps),
          std::to_string(s.input),
          std::to_string(s.hidden),
          std::to_string(s.proj),
          std::to_string(s.layers),
          std::to_string(s.directions),
          to_string(s.numerics),
          r.status,
          number(r.max_abs_err),
          r.check_steps ? std::to_string(r.check_steps) : "",
          t ? std::to_string(r.time_ms.count) : "",
          when_timed(r.time_ms.median),
          when_timed(r.time_ms.p10),
          when_timed(r.time_ms.p90),
          when_timed(r.us_per_step),
          when_timed(r.tflops),
          when_timed(r.gbps),
          number(r.gflop),
          number(r.mbytes),
          number(r.floor_ms),
          when_timed(r.floor_fraction),
          when_timed(r.vs_cudnn_best),
          r.timer,
          r.device,
          r.note,
          r.plan};
}

}  // namespace

void fill_derived(std::vector<Row>& rows, const Ceilings& ceilings) {
  // Best (lowest median) cudnn algorithm per shape, among rows that were timed and matched.
  std::map<std::string, double> best_cudnn;
  for (const Row& r : rows) {
    if (r.source != "lstmrt" || r.backend != "cudnn" || r.status != "ok" || r.time_ms.count == 0) continue;
    const std::string key = describe(r.shape);
    const auto it = best_cudnn.find(key);
    if (it == best_cudnn.end() || r.time_ms.median < it->second) best_cudnn[key] = r.time_ms.median;
  }
  for (Row& r : rows) {
    const double flops = shape_flops(r.shape), bytes = shape_min_bytes(r.shape);
    r.gflop = flops / 1e9;
    r.mbytes = bytes / 1e6;
    r.floor_ms = floor_seconds(r.shape, ceilings) * 1e3;
    if (!timed(r)) {
      r.us_per_step = r.tflops = r.gbps = r.floor_fraction = r.vs_cudnn_best = kNaN;
      continue;
    }
    const double seconds = r.time_ms.median * 1e-3;
    r.us_per_step = r.time_ms.median * 1e3 / r.shape.steps;
    r.tflops = flops / seconds / 1e12;
    r.gbps = bytes / seconds / 1e9;
    r.floor_fraction = r.floor_ms / r.time_ms.median;
    const auto best = best_cudnn.find(describe(r.shape));
    r.vs_cudnn_best = best == best_cudnn.end() ? kNaN : r.time_ms.median / best->second;
  }
}

const std::vector<std::string>& csv_columns() {
  static const std::vector<std::string> columns = {
      "source",         "backend",       "variant",     "batch",  "steps",       "input",       "hidden", "proj",
      "layers",         "directions",    "precision",   "status", "max_abs_err", "check_steps", "runs",   "median_ms",
      "p10_ms",         "p90_ms",        "us_per_step", "tflops", "gbps",        "gflop",       "mbytes", "floor_ms",
      "floor_fraction", "vs_cudnn_best", "timer",       "device", "note",        "plan"};
  return columns;
}

std::string csv_escape(const std::string& field) {
  if (field.find_first_of(",\"\n\r") == std::string::npos) return field;
  std::string quoted = "\"";
  for (char c : field) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

void write_csv(std::ostream& out, const std::vector<Row>& rows) {
  out << fmt::format("{}\n", fmt::join(csv_columns(), ","));
  for (const Row& r : rows) {
    std::vector<std::string> fields = csv_fields(r);
    for (std::string& f : fields) f = csv_escape(f);
    out << fmt::format("{}\n", fmt::join(fields, ","));
  }
}

namespace {

// One CSV record (RFC 4180: quoted fields may hold commas, quotes doubled, newlines); false at the
// end of the input.
bool read_record(std::istream& in, std::vector<std::string>& fields) {
  fields.clear();
  if (in.peek() == std::char_traits<char>::eof()) return false;
  std::string field;
  bool quoted = false, any = false;
  for (int c; (c = in.get()) != std::char_traits<char>::eof();) {
    any = true;
    if (quoted) {
      if (c == '"') {
        if (in.peek() == '"')
          field += static_cast<char>(in.get());
        else
          quoted = false;
      } else {
        field += static_cast<char>(c);
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.push_back(std::move(field));
      field.clear();
    } else if (c == '\n') {
      break;
    } else if (c != '\r') {
      field += static_cast<char>(c);
    }
  }
  if (any) fields.push_back(std::move(field));
  return any;
}

}  // namespace

std::vector<Row> read_csv(std::istream& in, const std::string& origin) {
  std::vector<std::string> header, fields;
  if (!read_record(in, header))
    detail::invalid("{}: empty file: expected a CSV header ({}, ...)", origin, csv_columns()[0]);
  std::map<std::string, std::size_t> column;
  for (std::size_t i = 0; i < header.size(); ++i) column[header[i]] = i;
  for (const std::string& name : csv_columns())
    if (name != "plan" && !column.count(name))
      detail::invalid("{}: no column '{}': expected lstmrt-bench's columns ({})", origin, name,
                      fmt::join(csv_columns(), ","));
  std::vector<Row> rows;
  for (int line = 2; read_record(in, fields); ++line) {
    if (fields.size() == 1 && fields[0].empty()) continue;  // blank line
    if (fields.size() != header.size())
      detail::invalid("{}: line {}: {} fields, expected {} (the header's)", origin, line, fields.size(), header.size());
    auto text = [&](const std::string& name) {
      const auto it = column.find(name);
      return it == column.end() ? std::string() : fields[it->second];
    };
    auto real = [&](const std::string& name) {
      const std::string t = text(name);
      if (t.empty()) return kNaN;
      char* end = nullptr;
      const double v = std::strtod(t.c_str(), &end);
      if (*end != '\0') detail::invalid("{}: line {}: {}: expected a number, got \"{}\"", origin, line, name, t);
      return v;
    };
    auto integer = [&](const std::string& name) {
      const double v = real(name);
      if (std::isnan(v)) return 0;
      if (v != std::floor(v))
        detail::invalid("{}: line {}: {}: expected an integer, got \"{}\"", origin, line, name, text(name));
      return static_cast<int>(v);
    };
    Row r;
    r.source = text("source");
    r.backend = text("backend");
    r.variant = text("variant");
    r.shape = Shape{integer("batch"), integer("steps"),  integer("input"),     integer("hidden"),
                    integer("proj"),  integer("layers"), integer("directions")};
    try {
      r.shape.numerics = numerics_from_string(text("precision"));
    } catch (const Error& e) {
      detail::invalid("{}: line {}: {}", origin, line, e.what());
    }
    r.status = text("status");
    r.max_abs_err = real("max_abs_err");
    r.check_steps = integer("check_steps");
    r.time_ms.count = integer("runs");
    if (r.time_ms.count > 0) {
      r.time_ms.median = real("median_ms");
      r.time_ms.p10 = real("p10_ms");
      r.time_ms.p90 = real("p90_ms");
      if (!std::isfinite(r.time_ms.median))
        detail::invalid("{}: line {}: runs is {} but median_ms is empty", origin, line, r.time_ms.count);
    }
    r.timer = text("timer");
    r.device = text("device");
    r.note = text("note");
    r.plan = text("plan");
    rows.push_back(std::move(r));
  }
  return rows;
}

void write_json(std::ostream& out, const RunInfo& info, const std::vector<Row>& rows) {
  nlohmann::json run = {{"date_utc", info.date_utc},
                        {"lstmrt_version", info.lstmrt_version},
                        {"gpu", info.gpu},
                        {"gpu_status", info.gpu_status},
                        {"driver_version", info.driver_version},
                        {"cuda_runtime_version", info.cuda_runtime_version},
                        {"cudnn_version", info.cudnn_version},
                        {"cublas_version", info.cublas_version}};
  nlohmann::json gemm = nlohmann::json::object();
  for (const auto& [numerics, rate] : info.ceilings.gemm_flops_per_s) gemm[to_string(numerics)] = rate / 1e12;
  run["ceilings"] = {{"gemm_tflops", gemm}, {"copy_gbps", json_number(info.ceilings.copy_bytes_per_s / 1e9)}};

  nlohmann::json list = nlohmann::json::array();
  const std::vector<std::string>& columns = csv_columns();
  for (const Row& r : rows) {
    // Same keys as the CSV columns; numeric columns as numbers (null when empty).
    const std::vector<std::string> fields = csv_fields(r);
    nlohmann::json object = nlohmann::json::object();
    for (std::size_t i = 0; i < columns.size(); ++i) {
      const std::string& key = columns[i];
      const bool text = key == "source" || key == "backend" || key == "variant" || key == "precision" ||
                        key == "status" || key == "timer" || key == "device" || key == "note" || key == "plan";
      if (text)
        object[key] = fields[i];
      else if (fields[i].empty())
        object[key] = nullptr;
      else
        object[key] = std::stod(fields[i]);
    }
    list.push_back(object);
  }
  out << nlohmann::json{{"run", run}, {"rows", list}}.dump(2) << "\n";
}

void print_table(std::ostream& out, const std::vector<Row>& rows) {
  auto cell = [](double v, const char* format) {
    return std::isfinite(v) ? fmt::format(fmt::runtime(format), v) : std::string("-");
  };
  std::string last_shape;
  for (const Row& r : rows) {
    const std::string shape = describe(r.shape);
    if (shape != last_shape) {
      out << fmt::format("\n{}   {:.4g} GFLOP, {:.4g} MB min traffic, floor {} ms\n", shape, r.gflop, r.mbytes,
                         cell(r.floor_ms, "{:.4g}"));
      out << fmt::format("  {:<32} {:<11} {:>10} {:>10} {:>19} {:>8} {:>8} {:>7} {:>7}\n", "backend", "status",
                         "us/step", "total ms", "p10..p90 ms", "TFLOP/s", "GB/s", "%floor", "/cudnn");
      last_shape = shape;
    }
    const std::string name = r.variant.empty() || r.variant == "-" ? r.source + ":" + r.backend
                                                                   : r.source + ":" + r.backend + " " + r.variant;
    const bool t = timed(r);
    out << fmt::format("  {:<32} {:<11} {:>10} {:>10} {:>19} {:>8} {:>8} {:>7} {:>7}\n", name, r.status,
                       t ? cell(r.us_per_step, "{:.2f}") : "-", t ? cell(r.time_ms.median, "{:.4f}") : "-",
                       t ? fmt::format("{:.4f}..{:.4f}", r.time_ms.p10, r.time_ms.p90) : "-",
                       t ? cell(r.tflops, "{:.3f}") : "-", t ? cell(r.gbps, "{:.1f}") : "-",
                       t ? cell(r.floor_fraction * 100.0, "{:.1f}") : "-", t ? cell(r.vs_cudnn_best, "{:.2f}x") : "-");
    if (!r.note.empty() && r.status != "ok") out << fmt::format("      {}\n", r.note);
    if (!r.plan.empty()) out << fmt::format("      plan: {}\n", r.plan);
  }
}

}  // namespace lstmrt::bench
