// lstmrt-bench output: derived numbers, CSV, JSON, the table; and the runner without a GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>

#include <nlohmann/json.hpp>

#include "bench/report.hpp"
#include "bench/runner.hpp"

namespace lstmrt::bench {
namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::stringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

Row timed_row(const std::string& backend, const std::string& variant, const Shape& s, std::vector<double> ms,
              const std::string& status = "ok") {
  Row r;
  r.backend = backend;
  r.variant = variant;
  r.shape = s;
  r.status = status;
  r.time_ms = summarize(ms);
  r.timer = "cuda_events";
  r.device = "test gpu";
  return r;
}

const Shape kShape{256, 100, 1024, 1024, 0, 1, 1, Precision::kBf16};

TEST(BenchReport, DerivedNumbersAndRatioToBestCudnn) {
  std::vector<Row> rows = {timed_row("cudnn", "standard", kShape, {2.0, 2.0, 2.0}),
                           timed_row("cudnn", "persist_static", kShape, {1.0}),
                           timed_row("cudnn", "persist_dynamic", kShape, {0.25}, "mismatch"),  // not a valid best
                           timed_row("fused", "-", kShape, {0.5, 0.5})};
  Row refused;
  refused.backend = "cudnn";
  refused.variant = "persist_static_small_h";
  refused.shape = kShape;
  refused.status = "unsupported";
  rows.push_back(refused);
  Ceilings c;
  c.gemm_flops_per_s[Precision::kBf16] = 990e12;
  c.copy_bytes_per_s = 4.3e12;
  fill_derived(rows, c);

  const Row& fused = rows[3];
  EXPECT_NEAR(fused.gflop, 429.4967, 1e-3);
  EXPECT_DOUBLE_EQ(fused.us_per_step, 5.0);               // 0.5 ms / 100 steps
  EXPECT_NEAR(fused.tflops, 429.4967 / 0.5, 1e-3);        // GFLOP per ms = TFLOP/s
  EXPECT_NEAR(fused.gbps, shape_min_bytes(kShape) / 0.5e-3 / 1e9, 1e-6);
  EXPECT_NEAR(fused.floor_ms, 0.43383, 1e-4);
  EXPECT_NEAR(fused.floor_fraction, 0.43383 / 0.5, 1e-4);
  EXPECT_DOUBLE_EQ(fused.vs_cudnn_best, 0.5);             // best valid cudnn: persist_static 1.0 ms
  EXPECT_DOUBLE_EQ(rows[0].vs_cudnn_best, 2.0);
  EXPECT_DOUBLE_EQ(rows[1].vs_cudnn_best, 1.0);
  EXPECT_TRUE(std::isnan(rows[4].us_per_step));
  EXPECT_TRUE(std::isnan(rows[4].vs_cudnn_best));
  EXPECT_NEAR(rows[4].floor_ms, 0.43383, 1e-4);            // the floor belongs to the shape
}

TEST(BenchReport, CsvHasTheColumnsAndQuotesNotes) {
  EXPECT_EQ(csv_escape("plain"), "plain");
  EXPECT_EQ(csv_escape("a,b"), "\"a,b\"");
  EXPECT_EQ(csv_escape("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(csv_escape("two\nlines"), "\"two\nlines\"");

  std::vector<Row> rows = {timed_row("fused", "-", kShape, {0.5, 0.6, 0.7})};
  Row refused = timed_row("cudnn", "persist_static_small_h", kShape, {1.0}, "unsupported");
  refused.time_ms = Summary{};
  refused.note = "cuDNN: hidden 1024 > 256, \"small H\" only";
  rows.push_back(refused);
  fill_derived(rows, Ceilings{});
  std::ostringstream out;
  write_csv(out, rows);
  const std::vector<std::string> lines = lines_of(out.str());
  ASSERT_EQ(lines.size(), 3u);
  std::string header;
  for (const std::string& c : csv_columns()) header += (header.empty() ? "" : ",") + c;
  EXPECT_EQ(lines[0], header);
  EXPECT_EQ(lines[1].rfind("lstmrt,fused,-,256,100,1024,1024,0,1,1,bf16,ok,,,3,0.6,0.52,0.68,6,", 0), 0u) << lines[1];
  // Untimed: every timing column empty; no ceilings: floor columns empty; the note quoted.
  EXPECT_EQ(lines[2].rfind("lstmrt,cudnn,persist_static_small_h,256,100,1024,1024,0,1,1,bf16,unsupported,,,,,,,,,,429.497,", 0),
            0u)
      << lines[2];
  EXPECT_NE(lines[2].find(",,,,cuda_events,test gpu,\"cuDNN: hidden 1024 > 256, \"\"small H\"\" only\""),
            std::string::npos)
      << lines[2];
}

TEST(BenchReport, JsonHoldsRunInfoAndRowsKeyedByColumn) {
  std::vector<Row> rows = {timed_row("fused", "-", kShape, {0.5})};
  rows[0].max_abs_err = 0.01;
  rows[0].check_steps = 2;
  RunInfo info;
  info.date_utc = "2026-01-01T00:00:00Z";
  info.gpu = "test gpu";
  info.cudnn_version = 91900;
  info.ceilings.gemm_flops_per_s[Precision::kBf16] = 800e12;
  info.ceilings.copy_bytes_per_s = 4e12;
  fill_derived(rows, info.ceilings);
  std::ostringstream out;
  write_json(out, info, rows);
  const nlohmann::json j = nlohmann::json::parse(out.str());
  EXPECT_EQ(j["run"]["gpu"], "test gpu");
  EXPECT_EQ(j["run"]["cudnn_version"], 91900);
  EXPECT_DOUBLE_EQ(j["run"]["ceilings"]["gemm_tflops"]["bf16"].get<double>(), 800.0);
  EXPECT_DOUBLE_EQ(j["run"]["ceilings"]["copy_gbps"].get<double>(), 4000.0);
  ASSERT_EQ(j["rows"].size(), 1u);
  const nlohmann::json& r = j["rows"][0];
  EXPECT_EQ(r.size(), csv_columns().size());
  for (const std::string& c : csv_columns()) EXPECT_TRUE(r.contains(c)) << c;
  EXPECT_EQ(r["backend"], "fused");
  EXPECT_EQ(r["precision"], "bf16");
  EXPECT_DOUBLE_EQ(r["median_ms"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(r["max_abs_err"].get<double>(), 0.01);
  EXPECT_EQ(r["check_steps"], 2);
  EXPECT_TRUE(r["vs_cudnn_best"].is_null());  // no cudnn row
  EXPECT_NEAR(r["floor_ms"].get<double>(), 429.4967 / 800e12 * 1e12, 1e-4);
}

TEST(BenchReport, TableShowsShapeFloorAndEveryRow) {
  std::vector<Row> rows = {timed_row("fused", "-", kShape, {0.5}), timed_row("cudnn", "standard", kShape, {1.0})};
  rows.push_back(timed_row("cudnn", "persist_dynamic", kShape, {1.0}, "error"));
  rows.back().time_ms = Summary{};
  rows.back().note = "CUDNN_STATUS_EXECUTION_FAILED";
  fill_derived(rows, Ceilings{});
  std::ostringstream out;
  print_table(out, rows);
  const std::string text = out.str();
  EXPECT_NE(text.find("N=256 T=100 I=1024 H=1024 P=0 L=1 D=1 bf16"), std::string::npos) << text;
  EXPECT_NE(text.find("429.5 GFLOP"), std::string::npos) << text;
  EXPECT_NE(text.find("lstmrt:fused"), std::string::npos) << text;
  EXPECT_NE(text.find("lstmrt:cudnn standard"), std::string::npos) << text;
  EXPECT_NE(text.find("0.50x"), std::string::npos) << text;  // fused at half cuDNN's best
  EXPECT_NE(text.find("CUDNN_STATUS_EXECUTION_FAILED"), std::string::npos) << text;
}

TEST(BenchRunner, WithoutAGpuTimesTheReferenceAndRefusesGpuBackends) {
  BenchOptions options;
  options.use_gpu = false;
  options.progress = false;
  options.backends = {BackendKind::kReference, BackendKind::kFused, BackendKind::kCudnn};
  options.cudnn_algos = {CudnnAlgo::kStandard};
  options.cpu_timing = TimingSettings{1, 3, 3, 1.0};
  options.cpu_max_flops = 1e6;
  const Shape small{2, 3, 5, 7, 0, 2, 2, Precision::kFp32};
  const Shape big{64, 50, 256, 256, 0, 1, 1, Precision::kFp32};
  const Shape half{2, 3, 5, 7, 0, 1, 1, Precision::kBf16};
  std::ostringstream progress;
  const BenchResult result = run_benchmark({small, big, half}, options, progress);
  EXPECT_FALSE(result.gpu);
  EXPECT_EQ(result.failures, 0);
  EXPECT_EQ(result.info.gpu_status, "--no-gpu was given");
  ASSERT_EQ(result.rows.size(), 9u);  // 3 shapes × (reference, fused, cudnn standard)
  const Row& reference = result.rows[0];
  EXPECT_EQ(reference.backend, "reference");
  EXPECT_EQ(reference.status, "ok");
  EXPECT_EQ(reference.timer, "chrono");
  EXPECT_EQ(reference.time_ms.count, 3);
  EXPECT_GT(reference.time_ms.median, 0.0);
  EXPECT_GT(reference.tflops, 0.0);
  EXPECT_TRUE(std::isnan(reference.floor_ms));  // no GPU ceilings
  EXPECT_EQ(result.rows[1].backend, "fused");
  EXPECT_EQ(result.rows[1].status, "unsupported");
  EXPECT_NE(result.rows[1].note.find("needs a GPU"), std::string::npos) << result.rows[1].note;
  EXPECT_EQ(result.rows[2].variant, "standard");
  EXPECT_EQ(result.rows[2].status, "unsupported");
  EXPECT_EQ(result.rows[3].status, "skipped");  // big: over cpu_max_flops
  EXPECT_NE(result.rows[3].note.find("--cpu-max-flops"), std::string::npos);
  EXPECT_EQ(result.rows[6].status, "unsupported");  // bf16: the reference computes float32 only
  EXPECT_EQ(progress.str(), "");  // progress disabled: nothing written
}

}  // namespace
}  // namespace lstmrt::bench
