// Keras 3 model import: .keras archives and .weights.h5 + config made by
// tests/data/keras_import/gen_keras_models.py (Keras 3, jax backend) run through `lstmrt run` on the
// reference backend and match what Keras computed within 1e-5; unsupported layers and options
// and broken files get clear errors.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
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

struct KerasCase {
  const char* name;
  const char* file;
  bool bidirectional_state;  // expected holds h_fwd/c_fwd/h_bwd/c_bwd rather than h/c
  bool state;                // expected holds final states
};
const KerasCase kCases[] = {
    {"sequential_stack", "sequential_stack.weights.h5", false, false},
    {"bidir_concat_state", "bidir_concat_state.keras", true, true},
    {"go_backwards_stack_masked", "go_backwards_stack_masked.keras", false, true},
    {"bidir_sum_ave_masked_nobias", "bidir_sum_ave_masked_nobias.keras", false, false},
    {"bidir_mul_go_backwards_last", "bidir_mul_go_backwards_last.keras", false, true},
};

std::vector<float> row_block(const Array& a, std::int64_t row, const std::string& what) {
  const std::vector<float> all = a.to_float32(what);
  const std::size_t block = all.size() / static_cast<std::size_t>(a.shape[0]);
  return {all.begin() + row * block, all.begin() + (row + 1) * block};
}

class KerasGolden : public ::testing::TestWithParam<KerasCase> {};

TEST_P(KerasGolden, CliMatchesKeras) {
  const KerasCase& c = GetParam();
  ScratchDir dir;
  const CommandResult r = run_cli({"run", "--backend", "reference", "--batch-first", "--weights",
                                   golden_path("keras_import", c.file), "--input",
                                   golden_path("keras_import", fmt::format("{}.x.npy", c.name)), "--output",
                                   dir.file("out.npz")});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const ArrayMap got = load_npz(dir.file("out.npz"));
  const ArrayMap expected = load_npz(golden_path("keras_import", fmt::format("{}.expected.npz", c.name)));
  const Array& y = npz_member(got, "y", "lstmrt output");
  const Array& ey = npz_member(expected, "y", "keras");
  EXPECT_EQ(y.shape, ey.shape);
  EXPECT_TRUE(all_close(ey.to_float32("y"), y.to_float32("y"), kTolerance, 0.0, fmt::format("{} y", c.name)));
  if (!c.state) return;
  const Array& h_n = npz_member(got, "h_n", "lstmrt output");
  const Array& c_n = npz_member(got, "c_n", "lstmrt output");
  const std::vector<std::pair<const char*, const char*>> states =
      c.bidirectional_state ? std::vector<std::pair<const char*, const char*>>{{"h_fwd", "c_fwd"}, {"h_bwd", "c_bwd"}}
                            : std::vector<std::pair<const char*, const char*>>{{"h", "c"}};
  ASSERT_EQ(h_n.shape[0], static_cast<std::int64_t>(states.size()));
  for (std::size_t d = 0; d < states.size(); ++d) {
    EXPECT_TRUE(all_close(npz_member(expected, states[d].first, "keras").to_float32("h"), row_block(h_n, d, "h_n"),
                          kTolerance, 0.0, fmt::format("{} {}", c.name, states[d].first)));
    EXPECT_TRUE(all_close(npz_member(expected, states[d].second, "keras").to_float32("c"), row_block(c_n, d, "c_n"),
                          kTolerance, 0.0, fmt::format("{} {}", c.name, states[d].second)));
  }
}

