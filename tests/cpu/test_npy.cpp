// .npy reading and writing: every dtype and shape numpy writes (fixtures made by numpy, see
// tests/data/npy/make_fixtures.py), round trips, and every way a file can be wrong.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
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

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}
void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// A .npy with the given raw header text (padded as numpy pads it) and data bytes.
std::string npy_bytes(const std::string& dict, const std::string& data, int major = 1, int minor = 0) {
  std::string header = dict;
  const std::size_t prefix = major == 1 ? 10 : 12;
  while ((prefix + header.size() + 1) % 64) header += ' ';
  header += '\n';
  std::string out = std::string("\x93NUMPY", 6) + static_cast<char>(major) + static_cast<char>(minor);
  for (std::size_t i = 0; i < prefix - 8; ++i) out += static_cast<char>((header.size() >> (8 * i)) & 0xff);
  return out + header + data;
}

// The formula make_fixtures.py uses for element k.
double fixture_value(DataType dtype, std::int64_t k) {
  switch (dtype) {
    case DataType::kBool: return k % 3 == 1;
    case DataType::kUint8: return (k * 3 + 7) % 256;
    case DataType::kFloat32:
    case DataType::kFloat64: return (k * 3 - 7) + k / 4.0;
    default: return k * 3 - 7;
  }
}

template <typename T>
double element(const Array& a, std::int64_t k) {
  T v;
  std::memcpy(&v, a.data.data() + k * sizeof(T), sizeof(T));
  return static_cast<double>(v);
}

double element_of(const Array& a, std::int64_t k) {
  switch (a.dtype) {
    case DataType::kBool:
    case DataType::kUint8: return element<std::uint8_t>(a, k);
    case DataType::kInt8: return element<std::int8_t>(a, k);
    case DataType::kInt16: return element<std::int16_t>(a, k);
    case DataType::kInt32: return element<std::int32_t>(a, k);
    case DataType::kInt64: return element<std::int64_t>(a, k);
    case DataType::kFloat32: return element<float>(a, k);
    case DataType::kFloat64: return element<double>(a, k);
  }
  return NAN;
}

void expect_fixture_values(const Array& a, DataType dtype, const std::vector<std::int64_t>& shape) {
  EXPECT_EQ(a.dtype, dtype) << to_string(a.dtype);
  EXPECT_EQ(a.shape, shape) << shape_string(a.shape);
  ASSERT_EQ(a.data.size(), static_cast<std::size_t>(a.numel()) * detail::element_bytes(dtype));
  for (std::int64_t k = 0; k < a.numel(); ++k) {
    const double expected =
        dtype == DataType::kFloat32 ? static_cast<float>(fixture_value(dtype, k)) : fixture_value(dtype, k);
    EXPECT_EQ(element_of(a, k), expected) << to_string(dtype) << " element " << k;
  }
}

constexpr DataType kDtypes[] = {DataType::kBool,  DataType::kUint8, DataType::kInt8,    DataType::kInt16,
                                DataType::kInt32, DataType::kInt64, DataType::kFloat32, DataType::kFloat64};

TEST(NpyRead, EveryDtypeNumpyWrites) {
  for (DataType dtype : kDtypes) {
    SCOPED_TRACE(to_string(dtype));
    expect_fixture_values(load_npy(fixture(to_string(dtype) + "_2x3.npy")), dtype, {2, 3});
  }
}

TEST(NpyRead, ScalarOneDimEmptyAndRankFour) {
  expect_fixture_values(load_npy(fixture("float32_scalar.npy")), DataType::kFloat32, {});
  expect_fixture_values(load_npy(fixture("float32_5.npy")), DataType::kFloat32, {5});
  const Array empty = load_npy(fixture("float32_2x0x3.npy"));
  expect_fixture_values(empty, DataType::kFloat32, {2, 0, 3});
  EXPECT_TRUE(empty.data.empty());
  expect_fixture_values(load_npy(fixture("int64_3x1x2x2.npy")), DataType::kInt64, {3, 1, 2, 2});
}

TEST(NpyRead, FormatVersions2And3) {
  for (const char* name : {"float32_2x3_v2.npy", "float32_2x3_v3.npy"}) {
    SCOPED_TRACE(name);
    expect_fixture_values(load_npy(fixture(name)), DataType::kFloat32, {2, 3});
  }
}

TEST(NpyRead, PythonTwoLongDimensionsAndDoubleQuotes) {
  test::ScratchDir dir;
  std::string data(2 * 3 * 4, '\0');
  const std::vector<float> values = {1.5f, -2, 3, 4, 5, 6};
  std::memcpy(data.data(), values.data(), data.size());
  write_file(dir.file("a.npy"), npy_bytes(R"({"descr": "<f4", "fortran_order": False, "shape": (2L, 3L)})", data));
  const Array a = load_npy(dir.file("a.npy"));
  EXPECT_EQ(a.shape, (std::vector<std::int64_t>{2, 3}));
  EXPECT_EQ(a.to_float32("a"), values);
}

