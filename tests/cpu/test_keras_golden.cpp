// lstmrt against Keras 3: golden files written by tests/data/keras/gen_keras_golden.py (Keras 3,
// JAX backend on CPU) are loaded with from_keras, run on the reference backend with the options
// that reproduce Keras (padding mode, go_backwards order, activations) and compared within 1e-5.
//
// What Keras returns at masked (right-padded) positions of y, read from Keras 3's source:
//   - plain LSTM (zero_output_for_mask=False): the previous output. keras/src/backend/jax/rnn.py
//     (lax.scan path, unroll=False) takes it from states[0], i.e. h of the last valid step, which
//     is lstmrt's PaddingMode::kCarryLast — except before any valid step in processing order
//     (the leading padding of go_backwards, or a row of length 0), where states[0] is the
//     INITIAL h: zeros without initial_state, h0 with it (the NumPy backend's scan does the
//     same). Keras's unrolled loop (unroll=True, any backend) and the TensorFlow and torch
//     backends' while loops start from a zero "previous output" instead, as kCarryLast does.
//     The initial-state cases record both loops (y and y_unroll); see KerasJaxScanPadding below.
//   - Bidirectional(LSTM): forces zero_output_for_mask = return_sequences on both halves
//     (keras/src/layers/rnn/bidirectional.py), so padded positions are zeros: PaddingMode::kZero.
// The mask_* cases pass masks of any pattern (front padding as pad_sequences makes it, gaps, empty
// rows) as ForwardRequest::mask, through the reference (and, in tests/simt/test_simt_keras.cpp, the
// fused backend's kernels on the SIMT executor); the generator checks every case against a float64
// NumPy implementation (keras_np64.py).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
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

enum class Mask { kNone, kCarry, kZero };  // no mask; masked with Keras's carry / zero padding

struct KerasCase {
  const char* name;
  int input_size, hidden_size, num_layers;
  bool bidirectional, go_backwards, use_bias;
  const char* activation;            // Keras `activation`: g and h
  const char* recurrent_activation;  // Keras `recurrent_activation`: i, f, o
  int seq_len, batch;
  Mask mask;
  bool initial_state;
  bool per_step_mask = false;  // the mask (CASE.mask.npy) goes in as ForwardRequest::mask, not lengths
};

// One case a row, columns aligned under the header comment (clang-format would undo that).
// clang-format off
const KerasCase kCases[] = {
    // name                                I  H  L  bidir  go_back bias   act     rec_act         T  N  mask          h0/c0
    {"go_backwards",                       5, 7, 1, false, true,   true,  "tanh", "sigmoid",      6, 3, Mask::kNone,  false},
    {"masked",                             4, 6, 1, false, false,  true,  "tanh", "sigmoid",      6, 4, Mask::kCarry, false},
    {"masked_go_backwards",                5, 4, 1, false, true,   true,  "tanh", "sigmoid",      5, 4, Mask::kCarry, false},
    {"bidir_masked",                       3, 5, 1, true,  false,  true,  "tanh", "sigmoid",      5, 4, Mask::kZero,  false},
    {"stack_masked",                       4, 5, 2, false, false,  true,  "tanh", "sigmoid",      6, 3, Mask::kCarry, false},
    {"hard_sigmoid_relu",                  4, 6, 1, false, false,  true,  "relu", "hard_sigmoid", 5, 3, Mask::kNone,  false},
    {"no_bias",                            5, 7, 1, false, false,  false, "tanh", "sigmoid",      6, 3, Mask::kNone,  false},
    {"masked_initial_state",               3, 4, 1, false, false,  true,  "tanh", "sigmoid",      5, 4, Mask::kCarry, true},
    {"masked_go_backwards_initial_state",  3, 4, 1, false, true,   true,  "tanh", "sigmoid",      5, 4, Mask::kCarry, true},
    // per-step masks of any pattern (front padding, gaps, empty rows)
    {"mask_front_padded",                  4, 5, 1, false, false,  true,  "tanh", "sigmoid",      6, 5, Mask::kCarry, false, true},
    {"mask_gaps_go_backwards",             3, 4, 1, false, true,   true,  "tanh", "sigmoid",      6, 4, Mask::kCarry, false, true},
    {"mask_bidir_front_padded",            3, 4, 1, true,  false,  true,  "tanh", "sigmoid",      5, 4, Mask::kZero,  false, true},
    {"mask_stack_zero_output",             3, 4, 2, false, false,  true,  "tanh", "sigmoid",      6, 4, Mask::kZero,  false, true},
    {"leaky_relu",                         4, 5, 1, false, false,  true,  "leaky_relu", "sigmoid", 5, 3, Mask::kNone, false},
};
// clang-format on

