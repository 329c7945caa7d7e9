// lstmrt-bench output: derived numbers, CSV, JSON, the table; and the runner without a GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "bench/report.hpp"
#include "bench/runner.hpp"
#include "bench/targets.hpp"

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

const Shape kShape{256, 100, 1024, 1024, 0, 1, 1, {DataType::kBFloat16}};

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
  c.gemm_flops_per_s[Numerics{DataType::kBFloat16}] = 990e12;
  c.copy_bytes_per_s = 4.3e12;
  fill_derived(rows, c);

  const Row& fused = rows[3];
  EXPECT_NEAR(fused.gflop, 429.4967, 1e-3);
  EXPECT_DOUBLE_EQ(fused.us_per_step, 5.0);         // 0.5 ms / 100 steps
  EXPECT_NEAR(fused.tflops, 429.4967 / 0.5, 1e-3);  // GFLOP per ms = TFLOP/s
  EXPECT_NEAR(fused.gbps, shape_min_bytes(kShape) / 0.5e-3 / 1e9, 1e-6);
  EXPECT_NEAR(fused.floor_ms, 0.43383, 1e-4);
  EXPECT_NEAR(fused.floor_fraction, 0.43383 / 0.5, 1e-4);
  EXPECT_DOUBLE_EQ(fused.vs_cudnn_best, 0.5);  // best valid cudnn: persist_static 1.0 ms
  EXPECT_DOUBLE_EQ(rows[0].vs_cudnn_best, 2.0);
  EXPECT_DOUBLE_EQ(rows[1].vs_cudnn_best, 1.0);
  EXPECT_TRUE(std::isnan(rows[4].us_per_step));
  EXPECT_TRUE(std::isnan(rows[4].vs_cudnn_best));
  EXPECT_NEAR(rows[4].floor_ms, 0.43383, 1e-4);  // the floor belongs to the shape
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
  EXPECT_EQ(lines[2].rfind(
                "lstmrt,cudnn,persist_static_small_h,256,100,1024,1024,0,1,1,bf16,unsupported,,,,,,,,,,429.497,", 0),
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
  info.ceilings.gemm_flops_per_s[Numerics{DataType::kBFloat16}] = 800e12;
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

TEST(BenchReport, PlanColumnAndPlanLineInTheTable) {
  std::vector<Row> rows = {timed_row("fused", "persistent", kShape, {0.5})};
  rows[0].plan = "layer 0: persistent grid, 128 blocks; layer 1: stepwise (H 4096 too large)";
  fill_derived(rows, Ceilings{});
  std::ostringstream csv, table, json;
  write_csv(csv, rows);
  EXPECT_EQ(csv_columns().back(), "plan");
  const std::vector<std::string> lines = lines_of(csv.str());
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[1].find(",\"layer 0: persistent grid, 128 blocks; layer 1: stepwise (H 4096 too large)\""),
            std::string::npos)
      << lines[1];
  print_table(table, rows);
  EXPECT_NE(table.str().find("lstmrt:fused persistent"), std::string::npos) << table.str();
  EXPECT_NE(table.str().find("plan: layer 0: persistent grid"), std::string::npos) << table.str();
  write_json(json, RunInfo{}, rows);
  EXPECT_EQ(nlohmann::json::parse(json.str())["rows"][0]["plan"], rows[0].plan);
}

TEST(BenchReport, PlanSummaryJoinsLayerLines) {
  EXPECT_EQ(plan_summary("layer 0: persistent grid\n  layer 1: stepwise\n"),
            "layer 0: persistent grid; layer 1: stepwise");
  EXPECT_EQ(plan_summary("cudnn"), "cudnn");
  EXPECT_EQ(plan_summary("\n\n"), "");
  EXPECT_EQ(plan_summary(""), "");
}