TEST(NpyRead, FortranOrderOfOneDimensionIsTheSameBytes) {
  test::ScratchDir dir;
  write_file(dir.file("a.npy"),
             npy_bytes("{'descr': '<i4', 'fortran_order': True, 'shape': (2,), }", std::string(8, '\1')));
  EXPECT_EQ(load_npy(dir.file("a.npy")).to_int32("a"), (std::vector<std::int32_t>{0x01010101, 0x01010101}));
}

// Random bytes of every dtype (bool as 0/1) through save_npy and load_npy.
TEST(NpyRoundTrip, EveryDtypeAndShape) {
  std::mt19937_64 rng(test::test_seed());
  test::ScratchDir dir;
  const std::vector<std::vector<std::int64_t>> shapes = {{},  {1},       {7},          {3, 5},
                                                         {0}, {4, 0, 2}, {2, 3, 1, 4}, {1, 1, 1, 1, 1, 2}};
  for (DataType dtype : kDtypes) {
    for (const auto& shape : shapes) {
      SCOPED_TRACE(to_string(dtype) + " " + shape_string(shape));
      Array a;
      a.dtype = dtype;
      a.shape = shape;
      a.data.resize(static_cast<std::size_t>(a.numel()) * detail::element_bytes(dtype));
      for (auto& byte : a.data) byte = dtype == DataType::kBool ? rng() % 2 : static_cast<std::uint8_t>(rng());
      const std::string path = dir.file("round.npy");
      save_npy(path, a);
      const std::string bytes = read_file(path);
      const std::size_t header_size = bytes.size() - a.data.size();
      EXPECT_EQ(header_size % 64, 0u) << "header not padded to 64 bytes as numpy does";
      EXPECT_EQ(bytes[6], 1) << "expected format version 1.0";
      const Array b = load_npy(path);
      EXPECT_EQ(b.dtype, a.dtype);
      EXPECT_EQ(b.shape, a.shape);
      EXPECT_EQ(b.data, a.data);
    }
  }
}

TEST(NpyRoundTrip, TypedConstructorsAndCopies) {
  test::ScratchDir dir;
  const Array f = Array::from_float32({2, 2}, {0.25f, -1.5f, 3e9f, -0.0f});
  save_npy(dir.file("f.npy"), f);
  EXPECT_EQ(load_npy(dir.file("f.npy")).to_float32("f"), (std::vector<float>{0.25f, -1.5f, 3e9f, -0.0f}));
  save_npy(dir.file("d.npy"), Array::from_float64({1}, {0.1}));
  EXPECT_EQ(load_npy(dir.file("d.npy")).dtype, DataType::kFloat64);
  save_npy(dir.file("i.npy"), Array::from_int32({3}, {-5, 0, 2147483647}));
  EXPECT_EQ(load_npy(dir.file("i.npy")).to_int32("i"), (std::vector<std::int32_t>{-5, 0, 2147483647}));
  save_npy(dir.file("l.npy"), Array::from_int64({2}, {-7, 9}));
  EXPECT_EQ(load_npy(dir.file("l.npy")).to_int32("l"), (std::vector<std::int32_t>{-7, 9}));
  // Overwriting an existing file replaces it.
  save_npy(dir.file("f.npy"), Array::from_int32({}, {42}));
  EXPECT_EQ(load_npy(dir.file("f.npy")).to_int32("f"), std::vector<std::int32_t>{42});
}

TEST(ArrayCopies, WrongDtypeNamesTheArrayAndTheExpectedDtype) {
  const Array d = Array::from_float64({2}, {1.0, 2.0});
  expect_error([&] { d.to_float32("--input x.npy"); }, ErrorCode::kInvalidArgument,
               {"--input x.npy", "float64", "expected float32"});
  expect_error([&] { d.to_int32("--lengths l.npy"); }, ErrorCode::kInvalidArgument,
               {"--lengths l.npy", "float64", "expected int32 or int64"});
  expect_error(
      [&] {
        Array::from_int32({2}, {1, 2}).to_float32("w");
      },
      ErrorCode::kInvalidArgument, {"w", "int32", "expected float32"});
  expect_error(
      [&] {
        Array::from_int64({3}, {1, 4294967296LL, 2}).to_int32("lengths");
      },
      ErrorCode::kInvalidArgument, {"lengths", "4294967296", "index 1", "int32"});
  expect_error([&] { Array::from_float32({2, 2}, {1, 2, 3}); }, ErrorCode::kInvalidArgument, {"(2, 2)", "4", "3"});
}

