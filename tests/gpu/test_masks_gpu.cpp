// Per-step masks (ForwardRequest::mask) on a GPU: the fused backend's stepwise kernels against the
// reference for right-padded, left-padded and arbitrary masks in every precision (projected models
// with h0 take the gates_h0 path), a replayed graph taking each forward's new mask, masked requests
// running stepwise with the reason in execution_plan(req) where a persistent kernel would run;
// the cudnn backend for right-padded (lengths) and left-padded (shifted) masks and its refusal of
// others; and Keras models (tests/data/keras_import) through run_model on both GPU backends.
#include <gtest/gtest.h>

#include <fstream>
#include <random>

#include <nlohmann/json.hpp>

#include "common/expect_error.hpp"
#include "common/golden_files.hpp"
#include "common/random_mask.hpp"
#include "cudnn_test_util.hpp"
#include "device_call.hpp"
#include "gpu_test.hpp"
#include "lstmrt/import.hpp"
#include "lstmrt/keras_run.hpp"

namespace lstmrt::test {
namespace {

const BackendOptions kFusedPrecisions[] = {
    {BackendKind::kFused, DataType::kFloat32, MathMode::kStrict},
    {BackendKind::kFused, DataType::kFloat32, MathMode::kTF32},
    {BackendKind::kFused, DataType::kFloat16, MathMode::kStrict},
    {BackendKind::kFused, DataType::kBFloat16, MathMode::kStrict},
};

Case masked_case(std::mt19937_64& rng, const BackendOptions& o, MaskKind kind) {
  Case c = random_case(rng, o);
  c.options.kind = o.kind;
  c.lengths.clear();
  c.mask = random_mask(c.T, c.N, rng, kind);
  return c;
}

class MaskGpu : public GpuTest {};

TEST_F(MaskGpu, FusedVsReferenceEveryPatternAndPrecision) {
  std::mt19937_64 rng(test_seed());
  SCOPED_TRACE(fmt::format("LSTMRT_TEST_SEED={}", test_seed()));
  for (const BackendOptions& o : kFusedPrecisions)
    for (int k = 0; k < 24; ++k) {
      const Case c = masked_case(rng, o, static_cast<MaskKind>(k % 3));
      SCOPED_TRACE(c.describe());
      Lstm lstm = Lstm::create(c.desc, c.weights, c.options);
      lstm.reserve(c.T, c.N);
      EXPECT_TRUE(matches_reference(c, run_reference(c), run_device(lstm, c, stream())));
      if (HasFailure()) return;
    }
}

// Projected model, h0, every row's leading steps masked: the first valid step must take W_hh·h0
// (gates_h0), not the projection of the zero m_state.
TEST_F(MaskGpu, FusedProjectedInitialStateLeadingMaskedSteps) {
  std::mt19937_64 rng(test_seed() + 1);
  for (Direction dir : {Direction::kForward, Direction::kReverse, Direction::kBidirectional}) {
    Case c = masked_case(rng, kFusedPrecisions[0], MaskKind::kRandom);
    c.desc.direction = dir;
    c.order = ReverseOutputOrder::kOriginal;
    c.padding = PaddingMode::kCarryLast;
    c.desc.hidden_size = 12;
    c.desc.proj_size = 5;
    c.desc.num_layers = 2;
    c.T = 9;
    c.N = 4;
    c.weights = random_weights(c.desc, rng(), 0.3f);
    c.x = random_vector(std::size_t(c.T) * c.N * c.desc.input_size, rng);
    c.h0 = random_vector(c.h_count(), rng);
    c.c0 = random_vector(c.c_count(), rng);
    c.mask = random_mask(c.T, c.N, rng, MaskKind::kSuffix);
    for (int b = 0; b < c.N; ++b) c.mask[std::size_t(b) * c.T] = c.mask[std::size_t(b) * c.T + c.T - 1] = 0;
    c.want_y = c.want_state = true;
    SCOPED_TRACE(c.describe());
    Lstm lstm = Lstm::create(c.desc, c.weights, c.options);
    lstm.reserve(c.T, c.N);
    EXPECT_TRUE(matches_reference(c, run_reference(c), run_device(lstm, c, stream())));
  }
}

// Same buffers, new mask values: the replayed graph reads the mask uploaded for this forward.
TEST_F(MaskGpu, FusedGraphReplayTakesEachForwardsMask) {
  std::mt19937_64 rng(test_seed() + 2);
  CaseLimits lim;
  lim.max_layers = 2;
  Case c = random_case(rng, kFusedPrecisions[0], lim);
  c.options.kind = BackendKind::kFused;
  c.lengths.clear();
  c.want_y = c.want_state = true;
  c.mask = random_mask(c.T, c.N, rng, MaskKind::kRandom);
  Lstm lstm = Lstm::create(c.desc, c.weights, c.options);
  lstm.reserve(c.T, c.N);
  DeviceCall call(c);
  for (int run = 0; run < 3; ++run) {
    if (run > 0) c.mask = random_mask(c.T, c.N, rng, static_cast<MaskKind>(run % 3));
    call.refresh();
    ForwardRequest r = call.request();
    r.mask = c.mask.data();
    lstm.forward(r, stream());
    LSTMRT_TEST_CUDA(cudaStreamSynchronize(stream()));
    EXPECT_TRUE(matches_reference(c, run_reference(c), call.outputs())) << "run " << run;
  }
}

// Where the persistent kernel serves the unmasked shape, a masked request runs stepwise and says so.
TEST_F(MaskGpu, FusedMaskedRequestsRunStepwise) {
  ModelDesc d;
  d.input_size = 32;
  d.hidden_size = 128;
  const Weights w = random_weights(d, 3, 0.1f);
  BackendOptions o{BackendKind::kFused};
  o.fused_kernel = FusedKernel::kPersistent;
  Lstm lstm = Lstm::create(d, w, o);
  ForwardRequest r;
  r.seq_len = 16;
  r.batch = 4;
  const std::string unmasked = lstm.execution_plan(r);
  std::vector<std::uint8_t> mask(16 * 4, 1);
  r.mask = mask.data();
  const std::string masked = lstm.execution_plan(r);
  EXPECT_NE(masked.find("stepwise (a per-step mask"), std::string::npos) << masked;
  if (unmasked.find("persistent") == std::string::npos) GTEST_SKIP() << "no persistent variant here: " << unmasked;
  EXPECT_NE(masked.find("persistent grid otherwise"), std::string::npos) << masked;
}

TEST_F(MaskGpu, CudnnRightAndLeftPaddedMasksMatchReference) {
  std::mt19937_64 rng(test_seed() + 3);
  for (const BackendOptions& o : {BackendOptions{BackendKind::kCudnn, DataType::kFloat32, MathMode::kStrict},
                                  BackendOptions{BackendKind::kCudnn, DataType::kFloat16, MathMode::kStrict}})
    for (int k = 0; k < 24; ++k) {
      const Case c = masked_case(rng, o, k % 2 ? MaskKind::kSuffix : MaskKind::kPrefix);
      SCOPED_TRACE(c.describe());
      Lstm lstm = Lstm::create(c.desc, c.weights, c.options);
      lstm.reserve(c.T, c.N);
      EXPECT_TRUE(matches_reference(c, run_reference(c), run_device(lstm, c, stream())));
      if (HasFailure()) return;
    }
}

TEST_F(MaskGpu, CudnnRefusesOtherMasksNamingTheRow) {
  std::mt19937_64 rng(test_seed() + 4);
  Case c = masked_case(rng, {BackendKind::kCudnn}, MaskKind::kPrefix);
  c.T = std::max(c.T, 3);
  c.x = random_vector(std::size_t(c.T) * c.N * c.desc.input_size, rng);
  c.mask.assign(std::size_t(c.T) * c.N, 1);
  c.mask[1] = 0;  // row 0: a gap
  Lstm lstm = Lstm::create(c.desc, c.weights, c.options);
  lstm.reserve(c.T, c.N);
  expect_error([&] { run_device(lstm, c, stream()); }, ErrorCode::kUnsupported, {"backend cudnn", "mask row 0"});
}

// Keras models end to end on the GPU backends (fp32 strict): every golden case within 1e-4.
TEST_F(MaskGpu, KerasModelsOnGpuBackendsMatchKeras) {
  std::ifstream in(golden_path("keras_import", "cases.json"));
  const nlohmann::json manifest = nlohmann::json::parse(in);
  for (BackendKind kind : {BackendKind::kFused, BackendKind::kCudnn})
    for (const auto& entry : manifest.at("cases")) {
      const std::string name = entry.at("name").get<std::string>();
      SCOPED_TRACE(to_string(kind) + " " + name);
      const ImportedModel m = load_keras_model(golden_path("keras_import", entry.at("file").get<std::string>()));
      std::vector<Array> arrays;
      std::vector<std::vector<float>> values;
      std::vector<HostTensorView> views;
      for (int k = 0; k < entry.at("inputs").get<int>(); ++k) {
        arrays.push_back(load_npy(golden_path("keras_import", fmt::format("{}.in{}.npy", name, k))));
        values.push_back(arrays.back().to_float32("input"));
      }
      for (std::size_t k = 0; k < arrays.size(); ++k) views.push_back({arrays[k].shape, values[k].data()});
      ModelOutputs out;
      try {
        out = run_model(m, {kind}, TensorLayout::kBatchMajor, views);
      } catch (const Error& e) {
        // cuDNN: activations it lacks, and masks with gaps or padding on both sides, are refused.
        EXPECT_EQ(kind, BackendKind::kCudnn) << e.what();
        EXPECT_EQ(e.code(), ErrorCode::kUnsupported) << e.what();
        continue;
      }
      const ArrayMap expected = load_npz(golden_path("keras_import", name + ".expected.npz"));
      for (std::size_t k = 0; k < out.outputs.size(); ++k)
        EXPECT_TRUE(all_close(npz_member(expected, fmt::format("out{}", k), "keras").to_float32("out"),
                              out.outputs[k].values, 1e-4, 0.0, fmt::format("out{}", k)));
    }
}

}  // namespace
}  // namespace lstmrt::test
