// Host side of the kernel plumbing, no GPU needed: how upload_lengths splits rows into launches,
// and the launchers' argument checks (which run before any CUDA call).
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/cell_math_params.hpp"
#include "kernels/cell_math_probe.hpp"
#include "kernels/upload_lengths.hpp"
#include "lstmrt/error.hpp"

namespace lstmrt {
namespace {

using kernels::kLengthsPerLaunch;
using kernels::length_chunk;
using kernels::length_chunk_count;

template <typename F>
void expect_invalid(F&& f, const std::string& needle) {
  try {
    f();
    FAIL() << "no error; expected kInvalidArgument mentioning '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(UploadLengthsChunks, FitTheKernelParameterLimit) {
  // values + destination pointer + count must fit the 4096-byte launch-parameter limit.
  EXPECT_LE(kLengthsPerLaunch * sizeof(std::int32_t) + sizeof(void*) + sizeof(int), 4096u);
  EXPECT_GE(kLengthsPerLaunch, 512);  // common batch sizes go in one launch
}

TEST(UploadLengthsChunks, CountIsCeilingOfRowsOverChunk) {
  const int k = kLengthsPerLaunch;
  EXPECT_EQ(length_chunk_count(0), 0);
  EXPECT_EQ(length_chunk_count(1), 1);
  EXPECT_EQ(length_chunk_count(k - 1), 1);
  EXPECT_EQ(length_chunk_count(k), 1);
  EXPECT_EQ(length_chunk_count(k + 1), 2);
  EXPECT_EQ(length_chunk_count(3 * k), 3);
  EXPECT_EQ(length_chunk_count(3 * k + 1), 4);
}

TEST(UploadLengthsChunks, ChunksTileTheRowsExactlyOnce) {
  const int k = kLengthsPerLaunch;
  for (int count : {1, 2, 17, k - 1, k, k + 1, 2 * k - 1, 2 * k, 2 * k + 1, 7 * k + 333, 65536}) {
    SCOPED_TRACE(testing::Message() << "count " << count);
    std::vector<int> hits(static_cast<std::size_t>(count), 0);
    const int chunks = length_chunk_count(count);
    for (int index = 0; index < chunks; ++index) {
      const kernels::LengthChunk c = length_chunk(count, index);
      EXPECT_EQ(c.offset, index * k);
      EXPECT_GE(c.count, 1);
      EXPECT_LE(c.count, k);
      if (index + 1 < chunks) EXPECT_EQ(c.count, k) << "only the last chunk may be partial";
      for (int b = c.offset; b < c.offset + c.count; ++b) ++hits.at(static_cast<std::size_t>(b));
    }
    for (int b = 0; b < count; ++b) ASSERT_EQ(hits[b], 1) << "row " << b;
  }
}

TEST(UploadLengthsChunks, RejectsBadCountOrIndex) {
  expect_invalid([] { length_chunk_count(-1); }, "count is -1");
  expect_invalid([] { length_chunk(10, 1); }, "chunk index 1 out of range");
  expect_invalid([] { length_chunk(10, -1); }, "chunk index -1");
  expect_invalid([] { length_chunk(0, 0); }, "chunk index 0");
  expect_invalid([] { length_chunk(-5, 0); }, "count is -5");
}

TEST(KernelLaunchers, ArgumentChecksComeBeforeAnyCudaCall) {
  std::vector<std::int32_t> lengths(3, 2);
  auto* fake_device = reinterpret_cast<std::int32_t*>(lengths.data());  // never dereferenced: checks fail first
  expect_invalid([&] { kernels::upload_lengths(lengths.data(), -2, fake_device, nullptr); }, "count is -2");
  expect_invalid([&] { kernels::upload_lengths(nullptr, 3, fake_device, nullptr); }, "h_lengths is null");
  expect_invalid([&] { kernels::upload_lengths(lengths.data(), 3, nullptr, nullptr); }, "d_lengths is null");
  EXPECT_NO_THROW(kernels::upload_lengths(nullptr, 0, nullptr, nullptr));  // nothing to do, no launch

  const kernels::CellMathParams params = kernels::make_cell_math_params(ModelDesc{}, 0);
  kernels::CellProbeInput in{};
  kernels::CellResult out{};
  expect_invalid([&] { kernels::launch_cell_math_probe(params, &in, &out, -1, nullptr); }, "count is -1");
  expect_invalid([&] { kernels::launch_cell_math_probe(params, nullptr, &out, 4, nullptr); }, "in is null");
  expect_invalid([&] { kernels::launch_cell_math_probe(params, &in, nullptr, 4, nullptr); }, "out is null");
  EXPECT_NO_THROW(kernels::launch_cell_math_probe(params, nullptr, nullptr, 0, nullptr));
}

}  // namespace
}  // namespace lstmrt