void PrintTo(const KerasCase& c, std::ostream* os) { *os << c.name; }

std::string case_file(const KerasCase& c, const std::string& suffix) {
  return golden_path("keras", std::string(c.name) + suffix);
}

// Keras activation names as the case table spells them, mapped explicitly (not through
// Activation::from_keras, which KerasHardSigmoid tests separately).
Activation keras_activation(const std::string& name) {
  if (name == "sigmoid") return Activation::sigmoid();
  if (name == "tanh") return Activation::tanh();
  if (name == "relu") return Activation::relu();
  if (name == "hard_sigmoid") return Activation::hard_sigmoid_keras3();
  if (name == "leaky_relu") return Activation::leaky_relu(0.2f);  // keras.activations.leaky_relu(negative_slope=0.2)
  throw std::runtime_error("keras golden test: no mapping for activation " + name);
}

ModelDesc keras_desc(const KerasCase& c) {
  ModelDesc m;
  m.input_size = c.input_size;
  m.hidden_size = c.hidden_size;
  m.num_layers = c.num_layers;
  m.direction = c.bidirectional  ? Direction::kBidirectional
                : c.go_backwards ? Direction::kReverse
                                 : Direction::kForward;
  CellActivations act;
  act.gate = keras_activation(c.recurrent_activation);
  act.cell = act.hidden = keras_activation(c.activation);
  m.set_activations(act);
  return m;
}

// The npz member prefix of layer l, direction slot d (names as gen_keras_golden.py writes them).
std::string member_prefix(const KerasCase& c, int layer, int dir) {
  if (c.bidirectional) return fmt::format("layer{}/{}/", layer, dir == 0 ? "forward" : "backward");
  return c.num_layers > 1 ? fmt::format("layer{}/", layer) : "";
}

Weights keras_weights(const KerasCase& c, const ModelDesc& m) {
  const std::string path = case_file(c, ".weights.npz");
  const TensorMap tensors = tensor_map(load_npz(path), path);
  Weights w;
  for (int l = 0; l < m.num_layers; ++l)
    for (int d = 0; d < m.num_directions(); ++d) {
      const std::string prefix = member_prefix(c, l, d);
      KerasLstmWeights k;
      k.kernel = tensors.at(prefix + "kernel");
      k.recurrent_kernel = tensors.at(prefix + "recurrent_kernel");
      const auto bias = tensors.find(prefix + "bias");
      EXPECT_EQ(bias != tensors.end(), c.use_bias) << path << ": " << prefix << "bias";
      if (bias != tensors.end()) k.bias = bias->second;
      w.layers.push_back(from_keras(k, m.layer_input_size(l), m.hidden_size));
    }
  return w;
}

struct KerasOutputs {
  std::vector<float> y, y_unroll, h_n, c_n;
};

struct LoadedCase {
  ModelDesc desc;
  Weights weights;
  HostInputs inputs;
  KerasOutputs expected;
  ForwardRequest options;  // padding and reverse order only
};

std::vector<float> float_member(const ArrayMap& npz, const std::string& key, const std::vector<std::int64_t>& shape,
                                const std::string& source) {
  const Array& a = npz_member(npz, key, source);
  EXPECT_EQ(shape_string(a.shape), shape_string(shape)) << source << " member " << key;
  return a.to_float32(source + " member '" + key + "'");
}

