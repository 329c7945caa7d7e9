// lstmrt-bench's GPU side on a real GPU: ceilings in a plausible range, CUDA-event timing of a
// device-memory backend with rotated buffers, a whole small run with floors and cuDNN ratios, the
// fused kernel variants as rows with their plans, and the exchange benchmark's launches.
// Skips without a GPU (GpuTest).
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <sstream>

#include "bench/gpu.hpp"
#include "bench/persistent_harness.hpp"
#include "bench/runner.hpp"
#include "bench/targets.hpp"
#include "gpu_test.hpp"

namespace lstmrt::bench {
namespace {

class BenchGpu : public test::GpuTest {};

TEST_F(BenchGpu, CeilingsArePlausible) {
  const Ceilings c = measure_ceilings({Numerics{DataType::kFloat32}, Numerics{DataType::kBFloat16}}, 2048);
  ASSERT_EQ(c.gemm_flops_per_s.size(), 2u);
  for (const auto& [p, rate] : c.gemm_flops_per_s) {
    EXPECT_GT(rate, 1e12) << to_string(p);  // any sm_90 part does far more than 1 TFLOP/s
    EXPECT_LT(rate, 5e15) << to_string(p);  // and far less than 5 PFLOP/s
  }
  EXPECT_GT(c.gemm_flops_per_s.at(Numerics{DataType::kBFloat16}), c.gemm_flops_per_s.at(Numerics{DataType::kFloat32}));
  EXPECT_GT(c.copy_bytes_per_s, 1e11);
  EXPECT_LT(c.copy_bytes_per_s, 2e13);
}

TEST_F(BenchGpu, TimesCudnnForwardWithRotatedBuffers) {
  const Shape s{4, 16, 32, 64, 0, 1, 1, Numerics{DataType::kFloat32}};
  BackendOptions options;
  options.kind = BackendKind::kCudnn;
  options.cudnn_algo = CudnnAlgo::kStandard;
  Lstm lstm = Lstm::create(model_desc(s), random_weights(model_desc(s), 3, 0.125f), options);
  const GpuDevice gpu = open_gpu(0);
  EXPECT_FALSE(gpu.name.empty());
  EXPECT_GT(gpu.l2_bytes, 0u);
  const GpuTiming timing = time_on_gpu(lstm, s, TimingSettings{2, 7, 7, 1.0}, gpu, 5);
  ASSERT_EQ(timing.samples_ms.size(), 7u);
  EXPECT_GE(timing.rotation_sets, 2);
  for (double ms : timing.samples_ms) {
    EXPECT_GT(ms, 0.0);
    EXPECT_LT(ms, 1000.0);
  }
}

TEST_F(BenchGpu, SmallRunChecksTimesAndComparesWithCudnn) {
  BenchOptions options;
  options.progress = false;
  options.backends = {BackendKind::kFused, BackendKind::kCudnn};
  options.gpu_timing = TimingSettings{2, 5, 20, 20.0};
  const std::vector<Shape> shapes = {Shape{3, 10, 24, 48, 0, 1, 1, {DataType::kFloat32}},
                                     Shape{2, 6, 16, 32, 0, 2, 2, {DataType::kBFloat16}}};
  std::ostringstream progress;
  const BenchResult result = run_benchmark(shapes, options, progress);
  ASSERT_TRUE(result.gpu);
  EXPECT_EQ(result.failures, 0);
  EXPECT_FALSE(result.info.gpu.empty());
  ASSERT_EQ(result.rows.size(), 2u * 5u);  // fused + 4 cudnn algorithms per shape
  int timed_cudnn = 0;
  for (const Row& r : result.rows) {
    SCOPED_TRACE(describe(r.shape) + " " + r.backend + " " + r.variant + ": " + r.status + " " + r.note);
    EXPECT_TRUE(r.status == "ok" || r.status == "unsupported");
    EXPECT_TRUE(std::isfinite(r.floor_ms));
    EXPECT_GT(r.floor_ms, 0.0);
    if (r.status != "ok") continue;
    EXPECT_EQ(r.timer, "cuda_events");
    EXPECT_EQ(r.check_steps, r.shape.steps);
    EXPECT_LE(r.max_abs_err, tolerance(r.shape.numerics).atol * 10);
    EXPECT_GE(r.time_ms.count, 5);
    EXPECT_GT(r.us_per_step, 0.0);
    EXPECT_GT(r.floor_fraction, 0.0);
    EXPECT_LT(r.floor_fraction, 1.5);  // nothing beats its floor by much (timer granularity aside)
    EXPECT_GE(r.vs_cudnn_best, r.backend == "cudnn" ? 1.0 : 0.0);
    if (r.backend == "cudnn") ++timed_cudnn;
  }
  EXPECT_GE(timed_cudnn, 2) << "cudnn's standard algorithm serves both shapes";
}

// The fused kernel variants are rows of their own, each timed with the plan that ran: a shape the
// persistent variants fit runs them (not a silent stepwise), and the target report sees the rows.
TEST_F(BenchGpu, FusedVariantsAreTimedWithTheirPlans) {
  BenchOptions options;
  options.progress = false;
  options.backends = {backend_choice_from_string("fused:stepwise"), backend_choice_from_string("fused:persistent"),
                      backend_choice_from_string("fused:cluster"), BackendChoice(BackendKind::kCudnn)};
  options.cudnn_algos = {CudnnAlgo::kStandard};
  options.gpu_timing = TimingSettings{2, 5, 20, 20.0};
  const Shape s{4, 24, 64, 128, 0, 1, 1, Numerics{DataType::kFloat32}};  // cluster target shape (H <= 512, N <= 64)
  std::ostringstream progress;
  const BenchResult result = run_benchmark({s}, options, progress);
  ASSERT_TRUE(result.gpu);
  EXPECT_EQ(result.failures, 0);
  ASSERT_EQ(result.rows.size(), 4u);
  const char* plans[] = {"layer 0: stepwise", "layer 0: persistent grid", "layer 0: persistent cluster"};
  for (int i = 0; i < 3; ++i) {
    const Row& r = result.rows[i];
    SCOPED_TRACE(r.variant + ": " + r.status + " " + r.note + " plan " + r.plan);
    EXPECT_EQ(r.backend, "fused");
    EXPECT_EQ(r.status, "ok");
    EXPECT_EQ(r.plan.rfind(plans[i], 0), 0u);
    EXPECT_GT(r.us_per_step, 0.0);
    EXPECT_TRUE(std::isfinite(r.vs_cudnn_best));
  }
  const std::vector<TargetResult> targets = evaluate_targets(persistent_targets(), result.rows);
  ASSERT_EQ(targets.size(), 1u);
  EXPECT_EQ(targets[0].target, "cluster");
  EXPECT_NE(targets[0].verdict, "owed") << targets[0].note;  // every row it needs was measured
}

// The exchange benchmark's launch: exchange_only and full launches of both variants complete with
// status ok, and a stalled exchange (forced) ends within the time bound even in exchange_only mode.
TEST_F(BenchGpu, ExchangeOnlyLaunchesComplete) {
  ModelDesc desc;
  desc.input_size = 16;
  desc.hidden_size = 512;
  for (FusedKernel v : {FusedKernel::kPersistent, FusedKernel::kCluster}) {
    SCOPED_TRACE(to_string(v));
    PersistentHarness h(desc, DataType::kFloat32, 64, 1, v);
    ASSERT_TRUE(h.fits(stream()));
    for (int exchange_only : {1, 0, 1}) {
      h.params().exchange_only = exchange_only;
      h.launch(stream());
      LSTMRT_TEST_CUDA(cudaStreamSynchronize(stream()));
      EXPECT_EQ(h.status().code, kernels::kPersistentOk) << "exchange_only " << exchange_only;
    }
    h.params().debug_stall_block = h.blocks() - 1;
    h.params().debug_stall_step = 1;
    h.params().timeout_ns = 20'000'000;
    const auto start = std::chrono::steady_clock::now();
    h.launch(stream());
    LSTMRT_TEST_CUDA(cudaStreamSynchronize(stream()));
    EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 5.0);
    EXPECT_EQ(h.status().code, kernels::kPersistentTimeout);
  }
  EXPECT_THROW(PersistentHarness(desc, DataType::kFloat16, 8, 1, FusedKernel::kPersistent), Error);
  ModelDesc huge = desc;
  huge.hidden_size = 8192;  // W_hh far beyond the chip
  try {
    PersistentHarness h(huge, DataType::kFloat32, 8, 1, FusedKernel::kPersistent);
    ADD_FAILURE() << "H 8192 fit on chip";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported) << e.what();
    EXPECT_NE(std::string(e.what()).find("does not fit"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace lstmrt::bench