INSTANTIATE_TEST_SUITE_P(Keras3, KerasGolden, ::testing::ValuesIn(kCases),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(KerasImport, NodesFollowTheLayers) {
  const ImportedModel m = load_keras_model(golden_path("keras_import", "go_backwards_stack_masked.keras"));
  ASSERT_EQ(m.nodes.size(), 3u);  // Masking, LSTM, LSTM
  EXPECT_TRUE(m.is_chain());
  EXPECT_EQ(m.nodes[0].kind, NodeKind::kMasking);
  const ImportedNode& a = m.nodes[1];
  const ImportedNode& b = m.nodes[2];
  ASSERT_TRUE(a.mask.has_value());
  EXPECT_EQ(a.mask->sequence, (ValueRef{-1, 0}));  // any(x != 0) over the model input's features
  ASSERT_TRUE(b.mask.has_value());
  EXPECT_EQ(b.mask->sequence, (ValueRef{-1, 0}));  // passed on unreversed by the go_backwards layer
  EXPECT_EQ(a.desc.direction, Direction::kReverse);
  EXPECT_EQ(a.reverse_order, ReverseOutputOrder::kProcessing);
  EXPECT_EQ(a.padding, PaddingMode::kCarryLast);
  EXPECT_EQ(b.inputs[0], (ValueRef{1, 0}));
  EXPECT_EQ(b.desc.input_size, 4);
  EXPECT_EQ(b.desc.activations[0].gate, Activation::hard_sigmoid_keras3());
  EXPECT_EQ(b.desc.activations[0].cell, Activation::relu());
  EXPECT_EQ(m.outputs, (std::vector<ValueRef>{{2, 0}, {2, 1}, {2, 2}}));
  const ImportedModel s = load_keras_model(golden_path("keras_import", "bidir_sum_ave_masked_nobias.keras"));
  ASSERT_EQ(s.nodes.size(), 3u);
  EXPECT_EQ(s.nodes[1].merge, MergeMode::kSum);
  EXPECT_EQ(s.nodes[1].output_width(), 5);
  EXPECT_EQ(s.nodes[2].merge, MergeMode::kAverage);
  EXPECT_EQ(s.nodes[2].desc.input_size, 5);
  EXPECT_FALSE(s.nodes[2].return_sequences);
}

TEST(KerasImport, LoadWeightsTakesOneStageModelsOnly) {
  const LoadedWeights w = load_weights(golden_path("keras_import", "bidir_concat_state.keras"));
  EXPECT_EQ(w.format, "keras");
  EXPECT_EQ(w.desc.direction, Direction::kBidirectional);
  EXPECT_EQ(w.desc.hidden_size, 4);
  EXPECT_EQ(w.desc.input_size, 3);
  try {
    load_weights(golden_path("keras_import", "go_backwards_stack_masked.keras"));
    ADD_FAILURE() << "a two-stage Keras model loaded as plain weights";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported) << e.what();
    EXPECT_NE(std::string(e.what()).find("load_keras_model"), std::string::npos) << e.what();
  }
}

