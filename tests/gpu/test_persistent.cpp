// The fused backend's persistent kernels on a GPU: the randomized configuration grid
// against the reference for the grid (kPersistent) and cluster (kCluster) variants in float32 and
// bfloat16, with Lstm::execution_plan proving the requested variant ran wherever it is usable (the
// planner's fit and the co-residency query, from the call the backend makes:
// fused::variant_candidate); the size limits of each variant on this device (the largest H it
// serves runs persistent, H + 1 falls back to stepwise, both correct); bitwise-identical repeated
// runs; a forced exchange timeout (one block never publishes) that reports instead of hanging and
// leaves the bound as it found it; and a
// forward captured into the caller's graph and replayed. Outputs are poisoned (NaN) before every
// run and every element is checked. Skips without a GPU (GpuTest).
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "bench/persistent_harness.hpp"
#include "common/random_model.hpp"
#include "cudnn_test_util.hpp"
#include "device_call.hpp"
#include "fused/fused_choose.hpp"
#include "fused/persistent_plan.hpp"
#include "gpu_test.hpp"

namespace lstmrt::test {
namespace {

using lstmrt::FusedKernel;

constexpr FusedKernel kVariants[] = {FusedKernel::kPersistent, FusedKernel::kCluster};
constexpr DataType kTypes[] = {DataType::kFloat32, DataType::kBFloat16};

std::string kernel_name(FusedKernel k) { return k == FusedKernel::kCluster ? "persistent cluster" : "persistent grid"; }

// The requested variant's candidate for `c` on device 0, from the call the backend makes: the
// planner's fit on this device's limits and the co-residency query for its blocks (cluster
// co-residency included). One candidate serves every layer: the input size does not enter it.
fused::VariantCandidate candidate_for(const Case& c) {
  const fused::DeviceFacts facts = fused::query_device_facts(0, c.options.data_type);
  return fused::variant_candidate(c.desc, c.options.data_type, c.T, c.N, facts, c.options.fused_kernel);
}

// What execution_plan must name for every layer of `c`: the requested variant where its candidate
// is usable, else stepwise.
std::string expected_kernel(const Case& c) {
  return candidate_for(c).usable() ? kernel_name(c.options.fused_kernel) : "stepwise";
}

// Asserts execution_plan(T, N) names `kernel` for every layer; returns the plan text.
::testing::AssertionResult plan_runs(const Lstm& lstm, const Case& c, const std::string& kernel) {
  const std::string plan = lstm.execution_plan(c.T, c.N);
  std::istringstream lines(plan);
  std::string line;
  int layer = 0;
  for (; std::getline(lines, line); ++layer) {
    const std::string want = "layer " + std::to_string(layer) + ": " + kernel;
    if (line.rfind(want, 0) != 0)
      return ::testing::AssertionFailure() << "expected '" << want << "...', execution_plan says:\n" << plan;
  }
  if (layer != c.desc.num_layers)
    return ::testing::AssertionFailure() << layer << " plan lines for " << c.desc.num_layers << " layers:\n" << plan;
  return ::testing::AssertionSuccess() << plan;
}

Case persistent_case(std::mt19937_64& rng, DataType type, FusedKernel kernel, int k) {
  CaseLimits lim;
  if (k % 4 == 3) {  // wider layers: several blocks, rows split between registers and shared memory
    lim.max_hidden = 320;
    lim.max_input = 64;
    lim.max_layers = 2;
    lim.max_steps = 12;
    lim.max_batch = 40;
  }
  Case c = random_case(rng, BackendOptions{BackendKind::kFused, type, MathMode::kStrict}, lim);
  c.options.kind = BackendKind::kFused;
  c.options.fused_kernel = kernel;
  if (k % 2 == 1) {  // peepholes, coupled gate, clip, other activations
    randomize_cell_features(c.desc, rng, true, /*classic: the persistent kernels*/ true);
    c.weights = random_weights(c.desc, rng(), 1.0f / std::sqrt(float(c.desc.hidden_size)));
  }
  return c;
}

Lstm create(const Case& c) {
  Lstm lstm = Lstm::create(c.desc, c.weights, c.options);
  EXPECT_EQ(lstm.backend_name(), "fused");
  lstm.reserve(c.T, c.N);
  return lstm;
}

class PersistentGpu : public GpuTest {};

TEST_F(PersistentGpu, VsReferenceRandomGrid) {
  const std::uint64_t seed = test_seed();
  SCOPED_TRACE(fmt::format("LSTMRT_TEST_SEED={}", seed));
  std::mt19937_64 rng(seed);
  for (FusedKernel kernel : kVariants) {
    int persistent_runs = 0;
    for (DataType type : kTypes)
      for (int k = 0; k < 16; ++k) {
        const Case c = persistent_case(rng, type, kernel, k);
        SCOPED_TRACE(to_string(kernel) + " " + c.describe());
        Lstm lstm = create(c);
        const std::string want = expected_kernel(c);
        EXPECT_TRUE(plan_runs(lstm, c, want));
        persistent_runs += want != "stepwise";
        EXPECT_TRUE(matches_reference(c, run_reference(c), run_device(lstm, c, stream())));
        lstm.check_persistent_status();  // a wait that gave up would throw here
        if (HasFailure()) return;
      }
    // The grid's shapes are small: nearly all of them must actually have run the variant.
    EXPECT_GE(persistent_runs, 16) << to_string(kernel) << ": too few cases ran persistent";
  }
}

// Both paddings, go_backwards order, lengths 0 and T, h0/c0 and every output subset on a
// reverse and a bidirectional stacked model, each combination explicitly (the random grid draws
// them only by chance).
TEST_F(PersistentGpu, PaddingOrderLengthsAndOutputSubsets) {
  std::mt19937_64 rng(test_seed() + 1);
  for (FusedKernel kernel : kVariants)
    for (Direction dir : {Direction::kReverse, Direction::kBidirectional})
      for (PaddingMode padding : {PaddingMode::kZero, PaddingMode::kCarryLast})
        for (int outputs = 0; outputs < 3; ++outputs) {
          Case c;
          c.options = BackendOptions{BackendKind::kFused, outputs == 1 ? DataType::kBFloat16 : DataType::kFloat32};
          c.options.fused_kernel = kernel;
          c.desc.direction = dir;
          c.desc.num_layers = 2;
          c.desc.input_size = 11;
          c.desc.hidden_size = 40;
          c.desc.proj_size = outputs == 2 ? 24 : 0;
          c.weights = random_weights(c.desc, rng(), 1.0f / std::sqrt(40.0f));
          c.T = 9;
          c.N = 5;
          c.layout = outputs == 0 ? TensorLayout::kBatchMajor : TensorLayout::kTimeMajor;
          c.x = random_vector(std::size_t(c.T) * c.N * c.desc.input_size, rng);
          c.lengths = {0, c.T, 1, 4, c.T - 1};
          if (outputs != 0) c.h0 = random_vector(c.h_count(), rng), c.c0 = random_vector(c.c_count(), rng);
          c.want_y = outputs != 2;
          c.want_state = outputs != 0;
          c.padding = padding;
          c.order = dir == Direction::kReverse && outputs != 1 ? ReverseOutputOrder::kProcessing
                                                               : ReverseOutputOrder::kOriginal;
          SCOPED_TRACE(to_string(kernel) + " " + c.describe());
          Lstm lstm = create(c);
          EXPECT_TRUE(plan_runs(lstm, c, kernel_name(kernel)));
          EXPECT_TRUE(matches_reference(c, run_reference(c), run_device(lstm, c, stream())));
          if (HasFailure()) return;
        }
}

// The largest hidden size the variant serves on this device at N = 1 (one layer, one direction):
// the largest whose plan fits, lowered while its blocks cannot be co-resident (candidate_for).
int largest_fitting_hidden(FusedKernel kernel, DataType type, int steps) {
  const fused::DeviceLimits limits = fused::query_device_facts(0, DataType::kFloat32).limits;
  Case c;
  c.options = BackendOptions{BackendKind::kFused, type};
  c.options.fused_kernel = kernel;
  c.T = steps;
  c.N = 1;
  c.desc.input_size = 16;
  int best = 0;
  for (int H = 1; H <= 4096; ++H) {
    c.desc.hidden_size = H;
    if (fused::make_persistent_plan(c.desc, type, c.N, c.T, limits, kernel).fits) best = H;
  }
  for (; best > 0; --best) {
    c.desc.hidden_size = best;
    if (candidate_for(c).usable()) break;
  }
  return best;
}

TEST_F(PersistentGpu, LargestHiddenRunsPersistentAndOneMoreFallsBack) {
  std::mt19937_64 rng(test_seed() + 2);
  for (FusedKernel kernel : kVariants)
    for (DataType type : kTypes) {
      Case c;
      c.options = BackendOptions{BackendKind::kFused, type};
      c.options.fused_kernel = kernel;
      c.T = 4;
      c.N = 1;
      const int limit = largest_fitting_hidden(kernel, type, c.T);
      SCOPED_TRACE(fmt::format("{} {}: largest fitting H {}", to_string(kernel), to_string(type), limit));
      ASSERT_GE(limit, kernel == FusedKernel::kCluster ? 128 : 1024) << "the variant should hold at least this much";
      for (int H : {limit, limit + 1}) {
        c.desc = ModelDesc{};
        c.desc.input_size = 16;
        c.desc.hidden_size = H;
        c.weights = random_weights(c.desc, rng(), 1.0f / std::sqrt(float(H)));
        c.x = random_vector(std::size_t(c.T) * c.N * 16, rng);
        c.h0 = random_vector(c.h_count(), rng);
        c.c0 = random_vector(c.c_count(), rng);
        Lstm lstm = create(c);
        const std::string plan = lstm.execution_plan(c.T, c.N);
        SCOPED_TRACE("H " + std::to_string(H) + ": " + plan);
        EXPECT_TRUE(plan_runs(lstm, c, H == limit ? kernel_name(kernel) : "stepwise"));
        if (H > limit) EXPECT_NE(plan.find("requested"), std::string::npos) << "a fallback says why";
        EXPECT_TRUE(matches_reference(c, run_reference(c), run_device(lstm, c, stream())));
        lstm.check_persistent_status();
      }
    }
}

TEST_F(PersistentGpu, RepeatedRunsAreBitwiseIdentical) {
  std::mt19937_64 rng(test_seed() + 3);
  for (FusedKernel kernel : kVariants)
    for (DataType type : kTypes)
      for (int k = 0; k < 4; ++k) {
        const Case c = persistent_case(rng, type, kernel, k);
        SCOPED_TRACE(to_string(kernel) + " " + c.describe());
        Lstm lstm = create(c);
        EXPECT_TRUE(plan_runs(lstm, c, expected_kernel(c)));
        const HostOutputs first = run_device(lstm, c, stream());
        const HostOutputs second = run_device(lstm, c, stream());
        EXPECT_TRUE(bitwise_equal(first, second));
        EXPECT_TRUE(matches_reference(c, run_reference(c), first));
      }
}

// One block never publishes its h at local step 2: every block waiting for step 3's input gives
// up after timeout_ns instead of spinning forever, the kernel exits, and the host-mapped status
// names the timeout. The device stays usable: a clean launch of the same parameters completes.
TEST_F(PersistentGpu, ForcedTimeoutReportsInsteadOfHanging) {
  for (FusedKernel variant : {FusedKernel::kPersistent, FusedKernel::kCluster}) {
    SCOPED_TRACE(to_string(variant));
    ModelDesc desc;
    desc.input_size = 16;
    desc.hidden_size = 256;
    bench::PersistentHarness h(desc, DataType::kFloat32, 8, 2, variant);
    ASSERT_GE(h.blocks(), 2) << "the stall needs a second block";
    ASSERT_GE(h.steps(), 4);
    ASSERT_TRUE(h.fits(stream()));
    const std::int64_t bound = h.params().timeout_ns;
    h.params().debug_stall_block = 1;
    h.params().debug_stall_step = 2;
    h.params().timeout_ns = 50'000'000;  // 50 ms
    const auto start = std::chrono::steady_clock::now();
    h.launch(stream());
    const cudaError_t sync = cudaStreamSynchronize(stream());
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_EQ(sync, cudaSuccess) << cudaGetErrorName(sync);
    EXPECT_LT(seconds, 5.0) << "the stalled exchange was not given up within 5 s";
    EXPECT_EQ(h.status().code, kernels::kPersistentTimeout);
    EXPECT_EQ(h.status().layer, 0);
    EXPECT_EQ(h.status().step, 3) << "the first step whose input never arrived";
    EXPECT_GE(h.status().block, 0);
    EXPECT_LT(h.status().block, h.blocks());

    h.params().debug_stall_block = -1;
    h.params().debug_stall_step = -1;
    h.params().timeout_ns = bound;  // the clean launch runs under the normal bound, not the test's 50 ms
    h.launch(stream());
    LSTMRT_TEST_CUDA(cudaStreamSynchronize(stream()));
    EXPECT_EQ(h.status().code, kernels::kPersistentOk) << "a clean launch after the timeout";
  }
  // Through the API: a clean forward leaves nothing to report.
  std::mt19937_64 rng(test_seed() + 4);
  for (FusedKernel kernel : kVariants) {
    const Case c = persistent_case(rng, DataType::kFloat32, kernel, 0);
    Lstm lstm = create(c);
    (void)run_device(lstm, c, stream());
    EXPECT_NO_THROW(lstm.check_persistent_status());
  }
}

// The caller captures forward into its own graph (the persistent launches included) and replays
// it: each replay computes on the buffers' current contents.
TEST_F(PersistentGpu, CallerGraphCaptureAndReplay) {
  std::mt19937_64 rng(test_seed() + 5);
  for (FusedKernel kernel : kVariants) {
    CaseLimits lim;
    lim.max_layers = 2;
    Case c = random_case(rng, BackendOptions{BackendKind::kFused}, lim);
    c.options.kind = BackendKind::kFused;
    c.options.fused_kernel = kernel;
    c.want_y = c.want_state = true;
    SCOPED_TRACE(to_string(kernel) + " " + c.describe());
    Lstm lstm = create(c);
    EXPECT_TRUE(plan_runs(lstm, c, expected_kernel(c)));
    DeviceCall call(c);
    call.refresh();
    CapturedForward captured;
    capture_forward(lstm, call.request(), stream(), captured);
    if (HasFatalFailure()) return;
    for (int replay = 0; replay < 2; ++replay) {
      if (replay > 0) {
        c.x = random_vector(c.x.size(), rng);
        call.refresh();
      }
      LSTMRT_TEST_CUDA(cudaGraphLaunch(captured.exec, stream()));
      LSTMRT_TEST_CUDA(cudaStreamSynchronize(stream()));
      EXPECT_TRUE(matches_reference(c, run_reference(c), call.outputs())) << "replay " << replay;
      lstm.check_persistent_status();
    }
  }
}

}  // namespace
}  // namespace lstmrt::test
