// One model, three layouts: a PyTorch state_dict is rewritten by this test into ONNX node inputs
// and Keras weights (with its own index arithmetic, from the layout tables in weights.hpp), each
// is loaded through its converter, and the reference backend must give the same outputs.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include <fmt/format.h>

#include "common/compare.hpp"
#include "common/foreign_weights.hpp"
#include "common/reference_runner.hpp"
#include "common/weights_equal.hpp"
#include "lstmrt/lstmrt.hpp"

namespace lstmrt::test {
namespace {

const std::string kPytorchGates = "ifgo";  // PyTorch / canonical row blocks
const std::string kOnnxGates = "iofg";     // ONNX i o f c, c written g

// ONNX node inputs for layer l: W[d] row block k = PyTorch block of gate kOnnxGates[k].
OnnxLstmWeights onnx_layer(const ModelDesc& m, const TensorMap& sd, int l) {
  const int D = m.num_directions(), H = m.hidden_size, I = m.layer_input_size(l);
  OnnxLstmWeights o;
  o.W = Tensor{{D, 4 * H, I}, {}};
  o.R = Tensor{{D, 4 * H, H}, {}};
  o.B = Tensor{{D, 8 * H}, {}};
  for (int d = 0; d < D; ++d) {
    const std::string sfx = pytorch_suffix(l, d);
    const Tensor &w_ih = sd.at("weight_ih" + sfx), &w_hh = sd.at("weight_hh" + sfx);
    const Tensor &b_ih = sd.at("bias_ih" + sfx), &b_hh = sd.at("bias_hh" + sfx);
    std::vector<float> wb, rb;
    for (char gate : kOnnxGates) {
      const std::size_t src = kPytorchGates.find(gate);
      for (int j = 0; j < H; ++j) {
        const std::size_t row = src * H + j;
        o.W.data.insert(o.W.data.end(), w_ih.data.begin() + row * I, w_ih.data.begin() + (row + 1) * I);
        o.R.data.insert(o.R.data.end(), w_hh.data.begin() + row * H, w_hh.data.begin() + (row + 1) * H);
        wb.push_back(b_ih.data[row]);
        rb.push_back(b_hh.data[row]);
      }
    }
    o.B->data.insert(o.B->data.end(), wb.begin(), wb.end());
    o.B->data.insert(o.B->data.end(), rb.begin(), rb.end());
  }
  return o;
}

// Keras weights for layer l, direction d: kernel[i][r] = weight_ih[r][i] (gate blocks i f c o
// keep PyTorch's order), one bias = bias_ih + bias_hh.
KerasLstmWeights keras_layer(const ModelDesc& m, const TensorMap& sd, int l, int d) {
  const int H = m.hidden_size, I = m.layer_input_size(l);
  const std::string sfx = pytorch_suffix(l, d);
  const Tensor &w_ih = sd.at("weight_ih" + sfx), &w_hh = sd.at("weight_hh" + sfx);
  KerasLstmWeights k;
  k.kernel = Tensor{{I, 4 * H}, std::vector<float>(I * 4 * H)};
  k.recurrent_kernel = Tensor{{H, 4 * H}, std::vector<float>(H * 4 * H)};
  k.bias = Tensor{{4 * H}, std::vector<float>(4 * H)};
  for (int r = 0; r < 4 * H; ++r) {
    for (int i = 0; i < I; ++i) k.kernel.data[i * 4 * H + r] = w_ih.data[r * I + i];
    for (int i = 0; i < H; ++i) k.recurrent_kernel.data[i * 4 * H + r] = w_hh.data[r * H + i];
    k.bias->data[r] = sd.at("bias_ih" + sfx).data[r] + sd.at("bias_hh" + sfx).data[r];
  }
  return k;
}

struct Shape {
  int input, hidden, layers;
  Direction direction;
};

TEST(ConvertCrossFormat, PytorchOnnxAndKerasLayoutsGiveTheSameOutputs) {
  std::mt19937_64 rng(test_seed());
  for (const Shape& s : {Shape{5, 6, 2, Direction::kBidirectional}, Shape{3, 4, 1, Direction::kForward},
                         Shape{7, 3, 3, Direction::kBidirectional}}) {
    ModelDesc m;
    m.input_size = s.input;
    m.hidden_size = s.hidden;
    m.num_layers = s.layers;
    m.direction = s.direction;
    SCOPED_TRACE(describe(m));
    const TensorMap sd = random_state_dict(m, rng, true, "", 0.5f);
    const Weights from_pt = from_pytorch(m, sd);
    Weights from_onnx_nodes, from_keras_layers;
    for (int l = 0; l < m.num_layers; ++l) {
      for (LayerWeights& w : from_onnx(onnx_layer(m, sd, l), m.num_directions(), m.layer_input_size(l), m.hidden_size))
        from_onnx_nodes.layers.push_back(std::move(w));
      for (int d = 0; d < m.num_directions(); ++d)
        from_keras_layers.layers.push_back(from_keras(keras_layer(m, sd, l, d), m.layer_input_size(l), m.hidden_size));
    }
    EXPECT_TRUE(same_weights(from_pt, from_onnx_nodes));

    const HostInputs in = random_inputs(m, 7, 4, rng, true, true);
    Lstm pt = reference_lstm(m, from_pt), onnx_lstm = reference_lstm(m, from_onnx_nodes),
         keras = reference_lstm(m, from_keras_layers);
    const HostOutputs want = run_host(pt, in), got_onnx = run_host(onnx_lstm, in), got_keras = run_host(keras, in);
    EXPECT_TRUE(all_close(want.y, got_onnx.y, 0.0, 0.0, "onnx y"));
    EXPECT_TRUE(all_close(want.h_n, got_onnx.h_n, 0.0, 0.0, "onnx h_n"));
    EXPECT_TRUE(all_close(want.c_n, got_onnx.c_n, 0.0, 0.0, "onnx c_n"));
    // Keras sums the two biases in float: a rounding apart, not more.
    EXPECT_TRUE(all_close(want.y, got_keras.y, 1e-6, 1e-6, "keras y"));
    EXPECT_TRUE(all_close(want.h_n, got_keras.h_n, 1e-6, 1e-6, "keras h_n"));
    EXPECT_TRUE(all_close(want.c_n, got_keras.c_n, 1e-6, 1e-6, "keras c_n"));
  }
}

}  // namespace
}  // namespace lstmrt::test
