// Weight files: each naming scheme (PyTorch, Keras, ONNX) detected from an .npz and converted
// exactly as the converters convert the same tensors; every unrecognised or inconsistent file
// refused with a message naming the keys.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "common/compare.hpp"
#include "common/expect_error.hpp"
#include "common/golden_files.hpp"
#include "lstmrt/io.hpp"

namespace lstmrt {
namespace {

using test::expect_error;

Array array_of(const Tensor& t) { return Array::from_float32(t.shape, t.data); }

void expect_same_weights(const Weights& expected, const Weights& got) {
  ASSERT_EQ(expected.layers.size(), got.layers.size());
  for (std::size_t k = 0; k < expected.layers.size(); ++k) {
    SCOPED_TRACE("layer-direction " + std::to_string(k));
    const LayerWeights &e = expected.layers[k], &g = got.layers[k];
    EXPECT_EQ(e.w_ih, g.w_ih);
    EXPECT_EQ(e.w_hh, g.w_hh);
    EXPECT_EQ(e.b_ih, g.b_ih);
    EXPECT_EQ(e.b_hh, g.b_hh);
    EXPECT_EQ(e.w_hr, g.w_hr);
    EXPECT_EQ(e.peephole, g.peephole);
  }
}

void expect_same_desc(const ModelDesc& e, const ModelDesc& g) {
  EXPECT_EQ(e.input_size, g.input_size);
  EXPECT_EQ(e.hidden_size, g.hidden_size);
  EXPECT_EQ(e.proj_size, g.proj_size);
  EXPECT_EQ(e.num_layers, g.num_layers);
  EXPECT_EQ(to_string(e.direction), to_string(g.direction));
  EXPECT_EQ(e.peepholes, g.peepholes);
  EXPECT_TRUE(g.activations[0].is_default() && g.activations[1].is_default());
}

ModelDesc make_desc(int input, int hidden, int layers, Direction dir, int proj = 0, bool peepholes = false) {
  ModelDesc d;
  d.input_size = input, d.hidden_size = hidden, d.num_layers = layers, d.direction = dir, d.proj_size = proj;
  d.peepholes = peepholes;
  return d;
}

// Saves `arrays` (stored and compressed) and loads them back through load_weights.
std::vector<LoadedWeights> save_and_load(const ArrayMap& arrays) {
  test::ScratchDir dir;
  std::vector<LoadedWeights> out;
  for (bool compressed : {false, true}) {
    const std::string path = dir.file(compressed ? "w_compressed.npz" : "w.npz");
    save_npz(path, arrays, compressed);
    out.push_back(load_weights(path));
  }
  return out;
}

TEST(WeightsFile, PytorchStateDictNamesWithAndWithoutPrefix) {
  std::mt19937_64 rng(test::test_seed());
  const ModelDesc descs[] = {make_desc(3, 5, 1, Direction::kForward), make_desc(4, 6, 2, Direction::kBidirectional),
                             make_desc(5, 6, 3, Direction::kBidirectional, 3),
                             make_desc(2, 4, 2, Direction::kForward, 2)};
  for (const ModelDesc& desc : descs) {
    for (const std::string prefix : {"", "lstm.", "encoder.rnn."}) {
      SCOPED_TRACE(describe(desc) + " prefix '" + prefix + "'");
      const Weights weights = random_weights(desc, rng(), 0.5f);
      const TensorMap state_dict = to_pytorch(desc, weights);
      ArrayMap arrays;
      for (const auto& [name, tensor] : state_dict) arrays[prefix + name] = array_of(tensor);
      for (const LoadedWeights& loaded : save_and_load(arrays)) {
        EXPECT_EQ(loaded.format, "pytorch");
        expect_same_desc(desc, loaded.desc);
        expect_same_weights(from_pytorch(pytorch_desc(state_dict), state_dict), loaded.weights);
        expect_same_weights(weights, loaded.weights);
      }
    }
  }
}

TEST(WeightsFile, PytorchWithoutBiases) {
  const ModelDesc desc = make_desc(3, 4, 2, Direction::kBidirectional);
  TensorMap state_dict = to_pytorch(desc, random_weights(desc, test::test_seed(), 0.5f));
  ArrayMap arrays;
  for (const auto& [name, tensor] : state_dict)
    if (name.rfind("bias", 0) != 0) arrays[name] = array_of(tensor);
  const LoadedWeights loaded = weights_from_arrays(arrays, "nobias.npz");
  for (const LayerWeights& w : loaded.weights.layers) {
    EXPECT_EQ(w.b_ih, std::vector<float>(16, 0.0f));
    EXPECT_EQ(w.b_hh, std::vector<float>(16, 0.0f));
  }
}

// Keras names in every form: one layer, layer{k}/..., [layer{k}/]forward|backward/...
TEST(WeightsFile, KerasNamesOneLayerStackAndBidirectional) {
  std::mt19937_64 rng(test::test_seed());
  struct Case {
    ModelDesc desc;
    bool layered;
    bool use_bias;
  };
  const Case cases[] = {{make_desc(3, 5, 1, Direction::kForward), false, true},
                        {make_desc(3, 5, 1, Direction::kForward), false, false},
                        {make_desc(4, 3, 3, Direction::kForward), true, true},
                        {make_desc(2, 4, 2, Direction::kBidirectional), true, true},
                        {make_desc(2, 4, 1, Direction::kBidirectional), true, false},
                        {make_desc(3, 2, 1, Direction::kBidirectional), false, true}};
  for (const Case& c : cases) {
    SCOPED_TRACE(describe(c.desc) + (c.use_bias ? "" : " no bias"));
    const ModelDesc& desc = c.desc;
    const Weights weights = random_weights(desc, rng(), 0.5f);
    ArrayMap arrays;
    Weights expected;
    for (int l = 0; l < desc.num_layers; ++l) {
      for (int d = 0; d < desc.num_directions(); ++d) {
        KerasLstmWeights k = to_keras(weights.at(desc, l, d), desc.layer_input_size(l), desc.hidden_size);
        if (!c.use_bias) k.bias.reset();
        std::string prefix = c.layered ? fmt::format("layer{}/", l) : "";
        if (desc.direction == Direction::kBidirectional) prefix += d == 0 ? "forward/" : "backward/";
        arrays[prefix + "kernel"] = array_of(k.kernel);
        arrays[prefix + "recurrent_kernel"] = array_of(k.recurrent_kernel);
        if (k.bias) arrays[prefix + "bias"] = array_of(*k.bias);
        expected.layers.push_back(from_keras(k, desc.layer_input_size(l), desc.hidden_size));
      }
    }
    for (const LoadedWeights& loaded : save_and_load(arrays)) {
      EXPECT_EQ(loaded.format, "keras");
      expect_same_desc(desc, loaded.desc);
      expect_same_weights(expected, loaded.weights);
    }
  }
}

TEST(WeightsFile, OnnxNamesOneNodeAndStackWithPeepholes) {
  std::mt19937_64 rng(test::test_seed());
  struct Case {
    ModelDesc desc;
    bool layered;
    bool with_bias;
  };
  const Case cases[] = {{make_desc(3, 5, 1, Direction::kForward), false, true},
                        {make_desc(3, 5, 1, Direction::kBidirectional, 0, true), false, true},
                        {make_desc(3, 4, 1, Direction::kForward), false, false},
                        {make_desc(2, 3, 3, Direction::kBidirectional), true, true},
                        {make_desc(4, 3, 2, Direction::kForward, 0, true), true, false}};
  for (const Case& c : cases) {
    SCOPED_TRACE(describe(c.desc));
    const ModelDesc& desc = c.desc;
    const Weights weights = random_weights(desc, rng(), 0.5f);
    ArrayMap arrays;
    Weights expected;
    for (int l = 0; l < desc.num_layers; ++l) {
      const int D = desc.num_directions();
      const std::vector<LayerWeights> layer(weights.layers.begin() + l * D, weights.layers.begin() + (l + 1) * D);
      OnnxLstmWeights onnx = to_onnx(layer, desc.layer_input_size(l), desc.hidden_size);
      if (!c.with_bias) onnx.B.reset();
      const std::string prefix = c.layered ? fmt::format("layer{}/", l) : "";
      arrays[prefix + "W"] = array_of(onnx.W);
      arrays[prefix + "R"] = array_of(onnx.R);
      if (onnx.B) arrays[prefix + "B"] = array_of(*onnx.B);
      if (onnx.P) arrays[prefix + "P"] = array_of(*onnx.P);
      for (LayerWeights& w : from_onnx(onnx, D, desc.layer_input_size(l), desc.hidden_size))
        expected.layers.push_back(std::move(w));
    }
    for (const LoadedWeights& loaded : save_and_load(arrays)) {
      EXPECT_EQ(loaded.format, "onnx");
      expect_same_desc(desc, loaded.desc);
      expect_same_weights(expected, loaded.weights);
      if (c.with_bias) expect_same_weights(weights, loaded.weights);
    }
  }
}

// ---- refused files -----------------------------------------------------------------------------
ArrayMap pytorch_arrays(const std::string& prefix = "") {
  const ModelDesc desc = make_desc(3, 4, 1, Direction::kForward);
  ArrayMap arrays;
  for (const auto& [name, tensor] : to_pytorch(desc, random_weights(desc, 7, 0.5f)))
    arrays[prefix + name] = array_of(tensor);
  return arrays;
}

TEST(WeightsFileErrors, UnrecognisedNamesListTheKeysAndTheSchemes) {
  ArrayMap arrays = pytorch_arrays("lstm.");
  arrays["fc.weight"] = Array::from_float32({2, 4}, std::vector<float>(8, 1.0f));
  arrays["fc.bias"] = Array::from_float32({2}, {1.0f, 2.0f});
  expect_error([&] { weights_from_arrays(arrays, "model.npz"); }, ErrorCode::kIoError,
               {"model.npz", "unrecognised weight names fc.bias, fc.weight", "PyTorch", "Keras", "ONNX", "weight_ih_l0",
                "recurrent_kernel", "layer0/W"});
  expect_error([&] { weights_from_arrays({}, "empty.npz"); }, ErrorCode::kIoError, {"empty.npz", "holds no arrays"});
}

TEST(WeightsFileErrors, MixedSchemesAndPrefixes) {
  ArrayMap mixed = pytorch_arrays();
  mixed["kernel"] = Array::from_float32({3, 16}, std::vector<float>(48, 1.0f));
  expect_error([&] { weights_from_arrays(mixed, "m.npz"); }, ErrorCode::kIoError,
               {"m.npz", "mixes naming schemes", "kernel"});
  ArrayMap prefixes = pytorch_arrays("a.");
  for (auto& [name, array] : pytorch_arrays("b.")) prefixes[name] = array;
  expect_error([&] { weights_from_arrays(prefixes, "p.npz"); }, ErrorCode::kIoError,
               {"p.npz", "different prefixes", "'a.', 'b.'"});
  expect_error([&] { weights_from_arrays(pytorch_arrays("lstm_"), "u.npz"); }, ErrorCode::kIoError,
               {"u.npz", "prefix 'lstm_'", "ending in '.'"});
}

TEST(WeightsFileErrors, KerasFormsLayersAndMissingTensors) {
  const Array kernel = Array::from_float32({3, 8}, std::vector<float>(24, 0.1f));
  const Array recurrent = Array::from_float32({2, 8}, std::vector<float>(16, 0.1f));
  expect_error(
      [&] {
        weights_from_arrays({{"kernel", kernel}}, "k.npz");
      },
      ErrorCode::kIoError, {"k.npz", "Keras weights without 'recurrent_kernel'"});
  expect_error(
      [&] {
        weights_from_arrays({{"kernel", kernel}, {"recurrent_kernel", recurrent}, {"layer1/kernel", kernel}}, "k.npz");
      },
      ErrorCode::kIoError, {"k.npz", "mix the forms kernel, layer{k}/kernel"});
  expect_error(
      [&] {
        weights_from_arrays({{"layer0/kernel", kernel},
                             {"layer0/recurrent_kernel", recurrent},
                             {"layer2/kernel", kernel},
                             {"layer2/recurrent_kernel", recurrent}},
                            "gap.npz");
      },
      ErrorCode::kIoError, {"gap.npz", "layer indices 0, 2", "without gaps"});
  expect_error(
      [&] {
        weights_from_arrays({{"layer0/forward/kernel", kernel}, {"layer0/forward/recurrent_kernel", recurrent}},
                            "b.npz");
      },
      ErrorCode::kIoError, {"b.npz", "without 'layer0/backward/kernel'"});
  // Shape errors from the converter carry the file name.
  const Array wrong = Array::from_float32({2, 7}, std::vector<float>(14, 0.1f));
  expect_error(
      [&] {
        weights_from_arrays({{"kernel", kernel}, {"recurrent_kernel", wrong}}, "s.npz");
      },
      ErrorCode::kInvalidArgument, {"s.npz"});
}

// A layer number too long for an int ("layer99999999999/kernel") is a named error, not an
// exception from the number's conversion; PyTorch's _l{k} included.
TEST(WeightsFileErrors, LayerNumbersOutOfRangeAreNamed) {
  const Array kernel = Array::from_float32({3, 8}, std::vector<float>(24, 0.1f));
  const Array recurrent = Array::from_float32({2, 8}, std::vector<float>(16, 0.1f));
  const Array w = Array::from_float32({1, 8, 3}, std::vector<float>(24, 0.1f));
  const Array r = Array::from_float32({1, 8, 2}, std::vector<float>(16, 0.1f));
  expect_error(
      [&] {
        weights_from_arrays({{"layer99999999999/kernel", kernel}, {"layer99999999999/recurrent_kernel", recurrent}},
                            "k.npz");
      },
      ErrorCode::kIoError, {"k.npz", "'layer99999999999/", "layer number 99999999999 is out of range"});
  expect_error(
      [&] {
        weights_from_arrays({{"layer0/kernel", kernel},
                             {"layer0/recurrent_kernel", recurrent},
                             {"layer1234567/forward/kernel", kernel}},
                            "f.npz");
      },
      ErrorCode::kIoError, {"f.npz", "layer number 1234567 is out of range"});
  expect_error(
      [&] {
        weights_from_arrays({{"layer4294967296/W", w}, {"layer4294967296/R", r}}, "o.npz");
      },
      ErrorCode::kIoError, {"o.npz", "'layer4294967296/", "out of range"});
  const Array ih = Array::from_float32({8, 3}, std::vector<float>(24, 0.1f));
  const Array hh = Array::from_float32({8, 2}, std::vector<float>(16, 0.1f));
  expect_error(
      [&] {
        weights_from_arrays({{"weight_ih_l99999999999", ih}, {"weight_hh_l99999999999", hh}}, "p.npz");
      },
      ErrorCode::kInvalidArgument, {"p.npz", "weight_ih_l99999999999"});
}

TEST(WeightsFileErrors, OnnxShapesAndPeepholes) {
  const Array w = Array::from_float32({1, 8, 3}, std::vector<float>(24, 0.1f));
  const Array r = Array::from_float32({1, 8, 2}, std::vector<float>(16, 0.1f));
  const Array p = Array::from_float32({1, 6}, std::vector<float>(6, 0.1f));
  expect_error(
      [&] {
        weights_from_arrays({{"W", Array::from_float32({8, 3}, std::vector<float>(24, 0.1f))}, {"R", r}}, "o.npz");
      },
      ErrorCode::kInvalidArgument, {"o.npz", "'W'", "(8, 3)", "expected 3 dimensions"});
  expect_error(
      [&] {
        weights_from_arrays({{"W", Array::from_float32({3, 8, 1}, std::vector<float>(24, 0.1f))}, {"R", r}}, "o.npz");
      },
      ErrorCode::kInvalidArgument, {"o.npz", "num_directions 1 or 2"});
  expect_error([&] { weights_from_arrays({{"R", r}}, "o.npz"); }, ErrorCode::kIoError, {"o.npz", "without 'W'"});
  const Array w1 = Array::from_float32({1, 8, 2}, std::vector<float>(16, 0.1f));
  expect_error(
      [&] {
        weights_from_arrays({{"layer0/W", w}, {"layer0/R", r}, {"layer0/P", p}, {"layer1/W", w1}, {"layer1/R", r}},
                            "pp.npz");
      },
      ErrorCode::kIoError, {"pp.npz", "'layer1/P' is absent", "every layer or none"});
  expect_error(
      [&] {
        weights_from_arrays({{"W", w}, {"R", r}, {"layer1/W", w}}, "o.npz");
      },
      ErrorCode::kIoError, {"o.npz", "ONNX names mix"});
}

TEST(WeightsFileErrors, WrongDtypeNamesTheMember) {
  ArrayMap arrays = pytorch_arrays();
  arrays["weight_hh_l0"] = Array::from_float64({16, 4}, std::vector<double>(64, 0.5));
  expect_error([&] { weights_from_arrays(arrays, "d.npz"); }, ErrorCode::kInvalidArgument,
               {"d.npz array 'weight_hh_l0'", "float64", "expected float32"});
}

TEST(WeightsFileErrors, FileProblemsComeFromTheNpzReader) {
  test::ScratchDir dir;
  expect_error([&] { load_weights(dir.file("absent.npz")); }, ErrorCode::kIoError, {"absent.npz", "no such file"});
}

}  // namespace
}  // namespace lstmrt
