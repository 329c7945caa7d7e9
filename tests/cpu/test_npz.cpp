// .npz reading and writing: archives made by numpy.savez / savez_compressed (fixtures from
// tests/data/npy/make_fixtures.py), round trips stored and compressed, and every bad archive.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "common/compare.hpp"
#include "common/elements.hpp"
#include "common/expect_error.hpp"
#include "common/golden_files.hpp"
#include "lstmrt/io.hpp"

namespace lstmrt {
namespace {

using test::expect_error;

std::string fixture(const std::string& name) { return std::string(LSTMRT_TEST_DATA_DIR) + "/npy/" + name; }

std::vector<std::string> files_in(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// The arrays make_fixtures.py puts in stored.npz and compressed.npz (element k: see the script).
void expect_fixture_archive(const ArrayMap& arrays) {
  std::vector<std::string> keys;
  for (const auto& entry : arrays) keys.push_back(entry.first);
  EXPECT_EQ(keys, (std::vector<std::string>{"empty", "layer0/kernel", "lengths", "scalar", "x"}));
  const std::vector<float> x = arrays.at("x").to_float32("x");
  EXPECT_EQ(arrays.at("x").shape, (std::vector<std::int64_t>{4, 2, 3}));
  ASSERT_EQ(x.size(), 24u);
  for (int k = 0; k < 24; ++k) EXPECT_EQ(x[k], static_cast<float>(k * 3 - 7 + k / 4.0)) << "x element " << k;
  EXPECT_EQ(arrays.at("lengths").dtype, DataType::kInt32);
  EXPECT_EQ(arrays.at("lengths").to_int32("lengths"), (std::vector<std::int32_t>{-7, -4}));
  const Array& kernel = arrays.at("layer0/kernel");
  EXPECT_EQ(kernel.dtype, DataType::kFloat64);
  EXPECT_EQ(kernel.shape, (std::vector<std::int64_t>{3, 8}));
  double last;
  std::memcpy(&last, kernel.data.data() + 23 * sizeof(double), sizeof last);
  EXPECT_EQ(last, 23 * 3 - 7 + 23 / 4.0);
  EXPECT_EQ(arrays.at("scalar").shape, std::vector<std::int64_t>{});
  EXPECT_EQ(arrays.at("scalar").to_int32("scalar"), std::vector<std::int32_t>{-7});
  EXPECT_EQ(arrays.at("empty").shape, (std::vector<std::int64_t>{0, 5}));
  EXPECT_TRUE(arrays.at("empty").data.empty());
}

TEST(NpzRead, NumpySavezStored) { expect_fixture_archive(load_npz(fixture("stored.npz"))); }
TEST(NpzRead, NumpySavezCompressed) { expect_fixture_archive(load_npz(fixture("compressed.npz"))); }
TEST(NpzRead, NumpySavezWithNoArrays) { EXPECT_TRUE(load_npz(fixture("empty.npz")).empty()); }

Array random_array(DataType dtype, std::vector<std::int64_t> shape, std::mt19937_64& rng) {
  Array a;
  a.dtype = dtype;
  a.shape = std::move(shape);
  a.data.resize(static_cast<std::size_t>(a.numel()) * detail::element_bytes(dtype));
  for (auto& byte : a.data) byte = dtype == DataType::kBool ? rng() % 2 : static_cast<std::uint8_t>(rng());
  return a;
}

TEST(NpzRoundTrip, EveryDtypeAndShapeStoredAndCompressed) {
  std::mt19937_64 rng(test::test_seed());
  test::ScratchDir dir;
  ArrayMap arrays;
  const DataType dtypes[] = {DataType::kBool,  DataType::kUint8, DataType::kInt8,    DataType::kInt16,
                             DataType::kInt32, DataType::kInt64, DataType::kFloat32, DataType::kFloat64};
  const std::vector<std::vector<std::int64_t>> shapes = {{}, {5}, {0}, {3, 4}, {2, 0, 3}, {2, 3, 2, 2}};
  for (DataType dtype : dtypes)
    for (std::size_t s = 0; s < shapes.size(); ++s)
      arrays[fmt::format("{}/shape{}", to_string(dtype), s)] = random_array(dtype, shapes[s], rng);
  // A compressible array, large enough to need several read chunks of libzip's inflater.
  Array big = Array::from_float32({300, 1000}, std::vector<float>(300000, 0.5f));
  arrays["big"] = big;
  for (bool compressed : {false, true}) {
    SCOPED_TRACE(compressed ? "compressed" : "stored");
    const std::string path = dir.file(compressed ? "c.npz" : "s.npz");
    save_npz(path, arrays, compressed);
    const ArrayMap back = load_npz(path);
    ASSERT_EQ(back.size(), arrays.size());
    for (const auto& [key, a] : arrays) {
      SCOPED_TRACE(key);
      ASSERT_EQ(back.count(key), 1u);
      EXPECT_EQ(back.at(key).dtype, a.dtype);
      EXPECT_EQ(back.at(key).shape, a.shape);
      EXPECT_EQ(back.at(key).data, a.data);
    }
  }
  EXPECT_LT(std::filesystem::file_size(dir.file("c.npz")), std::filesystem::file_size(dir.file("s.npz")) / 10)
      << "compressed archive is not deflated";
  EXPECT_EQ(files_in(dir.file("")), (std::vector<std::string>{"c.npz", "s.npz"})) << "temporary files left behind";
}

TEST(NpzRoundTrip, EmptyArchiveAndOverwrite) {
  test::ScratchDir dir;
  save_npz(dir.file("e.npz"), {});
  EXPECT_TRUE(load_npz(dir.file("e.npz")).empty());
  save_npz(dir.file("e.npz"), {{"y", Array::from_float32({2}, {1.0f, 2.0f})}});
  const ArrayMap back = load_npz(dir.file("e.npz"));
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back.at("y").to_float32("y"), (std::vector<float>{1.0f, 2.0f}));
}

TEST(NpzErrors, MissingFileAndNotAZip) {
  test::ScratchDir dir;
  expect_error([&] { load_npz(dir.file("absent.npz")); }, ErrorCode::kIoError, {"absent.npz", "no such file"});
  std::ofstream(dir.file("text.npz")) << "plain text, not a zip archive";
  expect_error([&] { load_npz(dir.file("text.npz")); }, ErrorCode::kIoError, {"text.npz", "not a readable .npz"});
  // A lone .npy is not an archive either: its content is named, and its reader.
  expect_error([&] { load_npz(fixture("float32_2x3.npy")); }, ErrorCode::kIoError,
               {"float32_2x3.npy", "the content is a .npy array", "expected an .npz archive", "load_npy"});
}

TEST(NpzErrors, NonNpyMemberDuplicateKeysAndBadMember) {
  expect_error([&] { load_npz(fixture("non_npy_member.npz")); }, ErrorCode::kIoError,
               {"non_npy_member.npz", "'notes.txt'", "not a .npy array"});
  expect_error([&] { load_npz(fixture("duplicate_keys.npz")); }, ErrorCode::kIoError,
               {"duplicate_keys.npz", "two members named 'x.npy'"});
  expect_error([&] { load_npz(fixture("truncated_member.npz")); }, ErrorCode::kIoError,
               {"truncated_member.npz member 'x.npy'", "truncated", "(2, 3)"});
}

TEST(NpzErrors, CorruptCompressedData) {
  test::ScratchDir dir;
  ArrayMap arrays{{"x", Array::from_float32({64}, std::vector<float>(64, 1.25f))}};
  save_npz(dir.file("c.npz"), arrays, true);
  std::string bytes;
  {
    std::ifstream f(dir.file("c.npz"), std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(f), {});
  }
  // Flip bits in the middle of the deflated member (after the 30-byte local header and name).
  bytes[50] = static_cast<char>(bytes[50] ^ 0x5a);
  bytes[55] = static_cast<char>(bytes[55] ^ 0xa5);
  std::ofstream(dir.file("bad.npz"), std::ios::binary | std::ios::trunc) << bytes;
  expect_error([&] { load_npz(dir.file("bad.npz")); }, ErrorCode::kIoError, {"bad.npz member 'x.npy'"});
}

TEST(NpzErrors, FailedSaveLeavesNoFile) {
  test::ScratchDir dir;
  Array bad = Array::from_float32({3}, {1, 2, 3});
  bad.shape = {4};
  ArrayMap arrays{{"a", Array::from_int32({1}, {1})}, {"b", bad}};
  expect_error([&] { save_npz(dir.file("out.npz"), arrays); }, ErrorCode::kInvalidArgument,
               {"out.npz array 'b'", "12 bytes", "(4,)"});
  expect_error(
      [&] {
        save_npz(dir.file("out.npz"), {{"", Array::from_int32({1}, {1})}});
      },
      ErrorCode::kInvalidArgument, {"out.npz", "array name ''"});
  expect_error(
      [&] {
        save_npz(dir.file("missing/out.npz"), {{"a", Array::from_int32({1}, {1})}});
      },
      ErrorCode::kIoError, {"out.npz", "does not exist"});
  EXPECT_TRUE(files_in(dir.file("")).empty()) << "a failed save left files behind";
}

}  // namespace
}  // namespace lstmrt
