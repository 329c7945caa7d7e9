// The autotuner (src/common/autotune.hpp) on a GPU: candidates are device memsets of very different
// sizes, so the ranking is known; a candidate runs on the autotuner's own stream (neither the legacy
// default nor the caller's), a refusing candidate is dropped after its stream settles, and every
// run has completed when autotune returns.
#include <cstdint>
#include <vector>

#include "common/autotune.hpp"
#include "common/cuda_check.hpp"
#include "common/expect_error.hpp"
#include "gpu_test.hpp"

namespace lstmrt {
namespace {

class AutotuneGpu : public test::GpuTest {};

TEST_F(AutotuneGpu, RanksMemsetsBySizeOnAPrivateStream) {
  // Bytes per candidate: 256 MiB, 1 MiB, 32 MiB, 1 MiB + 4 (far apart, so noise cannot swap them but
  // 1 and 3 may tie within noise: only their order relative to the others is asserted).
  const std::vector<std::size_t> bytes = {256u << 20, 1u << 20, 32u << 20, (1u << 20) + 4};
  test::DeviceArray<std::uint8_t> buffer(bytes[0]);
  ASSERT_TRUE(buffer.ok());
  std::vector<cudaStream_t> seen;
  detail::AutotuneCandidates c;
  c.count = static_cast<int>(bytes.size());
  c.run = [&](int i, cudaStream_t s) {
    seen.push_back(s);
    LSTMRT_CUDA_CHECK(cudaMemsetAsync(buffer.get(), 0x40 + i, bytes[i], s));
  };
  const detail::AutotuneResult r = detail::autotune(c);
  ASSERT_EQ(seen.size(), bytes.size() * (1 + detail::kAutotuneTimedRuns));
  for (cudaStream_t s : seen) {
    EXPECT_EQ(s, seen.front()) << "every run on one stream";
    EXPECT_NE(s, nullptr);
    EXPECT_NE(s, stream());
  }
  ASSERT_EQ(r.ranking.size(), 4u);
  EXPECT_EQ(r.ranking[2], 2);
  EXPECT_EQ(r.ranking[3], 0);
  EXPECT_TRUE(*r.fastest == 1 || *r.fastest == 3);
  for (const auto& ms : r.milliseconds) EXPECT_GT(*ms, 0.0f);
  EXPECT_GT(*r.milliseconds[0], 4.0f * *r.milliseconds[2]);
  // The last run (candidate 3, value 0x43) completed before autotune returned.
  std::uint8_t first = 0;
  LSTMRT_TEST_CUDA(cudaMemcpy(&first, buffer.get(), 1, cudaMemcpyDeviceToHost));
  EXPECT_EQ(first, 0x43);
}

TEST_F(AutotuneGpu, ARefusingCandidateIsDroppedAfterItsWorkSettles) {
  test::DeviceArray<std::uint8_t> buffer(64u << 20);
  ASSERT_TRUE(buffer.ok());
  std::vector<int> recovered;
  detail::AutotuneCandidates c;
  c.count = 3;
  c.run = [&](int i, cudaStream_t s) {
    LSTMRT_CUDA_CHECK(cudaMemsetAsync(buffer.get(), 0x10 + i, buffer.bytes(), s));
    if (i == 1) throw Error(ErrorCode::kUnsupported, "candidate 1 cannot serve the shape");
  };
  c.recover = [&](int i) {
    // The failed candidate's work on the stream has finished: its value is in the buffer.
    std::uint8_t last = 0;
    LSTMRT_CUDA_CHECK(cudaMemcpy(&last, buffer.get() + buffer.bytes() - 1, 1, cudaMemcpyDeviceToHost));
    EXPECT_EQ(last, 0x11);
    recovered.push_back(i);
  };
  const detail::AutotuneResult r = detail::autotune(c);
  EXPECT_EQ(recovered, std::vector<int>{1});
  EXPECT_FALSE(r.milliseconds[1]);
  EXPECT_EQ(r.failures[1], "candidate 1 cannot serve the shape");
  EXPECT_EQ(r.ranking.size(), 2u);
}

TEST_F(AutotuneGpu, AnErrorNotSkippedPropagatesAndLeavesTheDeviceUsable) {
  detail::AutotuneCandidates c;
  c.count = 2;
  c.run = [&](int, cudaStream_t) { throw Error(ErrorCode::kCudaError, "device failure"); };
  c.skips = [](const Error& e) { return e.code() == ErrorCode::kUnsupported; };
  test::expect_error([&] { detail::autotune(c); }, ErrorCode::kCudaError, {"device failure"});
  EXPECT_EQ(cudaGetLastError(), cudaSuccess) << "the autotuner left an error for the next checked call";
  LSTMRT_TEST_CUDA(cudaDeviceSynchronize());
}

}  // namespace
}  // namespace lstmrt