// ---- every way a file can be wrong -------------------------------------------------------------
TEST(NpyErrors, MissingFileAndDirectory) {
  test::ScratchDir dir;
  expect_error([&] { load_npy(dir.file("absent.npy")); }, ErrorCode::kIoError, {"absent.npy", "no such file"});
  std::filesystem::create_directory(dir.file("sub.npy"));
  expect_error([&] { load_npy(dir.file("sub.npy")); }, ErrorCode::kIoError, {"sub.npy", "directory"});
}

TEST(NpyErrors, BadMagicAndTooShort) {
  test::ScratchDir dir;
  write_file(dir.file("text.npy"), "hello, this is not numpy data at all");
  expect_error([&] { load_npy(dir.file("text.npy")); }, ErrorCode::kIoError, {"text.npy", "bad magic"});
  write_file(dir.file("empty.npy"), "");
  expect_error([&] { load_npy(dir.file("empty.npy")); }, ErrorCode::kIoError, {"empty.npy", "bad magic"});
  write_file(dir.file("short.npy"), std::string("\x93NUMPY\x01", 7));
  expect_error([&] { load_npy(dir.file("short.npy")); }, ErrorCode::kIoError, {"short.npy", "truncated"});
}

TEST(NpyErrors, UnsupportedVersion) {
  test::ScratchDir dir;
  const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }";
  for (auto [major, minor] : {std::pair{4, 0}, {1, 1}, {0, 0}}) {
    write_file(dir.file("v.npy"), npy_bytes(dict, std::string(4, '\0'), major, minor));
    expect_error([&] { load_npy(dir.file("v.npy")); }, ErrorCode::kIoError,
                 {"v.npy", fmt::format("version {}.{}", major, minor), "expected 1.0, 2.0 or 3.0"});
  }
}

TEST(NpyErrors, MalformedHeaders) {
  test::ScratchDir dir;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{'descr': '<f4', 'fortran_order': False}", "no 'shape' key"},
      {"{'descr': '<f4', 'shape': (1,)}", "no 'fortran_order' key"},
      {"{'fortran_order': False, 'shape': (1,)}", "no 'descr' key"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'extra': 1}", "unexpected key 'extra'"},
      {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}", "given twice"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1)}", "not a tuple"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}", "non-negative integer"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}", "too large"},
      {"{'descr': '<f4', 'fortran_order': Maybe, 'shape': (1,)}", "True or False"},
      {"{'descr: '<f4', 'fortran_order': False, 'shape': (1,)}", "expected ':'"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} trailing", "after the closing"},
      {"['descr', '<f4']", "expected '{'"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,)", "expected ','"},
      {"{'descr': '<f\\x34', 'fortran_order': False, 'shape': (1,)}", "escape"},
      // Control bytes in a hostile header are escaped so the message stays one line.
      {"{'descr':\n'<f4',\r 'fortran_order': False, 'shape': (1,), 'bad\x01': 0}", "unexpected key 'bad\\x01'"},
  };
  for (const auto& [dict, what] : cases) {
    SCOPED_TRACE(dict);
    write_file(dir.file("m.npy"), npy_bytes(dict, std::string(4, '\0')));
    expect_error([&] { load_npy(dir.file("m.npy")); }, ErrorCode::kIoError, {"m.npy", "malformed .npy header", what});
  }
}

TEST(NpyErrors, HeaderLongerThanTheFile) {
  test::ScratchDir dir;
  std::string bytes = npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", std::string(4, '\0'), 2);
  bytes[8] = '\xff', bytes[9] = '\xff', bytes[10] = '\xff', bytes[11] = '\x7f';  // 2 GiB header, v2
  write_file(dir.file("h.npy"), bytes);
  expect_error([&] { load_npy(dir.file("h.npy")); }, ErrorCode::kIoError, {"h.npy", "truncated", "header length"});
}

