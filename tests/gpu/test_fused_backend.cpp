// The fused backend on a GPU: the randomized configuration grid against the reference in every
// precision (features cuDNN lacks included), agreement with the cudnn backend where both apply,
// bitwise-identical repeated runs (graph instantiate, then update), the caller capturing forward
// into its own graph, the legacy default stream, the wavefront and time chunking at larger
// shapes, forward enqueueing without waiting on the stream, and the workspace errors.
// Outputs are poisoned (NaN) before every run and every element is checked.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <optional>
#include <random>
#include <thread>
#include <tuple>

#include "common/expect_error.hpp"
#include "cudnn_test_util.hpp"
#include "device_call.hpp"
#include "gpu_test.hpp"

namespace lstmrt::test {
namespace {

const BackendOptions kPrecisions[] = {
    {BackendKind::kFused, DataType::kFloat32, MathMode::kStrict},
    {BackendKind::kFused, DataType::kFloat32, MathMode::kTF32},
    {BackendKind::kFused, DataType::kFloat16, MathMode::kStrict},
    {BackendKind::kFused, DataType::kBFloat16, MathMode::kStrict},
};

std::string precision_name(const BackendOptions& o) {
  return to_string(o.data_type) + (o.math == MathMode::kTF32 ? "/tf32" : "");
}

// Peepholes, ONNX clip, coupled gate and other activations: what only fused (and the reference) serve.
void add_extended_features(Case& c, std::mt19937_64& rng) {
  ModelDesc& d = c.desc;
  std::uniform_int_distribution<int> pick(0, 1 << 30);
  d.peepholes = pick(rng) % 2;
  d.coupled_input_forget = pick(rng) % 3 == 0;
  d.clip = pick(rng) % 2 ? 0.5f + (pick(rng) % 30) / 10.0f : 0.0f;
  const Activation gates[] = {Activation::sigmoid(), Activation::hard_sigmoid(), Activation::hard_sigmoid_keras3()};
  const Activation cells[] = {Activation::tanh(), Activation::softsign(), Activation::scaled_tanh(0.8f, 1.2f),
                              Activation::relu(), Activation::elu(0.7f),  Activation::leaky_relu(0.1f)};
  for (int s = 0; s < 2; ++s) {
    d.activations[s].gate = gates[pick(rng) % 3];
    d.activations[s].cell = cells[pick(rng) % 6];
    d.activations[s].hidden = cells[pick(rng) % 6];
  }
  if (!d.uses_extended_cell()) d.peepholes = true;
  c.weights = random_weights(d, pick(rng), 1.0f / std::sqrt(float(d.hidden_size)));
}

Case fused_case(std::mt19937_64& rng, const BackendOptions& options, bool extended) {
  Case c = random_case(rng, options);
  c.options.kind = BackendKind::kFused;
  if (extended) add_extended_features(c, rng);
  return c;
}

Lstm create_fused(const Case& c) {
  Lstm lstm = Lstm::create(c.desc, c.weights, c.options);
  EXPECT_EQ(lstm.backend_name(), "fused");
  lstm.reserve(c.T, c.N);
  return lstm;
}

// Two GPU backends each within tolerance of the reference are within twice that of each other.
::testing::AssertionResult agree(const Case& c, const HostOutputs& a, const HostOutputs& b) {
  double scale = 1.0;
  for (const auto* v : {&a.y, &a.h_n, &a.c_n})
    for (float e : *v)
      if (std::isfinite(e)) scale = std::max(scale, double(std::fabs(e)));
  const double atol = 2 * tolerance(c.options) * scale;
  for (auto [x, y, name] :
       {std::tuple{&a.y, &b.y, "y"}, std::tuple{&a.h_n, &b.h_n, "h_n"}, std::tuple{&a.c_n, &b.c_n, "c_n"}}) {
    auto r = all_close(*x, *y, atol, 0.0, std::string(name) + " of " + c.describe());
    if (!r) return r;
  }
  return ::testing::AssertionSuccess();
}

class FusedGpu : public GpuTest {};

TEST_F(FusedGpu, VsReferenceRandomGridEveryPrecision) {
  const std::uint64_t seed = test_seed();
  SCOPED_TRACE(fmt::format("LSTMRT_TEST_SEED={}", seed));
  std::mt19937_64 rng(seed);
  for (const BackendOptions& o : kPrecisions)
    for (int k = 0; k < 30; ++k) {
      const Case c = fused_case(rng, o, k % 2 == 1);
      SCOPED_TRACE(precision_name(o) + " " + c.describe());
      Lstm lstm = create_fused(c);
      EXPECT_TRUE(matches_reference(c, run_reference(c), run_device(lstm, c, stream())));
      if (HasFailure()) return;
    }
}

TEST_F(FusedGpu, ExtendedCellFeaturesEveryPrecision) {
  std::mt19937_64 rng(test_seed() + 1);
  CaseLimits lim;
  lim.max_layers = 2;
  for (const BackendOptions& o : kPrecisions)
    for (int k = 0; k < 12; ++k) {
      Case c = random_case(rng, o, lim);
      c.options.kind = BackendKind::kFused;
      add_extended_features(c, rng);
      ASSERT_TRUE(c.desc.uses_extended_cell());
      Lstm lstm = create_fused(c);
      EXPECT_TRUE(matches_reference(c, run_reference(c), run_device(lstm, c, stream())));
      if (HasFailure()) return;
    }
}

TEST_F(FusedGpu, AgreesWithCudnnWhereBothApply) {
  std::mt19937_64 rng(test_seed() + 2);
  int compared = 0;
  for (const BackendOptions& o : kPrecisions)
    for (int k = 0; k < 15; ++k) {
      Case c = fused_case(rng, o, false);
      Lstm fused = create_fused(c);
      Case cudnn_case = c;
      cudnn_case.options.kind = BackendKind::kCudnn;
      std::optional<Lstm> cudnn;
      try {
        cudnn.emplace(Lstm::create(c.desc, c.weights, cudnn_case.options));
      } catch (const Error& e) {
        if (e.code() != ErrorCode::kUnsupported) throw;
        continue;  // cuDNN cannot serve this one: nothing to agree with
      }
      cudnn->reserve(c.T, c.N);
      const HostOutputs a = run_device(fused, c, stream());
      const HostOutputs b = run_device(*cudnn, cudnn_case, stream());
      EXPECT_TRUE(agree(c, b, a)) << "fused vs cudnn";
      ++compared;
      if (HasFailure()) return;
    }
  EXPECT_GE(compared, 10) << "too few configurations both backends serve";
}

TEST_F(FusedGpu, RepeatedRunsAreBitwiseIdentical) {
  std::mt19937_64 rng(test_seed() + 3);
  for (const BackendOptions& o : kPrecisions)
    for (int k = 0; k < 6; ++k) {
      const Case c = fused_case(rng, o, k % 2 == 0);
      Lstm lstm = create_fused(c);
      const HostOutputs first = run_device(lstm, c, stream());   // instantiates the graph
      const HostOutputs second = run_device(lstm, c, stream());  // updates it with new addresses
      DeviceArray<unsigned char> ws(lstm.workspace_size(c.T, c.N));
      ASSERT_TRUE(ws.ok());
      const HostOutputs third = run_device(lstm, c, stream(), ws.get(), ws.bytes());  // caller workspace
      EXPECT_TRUE(bitwise_equal(first, second)) << c.describe();
      EXPECT_TRUE(bitwise_equal(first, third)) << c.describe();
      EXPECT_TRUE(matches_reference(c, run_reference(c), first));
    }
}

TEST_F(FusedGpu, LegacyDefaultStreamRunsWithoutGraph) {
  std::mt19937_64 rng(test_seed() + 4);
  const Case c = fused_case(rng, kPrecisions[0], true);
  Lstm lstm = create_fused(c);
  EXPECT_TRUE(matches_reference(c, run_reference(c), run_device(lstm, c, nullptr)));
}

TEST_F(FusedGpu, CallerCapturesForwardIntoItsOwnGraph) {
  std::mt19937_64 rng(test_seed() + 5);
  CaseLimits lim;
  lim.max_layers = 3;
  Case c = random_case(rng, kPrecisions[0], lim);
  c.options.kind = BackendKind::kFused;
  c.want_y = c.want_state = true;
  Lstm lstm = create_fused(c);
  DeviceCall call(c);
  call.refresh();
  CapturedForward captured;
  capture_forward(lstm, call.request(), stream(), captured);
  if (HasFatalFailure()) return;
  LSTMRT_TEST_CUDA(cudaGraphLaunch(captured.exec, stream()));
  LSTMRT_TEST_CUDA(cudaStreamSynchronize(stream()));
  EXPECT_TRUE(matches_reference(c, run_reference(c), call.outputs()));
}

// Same buffers twice: the second forward replays the graph; its new lengths (uploaded by value
// outside the graph) and new x values must both take effect.
TEST_F(FusedGpu, GraphReplayWithNewLengthsAndInputs) {
  std::mt19937_64 rng(test_seed() + 9);
  CaseLimits lim;
  lim.max_layers = 2;
  Case c = random_case(rng, kPrecisions[0], lim);
  c.options.kind = BackendKind::kFused;
  c.want_y = c.want_state = true;
  c.lengths.assign(c.N, c.T);
  Lstm lstm = create_fused(c);
  DeviceCall call(c);
  for (int run = 0; run < 3; ++run) {
    if (run > 0) {
      c.x = random_vector(c.x.size(), rng);
      for (auto& l : c.lengths) l = static_cast<int>(rng() % (c.T + 1));
    }
    call.refresh();
    const ForwardRequest r = call.request();
    lstm.forward(r, stream());
    LSTMRT_TEST_CUDA(cudaStreamSynchronize(stream()));
    EXPECT_TRUE(matches_reference(c, run_reference(c), call.outputs())) << "run " << run;
  }
}

// A larger stacked one-direction model takes the multi-stream wavefront path; a long
// bidirectional one is chunked over time with per-direction input GEMMs.
TEST_F(FusedGpu, WavefrontAndTimeChunksAtLargerShapes) {
  std::mt19937_64 rng(test_seed() + 6);
  struct Shape {
    Direction dir;
    int layers, I, H, P, T, N;
    bool lengths;
  };
  const Shape shapes[] = {
      {Direction::kForward, 4, 96, 128, 0, 20, 64, false},
      {Direction::kForward, 3, 64, 128, 48, 23, 16, true},
      {Direction::kReverse, 2, 32, 64, 0, 30, 8, false},
      {Direction::kBidirectional, 1, 64, 256, 0, 40, 128, false},  // 1 MiB of gates per step: chunks of 16
      {Direction::kBidirectional, 2, 32, 96, 0, 9, 512, true},
  };
  for (const BackendOptions& o : {kPrecisions[0], kPrecisions[3]})
    for (const Shape& s : shapes) {
      Case c;
      c.options = o;
      c.desc.direction = s.dir;
      c.desc.num_layers = s.layers;
      c.desc.input_size = s.I;
      c.desc.hidden_size = s.H;
      c.desc.proj_size = s.P;
      c.weights = random_weights(c.desc, rng(), 1.0f / std::sqrt(float(s.H)));
      c.T = s.T;
      c.N = s.N;
      c.x = random_vector(std::size_t(c.T) * c.N * s.I, rng);
      if (s.lengths) {
        c.lengths.resize(c.N);
        for (auto& l : c.lengths) l = static_cast<int>(rng() % (c.T + 1));
      }
      c.h0 = random_vector(c.h_count(), rng);
      c.c0 = random_vector(c.c_count(), rng);
      Lstm lstm = create_fused(c);
      EXPECT_TRUE(matches_reference(c, run_reference(c), run_device(lstm, c, stream())));
    }
}

// forward only enqueues: it returns while the stream is still held by a host callback.
TEST_F(FusedGpu, ForwardDoesNotWaitOnTheStream) {
  std::mt19937_64 rng(test_seed() + 7);
  const Case c = fused_case(rng, kPrecisions[3], false);
  Lstm lstm = create_fused(c);
  (void)run_device(lstm, c, stream());  // first call: instantiation and GEMM heuristics done
  DeviceCall call(c);
  const ForwardRequest r = call.request();
  static std::atomic<bool> released{false};
  released = false;
  auto hold = [](void*) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!released && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  };
  LSTMRT_TEST_CUDA(cudaLaunchHostFunc(stream(), hold, nullptr));
  const auto start = std::chrono::steady_clock::now();
  lstm.forward(r, stream());
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  released = true;
  LSTMRT_TEST_CUDA(cudaStreamSynchronize(stream()));
  EXPECT_LT(seconds, 5.0) << "forward waited for the stream";
}

TEST_F(FusedGpu, WorkspaceErrors) {
  std::mt19937_64 rng(test_seed() + 8);
  Case c = fused_case(rng, kPrecisions[0], false);
  c.want_y = true;
  Lstm lstm = Lstm::create(c.desc, c.weights, c.options);
  const std::size_t need = lstm.workspace_size(c.T, c.N);
  EXPECT_GT(need, 0u);
  DeviceBytes x(encode(c.x, DataType::kFloat32)), y(c.y_count() * 4);
  ForwardRequest r = host_request(c);
  r.x = x.mem.get();
  r.y = y.mem.get();
  expect_error([&] { lstm.forward(r, stream()); }, ErrorCode::kInvalidArgument, {"reserve", "workspace"});
  DeviceArray<unsigned char> ws(need + 512);
  ASSERT_TRUE(ws.ok());
  r.workspace = ws.get();
  r.workspace_bytes = need - 1;
  expect_error([&] { lstm.forward(r, stream()); }, ErrorCode::kInvalidArgument,
               {"workspace_bytes", std::to_string(need).c_str()});
  r.workspace = ws.get() + 16;
  r.workspace_bytes = need;
  expect_error([&] { lstm.forward(r, stream()); }, ErrorCode::kInvalidArgument, {"aligned"});
  r.workspace = ws.get();
  lstm.forward(r, stream());
  LSTMRT_TEST_CUDA(cudaStreamSynchronize(stream()));
}

}  // namespace
}  // namespace lstmrt::test
