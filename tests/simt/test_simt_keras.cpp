// Keras 3's golden outputs (tests/data/keras) reproduced by the fused backend's kernels on the SIMT
// executor, chunked and whole: the kernels' own source against Keras, not only against the
// reference. Every case the fused backend serves from one request: per-step masks of any pattern
// (front padding as pad_sequences makes it, gaps, empty rows) through ForwardRequest::mask, right
// padding as lengths, go_backwards, Bidirectional, stacks, Keras's activations (hard_sigmoid,
// relu, leaky_relu with Keras's slope), no bias. (The cases with initial_state are Keras's own
// semantics at leading padding, checked on the reference in tests/cpu/test_keras_golden.cpp.)
#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "common/golden_files.hpp"
#include "simt/fused_cases.hpp"

namespace lstmrt::simt {
namespace {

Activation keras_activation(const std::string& name) { return Activation::from_keras(name); }

TEST(SimtKeras, GoldenCasesMatchKeras) {
  std::ifstream file(test::golden_path("keras", "cases.json"));
  const nlohmann::json manifest = nlohmann::json::parse(file);
  int checked = 0;
  for (const nlohmann::json& c : manifest.at("cases")) {
    if (c.at("initial_state").get<bool>()) continue;
    const std::string name = c.at("name").get<std::string>();
    SCOPED_TRACE(name);
    ModelDesc d;
    d.input_size = c.at("input_size").get<int>();
    d.hidden_size = c.at("hidden_size").get<int>();
    d.num_layers = c.at("num_layers").get<int>();
    const bool bidir = c.at("bidirectional").get<bool>(), backwards = c.at("go_backwards").get<bool>();
    d.direction = bidir ? Direction::kBidirectional : backwards ? Direction::kReverse : Direction::kForward;
    CellActivations act;
    act.gate = keras_activation(c.at("recurrent_activation").get<std::string>());
    act.cell = act.hidden = keras_activation(c.at("activation").get<std::string>());
    d.set_activations(act);
    const int T = c.at("seq_len").get<int>(), N = c.at("batch").get<int>();
    const std::string stem = name;
    const TensorMap tensors = test::tensor_map(load_npz(test::golden_path("keras", stem + ".weights.npz")), stem);
    Weights w;
    for (int l = 0; l < d.num_layers; ++l)
      for (int dir = 0; dir < d.num_directions(); ++dir) {
        const std::string prefix = bidir              ? fmt::format("layer{}/{}/", l, dir == 0 ? "forward" : "backward")
                                   : d.num_layers > 1 ? fmt::format("layer{}/", l)
                                                      : "";
        KerasLstmWeights k;
        k.kernel = tensors.at(prefix + "kernel");
        k.recurrent_kernel = tensors.at(prefix + "recurrent_kernel");
        if (tensors.count(prefix + "bias")) k.bias = tensors.at(prefix + "bias");
        w.layers.push_back(from_keras(k, d.layer_input_size(l), d.hidden_size));
      }
    test::HostInputs in;
    in.seq_len = T;
    in.batch = N;
    in.layout = TensorLayout::kBatchMajor;
    in.x = load_npy(test::golden_path("keras", stem + ".x.npy")).to_float32("x");
    if (c.at("mask").get<bool>()) in.mask = load_npy(test::golden_path("keras", stem + ".mask.npy")).data;
    if (c.at("lengths").get<bool>())
      in.lengths = load_npy(test::golden_path("keras", stem + ".lengths.npy")).to_int32(stem + ".lengths.npy");
    const ArrayMap expected = load_npz(test::golden_path("keras", stem + ".expected.npz"));
    FusedRunOptions opt;
    const nlohmann::json& padding = c.at("padding");
    opt.padding =
        padding.is_string() && padding.get<std::string>() == "carry" ? PaddingMode::kCarryLast : PaddingMode::kZero;
    opt.order = backwards ? ReverseOutputOrder::kProcessing : ReverseOutputOrder::kOriginal;
    for (int chunk : {0, 2}) {
      opt.chunk_steps = chunk;
      opt.schedule_seed = test::test_seed() + chunk;
      const ScopedDevice device(FusedCase::small_facts(4), opt.schedule_seed);
      const FusedRunResult got = run_fused(d, w, in, opt);
      for (const auto& [key, out] : {std::pair<const char*, const std::vector<float>*>{"y", &got.out.y},
                                     {"h_n", &got.out.h_n},
                                     {"c_n", &got.out.c_n}})
        EXPECT_TRUE(test::all_close(test::npz_member(expected, key, stem).to_float32(key), *out, 1e-5, 0.0,
                                    fmt::format("{} {} chunk {}", stem, key, chunk)));
    }
    ++checked;
  }
  EXPECT_EQ(checked, 12);
}

}  // namespace
}  // namespace lstmrt::simt