TEST(BenchReport, CsvReadsBackWhatWasWritten) {
  std::vector<Row> rows = {timed_row("fused", "cluster", kShape, {0.5, 0.6, 0.7}),
                           timed_row("cudnn", "standard", kShape, {1.25})};
  rows[0].plan = "layer 0: cluster, 8 blocks";
  rows[0].max_abs_err = 0.003;
  rows[0].check_steps = 7;
  Row refused = timed_row("cudnn", "persist_static", kShape, {1.0}, "unsupported");
  refused.time_ms = Summary{};
  refused.note = "says \"no\", twice,\nover two lines";
  rows.push_back(refused);
  fill_derived(rows, Ceilings{});
  std::stringstream csv;
  write_csv(csv, rows);
  const std::vector<Row> back = read_csv(csv, "rows.csv");
  ASSERT_EQ(back.size(), rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(back[i].source, rows[i].source);
    EXPECT_EQ(back[i].backend, rows[i].backend);
    EXPECT_EQ(back[i].variant, rows[i].variant);
    EXPECT_EQ(back[i].shape, rows[i].shape);
    EXPECT_EQ(back[i].status, rows[i].status);
    EXPECT_EQ(back[i].note, rows[i].note);
    EXPECT_EQ(back[i].plan, rows[i].plan);
    EXPECT_EQ(back[i].time_ms.count, rows[i].time_ms.count);
    if (rows[i].time_ms.count) EXPECT_NEAR(back[i].time_ms.median, rows[i].time_ms.median, 1e-9);
  }
  EXPECT_NEAR(back[0].max_abs_err, 0.003, 1e-12);
  EXPECT_EQ(back[0].check_steps, 7);
  EXPECT_TRUE(std::isnan(back[2].max_abs_err));
}

TEST(BenchReport, CsvReaderAcceptsTorchRowsWithoutPlanAndNamesBadInput) {
  std::string header;
  for (const std::string& c : csv_columns())
    if (c != "plan") header += (header.empty() ? "" : ",") + c;
  std::string row =
      "torch,torch,cuda_graph,8,100,512,512,0,1,1,bf16,ok,0.01,100,50,1.5,1.4,1.6,15,,,,,,,,cuda_events,H200,";
  std::stringstream in(header + "\n" + row + "\n\n");
  const std::vector<Row> rows = read_csv(in, "torch.csv");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].source, "torch");
  EXPECT_EQ(rows[0].variant, "cuda_graph");
  EXPECT_EQ(rows[0].shape, (Shape{8, 100, 512, 512, 0, 1, 1, {DataType::kBFloat16}}));
  EXPECT_EQ(rows[0].time_ms.count, 50);
  EXPECT_DOUBLE_EQ(rows[0].time_ms.median, 1.5);
  EXPECT_EQ(rows[0].plan, "");

  auto expect_invalid = [](const std::string& text, std::initializer_list<const char*> parts) {
    std::stringstream bad(text);
    try {
      read_csv(bad, "bad.csv");
      ADD_FAILURE() << "no error for: " << text;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      for (const char* part : parts) EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    }
  };
  expect_invalid("", {"bad.csv", "empty file"});
  expect_invalid("source,backend\nlstmrt,fused\n", {"bad.csv", "no column 'variant'"});
  expect_invalid(header + "\n" + row + ",extra\n", {"bad.csv", "line 2", "fields"});
  std::string bad_number = row;
  bad_number.replace(bad_number.find(",1.5,"), 5, ",fast,");
  expect_invalid(header + "\n" + bad_number + "\n", {"line 2", "median_ms", "fast"});
  std::string bad_precision = row;
  bad_precision.replace(bad_precision.find("bf16"), 4, "fp64");
  expect_invalid(header + "\n" + bad_precision + "\n", {"line 2", "fp64"});
}

// Rows for one shape: fused variants, cudnn algorithms and (optionally) torch.
std::vector<Row> target_rows(const Shape& s, double fused_ms, double cudnn_ms, double torch_ms) {
  std::vector<Row> rows = {
      timed_row("fused", "stepwise", s, {fused_ms * 3}), timed_row("fused", "persistent", s, {fused_ms}),
      timed_row("fused", "cluster", s, {fused_ms / 10}, "mismatch"),  // wrong: never the best
      timed_row("cudnn", "standard", s, {cudnn_ms * 2}), timed_row("cudnn", "persist_static", s, {cudnn_ms})};
  rows[1].plan = "layer 0: persistent grid";
  if (torch_ms > 0) {
    Row torch = timed_row("torch", "cuda_graph", s, {torch_ms});
    torch.source = "torch";
    rows.push_back(torch);
  }
  return rows;
}