// numpy's float16 (what np.random.randn(...).astype(np.float16) gives) reads as float16 and
// widens to float32 exactly: the fixture's values (k·3 − 7 + k/4) are all binary16 numbers.
TEST(NpyRead, Float16WidensExactlyToFloat32) {
  const Array a = load_npy(fixture("float16_2x3.npy"));
  EXPECT_EQ(a.dtype, DataType::kFloat16);
  EXPECT_EQ(a.shape, (std::vector<std::int64_t>{2, 3}));
  EXPECT_EQ(a.to_float32("f16"), (std::vector<float>{-7.0f, -3.75f, -0.5f, 2.75f, 6.0f, 9.25f}));
  // Subnormal, largest finite, infinity and a NaN keep their values.
  const std::vector<std::uint16_t> bits = {0x0001, 0x7bff, 0xfc00, 0x7e00};
  Array h;
  h.dtype = DataType::kFloat16;
  h.shape = {4};
  h.data.resize(8);
  std::memcpy(h.data.data(), bits.data(), 8);
  const std::vector<float> f = h.to_float32("bits");
  EXPECT_EQ(f[0], std::ldexp(1.0f, -24));
  EXPECT_EQ(f[1], 65504.0f);
  EXPECT_EQ(f[2], -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(f[3]));
}

TEST(NpyErrors, UnsupportedDtypesNameThemselvesAndTheSupportedOnes) {
  expect_error([&] { load_npy(fixture("complex64_2.npy")); }, ErrorCode::kIoError,
               {"complex64_2.npy", "'<c8'", "complex", supported_dtypes()});
  expect_error([&] { load_npy(fixture("structured_2.npy")); }, ErrorCode::kIoError, {"structured dtype", "float32"});
}

TEST(NpyErrors, BigEndianAndFortranOrder) {
  expect_error([&] { load_npy(fixture("bigendian_2x3.npy")); }, ErrorCode::kIoError,
               {"bigendian_2x3.npy", "'>f4'", "big-endian", "astype('<f4')"});
  expect_error([&] { load_npy(fixture("fortran_2x3.npy")); }, ErrorCode::kIoError,
               {"fortran_2x3.npy", "fortran_order=True", "numpy.ascontiguousarray"});
}

TEST(NpyErrors, TruncatedAndTrailingData) {
  test::ScratchDir dir;
  const std::string good = read_file(fixture("float32_2x3.npy"));
  write_file(dir.file("cut.npy"), good.substr(0, good.size() - 1));
  expect_error([&] { load_npy(dir.file("cut.npy")); }, ErrorCode::kIoError,
               {"cut.npy", "truncated", "(2, 3)", "24 data bytes", "23"});
  write_file(dir.file("cut_header.npy"), good.substr(0, 40));
  expect_error([&] { load_npy(dir.file("cut_header.npy")); }, ErrorCode::kIoError, {"cut_header.npy", "truncated"});
  write_file(dir.file("long.npy"), good + "xyz");
  expect_error([&] { load_npy(dir.file("long.npy")); }, ErrorCode::kIoError, {"long.npy", "3 unexpected bytes"});
}

// A hostile header must be refused before anything is allocated from it (these would need
// exabytes or overflow).
TEST(NpyErrors, HugeOrOverflowingShapes) {
  test::ScratchDir dir;
  write_file(dir.file("huge.npy"),
             npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000, 1000000), }", "12345678"));
  expect_error([&] { load_npy(dir.file("huge.npy")); }, ErrorCode::kIoError,
               {"huge.npy", "truncated", "(1000000000000, 1000000)", "only 8 are present"});
  write_file(dir.file("overflow.npy"),
             npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 8), }", "1234"));
  expect_error([&] { load_npy(dir.file("overflow.npy")); }, ErrorCode::kIoError, {"overflow.npy", "overflows"});
  std::string rank65;
  for (int i = 0; i < 65; ++i) rank65 += "1, ";
  write_file(dir.file("rank.npy"),
             npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (" + rank65 + "), }", "1234"));
  expect_error([&] { load_npy(dir.file("rank.npy")); }, ErrorCode::kIoError, {"rank.npy", "more than 64 dimensions"});
}

TEST(NpyErrors, FailedSaveLeavesNoFile) {
  test::ScratchDir dir;
  Array bad = Array::from_float32({2, 2}, {1, 2, 3, 4});
  bad.data.pop_back();
  expect_error([&] { save_npy(dir.file("bad.npy"), bad); }, ErrorCode::kInvalidArgument, {"bad.npy", "15 bytes"});
  expect_error([&] { save_npy(dir.file("no/such/dir/a.npy"), Array::from_int32({}, {1})); }, ErrorCode::kIoError,
               {"a.npy", "does not exist"});
  std::filesystem::create_directory(dir.file("d.npy"));
  expect_error([&] { save_npy(dir.file("d.npy"), Array::from_int32({}, {1})); }, ErrorCode::kIoError,
               {"d.npy", "directory"});
  std::vector<std::string> left;
  for (const auto& entry : std::filesystem::directory_iterator(dir.file("")))
    left.push_back(entry.path().filename().string());
  EXPECT_EQ(left, std::vector<std::string>{"d.npy"}) << "a failed save left files behind";
}

}  // namespace
}  // namespace lstmrt
