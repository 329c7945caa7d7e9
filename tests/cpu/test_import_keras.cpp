// Keras 3 model import: .keras archives and .weights.h5 + config made by
// tests/data/keras_import/gen_keras_models.py (Keras 3 with TensorFlow on a CPU, each case checked
// against a float64 NumPy implementation and Keras's NumPy backend) run through run_model and
// `lstmrt run` on the reference backend and match what Keras computed within 1e-5: chains and
// graphs, encoder–decoders, masks of every padding, merge modes, every Keras activation. Unsupported
// layers and options and broken files get clear errors.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/compare.hpp"
#include "common/golden_files.hpp"
#include "lstmrt/import.hpp"
#include "lstmrt/io.hpp"
#include "lstmrt/keras_run.hpp"

namespace lstmrt::test {
namespace {

constexpr double kTolerance = 1e-5;

// One model of tests/data/keras_import/cases.json.
struct KerasCase {
  std::string name, file;
  int inputs = 0, outputs = 0;
  bool chain = false;
};

std::vector<KerasCase> keras_cases() {
  std::ifstream in(golden_path("keras_import", "cases.json"));
  const nlohmann::json manifest = nlohmann::json::parse(in);
  std::vector<KerasCase> cases;
  for (const auto& c : manifest.at("cases"))
    cases.push_back({c.at("name").get<std::string>(), c.at("file").get<std::string>(), c.at("inputs").get<int>(),
                     c.at("outputs").get<int>(), c.at("chain").get<bool>()});
  return cases;
}

void PrintTo(const KerasCase& c, std::ostream* os) { *os << c.name; }

std::string input_file(const KerasCase& c, int k) {
  return golden_path("keras_import", fmt::format("{}.in{}.npy", c.name, k));
}

ArrayMap expected_outputs(const KerasCase& c) {
  return load_npz(golden_path("keras_import", c.name + ".expected.npz"));
}

::testing::AssertionResult same(const Array& want, const std::vector<std::int64_t>& shape,
                                const std::vector<float>& got, const std::string& what) {
  if (want.shape != shape)
    return ::testing::AssertionFailure() << what << ": shape " << shape_string(shape) << ", expected "
                                         << shape_string(want.shape);
  return all_close(want.to_float32(what), got, kTolerance, 0.0, what);
}

// The chain's last LSTM's final states as Keras returns them (h, c per direction after its
// output(s)), stacked as lstmrt writes h_n / c_n (D, N, H).
std::vector<float> stacked_states(const ArrayMap& expected, const ImportedModel& m, int which) {
  const ImportedNode& last = m.nodes[m.last_lstm()];
  const int D = last.desc.num_directions(), first = D == 2 && last.merge == MergeMode::kNone ? 2 : 1;
  std::vector<float> out;
  for (int d = 0; d < D; ++d) {
    const std::vector<float> v =
        npz_member(expected, fmt::format("out{}", first + 2 * d + which), "keras").to_float32("state");
    out.insert(out.end(), v.begin(), v.end());
  }
  return out;
}

class KerasGolden : public ::testing::TestWithParam<KerasCase> {};

// The library: load_keras_model + run_model on Keras's layout, every output in model.outputs order.
TEST_P(KerasGolden, RunModelMatchesKeras) {
  const KerasCase& c = GetParam();
  const ImportedModel m = load_keras_model(golden_path("keras_import", c.file));
  EXPECT_EQ(m.is_chain(), c.chain) << c.name;
  ASSERT_EQ(m.inputs.size(), static_cast<std::size_t>(c.inputs));
  ASSERT_EQ(m.outputs.size(), static_cast<std::size_t>(c.outputs));
  std::vector<Array> arrays;
  std::vector<std::vector<float>> values;
  std::vector<HostTensorView> views;
  for (int k = 0; k < c.inputs; ++k) {
    arrays.push_back(load_npy(input_file(c, k)));
    values.push_back(arrays.back().to_float32("input"));
  }
  for (int k = 0; k < c.inputs; ++k) views.push_back({arrays[k].shape, values[k].data()});
  const ModelOutputs out = run_model(m, {BackendKind::kReference}, TensorLayout::kBatchMajor, views);
  const ArrayMap expected = expected_outputs(c);
  ASSERT_EQ(out.outputs.size(), static_cast<std::size_t>(c.outputs));
  for (int k = 0; k < c.outputs; ++k) {
    const Array& want = npz_member(expected, fmt::format("out{}", k), "keras");
    EXPECT_TRUE(same(want, out.outputs[k].shape, out.outputs[k].values, fmt::format("{} out{}", c.name, k)));
  }
}

// `lstmrt run` with one --input per model input in Keras's layout (the default for Keras models:
// no --batch-first), writing y / y_fwd, y_bwd, h_n, c_n for chains and out0, out1, ... otherwise.
TEST_P(KerasGolden, CliMatchesKeras) {
  const KerasCase& c = GetParam();
  ScratchDir dir;
  std::vector<std::string> args = {"run", "--backend", "reference", "--weights", golden_path("keras_import", c.file)};
  for (int k = 0; k < c.inputs; ++k) args.insert(args.end(), {"--input", input_file(c, k)});
  args.insert(args.end(), {"--output", dir.file("out.npz")});
  const CommandResult r = run_cli(args);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const ArrayMap got = load_npz(dir.file("out.npz"));
  const ArrayMap expected = expected_outputs(c);
  auto check = [&](const std::string& member, const Array& want) {
    const Array& a = npz_member(got, member, "lstmrt output");
    EXPECT_TRUE(same(want, a.shape, a.to_float32(member), c.name + " " + member));
  };
  if (!c.chain) {
    EXPECT_EQ(got.size(), static_cast<std::size_t>(c.outputs));
    for (int k = 0; k < c.outputs; ++k)
      check(fmt::format("out{}", k), npz_member(expected, fmt::format("out{}", k), "keras"));
    return;
  }
  const ImportedModel m = load_keras_model(golden_path("keras_import", c.file));
  const ImportedNode& last = m.nodes[m.last_lstm()];
  if (last.desc.num_directions() == 2 && last.merge == MergeMode::kNone) {
    check("y_fwd", npz_member(expected, "out0", "keras"));
    check("y_bwd", npz_member(expected, "out1", "keras"));
    EXPECT_EQ(got.count("y"), 0u);
  } else {
    check("y", npz_member(expected, "out0", "keras"));
  }
  ASSERT_EQ(got.count("h_n"), 1u);
  ASSERT_EQ(got.count("c_n"), 1u);
  if (!last.return_state) return;  // Keras did not return them: nothing to compare with
  for (int which : {0, 1}) {
    const Array& a = npz_member(got, which == 0 ? "h_n" : "c_n", "lstmrt output");
    EXPECT_TRUE(all_close(stacked_states(expected, m, which), a.to_float32("state"), kTolerance, 0.0,
                          c.name + (which == 0 ? " h_n" : " c_n")));
  }
}

INSTANTIATE_TEST_SUITE_P(Keras3, KerasGolden, ::testing::ValuesIn(keras_cases()),
                         [](const auto& info) { return info.param.name; });

KerasCase named_case(const std::string& name) {
  for (const KerasCase& c : keras_cases())
    if (c.name == name) return c;
  throw std::runtime_error("no Keras case " + name);
}

// (T, B, F) <-> (B, T, F) of a float32 array.
Array swapped_01(const Array& a) {
  const std::vector<float> v = a.to_float32("swap");
  const std::int64_t A = a.shape[0], B = a.shape[1], C = a.shape[2];
  std::vector<float> out(v.size());
  for (std::int64_t i = 0; i < A; ++i)
    for (std::int64_t j = 0; j < B; ++j) std::copy_n(v.data() + (i * B + j) * C, C, out.data() + (j * A + i) * C);
  return Array::from_float32({B, A, C}, out);
}

// --time-major: time-major data in, time-major sequences out; states and last outputs unchanged.
TEST(KerasImportCli, TimeMajorLayoutTransposesSequences) {
  const KerasCase c = named_case("stacked_masked_encoder_decoder");  // outputs: c (N, H), y (N, T, H), h (N, H)
  ScratchDir dir;
  std::vector<std::string> args = {"run",          "--backend", "reference",
                                   "--time-major", "--weights", golden_path("keras_import", c.file)};
  for (int k = 0; k < c.inputs; ++k) {
    save_npy(dir.file(fmt::format("in{}.npy", k)), swapped_01(load_npy(input_file(c, k))));
    args.insert(args.end(), {"--input", dir.file(fmt::format("in{}.npy", k))});
  }
  args.insert(args.end(), {"--output", dir.file("out.npz"), "-v"});
  const CommandResult r = run_cli(args);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("layout (T, B, F) time-major"), std::string::npos) << r.output;
  const ArrayMap got = load_npz(dir.file("out.npz"));
  const ArrayMap expected = expected_outputs(c);
  const Array& y = npz_member(got, "out1", "lstmrt");
  const Array want_y = swapped_01(npz_member(expected, "out1", "keras"));
  EXPECT_TRUE(same(want_y, y.shape, y.to_float32("y"), "time-major y"));
  for (const char* state : {"out0", "out2"}) {
    const Array& s = npz_member(got, state, "lstmrt");
    EXPECT_TRUE(same(npz_member(expected, state, "keras"), s.shape, s.to_float32(state), state));
  }
}

// Keras's layout is the default for a Keras model ((B, T, F) data without --batch-first must not
// run as (T, B, F)); -v and --help say which layout is in use.
TEST(KerasImportCli, KerasLayoutIsTheDefaultAndSaidSo) {
  const KerasCase c = named_case("left_padded_stack");
  ScratchDir dir;
  const CommandResult r = run_cli({"run", "--backend", "reference", "--weights", golden_path("keras_import", c.file),
                                   "--input", input_file(c, 0), "--output", dir.file("out.npz"), "-v"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("layout (B, T, F) batch-major, Keras's layout"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("a chain (writes y, h_n, c_n)"), std::string::npos) << r.output;
  const ArrayMap got = load_npz(dir.file("out.npz")), expected = expected_outputs(c);
  const Array& y = npz_member(got, "y", "lstmrt");
  const Array& want = npz_member(expected, "out0", "keras");
  EXPECT_TRUE(same(want, y.shape, y.to_float32("y"), "default layout y"));
  const CommandResult help = run_cli({"run", "--help"});
  EXPECT_NE(help.output.find("a Keras model takes (B, T, I)"), std::string::npos) << help.output;
  EXPECT_NE(help.output.find("out0, out1, ... in the order of model.outputs"), std::string::npos) << help.output;
  EXPECT_NE(help.output.find("--time-major"), std::string::npos) << help.output;
  const CommandResult both =
      run_cli({"run", "--weights", golden_path("keras_import", c.file), "--input", input_file(c, 0), "--output",
               dir.file("o2.npz"), "--time-major", "--batch-first"});
  EXPECT_NE(both.exit_code, 0);
  EXPECT_NE(both.output.find("contradict"), std::string::npos) << both.output;
}

// --h0/--c0 feed the model inputs an LSTM takes as its initial_state: (directions, B, H) each.
TEST(KerasImportCli, InitialStateInputsFromH0C0) {
  for (const char* name : {"initial_state_inputs", "bidir_initial_state_inputs"}) {
    SCOPED_TRACE(name);
    const KerasCase c = named_case(name);
    const int D = c.inputs == 5 ? 2 : 1;
    ScratchDir dir;
    std::vector<float> h, cc;
    std::vector<std::int64_t> shape;
    for (int d = 0; d < D; ++d) {
      const Array hd = load_npy(input_file(c, 1 + 2 * d)), cd = load_npy(input_file(c, 2 + 2 * d));
      const std::vector<float> hv = hd.to_float32("h"), cv = cd.to_float32("c");
      h.insert(h.end(), hv.begin(), hv.end());
      cc.insert(cc.end(), cv.begin(), cv.end());
      shape = {D, hd.shape[0], hd.shape[1]};
    }
    save_npy(dir.file("h0.npy"), Array::from_float32(shape, h));
    save_npy(dir.file("c0.npy"), Array::from_float32(shape, cc));
    const CommandResult r = run_cli({"run", "--backend", "reference", "--weights", golden_path("keras_import", c.file),
                                     "--input", input_file(c, 0), "--h0", dir.file("h0.npy"), "--c0",
                                     dir.file("c0.npy"), "--output", dir.file("out.npz")});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const ArrayMap got = load_npz(dir.file("out.npz"));
    const ArrayMap expected = expected_outputs(c);
    for (int k = 0; k < c.outputs; ++k) {
      const Array& a = npz_member(got, fmt::format("out{}", k), "lstmrt");
      EXPECT_TRUE(same(npz_member(expected, fmt::format("out{}", k), "keras"), a.shape, a.to_float32("out"),
                       fmt::format("out{}", k)));
    }
    // A wrong state shape, and --input given for the inputs --h0/--c0 already feed.
    const CommandResult bad =
        run_cli({"run", "--weights", golden_path("keras_import", c.file), "--input", input_file(c, 0), "--h0",
                 input_file(c, 1), "--c0", input_file(c, 2), "--output", dir.file("bad.npz")});
    EXPECT_NE(bad.exit_code, 0);
    EXPECT_NE(bad.output.find("expected (directions="), std::string::npos) << bad.output;
    const CommandResult extra = run_cli({"run", "--weights", golden_path("keras_import", c.file), "--input",
                                         input_file(c, 0), "--input", input_file(c, 1), "--h0", dir.file("h0.npy"),
                                         "--c0", dir.file("c0.npy"), "--output", dir.file("bad.npz")});
    EXPECT_NE(extra.exit_code, 0);
    EXPECT_NE(extra.output.find("besides --h0/--c0"), std::string::npos) << extra.output;
    EXPECT_FALSE(std::filesystem::exists(dir.file("bad.npz")));
  }
}

// The CLI names what a multi-input model expects when an input is missing or misshapen.
TEST(KerasImportCli, InputsCountedAndShapesNamed) {
  const KerasCase c = named_case("seed_encoder_decoder");
  ScratchDir dir;
  const CommandResult one = run_cli({"run", "--weights", golden_path("keras_import", c.file), "--input",
                                     input_file(c, 0), "--output", dir.file("o.npz")});
  EXPECT_NE(one.exit_code, 0);
  EXPECT_NE(one.output.find("takes 2 input(s): 'encoder_input' (B, T, 1), 'decoder_input' (B, T, 1)"),
            std::string::npos)
      << one.output;
  save_npy(dir.file("flat.npy"), Array::from_float32({2, 3}, std::vector<float>(6, 0.5f)));
  const CommandResult flat =
      run_cli({"run", "--weights", golden_path("keras_import", c.file), "--input", input_file(c, 0), "--input",
               dir.file("flat.npy"), "--output", dir.file("o.npz")});
  EXPECT_NE(flat.exit_code, 0);
  EXPECT_NE(flat.output.find("expected (B, T, 1) for input 1 'decoder_input'"), std::string::npos) << flat.output;
  const CommandResult state =
      run_cli({"run", "--weights", golden_path("keras_import", c.file), "--input", input_file(c, 0), "--input",
               input_file(c, 1), "--state", "--output", dir.file("o.npz")});
  EXPECT_NE(state.exit_code, 0);
  EXPECT_NE(state.output.find("is a graph"), std::string::npos) << state.output;
  EXPECT_FALSE(std::filesystem::exists(dir.file("o.npz")));
}

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
               ErrorCode::kUnsupported, "layer 'a' (GRU): lstmrt runs InputLayer, Masking, LSTM, Bidirectional");
  expect_error(
      [&] { load_with_config(dir, replaced(config, "\"activation\": \"tanh\"", "\"activation\": \"softmax\"")); },
      ErrorCode::kUnsupported, "activation 'softmax'");
  expect_error(
      [&] { load_with_config(dir, replaced(config, "\"activation\": \"tanh\"", "\"activation\": \"swishy\"")); },
      ErrorCode::kUnsupported, "unknown Keras activation 'swishy'");
  expect_error([&] { load_with_config(dir, replaced(config, "\"units\": 5", "\"units\": 6")); }, ErrorCode::kIoError,
               "kernel (layers/lstm/cell/vars) has shape (4, 20): expected (4, 24)");
  expect_error([&] { load_with_config(dir, replaced(config, "\"units\": 5", "\"units\": -5")); }, ErrorCode::kIoError,
               "units -5");
  expect_error([&] { load_with_config(dir, replaced(config, "\"use_bias\": true", "\"use_bias\": 3")); },
               ErrorCode::kIoError, "expected true or false");
  expect_error(
      [&] { load_with_config(dir, replaced(config, "\"return_sequences\": true", "\"return_sequences\": false")); },
      ErrorCode::kUnsupported, "not a sequence");
  // Groups are found by class and order (layers/lstm_1 for the second LSTM) and checked against the
  // layer name the file records.
  expect_error([&] { load_with_config(dir, replaced(config, "\"name\": \"b\"", "\"name\": \"other\"")); },
               ErrorCode::kIoError, "weights group layers/lstm_1 in");
  expect_error([&] { load_with_config(dir, replaced(config, "\"name\": \"b\"", "\"name\": \"other\"")); },
               ErrorCode::kIoError, "belongs to layer 'b'");
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
  // A zip without config.json and model.weights.h5 is an .npz, whatever its name (import.hpp's rules).
  expect_error([&] { load_keras_model(dir.file("empty.keras")); }, ErrorCode::kIoError,
               "the content is an .npz archive (numpy.savez) although its name ends in '.keras'");
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
  expect_error(
      [&] {
        run_model(m, {BackendKind::kReference}, TensorLayout::kBatchMajor, {{{N, T, I}, x.data()}}, lengths);
      },
      ErrorCode::kInvalidArgument, "Masking layer sets the mask");
  // A mask with a gap (row 0: step 1 is all mask value) is Keras's to honour: it runs.
  const ModelOutputs out = run_model(m, {BackendKind::kReference}, TensorLayout::kBatchMajor, {{{N, T, I}, x.data()}});
  ASSERT_EQ(out.outputs.size(), 3u);
  EXPECT_EQ(out.outputs[0].shape, (std::vector<std::int64_t>{N, T, 3}));
  expect_error(
      [&] {
        run_model(m, {BackendKind::kReference}, TensorLayout::kBatchMajor, {{{N, T, I + 1}, x.data()}});
      },
      ErrorCode::kInvalidArgument, "expected (batch, steps, 3)");
  expect_error([&] { run_model(m, {BackendKind::kReference}, TensorLayout::kBatchMajor, {}); },
               ErrorCode::kInvalidArgument, "takes 1 input(s)");
}

TEST(KerasImport, CliRejectsFlagsTheModelSets) {
  ScratchDir dir;
  const CommandResult r = run_cli({"run", "--weights", golden_path("keras_import", "bidir_concat_state.keras"),
                                   "--input", golden_path("keras_import", "bidir_concat_state.in0.npy"), "--output",
                                   dir.file("out.npz"), "--go-backwards"});
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("--go-backwards does not apply"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir.file("out.npz")));
}

}  // namespace
}  // namespace lstmrt::test
