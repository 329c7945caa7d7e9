// lstmrt-bench: every lstmrt backend and cuDNN algorithm on a sweep of shapes, checked against the
// reference, timed, and set beside the shape's floor. See bench/README.md.
#include <fstream>
#include <iostream>
#include <map>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "config.hpp"
#include "report.hpp"
#include "runner.hpp"
#include "targets.hpp"

namespace lstmrt::bench {
namespace {

CudnnAlgo cudnn_algo_from_string(const std::string& name) {
  for (CudnnAlgo a : {CudnnAlgo::kAuto, CudnnAlgo::kStandard, CudnnAlgo::kPersistStatic,
                      CudnnAlgo::kPersistStaticSmallH, CudnnAlgo::kPersistDynamic})
    if (name == to_string(a)) return a;
  throw Error(ErrorCode::kInvalidArgument,
              fmt::format("--cudnn-algos: unknown algorithm '{}': expected auto, standard, persist_static, "
                          "persist_static_small_h or persist_dynamic",
                          name));
}

template <typename Write>
void write_file(const std::string& path, Write&& write) {
  std::ofstream out(path);
  if (!out) throw Error(ErrorCode::kIoError, fmt::format("cannot write '{}'", path));
  write(out);
  if (!out) throw Error(ErrorCode::kIoError, fmt::format("writing '{}' failed", path));
}

int run(int argc, char** argv) {
  CLI::App app{"lstmrt-bench: lstmrt backends vs every cuDNN algorithm, checked against the reference and timed"};
  std::vector<std::string> presets, configs;
  std::map<std::string, std::string> shape_flags;
  std::string backends_text, algos_text, csv_path, json_path, targets_csv_path, targets_from_text;
  BenchOptions options;
  bool list_presets = false, quiet = false, no_gpu = false;
  app.add_option("--preset", presets,
                 "named shape sweep (repeatable): quick, persistent, small-batch, large-batch, stacked");
  app.add_option("--config", configs, "JSON config file {\"sweeps\": [...]} (repeatable)");
  for (const std::string& field : sweep_fields())
    app.add_option("--" + field, shape_flags[field], fmt::format("{} value(s), comma-separated: one sweep", field));
  app.add_option("--backends", backends_text,
                 "comma-separated: reference, cudnn, fused (= fused:auto), fused:stepwise, fused:persistent, "
                 "fused:cluster (default: fused,cudnn with a GPU, reference without)");
  app.add_option("--cudnn-algos", algos_text, "comma-separated cuDNN algorithms (default: all four explicit ones)");
  app.add_option("--csv", csv_path, "write the rows as CSV");
  app.add_option("--json", json_path, "write the run info and rows as JSON");
  app.add_option("--targets-csv", targets_csv_path,
                 "write the persistent kernels' target verdicts (met/missed/owed) as CSV");
  app.add_option("--targets-from", targets_from_text,
                 "comma-separated CSVs of earlier runs (lstmrt-bench --csv, torch_compare.py --csv): evaluate "
                 "the persistent kernels' targets over their rows together, run nothing");
  app.add_option("--warmup", options.gpu_timing.warmup, "untimed GPU runs first")->capture_default_str();
  app.add_option("--min-runs", options.gpu_timing.min_runs, "timed GPU runs, at least")->capture_default_str();
  app.add_option("--max-runs", options.gpu_timing.max_runs, "timed GPU runs, at most")->capture_default_str();
  app.add_option("--budget-ms", options.gpu_timing.budget_ms, "target timing time per GPU backend and shape")
      ->capture_default_str();
  app.add_option("--cpu-max-flops", options.cpu_max_flops, "time the CPU reference only on shapes up to this")
      ->capture_default_str();
  app.add_option("--check-max-flops", options.check_max_flops,
                 "the reference check runs as many leading steps as fit this")
      ->capture_default_str();
  app.add_option("--seed", options.seed, "random weights and inputs")->capture_default_str();
  app.add_option("--device", options.device, "CUDA device ordinal")->capture_default_str();
  app.add_flag("--no-gpu", no_gpu, "behave as if no GPU were present (time the reference on the CPU)");
  app.add_flag("--quiet", quiet, "no progress lines on stderr");
  app.add_flag("--list-presets", list_presets, "print the presets and exit");
  CLI11_PARSE(app, argc, argv);

  try {
    if (list_presets) {
      for (const PresetInfo& p : preset_list()) std::cout << fmt::format("{:<12} {}\n", p.name, p.description);
      return 0;
    }
    if (!targets_from_text.empty()) {
      std::vector<Row> rows;
      for (const std::string& path : split_list("--targets-from", targets_from_text)) {
        std::ifstream in(path);
        if (!in) throw Error(ErrorCode::kIoError, fmt::format("--targets-from: cannot read '{}'", path));
        for (Row& r : read_csv(in, path)) rows.push_back(std::move(r));
      }
      fill_derived(rows, Ceilings{});
      const std::vector<TargetResult> results = evaluate_targets(persistent_targets(), rows);
      if (results.empty()) std::cout << "persistent targets: no row of these files has a shape a target covers\n";
      print_targets(std::cout, results);
      if (!targets_csv_path.empty())
        write_file(targets_csv_path, [&](std::ostream& out) { write_targets_csv(out, results); });
      return 0;
    }
    std::vector<Shape> shapes;
    for (const std::string& name : presets) append_unique(shapes, preset_shapes(name));
    for (const std::string& path : configs) append_unique(shapes, load_config_file(path));
    Sweep sweep;
    for (const auto& [field, text] : shape_flags)
      if (!text.empty()) sweep[field] = split_list("--" + field, text);
    if (!sweep.empty()) {
      for (const char* required : {"batch", "steps", "hidden"})
        if (!sweep.count(required))
          throw Error(ErrorCode::kInvalidArgument,
                      fmt::format("--{} is missing: shape flags need --batch, --steps and --hidden", required));
      append_unique(shapes, expand(sweep, "flags"));
    }
    if (shapes.empty()) {
      std::cerr << "lstmrt-bench: no shapes: give --preset, --config or --batch/--steps/--hidden (see --help)\n";
      return 2;
    }
    if (!backends_text.empty())
      for (const std::string& name : split_list("--backends", backends_text)) {
        try {
          options.backends.push_back(backend_choice_from_string(name));
        } catch (const Error& e) {
          throw Error(ErrorCode::kInvalidArgument, fmt::format("--backends: {}", e.what()));
        }
      }
    if (!algos_text.empty()) {
      options.cudnn_algos.clear();
      for (const std::string& name : split_list("--cudnn-algos", algos_text))
        options.cudnn_algos.push_back(cudnn_algo_from_string(name));
    }
    options.use_gpu = !no_gpu;
    options.progress = !quiet;

    const std::string absence = gpu_absence_reason(options);
    if (!absence.empty())
      std::cout << fmt::format(
          "lstmrt-bench: no GPU usable here ({}): timing the reference backend on the CPU "
          "only (shapes over --cpu-max-flops {:.3g} are skipped)\n",
          absence, options.cpu_max_flops);
    const BenchResult result = run_benchmark(shapes, options, std::cerr);
    if (result.gpu) {
      std::cout << fmt::format("GPU {}: measured ceilings: copy {:.0f} GB/s", result.info.gpu,
                               result.info.ceilings.copy_bytes_per_s / 1e9);
      for (const auto& [p, rate] : result.info.ceilings.gemm_flops_per_s)
        std::cout << fmt::format(", GEMM {} {:.1f} TFLOP/s", to_string(p), rate / 1e12);
      std::cout << "\n";
    }
    std::cout << fmt::format("{} lstmrt {}, CUDA runtime {}, driver {}, cuDNN {}, cuBLAS {}\n", result.info.date_utc,
                             result.info.lstmrt_version, result.info.cuda_runtime_version, result.info.driver_version,
                             result.info.cudnn_version, result.info.cublas_version);
    print_table(std::cout, result.rows);
    const std::vector<TargetResult> targets = evaluate_targets(persistent_targets(), result.rows);
    print_targets(std::cout, targets);
    if (!targets_csv_path.empty())
      write_file(targets_csv_path, [&](std::ostream& out) { write_targets_csv(out, targets); });
    if (!csv_path.empty()) write_file(csv_path, [&](std::ostream& out) { write_csv(out, result.rows); });
    if (!json_path.empty())
      write_file(json_path, [&](std::ostream& out) { write_json(out, result.info, result.rows); });
    if (result.failures > 0) {
      std::cerr << fmt::format("lstmrt-bench: {} row(s) with status mismatch or error\n", result.failures);
      return 1;
    }
    return 0;
  } catch (const Error& e) {
    std::cerr << "lstmrt-bench: error: " << e.what() << "\n";
    return 2;
  }
}

}  // namespace
}  // namespace lstmrt::bench

int main(int argc, char** argv) { return lstmrt::bench::run(argc, argv); }
