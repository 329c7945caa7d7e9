// PyTorch .safetensors import: golden files from tests/data/safetensors/gen_safetensors.py (torch
// 1.13; F32, F16, BF16 and F64 storage) run through `lstmrt run` on the reference backend and match
// torch within 1e-5; hostile headers are rejected with Error(kIoError) naming what is wrong.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "common/compare.hpp"
#include "common/golden_files.hpp"
#include "lstmrt/import.hpp"
#include "lstmrt/io.hpp"

namespace lstmrt::test {
namespace {

constexpr double kTolerance = 1e-5;

struct SafetensorsCase {
  const char* name;
  bool batch_first;
  int layers_x_dirs;  // rows of h_n
};
const SafetensorsCase kCases[] = {
    {"stack_bidir_f32", false, 4}, {"proj_f16", false, 1}, {"stack_bf16", false, 2}, {"batch_first_f64", true, 1}};

class SafetensorsGolden : public ::testing::TestWithParam<SafetensorsCase> {};

TEST_P(SafetensorsGolden, CliMatchesTorch) {
  const SafetensorsCase& c = GetParam();
  ScratchDir dir;
  std::vector<std::string> args = {"run",
                                   "--backend",
                                   "reference",
                                   "--weights",
                                   golden_path("safetensors", fmt::format("{}.safetensors", c.name)),
                                   "--input",
                                   golden_path("safetensors", fmt::format("{}.x.npy", c.name)),
                                   "--output",
                                   dir.file("out.npz")};
  if (c.batch_first) args.push_back("--batch-first");
  const CommandResult r = run_cli(args);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const ArrayMap got = load_npz(dir.file("out.npz"));
  const ArrayMap expected = load_npz(golden_path("safetensors", fmt::format("{}.expected.npz", c.name)));
  for (const char* key : {"y", "h_n", "c_n"}) {
    const Array& e = npz_member(expected, key, "expected");
    const Array& g = npz_member(got, key, "lstmrt output");
    EXPECT_EQ(g.shape, e.shape) << key;
    EXPECT_TRUE(all_close(e.to_float32(key), g.to_float32(key), kTolerance, 0.0, fmt::format("{} {}", c.name, key)));
  }
  EXPECT_EQ(npz_member(got, "h_n", "lstmrt output").shape[0], c.layers_x_dirs);
}

INSTANTIATE_TEST_SUITE_P(Torch, SafetensorsGolden, ::testing::ValuesIn(kCases),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(SafetensorsImport, LoadWeightsStripsThePrefixAndInfersTheModel) {
  const LoadedWeights w = load_weights(golden_path("safetensors", "stack_bidir_f32.safetensors"));
  EXPECT_EQ(w.format, "pytorch");
  EXPECT_EQ(w.desc.input_size, 5);
  EXPECT_EQ(w.desc.hidden_size, 6);
  EXPECT_EQ(w.desc.num_layers, 2);
  EXPECT_EQ(w.desc.direction, Direction::kBidirectional);
  const LoadedWeights p = load_weights(golden_path("safetensors", "proj_f16.safetensors"));
  EXPECT_EQ(p.desc.proj_size, 3);
}

// ---- hand-made files --------------------------------------------------------------------------------
std::vector<std::uint8_t> blob(const std::string& header, const std::vector<std::uint8_t>& data,
                               std::uint64_t declared_length) {
  std::vector<std::uint8_t> out(8);
  for (int i = 0; i < 8; ++i) out[i] = static_cast<std::uint8_t>(declared_length >> (8 * i));
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}
std::vector<std::uint8_t> blob(const std::string& header, const std::vector<std::uint8_t>& data) {
  return blob(header, data, header.size());
}
std::vector<std::uint8_t> floats_le(const std::vector<float>& v) {
  std::vector<std::uint8_t> out(v.size() * 4);
  std::memcpy(out.data(), v.data(), out.size());
  return out;
}

TEST(SafetensorsImport, ParsesEveryFloatDtype) {
  // a: F32 (2, 2); b: F16 [1, -2, 2^-24 (subnormal), 65504]; c: BF16 [1.5, -0.25]; d: F64 [0.1]
  std::vector<std::uint8_t> data = floats_le({1.0f, 2.5f, -3.0f, 4.25f});
  for (std::uint16_t h : {0x3c00, 0xc000, 0x0001, 0x7bff}) data.push_back(h & 0xff), data.push_back(h >> 8);
  for (std::uint16_t b : {0x3fc0, 0xbe80}) data.push_back(b & 0xff), data.push_back(b >> 8);
  const double tenth = 0.1;
  std::uint8_t d8[8];
  std::memcpy(d8, &tenth, 8);
  data.insert(data.end(), d8, d8 + 8);
  // Members in the header in another order than their offsets: allowed (a JSON object is unordered).
  const std::string header =
      R"({"d":{"dtype":"F64","shape":[1],"data_offsets":[28,36]},"__metadata__":{"format":"pt"},)"
      R"("a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"b":{"dtype":"F16","shape":[4],"data_offsets":[16,24]},)"
      R"("c":{"dtype":"BF16","shape":[2],"data_offsets":[24,28]}})";
  const std::vector<std::uint8_t> bytes = blob(header, data);
  const ArrayMap m = parse_safetensors(bytes.data(), bytes.size(), "mem");
  ASSERT_EQ(m.size(), 4u);
  EXPECT_EQ(m.at("a").shape, (std::vector<std::int64_t>{2, 2}));
  EXPECT_EQ(m.at("a").to_float32("a"), (std::vector<float>{1.0f, 2.5f, -3.0f, 4.25f}));
  EXPECT_EQ(m.at("b").to_float32("b"), (std::vector<float>{1.0f, -2.0f, std::ldexp(1.0f, -24), 65504.0f}));
  EXPECT_EQ(m.at("c").to_float32("c"), (std::vector<float>{1.5f, -0.25f}));
  EXPECT_EQ(m.at("d").to_float32("d"), (std::vector<float>{0.1f}));
}

void expect_io_error(const std::vector<std::uint8_t>& bytes, const std::string& needle) {
  try {
    parse_safetensors(bytes.data(), bytes.size(), "bad.safetensors");
    ADD_FAILURE() << "no error; expected one containing '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kIoError) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("bad.safetensors"), std::string::npos) << e.what();
  }
}

std::string one(const std::string& dtype, const std::string& shape, const std::string& offsets) {
  return fmt::format(R"({{"w":{{"dtype":"{}","shape":{},"data_offsets":{}}}}})", dtype, shape, offsets);
}

TEST(SafetensorsImport, RejectsHostileHeaders) {
  const std::vector<std::uint8_t> four = floats_le({1, 2, 3, 4});
  expect_io_error({1, 2, 3}, "too short");
  expect_io_error(blob("{}", {}, std::uint64_t{1} << 62), "header length");  // huge: nothing allocated
  expect_io_error(blob(R"({"w": 1})", {}, 4), "not valid JSON");             // cut inside the JSON
  expect_io_error(blob("{}", {}, 100), "exceeds the 2 bytes");               // past the end
  expect_io_error(blob("[1, 2]", {}), "expected an object");
  expect_io_error(blob(R"({"w": 3})", {}), "expected an object");
  expect_io_error(blob(R"({"w":{"dtype":"F32","shape":[4]}})", four), "no \"data_offsets\"");
  expect_io_error(blob(one("I64", "[2]", "[0,16]"), four), "dtype I64");
  expect_io_error(blob(one("F8_E4M3", "[16]", "[0,16]"), four), "expected a float dtype");
  expect_io_error(blob(one("F32", "[3]", "[0,16]"), four), "spans 16 bytes: expected 12");
  expect_io_error(blob(one("F32", "[4]", "[0,32]"), four), "expected begin <= end <= 16");
  expect_io_error(blob(one("F32", "[4]", "[8,4]"), four), "expected begin <= end");
  expect_io_error(blob(one("F32", "[-4]", "[0,16]"), four), "non-negative integer");
  expect_io_error(blob(one("F32", "[4.5]", "[0,16]"), four), "non-negative integer");
  expect_io_error(blob(one("F32", "[1099511627777]", "[0,16]"), four), "not a plausible size");
  expect_io_error(blob(one("F32", "[65536, 65536, 65536]", "[0,16]"), four), "exceeds the 16-byte data buffer");
  expect_io_error(blob(one("F32", "4", "[0,16]"), four), "expected an array");
  expect_io_error(blob(one("F32", "[4]", "[0]"), four), "expected [begin, end]");
  // Overlap, hole, trailing bytes.
  expect_io_error(blob(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                       R"("b":{"dtype":"F32","shape":[3],"data_offsets":[4,16]}})",
                       four),
                  "overlaps");
  expect_io_error(blob(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                       R"("b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})",
                       four),
                  "a hole");
  expect_io_error(blob(one("F32", "[2]", "[0,8]"), four), "cover 8 bytes of the 16-byte");
}

TEST(SafetensorsImport, RejectsBadFiles) {
  ScratchDir dir;
  const std::string golden = golden_path("safetensors", "stack_bf16.safetensors");
  std::ifstream in(golden, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Truncated: every cut is an error, never a crash.
  for (std::size_t cut : {std::size_t{0}, std::size_t{5}, std::size_t{100}, bytes.size() - 1}) {
    const std::string path = dir.file(fmt::format("cut{}.safetensors", cut));
    std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(cut));
    EXPECT_THROW(load_safetensors(path), Error) << cut;
    try {
      load_weights(path);
      ADD_FAILURE() << "cut at " << cut << " loaded";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kIoError) << e.what();
    }
  }
  EXPECT_THROW(load_safetensors(dir.file("missing.safetensors")), Error);
  // A well-formed file whose tensors are not an nn.LSTM state_dict.
  const std::vector<std::uint8_t> other = blob(one("F32", "[4]", "[0,16]"), floats_le({1, 2, 3, 4}));
  const std::string path = dir.file("other.safetensors");
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(other.data()), other.size());
  try {
    load_weights(path);
    ADD_FAILURE() << "a file without LSTM names loaded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("other.safetensors"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace lstmrt::test