LoadedCase load_case(const KerasCase& c) {
  LoadedCase lc;
  lc.desc = keras_desc(c);
  lc.weights = keras_weights(c, lc.desc);
  const int D = c.bidirectional ? 2 : 1, H = c.hidden_size, N = c.batch, T = c.seq_len;
  const std::vector<std::int64_t> y_shape{N, T, D * H}, state_shape{c.num_layers * D, N, H};

  HostInputs& in = lc.inputs;
  in.seq_len = T;
  in.batch = N;
  in.layout = TensorLayout::kBatchMajor;  // Keras is (N, T, I)
  const Array x = load_npy(case_file(c, ".x.npy"));
  EXPECT_EQ(shape_string(x.shape), shape_string({N, T, c.input_size}));
  in.x = x.to_float32(case_file(c, ".x.npy"));
  if (c.per_step_mask) {
    const Array m = load_npy(case_file(c, ".mask.npy"));  // (N, T) uint8
    EXPECT_EQ(shape_string(m.shape), shape_string({N, T}));
    EXPECT_EQ(m.dtype, DataType::kUint8);
    in.mask = m.data;
  } else if (c.mask != Mask::kNone) {
    in.lengths = load_npy(case_file(c, ".lengths.npy")).to_int32(case_file(c, ".lengths.npy"));
  }
  if (c.initial_state) {
    in.h0 = load_npy(case_file(c, ".h0.npy")).to_float32(case_file(c, ".h0.npy"));
    in.c0 = load_npy(case_file(c, ".c0.npy")).to_float32(case_file(c, ".c0.npy"));
  }

  const std::string expected_path = case_file(c, ".expected.npz");
  const ArrayMap npz = load_npz(expected_path);
  lc.expected.y = float_member(npz, "y", y_shape, expected_path);
  lc.expected.h_n = float_member(npz, "h_n", state_shape, expected_path);
  lc.expected.c_n = float_member(npz, "c_n", state_shape, expected_path);
  if (c.initial_state) lc.expected.y_unroll = float_member(npz, "y_unroll", y_shape, expected_path);

  lc.options.padding = c.mask == Mask::kZero ? PaddingMode::kZero : PaddingMode::kCarryLast;
  lc.options.reverse_order = c.go_backwards ? ReverseOutputOrder::kProcessing : ReverseOutputOrder::kOriginal;
  return lc;
}

HostOutputs run_reference(const LoadedCase& lc, const ModelDesc& desc) {
  Lstm lstm = reference_lstm(desc, lc.weights);
  return run_host(lstm, lc.inputs, Wanted{true, true}, lc.options.padding, lc.options.reverse_order);
}

class KerasGolden : public ::testing::TestWithParam<KerasCase> {};

// y, h_n and c_n as Keras returns them. For the initial-state cases y is compared with Keras's
// unrolled loop (y_unroll), which agrees with lstmrt's kCarryLast; the default JAX loop differs
// only at the leading padding (KerasJaxScanPadding).
TEST_P(KerasGolden, ReferenceMatchesKeras) {
  const KerasCase& c = GetParam();
  const LoadedCase lc = load_case(c);
  const HostOutputs out = run_reference(lc, lc.desc);
  const std::vector<float>& y = c.initial_state ? lc.expected.y_unroll : lc.expected.y;
  EXPECT_TRUE(all_close(y, out.y, kTolerance, 0.0, fmt::format("{} y", c.name)));
  EXPECT_TRUE(all_close(lc.expected.h_n, out.h_n, kTolerance, 0.0, fmt::format("{} h_n", c.name)));
  EXPECT_TRUE(all_close(lc.expected.c_n, out.c_n, kTolerance, 0.0, fmt::format("{} c_n", c.name)));
}

// The Keras weight-file names are also read by load_weights (what the CLI uses), to the same
// canonical weights.
TEST_P(KerasGolden, LoadWeightsAgreesWithFromKeras) {
  const KerasCase& c = GetParam();
  const LoadedCase lc = load_case(c);
  const LoadedWeights loaded = load_weights(case_file(c, ".weights.npz"));
  EXPECT_EQ(loaded.format, "keras");
  EXPECT_EQ(loaded.desc.input_size, c.input_size);
  EXPECT_EQ(loaded.desc.hidden_size, c.hidden_size);
  EXPECT_EQ(loaded.desc.num_layers, c.num_layers);
  EXPECT_EQ(loaded.desc.direction, c.bidirectional ? Direction::kBidirectional : Direction::kForward);
  ASSERT_EQ(loaded.weights.layers.size(), lc.weights.layers.size());
  for (std::size_t k = 0; k < lc.weights.layers.size(); ++k) {
    EXPECT_EQ(loaded.weights.layers[k].w_ih, lc.weights.layers[k].w_ih) << "layer slot " << k;
    EXPECT_EQ(loaded.weights.layers[k].w_hh, lc.weights.layers[k].w_hh) << "layer slot " << k;
    EXPECT_EQ(loaded.weights.layers[k].b_ih, lc.weights.layers[k].b_ih) << "layer slot " << k;
    EXPECT_EQ(loaded.weights.layers[k].b_hh, lc.weights.layers[k].b_hh) << "layer slot " << k;
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, KerasGolden, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<KerasCase>& info) { return std::string(info.param.name); });

