// lstmrt-bench's loop over shapes and backends.
#include "runner.hpp"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <optional>
#include <random>

#include <fmt/format.h>

#include "floors.hpp"
#include "gpu.hpp"
#include "stats.hpp"

namespace lstmrt::bench {
namespace {

// Host tensors of one forward pass (float32), and the request pointing at them.
struct HostPass {
  std::vector<float> x, y, h_n, c_n;
  ForwardRequest request(int steps, int batch) {
    ForwardRequest req;
    req.seq_len = steps;
    req.batch = batch;
    req.x = x.data();
    req.y = y.data();
    req.h_n = h_n.data();
    req.c_n = c_n.data();
    return req;
  }
};

// Outputs poisoned with NaN, so an element a backend never wrote fails the check.
HostPass make_pass(const Shape& s, int steps, std::uint64_t seed) {
  const std::size_t rows = static_cast<std::size_t>(steps) * s.batch;
  const std::size_t states = static_cast<std::size_t>(s.layers) * s.directions * s.batch;
  const int H_out = s.proj > 0 ? s.proj : s.hidden;
  HostPass pass;
  pass.x.resize(rows * s.input);
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (float& v : pass.x) v = dist(rng);
  pass.y.assign(rows * s.directions * H_out, NAN);
  pass.h_n.assign(states * H_out, NAN);
  pass.c_n.assign(states * s.hidden, NAN);
  return pass;
}

// Largest |got − expected| over y, h_n, c_n, and whether every element is finite and within tol.
std::pair<double, bool> compare(const HostPass& expected, const HostPass& got, Tolerance tol) {
  double worst = 0.0;
  bool ok = true;
  auto visit = [&](const std::vector<float>& e, const std::vector<float>& g) {
    for (std::size_t i = 0; i < e.size(); ++i) {
      if (!std::isfinite(g[i])) {
        ok = false;
        worst = INFINITY;
        continue;
      }
      const double err = std::fabs(static_cast<double>(g[i]) - e[i]);
      worst = std::max(worst, err);
      if (err > tol.atol + tol.rtol * std::fabs(e[i])) ok = false;
    }
  };
  visit(expected.y, got.y);
  visit(expected.h_n, got.h_n);
  visit(expected.c_n, got.c_n);
  return {worst, ok};
}

struct Candidate {
  BackendOptions options;
  std::string variant;
};

std::vector<Candidate> candidates(const Shape& s, const std::vector<BackendChoice>& backends, const BenchOptions& opt) {
  std::vector<Candidate> list;
  for (const BackendChoice& choice : backends) {
    const BackendKind kind = choice.kind;
    BackendOptions o;
    o.kind = kind;
    o.fused_kernel = choice.fused_kernel;
    o.data_type = s.numerics.type;
    o.math = s.numerics.math;
    o.device = opt.device;
    if (kind == BackendKind::kCudnn) {
      for (CudnnAlgo algo : opt.cudnn_algos) {
        o.cudnn_algo = algo;
        list.push_back({o, to_string(algo)});
      }
    } else if (kind == BackendKind::kFused) {
      list.push_back({o, to_string(choice.fused_kernel)});
    } else {
      list.push_back({o, "-"});
    }
  }
  return list;
}

std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

}  // namespace

std::string plan_summary(const std::string& plan) {
  std::string out;
  std::size_t begin = 0;
  while (begin <= plan.size()) {
    std::size_t end = plan.find('\n', begin);
    if (end == std::string::npos) end = plan.size();
    std::string line = plan.substr(begin, end - begin);
    line.erase(0, line.find_first_not_of(" \t\r"));
    line.erase(line.find_last_not_of(" \t\r") + 1);
    if (!line.empty()) out += (out.empty() ? "" : "; ") + line;
    begin = end + 1;
  }
  return out;
}

namespace {

class Progress {
 public:
  Progress(std::ostream& out, bool enabled, std::size_t total) : out_(out), enabled_(enabled), total_(total) {}
  void line(std::size_t index, const Shape& s, const std::string& what) {
    if (enabled_) out_ << fmt::format("[{}/{}] {}: {}\n", index + 1, total_, describe(s), what) << std::flush;
  }

