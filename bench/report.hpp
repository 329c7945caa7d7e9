// lstmrt-bench results: one row per (shape, backend, variant), written as a terminal table, CSV
// and JSON. bench/torch_compare.py writes the same CSV columns (csv_columns()), so one table can
// hold lstmrt, cuDNN direct and PyTorch side by side. Numbers that do not apply (no GPU ceilings,
// a backend that could not serve the shape) are empty in CSV and null in JSON.
#pragma once

#include <limits>
#include <ostream>
#include <string>
#include <vector>

#include "config.hpp"
#include "floors.hpp"
#include "stats.hpp"

namespace lstmrt::bench {

// status: "ok" (checked and timed), "mismatch" (timed, but its output differs from the
// reference beyond the precision's tolerance), "unsupported" (the backend refused the shape:
// kUnsupported or kNoDevice), "skipped" (over a size cap), "error" (anything else; see note).
struct Row {
  std::string source = "lstmrt";  // lstmrt | torch
  std::string backend;            // reference, fused, cudnn, torch
  std::string variant;            // cudnn algorithm, torch plain/cuda_graph, "-" otherwise
  Shape shape;
  std::string status;
  double max_abs_err = std::numeric_limits<double>::quiet_NaN();  // against the reference; NaN: not checked
  int check_steps = 0;  // steps the check ran (the check may truncate long sequences)
  Summary time_ms;      // per forward pass; count 0 = not timed
  std::string timer;    // cuda_events | chrono
  std::string device;   // GPU name or "cpu"
  std::string note;
  std::string plan;  // fused: Lstm::execution_plan's summary (what ran); empty otherwise
  // Derived from the shape, the timing and the run's ceilings (fill_derived):
  double gflop = 0, mbytes = 0, us_per_step = 0, tflops = 0, gbps = 0, floor_ms = 0, floor_fraction = 0;
  double vs_cudnn_best = 0;  // median / best cudnn algorithm's median for the same shape
};

// The machine and the ceilings of one run (JSON "run" object).
struct RunInfo {
  std::string date_utc, lstmrt_version, gpu, gpu_status;
  int driver_version = 0, cuda_runtime_version = 0, cublas_version = 0;
  std::size_t cudnn_version = 0;
  Ceilings ceilings;
};

// Computes the derived fields of every row, and vs_cudnn_best from the timed, matching cudnn rows
// of the same shape (NaN where there is none).
void fill_derived(std::vector<Row>& rows, const Ceilings& ceilings);

const std::vector<std::string>& csv_columns();
std::string csv_escape(const std::string& field);
void write_csv(std::ostream& out, const std::vector<Row>& rows);
// Reads rows back from a CSV with csv_columns() (lstmrt-bench's or torch_compare.py's; a file
// without the plan column is accepted): source, backend, variant, shape, status, max_abs_err,
// check_steps, runs and median/p10/p90 (as the timing summary), timer, device, note, plan. The
// derived columns are recomputed by fill_derived, not read. `origin` names the file in errors
// (kInvalidArgument: missing column, bad number, wrong field count).
std::vector<Row> read_csv(std::istream& in, const std::string& origin);
void write_json(std::ostream& out, const RunInfo& info, const std::vector<Row>& rows);
void print_table(std::ostream& out, const std::vector<Row>& rows);

}  // namespace lstmrt::bench