const KerasCase& find_case(const std::string& name) {
  for (const KerasCase& c : kCases)
    if (name == c.name) return c;
  throw std::runtime_error("no keras case " + name);
}

// The padded positions really exercise both padding modes: a plain forward masked LSTM repeats
// the last valid output (so kZero would fail), Bidirectional holds zeros (so kCarryLast would
// fail). (masked_go_backwards cannot tell them apart: its right padding is met first, before any
// output, where both modes hold zeros.)
TEST(KerasGoldenPadding, PaddingModeMatters) {
  for (const char* name : {"masked", "stack_masked", "bidir_masked"}) {
    const KerasCase& c = find_case(name);
    LoadedCase lc = load_case(c);
    lc.options.padding = lc.options.padding == PaddingMode::kZero ? PaddingMode::kCarryLast : PaddingMode::kZero;
    const HostOutputs out = run_reference(lc, lc.desc);
    EXPECT_FALSE(all_close(lc.expected.y, out.y, kTolerance, 0.0, name))
        << name << " passes with the other padding mode";
    EXPECT_TRUE(all_close(lc.expected.h_n, out.h_n, kTolerance, 0.0, fmt::format("{} h_n", name)));
  }
}

// go_backwards returns y in processing order: kOriginal (ONNX's reverse) is not the same thing.
TEST(KerasGoldenPadding, GoBackwardsIsProcessingOrder) {
  const KerasCase& c = find_case("go_backwards");
  LoadedCase lc = load_case(c);
  lc.options.reverse_order = ReverseOutputOrder::kOriginal;
  const HostOutputs out = run_reference(lc, lc.desc);
  EXPECT_FALSE(all_close(lc.expected.y, out.y, kTolerance, 0.0, "go_backwards y in original order"));
  // ... it is the same values with the time axis flipped: y_original[b, t] = y_keras[b, T−1−t].
  const int T = c.seq_len, C = c.hidden_size;
  std::vector<float> flipped(out.y.size());
  for (int b = 0; b < c.batch; ++b)
    for (int t = 0; t < T; ++t)
      std::copy_n(lc.expected.y.begin() + (static_cast<std::size_t>(b) * T + (T - 1 - t)) * C, C,
                  flipped.begin() + (static_cast<std::size_t>(b) * T + t) * C);
  EXPECT_TRUE(all_close(flipped, out.y, kTolerance, 0.0, "go_backwards y flipped to original order"));
}