 private:
  std::ostream& out_;
  bool enabled_;
  std::size_t total_;
};

}  // namespace

int check_steps_for(const Shape& s, double max_flops) {
  const double per_step = shape_flops(s) / s.steps;
  if (per_step * s.steps <= max_flops) return s.steps;
  return std::clamp(static_cast<int>(std::floor(max_flops / per_step)), 1, s.steps);
}

std::string gpu_absence_reason(const BenchOptions& options) {
  if (!options.use_gpu) return "--no-gpu was given";
  if (gpu_available()) return "";
  const SystemInfo system = query_system();
  return system.gpu_status.empty() ? "no CUDA device found" : system.gpu_status;
}

BenchResult run_benchmark(const std::vector<Shape>& shapes, const BenchOptions& options, std::ostream& progress_out) {
  BenchResult result;
  const SystemInfo system = query_system();
  result.info.date_utc = utc_now();
  result.info.lstmrt_version = system.version;
  result.info.driver_version = system.cuda_driver_version;
  result.info.cuda_runtime_version = system.cuda_runtime_version;
  result.info.cudnn_version = system.cudnn_version;
  result.info.cublas_version = system.cublas_version;
  const std::string absence = gpu_absence_reason(options);
  result.gpu = absence.empty();
  result.info.gpu_status = result.gpu ? "ok" : absence;

  std::vector<BackendChoice> backends = options.backends;
  if (backends.empty()) {
    backends = result.gpu ? std::vector<BackendChoice>{BackendKind::kFused, BackendKind::kCudnn}
                          : std::vector<BackendChoice>{BackendKind::kReference};
  }
  GpuDevice gpu;
  if (result.gpu) {
    gpu = open_gpu(options.device);
    result.info.gpu = gpu.name;
    std::vector<Numerics> numerics;
    for (const Shape& s : shapes)
      if (std::find(numerics.begin(), numerics.end(), s.numerics) == numerics.end()) numerics.push_back(s.numerics);
    if (options.progress) progress_out << "measuring ceilings (cuBLAS GEMM rate, device copy bandwidth)\n";
    result.info.ceilings = measure_ceilings(numerics);
  }
  const std::string device_name = result.gpu ? gpu.name : "cpu";

  Progress progress(progress_out, options.progress, shapes.size());
  for (std::size_t index = 0; index < shapes.size(); ++index) {
    const Shape& s = shapes[index];
    const ModelDesc desc = model_desc(s);
    const std::uint64_t seed = options.seed * 1000003 + index;
    const Weights weights = random_weights(desc, seed, 1.0f / std::sqrt(static_cast<float>(s.hidden)));
    const int check_steps = check_steps_for(s, options.check_max_flops);
    std::optional<HostPass> expected;  // the reference's outputs on the check input, computed once

    for (const Candidate& candidate : candidates(s, backends, options)) {
      Row row;
      row.backend = to_string(candidate.options.kind);
      row.variant = candidate.variant;
      row.shape = s;
      const bool on_gpu = candidate.options.kind != BackendKind::kReference;
      row.device = on_gpu ? device_name : "cpu";
      row.timer = on_gpu ? "cuda_events" : "chrono";
      progress.line(index, s, fmt::format("{} {}", row.backend, row.variant));
      try {
        if (on_gpu && !result.gpu) {
          row.status = "unsupported";
          row.note = fmt::format("backend {} needs a GPU: {}", row.backend, absence);
        } else if (!on_gpu && s.numerics != Numerics{}) {
          row.status = "unsupported";
          row.note = "the reference backend computes float32 (double accumulation) only; see the fp32 shape";
        } else if (!on_gpu && shape_flops(s) > options.cpu_max_flops) {
          row.status = "skipped";
          row.note = fmt::format("{:.3g} FLOPs is over --cpu-max-flops {:.3g}", shape_flops(s), options.cpu_max_flops);
        } else {
          Lstm lstm = Lstm::create(desc, weights, candidate.options);
          if (candidate.options.kind == BackendKind::kFused)
            row.plan = plan_summary(lstm.execution_plan(s.steps, s.batch));
          if (on_gpu) {
            if (!expected) {
              progress.line(index, s, fmt::format("reference check on {} of {} steps", check_steps, s.steps));
              expected = make_pass(s, check_steps, seed ^ 0x5eed);
              Lstm reference = Lstm::create(desc, weights, BackendOptions{BackendKind::kReference});
              reference.forward_host(expected->request(check_steps, s.batch));
            }
            HostPass got = make_pass(s, check_steps, seed ^ 0x5eed);
            lstm.forward_host(got.request(check_steps, s.batch));
            const auto [worst, ok] = compare(*expected, got, tolerance(s.numerics));
            row.max_abs_err = worst;
            row.check_steps = check_steps;
            row.status = ok ? "ok" : "mismatch";
            if (!ok) {
              const Tolerance tol = tolerance(s.numerics);
              row.note = fmt::format(
                  "output differs from the reference: max |diff| {:.3g} over atol {:.3g} + rtol "
                  "{:.3g}·|expected|",
                  worst, tol.atol, tol.rtol);
            }
            const GpuTiming timing = time_on_gpu(lstm, s, options.gpu_timing, gpu, seed + 17);
            row.time_ms = summarize(timing.samples_ms);
            // reserve() may have measured the variants (fused auto): the plan that was timed.
            if (candidate.options.kind == BackendKind::kFused)
              row.plan = plan_summary(lstm.execution_plan(s.steps, s.batch));
            if (row.note.empty()) row.note = fmt::format("{} rotating buffer sets", timing.rotation_sets);
          } else {
            HostPass pass = make_pass(s, s.steps, seed + 17);
            const ForwardRequest req = pass.request(s.steps, s.batch);
            row.time_ms = summarize(time_on_host([&] { lstm.forward(req); }, options.cpu_timing));
            row.status = "ok";
            row.note = "the oracle: not checked against itself";
          }
        }
      } catch (const Error& e) {
        const bool refused = e.code() == ErrorCode::kUnsupported || e.code() == ErrorCode::kNoDevice;
        row.status = refused ? "unsupported" : "error";
        row.note = e.what();
        row.time_ms = Summary{};
      } catch (const std::exception& e) {
        row.status = "error";
        row.note = e.what();
        row.time_ms = Summary{};
      }
      if (row.status == "mismatch" || row.status == "error") ++result.failures;
      result.rows.push_back(std::move(row));
    }
  }
  fill_derived(result.rows, result.info.ceilings);
  return result;
}

}  // namespace lstmrt::bench