void expect_error(const std::function<void()>& fn, ErrorCode code, const std::string& needle) {
  try {
    fn();
    ADD_FAILURE() << "no error; expected one containing '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

// Writes config text beside a copy of the sequential_stack weights and loads the pair.
void load_with_config(const ScratchDir& dir, const std::string& config) {
  std::ofstream(dir.file("m.config.json")) << config;
  std::filesystem::copy_file(golden_path("keras_import", "sequential_stack.weights.h5"), dir.file("m.weights.h5"),
                             std::filesystem::copy_options::overwrite_existing);
  load_keras_model(dir.file("m.weights.h5"));
}

std::string golden_config() {
  std::ifstream in(golden_path("keras_import", "sequential_stack.config.json"));
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const std::size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return at == std::string::npos ? text : text.replace(at, from.size(), to);
}

TEST(KerasImport, RejectsUnsupportedModelsAndBadFiles) {
  ScratchDir dir;
  const std::string config = golden_config();
  EXPECT_NO_THROW(load_with_config(dir, config));
  expect_error([&] { load_with_config(dir, replaced(config, "\"class_name\": \"LSTM\"", "\"class_name\": \"GRU\"")); },
               ErrorCode::kUnsupported, "layer 'lstm' (GRU): lstmrt runs InputLayer, Masking, LSTM, Bidirectional");
  expect_error([&] { load_with_config(dir, replaced(config, "\"activation\": \"tanh\"", "\"activation\": \"softmax\"")); },
               ErrorCode::kUnsupported, "activation 'softmax'");
  expect_error([&] { load_with_config(dir, replaced(config, "\"activation\": \"tanh\"", "\"activation\": \"swishy\"")); },
               ErrorCode::kUnsupported, "unknown Keras activation 'swishy'");
  expect_error([&] { load_with_config(dir, replaced(config, "\"units\": 5", "\"units\": 6")); }, ErrorCode::kIoError,
               "kernel (layers/lstm/cell/vars) has shape (4, 20): expected (4, 24)");
  expect_error([&] { load_with_config(dir, replaced(config, "\"units\": 5", "\"units\": -5")); }, ErrorCode::kIoError,
               "units -5");
  expect_error([&] { load_with_config(dir, replaced(config, "\"use_bias\": true", "\"use_bias\": 3")); },
               ErrorCode::kIoError, "expected true or false");
  expect_error([&] { load_with_config(dir, replaced(config, "\"return_sequences\": true", "\"return_sequences\": false")); },
               ErrorCode::kUnsupported, "not a sequence");
  // Groups are found by class and order (layers/lstm_1 for the second LSTM) and checked against the
  // layer name the file records.
  expect_error([&] { load_with_config(dir, replaced(config, "\"name\": \"lstm_1\"", "\"name\": \"other\"")); },
               ErrorCode::kIoError, "weights group layers/lstm_1 in");
  expect_error([&] { load_with_config(dir, replaced(config, "\"name\": \"lstm_1\"", "\"name\": \"other\"")); },
               ErrorCode::kIoError, "belongs to layer 'lstm_1'");
  expect_error([&] { load_with_config(dir, config.substr(0, config.size() / 2)); }, ErrorCode::kIoError,
               "not valid JSON");
  expect_error([&] { load_with_config(dir, "{\"class_name\": \"Sequential\"}"); }, ErrorCode::kIoError,
               "no config.layers list");
  // A truncated weights file, a missing config, a .keras that is not a zip, a zip without members.
  const std::string h5 = golden_path("keras_import", "sequential_stack.weights.h5");
  std::ifstream in(h5, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::ofstream(dir.file("cut.weights.h5"), std::ios::binary).write(bytes.data(), bytes.size() / 2);
  std::ofstream(dir.file("cut.config.json")) << config;
  expect_error([&] { load_keras_model(dir.file("cut.weights.h5")); }, ErrorCode::kIoError, "cut.weights.h5");
  std::filesystem::copy_file(h5, dir.file("alone.weights.h5"));
  std::filesystem::remove(dir.file("m.config.json"));
  expect_error([&] { load_keras_model(dir.file("alone.weights.h5")); }, ErrorCode::kIoError, "config was not found");
  std::ofstream(dir.file("junk.keras")) << "not a zip";
  expect_error([&] { load_keras_model(dir.file("junk.keras")); }, ErrorCode::kIoError, "not a readable zip");
  save_npz(dir.file("empty.keras"), {{"a", Array::from_float32({1}, {1.0f})}});
  expect_error([&] { load_keras_model(dir.file("empty.keras")); }, ErrorCode::kIoError, "no member 'config.json'");
  expect_error([&] { load_keras_model(dir.file("missing.keras")); }, ErrorCode::kIoError, "no such file");
  // A dataset declaring 2^30 values with none stored: refused before anything is allocated.
  expect_error([&] { load_keras_model(golden_path("keras_import", "bad_huge_dataset.weights.h5")); },
               ErrorCode::kIoError, "declares 1073741824 values but stores 0 bytes");
}

TEST(KerasImport, LengthsOnlyForChainsWithoutMasking) {
  const ImportedModel m = load_keras_model(golden_path("keras_import", "go_backwards_stack_masked.keras"));
  const int T = 3, N = 1, I = 3;
  std::vector<float> x = {0.5f, 0.1f, 0.2f, 0.0f, 0.0f, 0.0f, 0.3f, 0.3f, 0.3f};
  const std::int32_t lengths[] = {3};
  expect_error([&] { run_model(m, {BackendKind::kReference}, TensorLayout::kBatchMajor, {{{N, T, I}, x.data()}}, lengths); },
               ErrorCode::kInvalidArgument, "Masking layer sets the mask");
  // A mask with a gap (row 0: step 1 is all mask value) is Keras's to honour: it runs.
  const ModelOutputs out = run_model(m, {BackendKind::kReference}, TensorLayout::kBatchMajor, {{{N, T, I}, x.data()}});
  ASSERT_EQ(out.outputs.size(), 3u);
  EXPECT_EQ(out.outputs[0].shape, (std::vector<std::int64_t>{N, T, 3}));
  expect_error([&] { run_model(m, {BackendKind::kReference}, TensorLayout::kBatchMajor, {{{N, T, I + 1}, x.data()}}); },
               ErrorCode::kInvalidArgument, "expected (batch, steps, 3)");
  expect_error([&] { run_model(m, {BackendKind::kReference}, TensorLayout::kBatchMajor, {}); },
               ErrorCode::kInvalidArgument, "takes 1 input(s)");
}

TEST(KerasImport, CliRejectsFlagsTheModelSets) {
  ScratchDir dir;
  const CommandResult r = run_cli({"run", "--weights", golden_path("keras_import", "bidir_concat_state.keras"),
                                   "--input", golden_path("keras_import", "bidir_concat_state.x.npy"), "--output",
                                   dir.file("out.npz"), "--go-backwards"});
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("--go-backwards does not apply"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir.file("out.npz")));
}

}  // namespace
}  // namespace lstmrt::test
