// lstmrt-exchange-bench: the persistent kernels' per-step exchange cost measured alone (the floor
// under a persistent step), grid and cluster variants. See exchange.hpp and bench/README.md.
#include <cuda_runtime_api.h>

#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "common/cuda_check.hpp"
#include "config.hpp"
#include "exchange.hpp"
#include "persistent_harness.hpp"
#include "stats.hpp"
#include "system_probe.hpp"

namespace lstmrt::bench {
namespace {

struct Events {
  cudaEvent_t start = nullptr, stop = nullptr;
  Events() {
    LSTMRT_CUDA_CHECK(cudaEventCreate(&start));
    LSTMRT_CUDA_CHECK(cudaEventCreate(&stop));
  }
  ~Events() {
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
  }
  Events(const Events&) = delete;
  Events& operator=(const Events&) = delete;
};

// Microseconds per step of `runs` launches (after `warmup`), each cleared outside the timed region.
// Throws kCudaError naming the status when a launch gave up (a wait timed out).
std::vector<double> time_launches(PersistentHarness& h, cudaStream_t stream, int warmup, int runs) {
  Events ev;
  std::vector<double> us;
  for (int i = 0; i < warmup + runs; ++i) {
    h.clear(stream);
    LSTMRT_CUDA_CHECK(cudaEventRecord(ev.start, stream));
    h.enqueue(stream);
    LSTMRT_CUDA_CHECK(cudaEventRecord(ev.stop, stream));
    LSTMRT_CUDA_CHECK(cudaStreamSynchronize(stream));
    if (h.status().code != kernels::kPersistentOk)
      detail::fail(ErrorCode::kCudaError, "the persistent kernel gave up: status code {} at block {}, step {}",
                   h.status().code, h.status().block, h.status().step);
    float ms = 0;
    LSTMRT_CUDA_CHECK(cudaEventElapsedTime(&ms, ev.start, ev.stop));
    if (i >= warmup) us.push_back(ms * 1e3 / h.steps());
  }
  return us;
}

ExchangeResult measure(const ExchangeShape& s, cudaStream_t stream, int warmup, int runs) {
  ExchangeResult r;
  r.shape = s;
  try {
    ModelDesc desc;
    desc.input_size = 16;  // the input projection does not run: its size does not matter
    desc.hidden_size = s.hidden;
    const auto variant = s.variant == "cluster" ? FusedKernel::kCluster : FusedKernel::kPersistent;
    PersistentHarness h(desc, s.type, s.steps, s.batch, variant);
    r.blocks = h.blocks();
    if (!h.fits(stream)) {
      r.status = "unsupported";
      r.note = fmt::format("{} blocks cannot be co-resident on this device", h.blocks());
      return r;
    }
    h.params().exchange_only = 1;
    const Summary exchange = summarize(time_launches(h, stream, warmup, runs));
    h.params().exchange_only = 0;
    const Summary full = summarize(time_launches(h, stream, warmup, runs));
    r.status = "ok";
    r.runs = runs;
    r.exchange_us_per_step = exchange.median;
    r.exchange_p10 = exchange.p10;
    r.exchange_p90 = exchange.p90;
    r.full_us_per_step = full.median;
    r.note = h.steps() < s.steps ? fmt::format("one launch of the plan's first chunk: {} steps", h.steps()) : "";
  } catch (const Error& e) {
    r.status = e.code() == ErrorCode::kUnsupported ? "unsupported" : "error";
    r.note = e.what();
    cudaGetLastError();  // a failed launch leaves its error behind: the next shape starts clean
  }
  return r;
}

template <typename T, typename Parse>
std::vector<T> list(const std::string& flag, const std::string& text, Parse parse) {
  std::vector<T> out;
  for (const std::string& item : split_list(flag, text)) out.push_back(parse(item));
  return out;
}

int run(int argc, char** argv) {
  CLI::App app{
      "lstmrt-exchange-bench: the persistent kernels' per-step exchange cost alone (exchange_only), "
      "beside the same launch with its arithmetic"};
  std::string variants, precisions, batches, hiddens, csv_path;
  int steps = 256, warmup = 3, runs = 30, device = 0;
  app.add_option("--variants", variants, "grid,cluster (with --hidden/--batch: the cartesian product)");
  app.add_option("--precision", precisions, "fp32,bf16");
  app.add_option("--batch", batches, "batch sizes, comma-separated");
  app.add_option("--hidden", hiddens, "hidden sizes, comma-separated");
  app.add_option("--steps", steps, "steps per launch")->capture_default_str();
  app.add_option("--warmup", warmup, "untimed launches first")->capture_default_str();
  app.add_option("--runs", runs, "timed launches per shape and mode")->capture_default_str();
  app.add_option("--device", device, "CUDA device ordinal")->capture_default_str();
  app.add_option("--csv", csv_path, "write the results as CSV");
  CLI11_PARSE(app, argc, argv);
  try {
    std::vector<ExchangeShape> shapes;
    if (variants.empty() && precisions.empty() && batches.empty() && hiddens.empty()) {
      if (steps < 1) detail::invalid("--steps {}: expected >= 1", steps);
      shapes = default_exchange_shapes(steps);
    } else {
      auto ints = [](const std::string& flag, const std::string& text) {
        return list<int>(flag, text, [&](const std::string& v) {
          try {
            return std::stoi(v);
          } catch (const std::exception&) {
            detail::invalid("{}: expected an integer, got \"{}\"", flag, v);
          }
        });
      };
      auto names = [](const std::string& flag, const std::string& text) {
        return list<std::string>(flag, text, [](const std::string& v) { return v; });
      };
      shapes = exchange_shapes(names("--variants", variants.empty() ? "grid,cluster" : variants),
                               names("--precision", precisions.empty() ? "fp32" : precisions),
                               ints("--batch", batches.empty() ? "1" : batches),
                               ints("--hidden", hiddens.empty() ? "1024" : hiddens), steps);
    }
    if (runs < 1 || warmup < 0) detail::invalid("--runs {} / --warmup {}: expected >= 1 and >= 0", runs, warmup);
    std::vector<ExchangeResult> results;
    int errors = 0;
    if (!gpu_available()) {
      const std::string why = probe_gpus().status;
      std::cout << fmt::format("lstmrt-exchange-bench: no GPU usable here ({}): nothing measured\n", why);
      for (const ExchangeShape& s : shapes) results.push_back({s, "unsupported", 0, 0, 0, 0, 0, 0, "no GPU: " + why});
    } else {
      LSTMRT_CUDA_CHECK(cudaSetDevice(device));
      cudaDeviceProp prop{};
      LSTMRT_CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
      std::cout << fmt::format("lstmrt-exchange-bench on {} ({} SMs): {} timed launches per shape and mode\n",
                               prop.name, prop.multiProcessorCount, runs);
      cudaStream_t stream = nullptr;
      LSTMRT_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
      for (const ExchangeShape& s : shapes) {
        results.push_back(measure(s, stream, warmup, runs));
        errors += results.back().status == "error";
      }
      cudaStreamDestroy(stream);
    }
    print_exchange_table(std::cout, results);
    if (!csv_path.empty()) {
      std::ofstream out(csv_path);
      write_exchange_csv(out, results);
      if (!out) detail::fail(ErrorCode::kIoError, "writing '{}' failed", csv_path);
    }
    if (errors > 0) {
      std::cerr << fmt::format("lstmrt-exchange-bench: {} shape(s) failed\n", errors);
      return 1;
    }
    return 0;
  } catch (const Error& e) {
    std::cerr << "lstmrt-exchange-bench: error: " << e.what() << "\n";
    return 2;
  }
}

}  // namespace
}  // namespace lstmrt::bench

int main(int argc, char** argv) { return lstmrt::bench::run(argc, argv); }