// Keras 3's default (JAX lax.scan) loop fills masked steps with states[0], the carried h. Before
// the first valid step in processing order that is the initial h: with initial_state given, the
// leading padding of go_backwards and every step of a length-0 row hold h0, where lstmrt's
// kCarryLast (and Keras's unrolled loop) hold zeros. Everywhere else the two loops agree. This
// test pins that one difference down exactly; it must change if lstmrt adopts the JAX behaviour.
TEST(KerasJaxScanPadding, DiffersFromCarryLastOnlyBeforeTheFirstValidStep) {
  for (const char* name : {"masked_initial_state", "masked_go_backwards_initial_state"}) {
    SCOPED_TRACE(name);
    const KerasCase& c = find_case(name);
    const LoadedCase lc = load_case(c);
    const HostOutputs out = run_reference(lc, lc.desc);
    const int T = c.seq_len, H = c.hidden_size;
    const std::vector<std::int32_t>& lengths = *lc.inputs.lengths;
    const std::vector<float>& h0 = *lc.inputs.h0;  // (1, N, H)
    int leading_padding = 0;
    for (int b = 0; b < c.batch; ++b)
      for (int k = 0; k < T; ++k) {  // k: position in y (processing order for go_backwards)
        // Steps of row b processed before its first valid one: all of them when len = 0; for
        // go_backwards the T − len padded steps it meets first; none for a forward row.
        const bool before_first_valid = lengths[b] == 0 || (c.go_backwards && k < T - lengths[b]);
        for (int j = 0; j < H; ++j) {
          const std::size_t e = (static_cast<std::size_t>(b) * T + k) * H + j;
          if (before_first_valid) {
            ++leading_padding;
            EXPECT_NEAR(lc.expected.y[e], h0[static_cast<std::size_t>(b) * H + j], 1e-6)
                << "Keras holds h0 at b=" << b << " k=" << k;
            EXPECT_EQ(lc.expected.y_unroll[e], 0.0f) << "Keras unrolled holds 0 at b=" << b << " k=" << k;
            EXPECT_EQ(out.y[e], 0.0f) << "lstmrt kCarryLast holds 0 at b=" << b << " k=" << k;
          } else {
            EXPECT_NEAR(out.y[e], lc.expected.y[e], kTolerance) << "b=" << b << " k=" << k << " j=" << j;
          }
        }
      }
    EXPECT_GT(leading_padding, 0);
  }
}

// Keras 3's hard_sigmoid (x/6 + 1/2) and ONNX HardSigmoid (0.2x + 0.5, also Keras 2's) share a
// name, not a formula: on the same model they give different outputs, and only the Keras 3 one
// matches Keras 3.
TEST(KerasHardSigmoid, Keras3AndOnnxHardSigmoidDiffer) {
  const KerasCase& c = find_case("hard_sigmoid_relu");
  const LoadedCase lc = load_case(c);
  const HostOutputs keras3 = run_reference(lc, lc.desc);
  EXPECT_TRUE(all_close(lc.expected.y, keras3.y, kTolerance, 0.0, "hard_sigmoid_keras3 y"));

  ModelDesc onnx_desc = lc.desc;
  for (CellActivations& a : onnx_desc.activations) a.gate = Activation::hard_sigmoid(0.2f, 0.5f);
  const HostOutputs onnx = run_reference(lc, onnx_desc);
  EXPECT_FALSE(all_close(lc.expected.y, onnx.y, kTolerance, 0.0, "onnx HardSigmoid y"));
  double max_diff = 0.0;
  for (std::size_t k = 0; k < onnx.y.size(); ++k)
    max_diff = std::max(max_diff, std::fabs(double(onnx.y[k]) - keras3.y[k]));
  EXPECT_GT(max_diff, 1e-2) << "the two hard sigmoids should differ visibly on this model";
  EXPECT_NE(Activation::hard_sigmoid_keras3(), Activation::hard_sigmoid());
}

// Keras's leaky_relu by name has slope 0.2 (keras.activations.leaky_relu(-1.0) == -0.2): only that
// matches Keras, and from_keras gives it; ONNX's default slope (0.01) visibly does not.
TEST(KerasLeakyRelu, SlopeIsKerassNotOnnxs) {
  const KerasCase& c = find_case("leaky_relu");
  const LoadedCase lc = load_case(c);
  ModelDesc keras_desc = lc.desc;
  keras_desc.activations[0].cell = keras_desc.activations[0].hidden = Activation::from_keras("leaky_relu");
  EXPECT_TRUE(all_close(lc.expected.y, run_reference(lc, keras_desc).y, kTolerance, 0.0, "from_keras leaky_relu y"));
  ModelDesc onnx_desc = lc.desc;
  onnx_desc.activations[0].cell = onnx_desc.activations[0].hidden = Activation::from_onnx("LeakyRelu");
  const HostOutputs onnx = run_reference(lc, onnx_desc);
  double max_diff = 0.0;
  for (std::size_t k = 0; k < onnx.y.size(); ++k)
    max_diff = std::max(max_diff, std::fabs(double(onnx.y[k]) - lc.expected.y[k]));
  EXPECT_GT(max_diff, 1e-3) << "ONNX's slope should differ visibly from Keras's on this model";
}

