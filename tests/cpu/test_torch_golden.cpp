// lstmrt against torch.nn.LSTM: golden files written by tests/data/torch/gen_torch_golden.py
// (torch 1.13) are loaded through lstmrt's npz reader and PyTorch converters, run on the reference
// backend and through the `lstmrt run` CLI, and y, h_n, c_n compared within 1e-5.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/compare.hpp"
#include "common/golden_files.hpp"
#include "common/reference_runner.hpp"
#include "lstmrt/io.hpp"
#include "lstmrt/lstmrt.hpp"

namespace lstmrt::test {
namespace {

constexpr double kTolerance = 1e-5;

// What each generated case is (must agree with cases.json; TorchGoldenManifest checks it).
struct TorchCase {
  const char* name;
  int input_size, hidden_size, proj_size, num_layers;
  bool bidirectional, batch_first, bias;
  int seq_len, batch;
  bool lengths, initial_state;
};

// One case a row, columns aligned under the header comment (clang-format would undo that).
// clang-format off
const TorchCase kCases[] = {
    // name                           I  H  P  L  bidir  batch_first bias   T  N  lengths initial_state
    {"single",                        5, 7, 0, 1, false, false,      true,  6, 3, false,  false},
    {"stack2",                        4, 6, 0, 2, false, false,      true,  5, 2, false,  false},
    {"bidir",                         3, 5, 0, 1, true,  false,      true,  7, 4, false,  false},
    {"proj",                          5, 7, 3, 1, false, false,      true,  6, 3, false,  false},
    {"stack_bidir_proj",              5, 6, 4, 2, true,  false,      true,  5, 3, false,  false},
    {"batch_first",                   6, 5, 0, 2, false, true,       true,  4, 3, false,  false},
    {"lengths",                       5, 7, 0, 1, false, false,      true,  6, 4, true,   false},
    {"lengths_stack_bidir_proj",      4, 6, 3, 2, true,  false,      true,  7, 5, true,   false},
    {"lengths_batch_first_bidir",     3, 5, 0, 1, true,  true,       true,  5, 3, true,   false},
    {"initial_state",                 5, 7, 0, 2, true,  false,      true,  6, 3, false,  true},
    {"initial_state_proj_lengths",    4, 6, 5, 1, false, false,      true,  5, 3, true,   true},
    {"no_bias",                       5, 7, 0, 1, false, false,      false, 6, 3, false,  false},
};
// clang-format on

void PrintTo(const TorchCase& c, std::ostream* os) { *os << c.name; }

std::string case_file(const TorchCase& c, const std::string& suffix) {
  return golden_path("torch", std::string(c.name) + suffix);
}

struct Expected {
  std::vector<float> y, h_n, c_n;
};

// The generated case as lstmrt sees it: model, weights, inputs and torch's outputs.
struct LoadedCase {
  ModelDesc desc;
  Weights weights;
  HostInputs inputs;
  Expected expected;
};

std::vector<std::int64_t> y_shape(const TorchCase& c) {
  const std::int64_t width = (c.bidirectional ? 2 : 1) * (c.proj_size ? c.proj_size : c.hidden_size);
  return c.batch_first ? std::vector<std::int64_t>{c.batch, c.seq_len, width}
                       : std::vector<std::int64_t>{c.seq_len, c.batch, width};
}
std::vector<std::int64_t> h_shape(const TorchCase& c) {
  return {c.num_layers * (c.bidirectional ? 2 : 1), c.batch, c.proj_size ? c.proj_size : c.hidden_size};
}
std::vector<std::int64_t> c_shape(const TorchCase& c) {
  return {c.num_layers * (c.bidirectional ? 2 : 1), c.batch, c.hidden_size};
}

// Reads member `key` of an npz of torch outputs, checking its shape.
std::vector<float> output_member(const ArrayMap& npz, const std::string& key, const std::vector<std::int64_t>& shape,
                                 const std::string& source) {
  const Array& a = npz_member(npz, key, source);
  EXPECT_EQ(shape_string(a.shape), shape_string(shape)) << source << " member " << key;
  return a.to_float32(source + " member '" + key + "'");
}

Expected read_outputs(const TorchCase& c, const std::string& path) {
  const ArrayMap npz = load_npz(path);
  return {output_member(npz, "y", y_shape(c), path), output_member(npz, "h_n", h_shape(c), path),
          output_member(npz, "c_n", c_shape(c), path)};
}

LoadedCase load_case(const TorchCase& c) {
  LoadedCase lc;
  const std::string weights_path = case_file(c, ".weights.npz");
  const TensorMap state_dict = tensor_map(load_npz(weights_path), weights_path);
  lc.desc = pytorch_desc(state_dict);
  lc.weights = from_pytorch(lc.desc, state_dict);

  HostInputs& in = lc.inputs;
  in.seq_len = c.seq_len;
  in.batch = c.batch;
  in.layout = c.batch_first ? TensorLayout::kBatchMajor : TensorLayout::kTimeMajor;
  const Array x = load_npy(case_file(c, ".x.npy"));
  const std::vector<std::int64_t> x_shape = c.batch_first ? std::vector<std::int64_t>{c.batch, c.seq_len, c.input_size}
                                                          : std::vector<std::int64_t>{c.seq_len, c.batch, c.input_size};
  EXPECT_EQ(shape_string(x.shape), shape_string(x_shape)) << c.name << ".x.npy";
  in.x = x.to_float32(case_file(c, ".x.npy"));
  if (c.lengths) {
    const Array lengths = load_npy(case_file(c, ".lengths.npy"));
    EXPECT_EQ(lengths.dtype, DataType::kInt64) << "the generator writes torch's int64 lengths";
    in.lengths = lengths.to_int32(case_file(c, ".lengths.npy"));
  }
  if (c.initial_state) {
    const Array h0 = load_npy(case_file(c, ".h0.npy")), c0 = load_npy(case_file(c, ".c0.npy"));
    EXPECT_EQ(shape_string(h0.shape), shape_string(h_shape(c)));
    EXPECT_EQ(shape_string(c0.shape), shape_string(c_shape(c)));
    in.h0 = h0.to_float32(case_file(c, ".h0.npy"));
    in.c0 = c0.to_float32(case_file(c, ".c0.npy"));
  }
  lc.expected = read_outputs(c, case_file(c, ".expected.npz"));
  return lc;
}

class TorchGolden : public ::testing::TestWithParam<TorchCase> {};

// pytorch_desc infers exactly the model torch built.
TEST_P(TorchGolden, DescriptionInferredFromStateDict) {
  const TorchCase& c = GetParam();
  const LoadedCase lc = load_case(c);
  EXPECT_EQ(lc.desc.input_size, c.input_size);
  EXPECT_EQ(lc.desc.hidden_size, c.hidden_size);
  EXPECT_EQ(lc.desc.proj_size, c.proj_size);
  EXPECT_EQ(lc.desc.num_layers, c.num_layers);
  EXPECT_EQ(lc.desc.direction, c.bidirectional ? Direction::kBidirectional : Direction::kForward);
  EXPECT_FALSE(lc.desc.uses_extended_cell());
  if (!c.bias)
    for (const LayerWeights& w : lc.weights.layers) {
      EXPECT_EQ(w.b_ih, std::vector<float>(w.b_ih.size(), 0.0f)) << "bias=False must give zero biases";
      EXPECT_EQ(w.b_hh, std::vector<float>(w.b_hh.size(), 0.0f));
    }
}

TEST_P(TorchGolden, ReferenceMatchesTorch) {
  const TorchCase& c = GetParam();
  const LoadedCase lc = load_case(c);
  Lstm lstm = reference_lstm(lc.desc, lc.weights);
  const HostOutputs out = run_host(lstm, lc.inputs, Wanted{true, true}, PaddingMode::kZero);
  EXPECT_TRUE(all_close(lc.expected.y, out.y, kTolerance, 0.0, fmt::format("{} y", c.name)));
  EXPECT_TRUE(all_close(lc.expected.h_n, out.h_n, kTolerance, 0.0, fmt::format("{} h_n", c.name)));
  EXPECT_TRUE(all_close(lc.expected.c_n, out.c_n, kTolerance, 0.0, fmt::format("{} c_n", c.name)));
}

// return_sequences alone and return_state alone give the same values as both together.
TEST_P(TorchGolden, ReferenceSequencesOnlyAndStateOnlyMatchTorch) {
  const TorchCase& c = GetParam();
  const LoadedCase lc = load_case(c);
  Lstm lstm = reference_lstm(lc.desc, lc.weights);
  const HostOutputs seq = run_host(lstm, lc.inputs, Wanted{true, false});
  EXPECT_TRUE(all_close(lc.expected.y, seq.y, kTolerance, 0.0, fmt::format("{} y (sequences only)", c.name)));
  const HostOutputs state = run_host(lstm, lc.inputs, Wanted{false, true});
  EXPECT_TRUE(all_close(lc.expected.h_n, state.h_n, kTolerance, 0.0, fmt::format("{} h_n (state only)", c.name)));
  EXPECT_TRUE(all_close(lc.expected.c_n, state.c_n, kTolerance, 0.0, fmt::format("{} c_n (state only)", c.name)));
}

// End to end: `lstmrt run` on torch's files matches torch.nn.LSTM.
TEST_P(TorchGolden, CliRunMatchesTorch) {
  const TorchCase& c = GetParam();
  const Expected expected = read_outputs(c, case_file(c, ".expected.npz"));
  ScratchDir scratch;
  const std::string out_path = scratch.file("out.npz");
  std::vector<std::string> args = {"run",
                                   "--weights",
                                   case_file(c, ".weights.npz"),
                                   "--input",
                                   case_file(c, ".x.npy"),
                                   "--output",
                                   out_path,
                                   "--backend",
                                   "reference",
                                   "--sequences",
                                   "--state"};
  if (c.batch_first) args.push_back("--batch-first");
  if (c.lengths) args.insert(args.end(), {"--lengths", case_file(c, ".lengths.npy")});
  if (c.initial_state) args.insert(args.end(), {"--h0", case_file(c, ".h0.npy"), "--c0", case_file(c, ".c0.npy")});
  const CommandResult result = run_cli(args);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  ASSERT_TRUE(std::filesystem::exists(out_path)) << result.output;
  const Expected got = read_outputs(c, out_path);
  EXPECT_TRUE(all_close(expected.y, got.y, kTolerance, 0.0, fmt::format("{} CLI y", c.name)));
  EXPECT_TRUE(all_close(expected.h_n, got.h_n, kTolerance, 0.0, fmt::format("{} CLI h_n", c.name)));
  EXPECT_TRUE(all_close(expected.c_n, got.c_n, kTolerance, 0.0, fmt::format("{} CLI c_n", c.name)));
}

INSTANTIATE_TEST_SUITE_P(Cases, TorchGolden, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<TorchCase>& info) { return std::string(info.param.name); });

// The table above describes what the generator actually wrote (catches a regenerated data set
// that drifted from the test).
TEST(TorchGoldenManifest, TableMatchesCasesJson) {
  std::ifstream file(golden_path("torch", "cases.json"));
  ASSERT_TRUE(file) << golden_path("torch", "cases.json");
  const nlohmann::json manifest = nlohmann::json::parse(file);
  const auto& cases = manifest.at("cases");
  ASSERT_EQ(cases.size(), std::size(kCases));
  for (std::size_t k = 0; k < cases.size(); ++k) {
    const nlohmann::json& j = cases[k];
    const TorchCase& c = kCases[k];
    SCOPED_TRACE(c.name);
    EXPECT_EQ(j.at("name").get<std::string>(), c.name);
    EXPECT_EQ(j.at("input_size").get<int>(), c.input_size);
    EXPECT_EQ(j.at("hidden_size").get<int>(), c.hidden_size);
    EXPECT_EQ(j.at("proj_size").get<int>(), c.proj_size);
    EXPECT_EQ(j.at("num_layers").get<int>(), c.num_layers);
    EXPECT_EQ(j.at("bidirectional").get<bool>(), c.bidirectional);
    EXPECT_EQ(j.at("batch_first").get<bool>(), c.batch_first);
    EXPECT_EQ(j.at("bias").get<bool>(), c.bias);
    EXPECT_EQ(j.at("seq_len").get<int>(), c.seq_len);
    EXPECT_EQ(j.at("batch").get<int>(), c.batch);
    EXPECT_EQ(j.at("lengths").get<bool>(), c.lengths);
    EXPECT_EQ(j.at("initial_state").get<bool>(), c.initial_state);
  }
}

// The lengths cases really exercise rows of length 1 and T, and padding in y is zero (torch's
// pad_packed_sequence), so kZero is the right mode to compare with.
TEST(TorchGoldenManifest, LengthCasesCoverOneAndFullLengthAndZeroPadding) {
  int cases_with_lengths = 0;
  for (const TorchCase& c : kCases) {
    if (!c.lengths) continue;
    ++cases_with_lengths;
    const LoadedCase lc = load_case(c);
    const std::vector<std::int32_t>& lengths = *lc.inputs.lengths;
    EXPECT_EQ(*std::min_element(lengths.begin(), lengths.end()), 1) << c.name;
    EXPECT_EQ(*std::max_element(lengths.begin(), lengths.end()), c.seq_len) << c.name;
    const int width = static_cast<int>(y_shape(c)[2]);
    for (int b = 0; b < c.batch; ++b)
      for (int t = lengths[b]; t < c.seq_len; ++t) {
        const std::size_t row = c.batch_first ? std::size_t(b) * c.seq_len + t : std::size_t(t) * c.batch + b;
        for (int k = 0; k < width; ++k) EXPECT_EQ(lc.expected.y[row * width + k], 0.0f) << c.name;
      }
  }
  EXPECT_GE(cases_with_lengths, 3);
}

}  // namespace
}  // namespace lstmrt::test
