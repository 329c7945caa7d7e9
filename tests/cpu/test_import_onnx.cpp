// ONNX model import: models exported by torch.onnx.export (torch 1.13, opset 14) by
// tests/data/onnx_import/gen_onnx_models.py run through `lstmrt run` on the reference backend and
// match torch within 1e-5; edited models the importer must reject get errors naming the problem.
#include <gtest/gtest.h>

#include <filesystem>
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

struct OnnxCase {
  const char* name;
  bool batch_first, initial_state;
  int layers;
  Direction direction;
};
const OnnxCase kCases[] = {
    {"torch_stack_bidir", false, false, 2, Direction::kBidirectional},
    {"torch_batch_first_state", true, true, 2, Direction::kForward},
    {"torch_single", false, false, 1, Direction::kForward},
};

class OnnxGolden : public ::testing::TestWithParam<OnnxCase> {};

TEST_P(OnnxGolden, CliMatchesTorch) {
  const OnnxCase& c = GetParam();
  const auto file = [&](const char* suffix) { return golden_path("onnx_import", fmt::format("{}{}", c.name, suffix)); };
  ScratchDir dir;
  std::vector<std::string> args = {"run",     "--backend",    "reference", "--weights",        file(".onnx"),
                                   "--input", file(".x.npy"), "--output",  dir.file("out.npz")};
  if (c.batch_first) args.push_back("--batch-first");
  if (c.initial_state) args.insert(args.end(), {"--h0", file(".h0.npy"), "--c0", file(".c0.npy")});
  const CommandResult r = run_cli(args);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const ArrayMap got = load_npz(dir.file("out.npz"));
  const ArrayMap expected = load_npz(file(".expected.npz"));
  for (const char* key : {"y", "h_n", "c_n"}) {
    const Array& e = npz_member(expected, key, "torch");
    const Array& g = npz_member(got, key, "lstmrt output");
    EXPECT_EQ(g.shape, e.shape) << key;
    EXPECT_TRUE(all_close(e.to_float32(key), g.to_float32(key), kTolerance, 0.0, fmt::format("{} {}", c.name, key)));
  }
  const LoadedWeights w = load_weights(file(".onnx"));
  EXPECT_EQ(w.format, "onnx");
  EXPECT_EQ(w.desc.num_layers, c.layers);
  EXPECT_EQ(w.desc.direction, c.direction);
}

INSTANTIATE_TEST_SUITE_P(TorchExport, OnnxGolden, ::testing::ValuesIn(kCases),
                         [](const auto& info) { return std::string(info.param.name); });

void expect_error(const std::string& path, ErrorCode code, const std::string& needle) {
  try {
    load_weights(path);
    ADD_FAILURE() << path << ": no error; expected one containing '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(OnnxImport, RejectsModelsOutsideTheStackShape) {
  const auto bad = [](const char* name) { return golden_path("onnx_import", fmt::format("bad_{}.onnx", name)); };
  expect_error(bad("unsupported_op"), ErrorCode::kUnsupported, "Relu node 'relu_after_lstm' (op Relu)");
  expect_error(bad("nonzero_state"), ErrorCode::kUnsupported,
               "initial_h is built from the non-zero constant 'h0_const'");
  expect_error(bad("missing_w"), ErrorCode::kInvalidArgument, "input W");
  expect_error(bad("broken_chain"), ErrorCode::kUnsupported, "not from the previous LSTM node's Y");
}

TEST(OnnxImport, RejectsBrokenFiles) {
  ScratchDir dir;
  const std::string golden = golden_path("onnx_import", "torch_stack_bidir.onnx");
  std::ifstream in(golden, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (std::size_t cut : {std::size_t{0}, std::size_t{7}, bytes.size() / 3, bytes.size() - 3}) {
    const std::string path = dir.file(fmt::format("cut{}.onnx", cut));
    std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(cut));
    EXPECT_THROW(load_weights(path), Error) << "cut at " << cut;
  }
  std::ofstream(dir.file("text.onnx")) << "this is not a protobuf";
  EXPECT_THROW(load_weights(dir.file("text.onnx")), Error);
  expect_error(dir.file("missing.onnx"), ErrorCode::kIoError, "missing.onnx");
}

}  // namespace
}  // namespace lstmrt::test
