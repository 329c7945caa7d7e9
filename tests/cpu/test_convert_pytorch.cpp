// PyTorch state_dict converters: desc inference, round trips, tensor placement, every error path.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include <fmt/format.h>

#include "common/compare.hpp"
#include "common/expect_error.hpp"
#include "common/foreign_weights.hpp"
#include "common/weights_equal.hpp"
#include "lstmrt/lstmrt.hpp"

namespace lstmrt::test {
namespace {

struct Shape {
  int input, hidden, proj, layers;
  bool bidirectional;
};
constexpr Shape kShapes[] = {{3, 5, 0, 1, false}, {4, 6, 0, 2, true},  {5, 7, 3, 3, true},
                             {2, 4, 2, 1, false}, {6, 3, 0, 3, false}, {1, 9, 8, 2, true}};

ModelDesc make_desc(const Shape& s) {
  ModelDesc m;
  m.input_size = s.input;
  m.hidden_size = s.hidden;
  m.proj_size = s.proj;
  m.num_layers = s.layers;
  m.direction = s.bidirectional ? Direction::kBidirectional : Direction::kForward;
  return m;
}

void expect_same_desc(const ModelDesc& a, const ModelDesc& b) {
  EXPECT_EQ(a.input_size, b.input_size);
  EXPECT_EQ(a.hidden_size, b.hidden_size);
  EXPECT_EQ(a.proj_size, b.proj_size);
  EXPECT_EQ(a.num_layers, b.num_layers);
  EXPECT_EQ(a.direction, b.direction);
  EXPECT_FALSE(b.uses_extended_cell());
}

TEST(ConvertPytorch, CanonicalRoundTripOnVariedShapes) {
  for (const Shape& s : kShapes) {
    SCOPED_TRACE(fmt::format("I={} H={} P={} L={} bidir={}", s.input, s.hidden, s.proj, s.layers, s.bidirectional));
    const ModelDesc m = make_desc(s);
    const Weights w = random_weights(m, test_seed() + s.hidden, 0.5f);
    const TensorMap sd = to_pytorch(m, w);
    EXPECT_EQ(sd.size(), static_cast<std::size_t>(m.num_layers * m.num_directions() * (s.proj ? 5 : 4)));
    expect_same_desc(m, pytorch_desc(sd));
    EXPECT_TRUE(same_weights(w, from_pytorch(m, sd)));
  }
}

TEST(ConvertPytorch, ForeignRoundTripAndDescInference) {
  std::mt19937_64 rng(test_seed());
  for (const Shape& s : kShapes) {
    SCOPED_TRACE(fmt::format("I={} H={} P={} L={} bidir={}", s.input, s.hidden, s.proj, s.layers, s.bidirectional));
    const ModelDesc m = make_desc(s);
    const TensorMap sd = random_state_dict(m, rng, true);
    const ModelDesc inferred = pytorch_desc(sd);
    expect_same_desc(m, inferred);
    EXPECT_TRUE(same_tensor_maps(sd, to_pytorch(inferred, from_pytorch(inferred, sd))));
  }
}

TEST(ConvertPytorch, TensorsLandInTheirLayerAndDirectionSlot) {
  // Each tensor holds one distinct constant: 100·layer + 10·direction + kind.
  const ModelDesc m = make_desc({3, 4, 2, 2, true});
  std::mt19937_64 rng(test_seed());
  TensorMap sd = random_state_dict(m, rng, true);
  const char* kinds[] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr"};
  auto value = [](int l, int d, int k) { return static_cast<float>(100 * l + 10 * d + k); };
  for (int l = 0; l < 2; ++l)
    for (int d = 0; d < 2; ++d)
      for (int k = 0; k < 5; ++k) {
        Tensor& t = sd.at(kinds[k] + pytorch_suffix(l, d));
        std::fill(t.data.begin(), t.data.end(), value(l, d, k));
      }
  const Weights w = from_pytorch(m, sd);
  for (int l = 0; l < 2; ++l)
    for (int d = 0; d < 2; ++d) {
      const LayerWeights& lw = w.layers[l * 2 + d];
      const std::vector<float>* fields[] = {&lw.w_ih, &lw.w_hh, &lw.b_ih, &lw.b_hh, &lw.w_hr};
      for (int k = 0; k < 5; ++k) {
        ASSERT_FALSE(fields[k]->empty());
        for (float v : *fields[k]) ASSERT_EQ(v, value(l, d, k)) << kinds[k] << " layer " << l << " dir " << d;
      }
      EXPECT_TRUE(lw.peephole.empty());
    }
  // Row-major order is kept: a ramp in weight_ih_l0 stays a ramp in w_ih.
  Tensor& ramp = sd.at("weight_ih_l0");
  for (std::size_t i = 0; i < ramp.data.size(); ++i) ramp.data[i] = static_cast<float>(i);
  const Weights w2 = from_pytorch(m, sd);
  for (std::size_t i = 0; i < ramp.data.size(); ++i) ASSERT_EQ(w2.layers[0].w_ih[i], static_cast<float>(i));
}

TEST(ConvertPytorch, PrefixIsStripped) {
  std::mt19937_64 rng(test_seed());
  const ModelDesc m = make_desc({4, 6, 0, 2, true});
  for (const char* prefix : {"lstm.", "encoder.rnn.", "module_"}) {
    SCOPED_TRACE(prefix);
    const TensorMap plain = random_state_dict(m, rng, true);
    TensorMap prefixed;
    for (const auto& [name, t] : plain) prefixed[prefix + name] = t;
    expect_same_desc(m, pytorch_desc(prefixed));
    EXPECT_TRUE(same_weights(from_pytorch(m, plain), from_pytorch(m, prefixed)));
  }
}

TEST(ConvertPytorch, NoBiasMeansZeroBiases) {
  std::mt19937_64 rng(test_seed());
  const ModelDesc m = make_desc({5, 7, 3, 2, true});
  const TensorMap sd = random_state_dict(m, rng, false);
  expect_same_desc(m, pytorch_desc(sd));
  const Weights w = from_pytorch(m, sd);
  for (const LayerWeights& lw : w.layers) {
    EXPECT_EQ(lw.b_ih, std::vector<float>(28, 0.0f));
    EXPECT_EQ(lw.b_hh, std::vector<float>(28, 0.0f));
  }
  EXPECT_EQ(w.layers[3].w_hh, sd.at("weight_hh_l1_reverse").data);
}

TEST(ConvertPytorch, MisshapenMissingAndExtraTensorsAreNamed) {
  std::mt19937_64 rng(test_seed());
  ModelDesc m = make_desc({10, 24, 0, 2, false});
  const TensorMap good = random_state_dict(m, rng, true);
  auto with = [&](auto edit) {
    TensorMap sd = good;
    edit(sd);
    return sd;
  };
  const ErrorCode bad = ErrorCode::kInvalidArgument;
  const TensorMap hh = with([&](TensorMap& sd) {
    sd["weight_hh_l1"] = Tensor{{96, 20}, std::vector<float>(96 * 20, 1)};
  });
  expect_error([&] { from_pytorch(m, hh); }, bad, {"weight_hh_l1 has shape (96, 20), expected (4H=96, H_out=24)"});
  expect_error([&] { pytorch_desc(hh); }, bad, {"weight_hh_l1 has shape (96, 20), expected (4H=96, H_out=24)"});
  const TensorMap ih1 = with([&](TensorMap& sd) { sd["weight_ih_l1"] = Tensor{{96, 10}, std::vector<float>(960, 1)}; });
  expect_error([&] { pytorch_desc(ih1); }, bad, {"weight_ih_l1 has shape (96, 10), expected (4H=96, D·H_out=24)"});
  const TensorMap b = with([&](TensorMap& sd) { sd["bias_ih_l0"] = Tensor{{96, 1}, std::vector<float>(96, 1)}; });
  expect_error([&] { from_pytorch(m, b); }, bad, {"bias_ih_l0 has shape (96, 1), expected (4H=96,)"});
  const TensorMap missing = with([](TensorMap& sd) { sd.erase("weight_hh_l1"); });
  expect_error([&] { from_pytorch(m, missing); }, bad, {"missing tensor 'weight_hh_l1'", "(4H=96, H_out=24)"});
  expect_error([&] { pytorch_desc(missing); }, bad, {"missing tensor 'weight_hh_l1'"});
  const TensorMap half_bias = with([](TensorMap& sd) { sd.erase("bias_hh_l1"); });
  expect_error([&] { from_pytorch(m, half_bias); }, bad, {"missing tensor 'bias_hh_l1'", "bias=True"});
  const TensorMap short_data = with([](TensorMap& sd) { sd["bias_hh_l0"].data.pop_back(); });
  expect_error([&] { from_pytorch(m, short_data); }, bad, {"bias_hh_l0 holds 95 values", "(96,)", "has 96"});
  const TensorMap extra_layer = with([&](TensorMap& sd) { sd["weight_ih_l2"] = sd["weight_ih_l1"]; });
  expect_error([&] { from_pytorch(m, extra_layer); }, bad, {"unexpected tensor 'weight_ih_l2'", "layers=2"});
  expect_error([&] { pytorch_desc(extra_layer); }, bad, {"missing tensor 'weight_hh_l2'"});
  const TensorMap extra_dir = with([&](TensorMap& sd) { sd["weight_ih_l0_reverse"] = sd["weight_ih_l0"]; });
  expect_error([&] { from_pytorch(m, extra_dir); }, bad, {"unexpected tensor 'weight_ih_l0_reverse'", "forward"});
  const TensorMap extra_proj = with([&](TensorMap& sd) {
    sd["weight_hr_l0"] = Tensor{{3, 24}, std::vector<float>(72, 1)};
  });
  expect_error([&] { from_pytorch(m, extra_proj); }, bad, {"unexpected tensor 'weight_hr_l0'"});
  const TensorMap stranger = with([&](TensorMap& sd) { sd["weight_xx_l0"] = sd["weight_ih_l0"]; });
  expect_error([&] { pytorch_desc(stranger); }, bad, {"unexpected tensor 'weight_xx_l0'", "weight_ih_l{k}"});
  const TensorMap outside = with([&](TensorMap& sd) {
    TensorMap prefixed;
    for (auto& [k, v] : sd) prefixed["lstm." + k] = v;
    prefixed["head.weight"] = Tensor{{1}, {1.0f}};
    sd = prefixed;
  });
  expect_error([&] { pytorch_desc(outside); }, bad, {"unexpected tensor 'head.weight'", "lstm.weight_ih_l{k}"});
  const TensorMap two_lstms = with([&](TensorMap& sd) { sd["other.weight_ih_l0"] = sd["weight_ih_l0"]; });
  expect_error([&] { pytorch_desc(two_lstms); }, bad, {"several prefixes", "other."});
  expect_error([&] { pytorch_desc(TensorMap{}); }, bad, {"no weight_ih_l0"});
  expect_error(
      [&] {
        pytorch_desc(TensorMap{{"weight_hh_l0", good.at("weight_hh_l0")}});
      },
      bad, {"no weight_ih_l0", "weight_hh_l0"});
  for (std::vector<std::int64_t> shape : {std::vector<std::int64_t>{95, 10}, {96}, {0, 10}, {96, 0}}) {
    const TensorMap odd = with([&](TensorMap& sd) {
      sd["weight_ih_l0"] = Tensor{shape, std::vector<float>(96 * 10, 1)};
    });
    expect_error([&] { pytorch_desc(odd); }, bad, {"weight_ih_l0 has shape", "expected (4H, I)"});
  }
  const TensorMap flat_hr = with([&](TensorMap& sd) { sd["weight_hr_l0"] = Tensor{{24}, std::vector<float>(24, 1)}; });
  expect_error([&] { pytorch_desc(flat_hr); }, bad, {"weight_hr_l0 has shape (24,), expected (P, H=24)"});
  const TensorMap big_hr = with([&](TensorMap& sd) {
    sd["weight_hr_l0"] = Tensor{{24, 24}, std::vector<float>(576, 1)};
    sd["weight_hr_l1"] = Tensor{{24, 24}, std::vector<float>(576, 1)};
  });
  expect_error([&] { pytorch_desc(big_hr); }, bad, {"proj_size is 24"});
  // The description itself is validated.
  m.hidden_size = 0;
  expect_error([&] { from_pytorch(m, good); }, bad, {"hidden_size is 0"});
}

TEST(ConvertPytorch, RefusesWhatNnLstmCannotExpress) {
  std::mt19937_64 rng(test_seed());
  const ModelDesc base = make_desc({3, 5, 0, 1, true});
  const TensorMap sd = random_state_dict(base, rng, true);
  const Weights w = from_pytorch(base, sd);
  auto refuse = [&](auto edit, const char* feature) {
    ModelDesc m = base;
    edit(m);
    expect_error([&] { from_pytorch(m, sd); }, ErrorCode::kInvalidArgument, {"from_pytorch", feature});
    Weights ew = w;
    if (m.peepholes)
      for (auto& lw : ew.layers) lw.peephole.assign(15, 0.5f);
    expect_error([&] { to_pytorch(m, ew); }, ErrorCode::kInvalidArgument, {"to_pytorch", feature});
  };
  refuse([](ModelDesc& m) { m.peepholes = true; }, "peepholes");
  refuse([](ModelDesc& m) { m.clip = 2.5f; }, "clip=2.5");
  refuse([](ModelDesc& m) { m.coupled_input_forget = true; }, "coupled input-forget");
  refuse([](ModelDesc& m) { m.activations[1].cell = Activation::relu(); }, "activations[1] is (sigmoid, relu, tanh)");
  refuse([](ModelDesc& m) { m.activations[0].gate = Activation::hard_sigmoid(); }, "activations[0]");
}

TEST(ConvertPytorch, ToPytorchValidatesWeights) {
  const ModelDesc m = make_desc({4, 6, 3, 2, true});
  Weights w = random_weights(m, test_seed(), 0.3f);
  w.layers[2].w_hh.pop_back();
  expect_error([&] { to_pytorch(m, w); }, ErrorCode::kInvalidArgument, {"layer 1 direction 0 w_hh has 71 values"});
  w.layers.pop_back();
  expect_error([&] { to_pytorch(m, w); }, ErrorCode::kInvalidArgument, {"3 layer-directions", "4"});
}

}  // namespace
}  // namespace lstmrt::test