// Keras's name "hard_sigmoid" means Keras 3's formula; ONNX's "HardSigmoid" the 0.2x + 0.5 one.
TEST(KerasHardSigmoid, NamesMapToTheirOwnFormula) {
  EXPECT_EQ(Activation::from_keras("hard_sigmoid"), Activation::hard_sigmoid_keras3());
  EXPECT_EQ(Activation::from_onnx("HardSigmoid"), Activation::hard_sigmoid(0.2f, 0.5f));
  EXPECT_EQ(Activation::from_keras("relu"), Activation::relu());
}

// `lstmrt run` on Keras's files, with the CLI flags that select Keras's conventions. (Cases
// with non-default activations or initial state are left to the library test above.)
TEST(KerasGoldenCli, RunMatchesKeras) {
  int checked = 0;
  for (const KerasCase& c : kCases) {
    if (std::string(c.activation) != "tanh" || std::string(c.recurrent_activation) != "sigmoid" || c.initial_state ||
        c.per_step_mask)
      continue;
    SCOPED_TRACE(c.name);
    const LoadedCase lc = load_case(c);
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
                                     "--batch-first",
                                     "--sequences",
                                     "--state"};
    if (c.go_backwards) args.push_back("--go-backwards");
    if (c.mask != Mask::kNone)
      args.insert(args.end(),
                  {"--lengths", case_file(c, ".lengths.npy"), "--padding", c.mask == Mask::kZero ? "zero" : "carry"});
    const CommandResult result = run_cli(args);
    ASSERT_EQ(result.exit_code, 0) << result.output;
    const ArrayMap got = load_npz(out_path);
    EXPECT_TRUE(all_close(lc.expected.y, npz_member(got, "y", out_path).to_float32("y"), kTolerance, 0.0, "CLI y"));
    EXPECT_TRUE(
        all_close(lc.expected.h_n, npz_member(got, "h_n", out_path).to_float32("h_n"), kTolerance, 0.0, "CLI h_n"));
    EXPECT_TRUE(
        all_close(lc.expected.c_n, npz_member(got, "c_n", out_path).to_float32("c_n"), kTolerance, 0.0, "CLI c_n"));
    ++checked;
  }
  EXPECT_EQ(checked, 6);
}

// The table above describes what the generator actually wrote.
TEST(KerasGoldenManifest, TableMatchesCasesJson) {
  std::ifstream file(golden_path("keras", "cases.json"));
  ASSERT_TRUE(file) << golden_path("keras", "cases.json");
  const nlohmann::json manifest = nlohmann::json::parse(file);
  const auto& cases = manifest.at("cases");
  ASSERT_EQ(cases.size(), std::size(kCases));
  for (std::size_t k = 0; k < cases.size(); ++k) {
    const nlohmann::json& j = cases[k];
    const KerasCase& c = kCases[k];
    SCOPED_TRACE(c.name);
    EXPECT_EQ(j.at("name").get<std::string>(), c.name);
    EXPECT_EQ(j.at("input_size").get<int>(), c.input_size);
    EXPECT_EQ(j.at("hidden_size").get<int>(), c.hidden_size);
    EXPECT_EQ(j.at("num_layers").get<int>(), c.num_layers);
    EXPECT_EQ(j.at("bidirectional").get<bool>(), c.bidirectional);
    EXPECT_EQ(j.at("go_backwards").get<bool>(), c.go_backwards);
    EXPECT_EQ(j.at("use_bias").get<bool>(), c.use_bias);
    EXPECT_EQ(j.at("activation").get<std::string>(), c.activation);
    EXPECT_EQ(j.at("recurrent_activation").get<std::string>(), c.recurrent_activation);
    EXPECT_EQ(j.at("seq_len").get<int>(), c.seq_len);
    EXPECT_EQ(j.at("batch").get<int>(), c.batch);
    EXPECT_EQ(j.at("lengths").get<bool>(), c.mask != Mask::kNone && !c.per_step_mask);
    EXPECT_EQ(j.at("mask").get<bool>(), c.per_step_mask);
    const std::string padding = j.at("padding").is_null() ? "none" : j.at("padding").get<std::string>();
    EXPECT_EQ(padding, c.mask == Mask::kNone ? "none" : c.mask == Mask::kZero ? "zero" : "carry");
    EXPECT_EQ(j.at("initial_state").get<bool>(), c.initial_state);
  }
}

}  // namespace
}  // namespace lstmrt::test
