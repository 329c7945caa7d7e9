// The cudnn backend against the reference on fresh random configurations each run: batch, steps,
// sizes, layers, directions, projection, lengths with 0 and 1, h0/c0, both layouts, each output
// subset, Keras padding/go_backwards options, every precision, and every algorithm cuDNN accepts.
// Outputs are poisoned first and every element is checked; the worst element is reported.
#include <cstdio>

#include "cudnn_test_util.hpp"

namespace lstmrt {
namespace {

using test::Case;
using test::CaseLimits;

class CudnnVsReference : public test::GpuTest {
 protected:
  std::mt19937_64 rng_{test::test_seed()};
  void SetUp() override {
    test::GpuTest::SetUp();
    if (IsSkipped()) return;
    RecordProperty("seed", std::to_string(test::test_seed()));
  }
  // Runs `trials` random cases with `options`; forward_host reserves for us.
  void run_random(const BackendOptions& options, int trials, const CaseLimits& limits = {}) {
    for (int trial = 0; trial < trials; ++trial) {
      const Case c = test::random_case(rng_, options, limits);
      SCOPED_TRACE(fmt::format("trial {} (LSTMRT_TEST_SEED={}): {}", trial, test::test_seed(), c.describe()));
      Lstm lstm = test::create_cudnn(c);
      ASSERT_EQ(lstm.backend_name(), "cudnn");
      lstm.reserve(c.T, c.N);
      const test::HostOutputs got = test::run_device(lstm, c, stream());
      ASSERT_TRUE(test::matches_reference(c, test::run_reference(c), got));
    }
  }
};

BackendOptions with(DataType type, MathMode math = MathMode::kStrict, CudnnAlgo algo = CudnnAlgo::kStandard) {
  BackendOptions o;
  o.kind = BackendKind::kCudnn;
  o.data_type = type;
  o.math = math;
  o.cudnn_algo = algo;
  return o;
}

TEST_F(CudnnVsReference, Float32StrictStandard) { run_random(with(DataType::kFloat32), 60); }
TEST_F(CudnnVsReference, Float32Tf32Standard) { run_random(with(DataType::kFloat32, MathMode::kTF32), 25); }
TEST_F(CudnnVsReference, Float16Standard) { run_random(with(DataType::kFloat16), 25); }
// bfloat16 needs cuDNN 9.13 or newer (cudnn::bf16_refusal): an older one is refused at creation,
// naming the version needed, and the test skips (an expected skip: tests/gpu/expected-skips.txt).
TEST_F(CudnnVsReference, BFloat16Standard) {
  const std::string why = test::cudnn_bf16_refusal();
  if (!why.empty()) {
    const Case c = test::random_case(rng_, with(DataType::kBFloat16));
    try {
      test::create_cudnn(c);
      ADD_FAILURE() << "created although the bfloat16 gate says: " << why;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kUnsupported) << e.what();
      EXPECT_NE(std::string(e.what()).find("bfloat16"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
    }
    GTEST_SKIP() << "cuDNN refuses bfloat16 here: " << why;
  }
  run_random(with(DataType::kBFloat16), 25);
}

// Algorithm auto: reserve times the accepted algorithms; forward must match whichever it picked.
TEST_F(CudnnVsReference, AutoAlgorithm) {
  CaseLimits limits;
  limits.projection = false;  // so the persistent algorithms are candidates
  run_random(with(DataType::kFloat32, MathMode::kStrict, CudnnAlgo::kAuto), 8, limits);
  run_random(with(DataType::kFloat16, MathMode::kStrict, CudnnAlgo::kAuto), 5, limits);
}

// Every explicit algorithm and precision: cuDNN may refuse (kUnsupported, never a crash); when it
// serves, the result must match.
TEST_F(CudnnVsReference, EveryAlgorithmServesCorrectlyOrRefusesCleanly) {
  for (CudnnAlgo algo :
       {CudnnAlgo::kStandard, CudnnAlgo::kPersistStatic, CudnnAlgo::kPersistStaticSmallH, CudnnAlgo::kPersistDynamic})
    for (DataType type : {DataType::kFloat32, DataType::kFloat16, DataType::kBFloat16}) {
      int served = 0, refused = 0;
      for (int trial = 0; trial < 6; ++trial) {
        CaseLimits limits;
        limits.max_hidden = 64;
        const Case c = test::random_case(rng_, with(type, MathMode::kStrict, algo), limits);
        SCOPED_TRACE(c.describe());
        try {
          Lstm lstm = test::create_cudnn(c);
          lstm.reserve(c.T, c.N);
          const test::HostOutputs got = test::run_device(lstm, c, stream());
          ASSERT_TRUE(test::matches_reference(c, test::run_reference(c), got));
          ++served;
        } catch (const Error& e) {
          ASSERT_EQ(e.code(), ErrorCode::kUnsupported) << e.what();
          ASSERT_NE(std::string(e.what()).find("cudnn"), std::string::npos) << e.what();
          ++refused;
        }
      }
      std::printf("[cudnn-check] algo %-22s %-8s served %d refused %d of 6 random cases\n", to_string(algo).c_str(),
                  to_string(type).c_str(), served, refused);
    }
}

// The host convenience path (staging) gives the same answer as the device path.
TEST_F(CudnnVsReference, ForwardHostMatches) {
  for (int trial = 0; trial < 10; ++trial) {
    Case c = test::random_case(rng_, with(DataType::kFloat32));
    SCOPED_TRACE(c.describe());
    Lstm lstm = test::create_cudnn(c);
    test::HostOutputs got{test::poisoned(c.y_count()), test::poisoned(c.h_count()), test::poisoned(c.c_count())};
    ForwardRequest r = test::host_request(c);
    r.x = c.x.data();
    if (!c.h0.empty()) r.h0 = c.h0.data(), r.c0 = c.c0.data();
    if (c.want_y) r.y = got.y.data();
    if (c.want_state) r.h_n = got.h_n.data(), r.c_n = got.c_n.data();
    lstm.forward_host(r);
    ASSERT_TRUE(test::matches_reference(c, test::run_reference(c), got));
  }
}

// Caller workspace of exactly workspace_size(T, N), no reserve at all.
TEST_F(CudnnVsReference, CallerWorkspaceWithoutReserve) {
  for (int trial = 0; trial < 10; ++trial) {
    const Case c = test::random_case(rng_, with(DataType::kFloat32));
    SCOPED_TRACE(c.describe());
    Lstm lstm = test::create_cudnn(c);
    const std::size_t bytes = lstm.workspace_size(c.T, c.N);
    test::DeviceArray<unsigned char> ws(bytes);
    ASSERT_TRUE(ws.ok());
    const test::HostOutputs got = test::run_device(lstm, c, stream(), ws.get(), bytes);
    ASSERT_TRUE(test::matches_reference(c, test::run_reference(c), got));
  }
}

// Stateful streaming: chunks with (h_n, c_n) fed back as (h0, c0) equal one call.
TEST_F(CudnnVsReference, ChunkedEqualsWhole) {
  CaseLimits limits;
  limits.lengths = false;
  limits.reverse = false;
  limits.keras_options = false;
  Case whole = test::random_case(rng_, with(DataType::kFloat32), limits);
  whole.desc.direction = Direction::kForward;
  whole.weights = random_weights(whole.desc, 99, 0.3f);
  whole.h0 = test::random_vector(whole.h_count(), rng_);
  whole.c0 = test::random_vector(whole.c_count(), rng_);
  whole.T = 12;
  whole.x = test::random_vector(std::size_t(whole.T) * whole.N * whole.desc.input_size, rng_);
  whole.layout = TensorLayout::kTimeMajor;
  whole.want_y = whole.want_state = true;
  Lstm lstm = test::create_cudnn(whole);
  lstm.reserve(whole.T, whole.N);
  const test::HostOutputs all = test::run_device(lstm, whole, stream());
  Case part = whole;
  part.T = 5;
  const std::size_t step = std::size_t(whole.N) * whole.desc.input_size;
  part.x.assign(whole.x.begin(), whole.x.begin() + 5 * step);
  const test::HostOutputs first = test::run_device(lstm, part, stream());
  part.T = 7;
  part.x.assign(whole.x.begin() + 5 * step, whole.x.end());
  part.h0 = first.h_n;
  part.c0 = first.c_n;
  const test::HostOutputs second = test::run_device(lstm, part, stream());
  ASSERT_TRUE(test::all_close(all.h_n, second.h_n, 1e-5, 1e-5, "h_n after two chunks"));
  ASSERT_TRUE(test::all_close(all.c_n, second.c_n, 1e-5, 1e-5, "c_n after two chunks"));
}

}  // namespace
}  // namespace lstmrt
