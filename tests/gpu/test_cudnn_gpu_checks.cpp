// What cuDNN 9 does on this GPU where its headers and documents do not say. Each test prints a
// "[cudnn-check]" line for bench/RESULTS.md and asserts only what the backend relies on (padded
// outputs zero, per-row lengths in the reverse pass, correctness whenever an algorithm serves); the
// rest is recorded, not judged.
#include <chrono>
#include <cstdio>

#include "backend.hpp"
#include "cudnn/cudnn_backend.hpp"
#include "cudnn_test_util.hpp"

namespace lstmrt {
namespace {

using test::Case;

class CudnnGpuChecks : public test::GpuTest {
 protected:
  std::mt19937_64 rng_{test::test_seed()};

  Case fixed_case(int I, int H, int P, Direction dir, int T, int N, DataType type, CudnnAlgo algo) {
    Case c;
    c.options.kind = BackendKind::kCudnn;
    c.options.data_type = type;
    c.options.cudnn_algo = algo;
    c.desc.input_size = I;
    c.desc.hidden_size = H;
    c.desc.proj_size = P;
    c.desc.direction = dir;
    c.weights = random_weights(c.desc, rng_(), 1.0f / std::sqrt(float(H)));
    c.T = T;
    c.N = N;
    c.x = test::random_vector(std::size_t(T) * N * I, rng_);
    return c;
  }
};

const char* status_name(cudnnStatus_t s) { return cudnnGetErrorString(s); }

// The backend relies on paddingFill 0 for zero padding (no pass of its own): padded positions of y
// must be exactly 0 after starting from NaN.
TEST_F(CudnnGpuChecks, PaddedOutputsAreZero) {
  for (TensorLayout layout : {TensorLayout::kTimeMajor, TensorLayout::kBatchMajor})
    for (DataType type : {DataType::kFloat32, DataType::kFloat16}) {
      Case c = fixed_case(6, 10, 0, Direction::kBidirectional, 9, 4, type, CudnnAlgo::kStandard);
      c.desc.num_layers = 2;
      c.weights = random_weights(c.desc, 4, 0.3f);
      c.layout = layout;
      c.lengths = {9, 2, 5, 1};
      c.want_state = false;
      Lstm lstm = test::create_cudnn(c);
      lstm.reserve(c.T, c.N);
      const test::HostOutputs got = test::run_device(lstm, c, stream());
      const int C = 2 * c.desc.hidden_size;
      int nonzero = 0;
      for (int t = 0; t < c.T; ++t)
        for (int b = 0; b < c.N; ++b) {
          if (t < c.lengths[b]) continue;
          const std::size_t v =
              layout == TensorLayout::kTimeMajor ? std::size_t(t) * c.N + b : std::size_t(b) * c.T + t;
          for (int k = 0; k < C; ++k) nonzero += got.y[v * C + k] != 0.0f;  // NaN counts as non-zero
        }
      std::printf("[cudnn-check] padded outputs (%s, %s): %d non-zero padded values\n",
                  layout == TensorLayout::kTimeMajor ? "time-major" : "batch-major", to_string(type).c_str(), nonzero);
      EXPECT_EQ(nonzero, 0) << "cuDNN did not write paddingFill 0: plan_forward must then finish padding itself";
      EXPECT_TRUE(test::matches_reference(c, test::run_reference(c), got));
    }
}

// Bidirectional with per-row lengths: the reverse pass must start at each row's own last step.
TEST_F(CudnnGpuChecks, BidirectionalPerRowLengths) {
  for (int trial = 0; trial < 5; ++trial) {
    Case c = fixed_case(5, 12, trial % 2 ? 6 : 0, Direction::kBidirectional, 11, 6, DataType::kFloat32,
                        CudnnAlgo::kStandard);
    c.lengths = {11, 7, 3, 1, 10, 6};
    c.h0 = test::random_vector(c.h_count(), rng_);
    c.c0 = test::random_vector(c.c_count(), rng_);
    Lstm lstm = test::create_cudnn(c);
    lstm.reserve(c.T, c.N);
    const auto got = test::run_device(lstm, c, stream());
    const bool ok = test::matches_reference(c, test::run_reference(c), got);
    if (trial == 0)
      std::printf("[cudnn-check] bidirectional per-row lengths: %s\n",
                  ok ? "reverse pass starts at each row's end" : "MISMATCH");
    EXPECT_TRUE(test::matches_reference(c, test::run_reference(c), got));
  }
}

// Which algorithms serve unequal lengths, projection and each precision on this GPU.
TEST_F(CudnnGpuChecks, AlgorithmAcceptanceMatrix) {
  std::printf("[cudnn-check] algorithm acceptance (I=H=64, T=16, N=8, 1 layer forward; P=32 for projection)\n");
  for (CudnnAlgo algo :
       {CudnnAlgo::kStandard, CudnnAlgo::kPersistStatic, CudnnAlgo::kPersistStaticSmallH, CudnnAlgo::kPersistDynamic})
    for (DataType type : {DataType::kFloat32, DataType::kFloat16, DataType::kBFloat16})
      for (const char* variant : {"equal lengths", "unequal lengths", "projection"}) {
        const bool projection = std::string(variant) == "projection";
        Case c = fixed_case(64, 64, projection ? 32 : 0, Direction::kForward, 16, 8, type, algo);
        if (std::string(variant) == "unequal lengths") c.lengths = {16, 9, 3, 16, 12, 1, 7, 16};
        std::string verdict;
        try {
          Lstm lstm = test::create_cudnn(c);
          lstm.reserve(c.T, c.N);
          const auto got = test::run_device(lstm, c, stream());
          const auto check = test::matches_reference(c, test::run_reference(c), got);
          EXPECT_TRUE(check);
          verdict = check ? "served, correct" : "served, WRONG";
        } catch (const Error& e) {
          EXPECT_EQ(e.code(), ErrorCode::kUnsupported) << e.what();
          verdict = std::string("refused: ") + e.what();
        }
        std::printf("[cudnn-check]   %-22s %-8s %-15s %s\n", to_string(algo).c_str(), to_string(type).c_str(), variant,
                    verdict.c_str());
      }
}

// The cost of cudnnBuildRNNDynamic (paid in reserve, once per batch size).
TEST_F(CudnnGpuChecks, PersistDynamicBuildCost) {
  for (int H : {128, 512}) {
    Case c = fixed_case(H, H, 0, Direction::kForward, 32, 8, DataType::kFloat16, CudnnAlgo::kPersistDynamic);
    try {
      Lstm lstm = test::create_cudnn(c);
      const auto start = std::chrono::steady_clock::now();
      lstm.reserve(c.T, c.N);
      const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
      std::printf("[cudnn-check] persist_dynamic reserve (build) H=%d N=8 float16: %.1f ms\n", H, ms);
      EXPECT_TRUE(test::matches_reference(c, test::run_reference(c), test::run_device(lstm, c, stream())));
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kUnsupported) << e.what();
      std::printf("[cudnn-check] persist_dynamic H=%d: refused (%s)\n", H, e.what());
    }
  }
}

// Reported for PyTorch: T >= 65536 is NOT_SUPPORTED. Either way: no crash, and correct if served.
TEST_F(CudnnGpuChecks, LongestSequence) {
  for (int T : {65535, 65536}) {
    Case c = fixed_case(4, 8, 0, Direction::kForward, T, 1, DataType::kFloat32, CudnnAlgo::kStandard);
    c.weights = random_weights(c.desc, 6, 0.2f);
    c.want_y = false;
    std::string verdict;
    try {
      Lstm lstm = test::create_cudnn(c);
      lstm.reserve(c.T, c.N);
      const auto got = test::run_device(lstm, c, stream());
      EXPECT_TRUE(test::matches_reference(c, test::run_reference(c), got));
      verdict = "served";
    } catch (const Error& e) {
      // A refusal names the algorithm and the shape.
      EXPECT_EQ(e.code(), ErrorCode::kUnsupported) << e.what();
      EXPECT_NE(std::string(e.what()).find("standard"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("seq_len " + std::to_string(T)), std::string::npos) << e.what();
      verdict = std::string("refused: ") + e.what();
    }
    std::printf("[cudnn-check] seq_len %d: %s\n", T, verdict.c_str());
  }
}

// What algorithm auto ranks first for a few shapes on this GPU.
TEST_F(CudnnGpuChecks, AutoRankings) {
  struct Shape {
    int H, T, N;
    DataType type;
  };
  for (const Shape& s : {Shape{64, 64, 1, DataType::kFloat32}, Shape{128, 64, 8, DataType::kFloat16},
                         Shape{512, 64, 64, DataType::kFloat16}, Shape{1024, 32, 256, DataType::kBFloat16}}) {
    Case c = fixed_case(s.H, s.H, 0, Direction::kForward, s.T, s.N, s.type, CudnnAlgo::kAuto);
    if (s.type == DataType::kBFloat16 && !test::cudnn_bf16_refusal().empty()) {
      std::printf("[cudnn-check] auto H=%d T=%d N=%d bfloat16: refused (%s)\n", s.H, s.T, s.N,
                  test::cudnn_bf16_refusal().c_str());
      continue;
    }
    std::unique_ptr<Backend> backend = make_cudnn_backend(c.desc, c.weights, c.options);
    auto* cudnn_backend = dynamic_cast<cudnn::CudnnBackend*>(backend.get());
    ASSERT_NE(cudnn_backend, nullptr);
    backend->reserve(s.T, s.N);
    const auto ranking = cudnn_backend->ranking(s.T, s.N);
    std::string text;
    for (CudnnAlgo a : ranking) text += (text.empty() ? "" : " > ") + to_string(a);
    std::string offered;
    for (CudnnAlgo a : cudnn_backend->algorithms()) offered += (offered.empty() ? "" : ", ") + to_string(a);
    std::printf("[cudnn-check] auto H=%d T=%d N=%d %s: set up {%s}, fastest first: %s\n", s.H, s.T, s.N,
                to_string(s.type).c_str(), offered.c_str(), text.c_str());
    EXPECT_FALSE(ranking.empty()) << "no algorithm served a plain shape";
  }
}

// Raw cuDNN, no workaround: a 0 in seqLengthArray. Last in the file: if it breaks the CUDA context,
// the other checks have already run.
TEST_F(CudnnGpuChecks, RawCudnnWithAZeroLength) {
  ModelDesc d;
  d.input_size = 8;
  d.hidden_size = 16;
  const Weights w = random_weights(d, 3, 0.25f);
  BackendOptions o;
  cudnn::Handle handle = cudnn::Handle::create();
  ASSERT_EQ(cudnnSetStream(handle.get(), stream()), CUDNN_STATUS_SUCCESS);
  cudnn::DropoutDesc dropout = cudnn::DropoutDesc::create();
  ASSERT_EQ(cudnnSetDropoutDescriptor(dropout.get(), handle.get(), 0.0f, nullptr, 0, 0), CUDNN_STATUS_SUCCESS);
  cudnn::RnnDesc rnn = cudnn::RnnDesc::create();
  ASSERT_EQ(cudnn::set_rnn_descriptor(rnn.get(), cudnn::rnn_desc_params(d, o, CudnnAlgo::kStandard), dropout.get()),
            CUDNN_STATUS_SUCCESS);
  cudnn::WeightSpace space;
  ASSERT_EQ(cudnn::build_weight_space(handle.get(), rnn.get(), d, w, DataType::kFloat32, space), CUDNN_STATUS_SUCCESS);

  const int T = 5, N = 3;
  const std::vector<int> lengths = {5, 0, 3};
  double fill = 0.0;
  cudnn::RnnDataDesc x_desc = cudnn::RnnDataDesc::create(), y_desc = cudnn::RnnDataDesc::create();
  const cudnnStatus_t set_x =
      cudnnSetRNNDataDescriptor(x_desc.get(), CUDNN_DATA_FLOAT, CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_UNPACKED, T, N,
                                d.input_size, lengths.data(), &fill);
  const cudnnStatus_t set_y =
      cudnnSetRNNDataDescriptor(y_desc.get(), CUDNN_DATA_FLOAT, CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_UNPACKED, T, N,
                                d.hidden_size, lengths.data(), &fill);
  cudnnStatus_t sizes = CUDNN_STATUS_NOT_INITIALIZED, forward = CUDNN_STATUS_NOT_INITIALIZED;
  cudaError_t after = cudaSuccess;
  std::size_t work = 0, reserve = 0;
  if (set_x == CUDNN_STATUS_SUCCESS && set_y == CUDNN_STATUS_SUCCESS)
    sizes = cudnnGetRNNTempSpaceSizes(handle.get(), rnn.get(), CUDNN_FWD_MODE_INFERENCE, x_desc.get(), &work, &reserve);
  if (sizes == CUDNN_STATUS_SUCCESS) {
    cudnn::TensorDesc h_desc = cudnn::TensorDesc::create(), c_desc = cudnn::TensorDesc::create();
    const auto hd = cudnn::state_dims(d, N, d.hidden_size);
    ASSERT_EQ(cudnnSetTensorNdDescriptor(h_desc.get(), CUDNN_DATA_FLOAT, 3, hd.dims, hd.strides), CUDNN_STATUS_SUCCESS);
    ASSERT_EQ(cudnnSetTensorNdDescriptor(c_desc.get(), CUDNN_DATA_FLOAT, 3, hd.dims, hd.strides), CUDNN_STATUS_SUCCESS);
    test::DeviceBytes x(test::encode(test::random_vector(std::size_t(T) * N * d.input_size, rng_), DataType::kFloat32));
    test::DeviceBytes y(std::size_t(T) * N * d.hidden_size * 4), ws(work + 256);
    test::DeviceArray<std::int32_t> d_lengths(N);
    LSTMRT_TEST_CUDA(cudaMemcpy(d_lengths.get(), lengths.data(), N * 4, cudaMemcpyHostToDevice));
    forward = cudnnRNNForward(handle.get(), rnn.get(), CUDNN_FWD_MODE_INFERENCE, d_lengths.get(), x_desc.get(),
                              x.mem.get(), y_desc.get(), y.mem.get(), h_desc.get(), nullptr, nullptr, c_desc.get(),
                              nullptr, nullptr, space.bytes(), space.buffer.get(), work, ws.mem.get(), 0, nullptr);
    after = cudaStreamSynchronize(stream());
  }
  std::printf(
      "[cudnn-check] zero in lengths (cuDNN %zu): SetRNNDataDescriptor x=%s y=%s, GetRNNTempSpaceSizes=%s, "
      "RNNForward=%s, stream=%s\n",
      cudnnGetVersion(), status_name(set_x), status_name(set_y), status_name(sizes), status_name(forward),
      cudaGetErrorName(after));
  RecordProperty("zero_length_forward", status_name(forward));
  EXPECT_EQ(after, cudaSuccess) << "a zero length broke the CUDA context";
}

}  // namespace
}  // namespace lstmrt