TEST(BenchTargets, IssueSixTargetsCoverTheirShapes) {
  const std::vector<Target>& t = persistent_targets();
  ASSERT_EQ(t.size(), 3u);
  EXPECT_TRUE(t[0].covers(Shape{1, 256, 1024, 1024, 0, 1, 1, {DataType::kFloat32}}));
  EXPECT_FALSE(t[0].covers(Shape{1, 100, 1024, 1024, 0, 1, 1, {DataType::kFloat32}}));   // T differs
  EXPECT_FALSE(t[0].covers(Shape{1, 256, 1024, 1024, 0, 1, 1, {DataType::kBFloat16}}));  // precision
  EXPECT_FALSE(t[0].covers(Shape{1, 256, 1024, 1024, 0, 2, 1, {DataType::kFloat32}}));   // stacked
  EXPECT_TRUE(t[1].covers(Shape{8, 100, 512, 512, 0, 1, 1, {DataType::kBFloat16}}));
  EXPECT_TRUE(t[1].covers(Shape{32, 100, 1024, 1024, 0, 1, 1, {DataType::kFloat32}}));
  EXPECT_FALSE(t[1].covers(Shape{64, 100, 1024, 1024, 0, 1, 1, {DataType::kFloat32}}));
  EXPECT_FALSE(t[1].covers(Shape{8, 100, 256, 256, 0, 1, 1, {DataType::kFloat32}}));
  EXPECT_FALSE(t[1].covers(Shape{8, 100, 512, 512, 0, 1, 1, {DataType::kFloat16}}));
  EXPECT_TRUE(t[2].covers(Shape{64, 100, 512, 512, 0, 1, 1, {DataType::kFloat32}}));
  EXPECT_FALSE(t[2].covers(Shape{65, 100, 512, 512, 0, 1, 1, {DataType::kFloat32}}));
  EXPECT_FALSE(t[2].covers(Shape{1, 100, 1024, 1024, 0, 1, 1, {DataType::kFloat32}}));
  EXPECT_FALSE(t[2].covers(Shape{1, 100, 256, 256, 128, 1, 1, {DataType::kFloat32}}));  // projection
  // Every shape of the persistent preset falls under at least one target.
  for (const Shape& s : preset_shapes("persistent")) {
    bool covered = false;
    for (const Target& target : t) covered = covered || target.covers(s);
    EXPECT_TRUE(covered) << describe(s);
  }
}

