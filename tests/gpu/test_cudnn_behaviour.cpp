// The cudnn backend's contract beyond the numbers: CUDA-graph capture of forward, bitwise-repeatable
// runs, stream changes, and every error path (refused features, workspace and reserve rules,
// algorithm limits, bad device).
#include <cstring>

#include "common/expect_error.hpp"
#include "cudnn_test_util.hpp"

namespace lstmrt {
namespace {

using test::Case;
using test::expect_error;

class CudnnBehaviour : public test::GpuTest {
 protected:
  std::mt19937_64 rng_{test::test_seed()};

  // A case that exercises every transform kernel: reverse model (x reversed, y gathered back),
  // zero and one lengths (masking and state restore), initial state, both outputs.
  Case transform_heavy_case(DataType type = DataType::kFloat32, CudnnAlgo algo = CudnnAlgo::kStandard) {
    BackendOptions o;
    o.kind = BackendKind::kCudnn;
    o.data_type = type;
    o.cudnn_algo = algo;
    test::CaseLimits limits;
    Case c = test::random_case(rng_, o, limits);
    c.desc.direction = Direction::kReverse;
    c.desc.num_layers = 2;
    c.desc.proj_size = 0;
    c.weights = random_weights(c.desc, 5, 0.4f);
    c.T = 7;
    c.N = 5;
    c.x = test::random_vector(std::size_t(c.T) * c.N * c.desc.input_size, rng_);
    c.lengths = {7, 0, 3, 1, 6};
    c.h0 = test::random_vector(c.h_count(), rng_);
    c.c0 = test::random_vector(c.c_count(), rng_);
    c.want_y = c.want_state = true;
    c.padding = PaddingMode::kZero;
    c.order = ReverseOutputOrder::kOriginal;
    return c;
  }
};

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

TEST_F(CudnnBehaviour, NameAndMemorySpace) {
  const Case c = transform_heavy_case();
  Lstm lstm = test::create_cudnn(c);
  EXPECT_EQ(lstm.backend_name(), "cudnn");
  EXPECT_EQ(lstm.memory_space(), MemorySpace::kDevice);
  EXPECT_EQ(lstm.options().kind, BackendKind::kCudnn);
  EXPECT_GT(lstm.workspace_size(c.T, c.N), 0u);
}

TEST_F(CudnnBehaviour, RepeatedRunsAreBitwiseIdentical) {
  for (DataType type : {DataType::kFloat32, DataType::kFloat16}) {
    const Case c = transform_heavy_case(type);
    Lstm lstm = test::create_cudnn(c);
    lstm.reserve(c.T, c.N);
    const test::HostOutputs first = test::run_device(lstm, c, stream());
    ASSERT_TRUE(test::matches_reference(c, test::run_reference(c), first));
    for (int run = 0; run < 3; ++run) {
      const test::HostOutputs again = test::run_device(lstm, c, stream());
      EXPECT_TRUE(same_bits(first.y, again.y)) << "y differs on run " << run;
      EXPECT_TRUE(same_bits(first.h_n, again.h_n)) << "h_n differs on run " << run;
      EXPECT_TRUE(same_bits(first.c_n, again.c_n)) << "c_n differs on run " << run;
    }
  }
}

TEST_F(CudnnBehaviour, StreamMayChangeBetweenCalls) {
  const Case c = transform_heavy_case();
  Lstm lstm = test::create_cudnn(c);
  lstm.reserve(c.T, c.N);
  cudaStream_t other = nullptr;
  LSTMRT_TEST_CUDA(cudaStreamCreateWithFlags(&other, cudaStreamNonBlocking));
  const test::HostOutputs a = test::run_device(lstm, c, stream());
  const test::HostOutputs b = test::run_device(lstm, c, other);
  const test::HostOutputs d = test::run_device(lstm, c, nullptr);  // the legacy default stream
  LSTMRT_TEST_CUDA(cudaStreamDestroy(other));
  EXPECT_TRUE(same_bits(a.y, b.y) && same_bits(a.y, d.y));
  EXPECT_TRUE(same_bits(a.h_n, b.h_n) && same_bits(a.c_n, d.c_n));
}

// forward captured into a CUDA graph and replayed gives the direct result, bit for bit.
TEST_F(CudnnBehaviour, ForwardIsCapturableInACudaGraph) {
  for (CudnnAlgo algo : {CudnnAlgo::kStandard, CudnnAlgo::kAuto}) {
    const Case c = transform_heavy_case(DataType::kFloat32, algo);
    SCOPED_TRACE(to_string(algo));
    Lstm lstm = test::create_cudnn(c);
    lstm.reserve(c.T, c.N);
    const test::HostOutputs direct = test::run_device(lstm, c, stream());

    const DataType t = c.options.data_type;
    test::DeviceBytes x(test::encode(c.x, t)), h0(test::encode(c.h0, t)), c0(test::encode(c.c0, t));
    test::DeviceBytes y(c.y_count() * 4), h_n(c.h_count() * 4), c_n(c.c_count() * 4);
    ForwardRequest r = test::host_request(c);
    r.x = x.mem.get(), r.h0 = h0.mem.get(), r.c0 = c0.mem.get();
    r.y = y.mem.get(), r.h_n = h_n.mem.get(), r.c_n = c_n.mem.get();

    cudaGraph_t graph = nullptr;
    LSTMRT_TEST_CUDA(cudaStreamBeginCapture(stream(), cudaStreamCaptureModeThreadLocal));
    try {
      lstm.forward(r, stream());
    } catch (const Error& e) {
      cudaStreamEndCapture(stream(), &graph);
      if (graph) cudaGraphDestroy(graph);
      FAIL() << "forward failed while capturing: " << e.what();
    }
    LSTMRT_TEST_CUDA(cudaStreamEndCapture(stream(), &graph));
    cudaGraphExec_t exec = nullptr;
    LSTMRT_TEST_CUDA(cudaGraphInstantiate(&exec, graph, 0));
    for (int replay = 0; replay < 2; ++replay) {
      y.poison(), h_n.poison(), c_n.poison();
      LSTMRT_TEST_CUDA(cudaGraphLaunch(exec, stream()));
      LSTMRT_TEST_CUDA(cudaStreamSynchronize(stream()));
      EXPECT_TRUE(same_bits(direct.y, test::decode(y.download(), t))) << "replay " << replay;
      EXPECT_TRUE(same_bits(direct.h_n, test::decode(h_n.download(), t))) << "replay " << replay;
      EXPECT_TRUE(same_bits(direct.c_n, test::decode(c_n.download(), t))) << "replay " << replay;
    }
    cudaGraphExecDestroy(exec);
    cudaGraphDestroy(graph);
  }
}

// ---- error paths --------------------------------------------------------------------------------------

TEST_F(CudnnBehaviour, ExtendedCellsAreRefusedNamingTheFeature) {
  ModelDesc d;
  d.input_size = 4;
  d.hidden_size = 8;
  BackendOptions o;
  o.kind = BackendKind::kCudnn;
  struct Case {
    void (*apply)(ModelDesc&);
    const char* feature;
  };
  const Case cases[] = {
      {[](ModelDesc& m) { m.peepholes = true; }, "peepholes"},
      {[](ModelDesc& m) { m.coupled_input_forget = true; }, "coupled"},
      {[](ModelDesc& m) { m.clip = 3.0f; }, "clip"},
      {[](ModelDesc& m) { m.activations[0].gate = Activation::hard_sigmoid_keras3(); }, "activations"},
  };
  for (const Case& c : cases) {
    ModelDesc m = d;
    c.apply(m);
    expect_error([&] { Lstm::create(m, random_weights(m, 1, 0.5f), o); }, ErrorCode::kUnsupported,
                 {c.feature, "backend cudnn"});
  }
}

TEST_F(CudnnBehaviour, WorkspaceAndReserveRules) {
  const Case c = transform_heavy_case();
  Lstm lstm = test::create_cudnn(c);
  // No reserve, no workspace.
  expect_error([&] { test::run_device(lstm, c, stream()); }, ErrorCode::kInvalidArgument, {"reserve"});
  // Too small a caller workspace.
  const std::size_t need = lstm.workspace_size(c.T, c.N);
  test::DeviceArray<unsigned char> ws(need + 512);
  ASSERT_TRUE(ws.ok());
  expect_error([&] { test::run_device(lstm, c, stream(), ws.get(), need / 2); }, ErrorCode::kInvalidArgument,
               {"workspace_bytes"});
  // Misaligned.
  expect_error([&] { test::run_device(lstm, c, stream(), ws.get() + 8, need); }, ErrorCode::kInvalidArgument,
               {"aligned"});
  // Exactly workspace_size works.
  EXPECT_TRUE(test::matches_reference(c, test::run_reference(c), test::run_device(lstm, c, stream(), ws.get(), need)));
  // A reserved shape covers smaller ones, not larger ones.
  lstm.reserve(c.T, c.N);
  Case smaller = c;
  smaller.T = 4;
  smaller.x.resize(std::size_t(smaller.T) * c.N * c.desc.input_size);
  smaller.lengths = {4, 0, 3, 1, 2};
  EXPECT_TRUE(
      test::matches_reference(smaller, test::run_reference(smaller), test::run_device(lstm, smaller, stream())));
  Case larger = c;
  larger.T = c.T + 1;
  larger.x = test::random_vector(std::size_t(larger.T) * c.N * c.desc.input_size, rng_);
  larger.lengths.clear();
  expect_error([&] { test::run_device(lstm, larger, stream()); }, ErrorCode::kInvalidArgument, {"reserve"});
  // workspace_size / reserve reject empty shapes (Lstm checks).
  expect_error([&] { lstm.workspace_size(0, 1); }, ErrorCode::kInvalidArgument, {"seq_len >= 1"});
  expect_error([&] { lstm.reserve(1, 0); }, ErrorCode::kInvalidArgument, {"batch >= 1"});
}

TEST_F(CudnnBehaviour, BadDeviceOrdinal) {
  Case c = transform_heavy_case();
  c.options.device = 1000;
  expect_error([&] { test::create_cudnn(c); }, ErrorCode::kInvalidArgument, {"device is 1000"});
}

// PERSIST_STATIC_SMALL_H rejects unequal lengths: refused in the request check, naming the fix.
TEST_F(CudnnBehaviour, SmallHRefusesUnequalLengths) {
  Case c = transform_heavy_case(DataType::kFloat32, CudnnAlgo::kPersistStaticSmallH);
  c.desc.direction = Direction::kForward;
  std::unique_ptr<Lstm> lstm;
  try {
    lstm = std::make_unique<Lstm>(test::create_cudnn(c));
    lstm->reserve(c.T, c.N);
  } catch (const Error& e) {
    ASSERT_EQ(e.code(), ErrorCode::kUnsupported) << e.what();
    GTEST_SKIP() << "cuDNN refuses persist_static_small_h for this model/shape here: " << e.what();
  }
  expect_error([&] { test::run_device(*lstm, c, stream()); }, ErrorCode::kUnsupported,
               {"unequal lengths", "persist_static_small_h", "backend cudnn"});
}

// PERSIST_DYNAMIC is built per batch size in reserve; forward never builds.
TEST_F(CudnnBehaviour, PersistDynamicNeedsReserveForItsBatch) {
  Case c = transform_heavy_case(DataType::kFloat32, CudnnAlgo::kPersistDynamic);
  std::unique_ptr<Lstm> lstm;
  try {
    lstm = std::make_unique<Lstm>(test::create_cudnn(c));
  } catch (const Error& e) {
    ASSERT_EQ(e.code(), ErrorCode::kUnsupported) << e.what();
    GTEST_SKIP() << "cuDNN refuses persist_dynamic for this model here: " << e.what();
  }
  test::DeviceArray<unsigned char> ws(64 << 20);
  ASSERT_TRUE(ws.ok());
  expect_error([&] { test::run_device(*lstm, c, stream(), ws.get(), ws.bytes()); }, ErrorCode::kInvalidArgument,
               {"persist_dynamic", "reserve"});
  try {
    lstm->reserve(c.T, c.N);
  } catch (const Error& err) {
    ASSERT_EQ(err.code(), ErrorCode::kUnsupported) << err.what();
    GTEST_SKIP() << "persist_dynamic cannot be built for this shape here: " << err.what();
  }
  EXPECT_TRUE(test::matches_reference(c, test::run_reference(c), test::run_device(*lstm, c, stream())));
}

// Persistent algorithms with projection: documented as STANDARD-only. Either refused cleanly at
// creation/reserve (kUnsupported naming cudnn), or correct.
TEST_F(CudnnBehaviour, PersistentWithProjectionRefusedOrCorrect) {
  for (CudnnAlgo algo : {CudnnAlgo::kPersistStatic, CudnnAlgo::kPersistStaticSmallH, CudnnAlgo::kPersistDynamic}) {
    Case c = transform_heavy_case(DataType::kFloat32, algo);
    c.desc.direction = Direction::kForward;
    c.desc.hidden_size = 16;
    c.desc.proj_size = 8;
    c.weights = random_weights(c.desc, 8, 0.4f);
    c.lengths.clear();
    c.h0 = test::random_vector(c.h_count(), rng_);
    c.c0 = test::random_vector(c.c_count(), rng_);
    SCOPED_TRACE(to_string(algo));
    try {
      Lstm lstm = test::create_cudnn(c);
      lstm.reserve(c.T, c.N);
      EXPECT_TRUE(test::matches_reference(c, test::run_reference(c), test::run_device(lstm, c, stream())));
      std::printf("[cudnn-check] %s with projection: served\n", to_string(algo).c_str());
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kUnsupported) << e.what();
      EXPECT_NE(std::string(e.what()).find("cudnn"), std::string::npos) << e.what();
      std::printf("[cudnn-check] %s with projection: refused (%s)\n", to_string(algo).c_str(), e.what());
    }
  }
}

}  // namespace
}  // namespace lstmrt
