// upload_lengths on the device: every chunk boundary, poisoned destination with guards, the host
// array reusable as soon as the call returns, and capture into a CUDA graph.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <random>
#include <thread>
#include <vector>

#include "common/compare.hpp"
#include "gpu_test.hpp"
#include "kernels/upload_lengths.hpp"

namespace lstmrt {
namespace {

using test::DeviceArray;

class GpuUploadLengths : public test::GpuTest {
 protected:
  std::vector<std::int32_t> random_lengths(int count) {
    std::uniform_int_distribution<std::int32_t> len(0, 1 << 20);
    std::vector<std::int32_t> v(static_cast<std::size_t>(count));
    for (auto& x : v) x = len(rng_) + 1;  // never 0, never the poison −1
    return v;
  }
  std::mt19937_64 rng_{test::test_seed()};
};

constexpr int kGuard = 64;  // poisoned elements after the destination that must stay untouched

// Downloads count + kGuard values from d and checks the first `count` against `want` and the
// guard still holding the poison (0xFFFFFFFF = −1).
void expect_uploaded(const DeviceArray<std::int32_t>& d, const std::vector<std::int32_t>& want, cudaStream_t s) {
  std::vector<std::int32_t> got(want.size() + kGuard);
  LSTMRT_TEST_CUDA(cudaMemcpyAsync(got.data(), d.get(), got.size() * sizeof(std::int32_t), cudaMemcpyDeviceToHost, s));
  LSTMRT_TEST_CUDA(cudaStreamSynchronize(s));
  for (std::size_t b = 0; b < want.size(); ++b) ASSERT_EQ(got[b], want[b]) << "row " << b << " of " << want.size();
  for (std::size_t g = want.size(); g < got.size(); ++g) ASSERT_EQ(got[g], -1) << "wrote past the end at " << g;
}

TEST_F(GpuUploadLengths, EveryChunkBoundary) {
  SCOPED_TRACE(testing::Message() << "LSTMRT_TEST_SEED=" << test::test_seed());
  const int k = kernels::kLengthsPerLaunch;
  for (int count : {1, 7, k - 1, k, k + 1, 2 * k, 2 * k + 3, 5 * k - 1, 12345}) {
    SCOPED_TRACE(testing::Message() << "count " << count);
    const std::vector<std::int32_t> h = random_lengths(count);
    DeviceArray<std::int32_t> d(h.size() + kGuard);
    ASSERT_TRUE(d.ok());
    LSTMRT_TEST_CUDA(cudaMemsetAsync(d.get(), 0xFF, d.bytes(), stream()));
    kernels::upload_lengths(h.data(), count, d.get(), stream());
    expect_uploaded(d, h, stream());
  }
}

TEST_F(GpuUploadLengths, HostArrayIsFreeAsSoonAsTheCallReturns) {
  const int count = 3 * kernels::kLengthsPerLaunch + 17;
  std::vector<std::int32_t> h = random_lengths(count);
  const std::vector<std::int32_t> want = h;
  DeviceArray<std::int32_t> d(h.size() + kGuard);
  ASSERT_TRUE(d.ok());
  LSTMRT_TEST_CUDA(cudaMemsetAsync(d.get(), 0xFF, d.bytes(), stream()));
  // Hold the stream back behind a host callback that waits for `release`, so the launches below
  // are enqueued but cannot run until after the host array has been overwritten.
  std::atomic<bool> release{false};
  LSTMRT_TEST_CUDA(cudaLaunchHostFunc(
      stream(),
      [](void* flag) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (!static_cast<std::atomic<bool>*>(flag)->load() && std::chrono::steady_clock::now() < deadline)
          std::this_thread::yield();
      },
      &release));
  kernels::upload_lengths(h.data(), count, d.get(), stream());
  for (auto& x : h) x = -7;  // overwritten before the launches run: they carry their own copy
  release = true;
  expect_uploaded(d, want, stream());
}

TEST_F(GpuUploadLengths, CapturesIntoAGraphWithItsOwnCopy) {
  const int count = 2 * kernels::kLengthsPerLaunch + 5;
  std::vector<std::int32_t> h = random_lengths(count);
  const std::vector<std::int32_t> want = h;
  DeviceArray<std::int32_t> d(h.size() + kGuard);
  ASSERT_TRUE(d.ok());
  LSTMRT_TEST_CUDA(cudaMemsetAsync(d.get(), 0xFF, d.bytes(), stream()));
  LSTMRT_TEST_CUDA(cudaStreamSynchronize(stream()));

  cudaGraph_t graph = nullptr;
  LSTMRT_TEST_CUDA(cudaStreamBeginCapture(stream(), cudaStreamCaptureModeThreadLocal));
  kernels::upload_lengths(h.data(), count, d.get(), stream());  // would fail capture if it synchronised
  LSTMRT_TEST_CUDA(cudaStreamEndCapture(stream(), &graph));
  ASSERT_NE(graph, nullptr);
  std::size_t nodes = 0;
  LSTMRT_TEST_CUDA(cudaGraphGetNodes(graph, nullptr, &nodes));
  EXPECT_EQ(nodes, static_cast<std::size_t>(kernels::length_chunk_count(count)));
  cudaGraphExec_t exec = nullptr;
  LSTMRT_TEST_CUDA(cudaGraphInstantiate(&exec, graph, 0));
  for (auto& x : h) x = -9;  // the graph keeps the values captured at launch time

  for (int replay = 0; replay < 2; ++replay) {
    LSTMRT_TEST_CUDA(cudaMemsetAsync(d.get(), 0xFF, d.bytes(), stream()));
    LSTMRT_TEST_CUDA(cudaGraphLaunch(exec, stream()));
    expect_uploaded(d, want, stream());
  }
  LSTMRT_TEST_CUDA(cudaGraphExecDestroy(exec));
  LSTMRT_TEST_CUDA(cudaGraphDestroy(graph));
}

TEST_F(GpuUploadLengths, ZeroRowsIsANoOp) {
  EXPECT_NO_THROW(kernels::upload_lengths(nullptr, 0, nullptr, stream()));
  LSTMRT_TEST_CUDA(cudaStreamSynchronize(stream()));
}

}  // namespace
}  // namespace lstmrt