TEST(BenchTargets, VerdictsMetMissedAndOwed) {
  const Shape n1{1, 256, 1024, 1024, 0, 1, 1, Numerics{DataType::kFloat32}};
  const Shape n8{8, 100, 512, 512, 0, 1, 1, Numerics{DataType::kBFloat16}};
  const Shape n16{16, 100, 1024, 1024, 0, 1, 1, Numerics{DataType::kFloat32}};
  const Shape other{2, 10, 4096, 4096, 0, 1, 1, Numerics{DataType::kFloat32}};  // no target covers it
  std::vector<Row> rows;
  for (const auto& more : {target_rows(n1, 0.256 * 1.5, 0.256 * 7.5, 0),  // 1.5 us/step, 5x: met
                           target_rows(n8, 0.1, 0.3, 0.15),               // 3x cuDNN, 1.5x torch: missed (torch)
                           target_rows(n16, 0.1, 0.3, 0),                 // 3x cuDNN, no torch row: owed
                           target_rows(other, 1.0, 1.0, 0)})
    rows.insert(rows.end(), more.begin(), more.end());
  fill_derived(rows, Ceilings{});
  const std::vector<TargetResult> results = evaluate_targets(persistent_targets(), rows);
  // n1 (n1-h1024), n8 and n16 (small-batch), n8 (cluster: H 512, N 8; 10 us/step > 0.6: missed)
  ASSERT_EQ(results.size(), 4u);
  EXPECT_EQ(results[0].target, "n1-h1024");
  EXPECT_EQ(results[0].verdict, "met") << results[0].note;
  EXPECT_EQ(results[0].fused_variant, "persistent");  // the fastest fused row with status ok
  EXPECT_EQ(results[0].fused_plan, "layer 0: persistent grid");
  EXPECT_NEAR(results[0].fused_us_per_step, 1.5, 1e-9);
  EXPECT_NEAR(results[0].vs_cudnn, 5.0, 1e-9);
  EXPECT_EQ(results[0].cudnn_best_algo, "persist_static");
  EXPECT_TRUE(std::isnan(results[0].vs_torch));
  EXPECT_EQ(results[1].target, "small-batch");
  EXPECT_EQ(results[1].shape, n8);
  EXPECT_EQ(results[1].verdict, "missed");
  EXPECT_NEAR(results[1].vs_cudnn, 3.0, 1e-9);
  EXPECT_NEAR(results[1].vs_torch, 1.5, 1e-9);
  EXPECT_NE(results[1].note.find("torch"), std::string::npos) << results[1].note;
  EXPECT_EQ(results[2].shape, n16);
  EXPECT_EQ(results[2].verdict, "owed");
  EXPECT_NE(results[2].note.find("no torch row"), std::string::npos) << results[2].note;
  EXPECT_EQ(results[3].target, "cluster");
  EXPECT_EQ(results[3].verdict, "missed");
  EXPECT_NE(results[3].note.find("us/step > 0.6"), std::string::npos) << results[3].note;

  // The n1 shape missing its time target and cuDNN ratio.
  std::vector<Row> slow = target_rows(n1, 0.256 * 3.0, 0.256 * 6.0, 0);
  fill_derived(slow, Ceilings{});
  const std::vector<TargetResult> slow_results = evaluate_targets(persistent_targets(), slow);
  ASSERT_EQ(slow_results.size(), 1u);
  EXPECT_EQ(slow_results[0].verdict, "missed");
  EXPECT_NE(slow_results[0].note.find("3 us/step > 2"), std::string::npos) << slow_results[0].note;
  EXPECT_NE(slow_results[0].note.find("2.00x cuDNN's best"), std::string::npos) << slow_results[0].note;

  // No fused row that ran (no GPU): owed, not met.
  std::vector<Row> none = {timed_row("fused", "persistent", n1, {1.0}, "unsupported")};
  none[0].time_ms = Summary{};
  const std::vector<TargetResult> none_results = evaluate_targets(persistent_targets(), none);
  ASSERT_EQ(none_results.size(), 1u);
  EXPECT_EQ(none_results[0].verdict, "owed");
  EXPECT_TRUE(std::isnan(none_results[0].fused_us_per_step));

  std::ostringstream text, csv;
  print_targets(text, results);
  EXPECT_NE(text.str().find("persistent targets: 1 met, 2 missed, 1 owed"), std::string::npos) << text.str();
  EXPECT_NE(text.str().find("MET"), std::string::npos);
  EXPECT_NE(text.str().find("OWED"), std::string::npos);
  EXPECT_NE(text.str().find("<= 2 us/step and >= 3x cuDNN's best"), std::string::npos) << text.str();
  write_targets_csv(csv, results);
  const std::vector<std::string> lines = lines_of(csv.str());
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[0].rfind("target,batch,steps,input,hidden,precision,verdict,", 0), 0u) << lines[0];
  EXPECT_EQ(lines[1].rfind("n1-h1024,1,256,1024,1024,fp32,met,persistent,1.5,persist_static,7.5,5,,,", 0), 0u)
      << lines[1];
  std::ostringstream empty;
  print_targets(empty, {});
  EXPECT_EQ(empty.str(), "");
}

TEST(BenchRunner, FusedVariantsAreRowsOfTheirOwn) {
  BenchOptions options;
  options.use_gpu = false;
  options.progress = false;
  options.backends = {backend_choice_from_string("fused:stepwise"), backend_choice_from_string("fused:persistent"),
                      backend_choice_from_string("fused:cluster"), backend_choice_from_string("fused")};
  const BenchResult result = run_benchmark({Shape{2, 3, 5, 7, 0, 1, 1, {DataType::kFloat32}}}, options, std::cerr);
  ASSERT_EQ(result.rows.size(), 4u);
  const char* variants[] = {"stepwise", "persistent", "cluster", "auto"};
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(result.rows[i].backend, "fused");
    EXPECT_EQ(result.rows[i].variant, variants[i]);
    EXPECT_EQ(result.rows[i].status, "unsupported");  // no GPU here (--no-gpu)
  }
}

TEST(BenchRunner, WithoutAGpuTimesTheReferenceAndRefusesGpuBackends) {
  BenchOptions options;
  options.use_gpu = false;
  options.progress = false;
  options.backends = {BackendKind::kReference, BackendKind::kFused, BackendKind::kCudnn};
  options.cudnn_algos = {CudnnAlgo::kStandard};
  options.cpu_timing = TimingSettings{1, 3, 3, 1.0};
  options.cpu_max_flops = 1e6;
  const Shape small{2, 3, 5, 7, 0, 2, 2, Numerics{DataType::kFloat32}};
  const Shape big{64, 50, 256, 256, 0, 1, 1, Numerics{DataType::kFloat32}};
  const Shape half{2, 3, 5, 7, 0, 1, 1, Numerics{DataType::kBFloat16}};
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
  EXPECT_EQ(progress.str(), "");                    // progress disabled: nothing written
}

}  // namespace
}  // namespace lstmrt::bench
