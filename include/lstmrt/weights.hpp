// lstmrt — weights in one canonical layout, and converters from/to PyTorch, Keras and ONNX.
//
// Canonical layout (PyTorch's nn.LSTM, per layer and direction; all row-major float32):
//   w_ih      (4H, I_l)   gate blocks i f g o along the rows; I_l = I for layer 0, D·H_out above
//   w_hh      (4H, H_out)
//   b_ih      (4H)
//   b_hh      (4H)
//   w_hr      (P, H)      only when P > 0, else empty
//   peephole  (3H)        blocks i f o, only when the model has peepholes, else empty
// Weights::layers is indexed by layer·D + direction slot (PyTorch's order: layer-major, then
// direction; slot 1 is the reverse half of a bidirectional layer).
//
// Foreign layouts:
//   PyTorch state_dict : weight_ih_l{k}[_reverse] (4H, I_l), weight_hh_l{k} (4H, H_out),
//                        bias_ih_l{k}, bias_hh_l{k} (4H), weight_hr_l{k} (P, H); gates i f g o.
//   Keras 3 LSTM       : kernel (I_l, 4H) used as x·K, recurrent_kernel (H, 4H), bias (4H);
//                        gates i f c o (c = g); one bias (b_ih = bias, b_hh = 0).
//   ONNX LSTM          : W (D, 4H, I_l), R (D, 4H, H), B (D, 8H) = [Wb | Rb], P (D, 3H);
//                        gates i o f c, peepholes i o f.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "lstmrt/model.hpp"

namespace lstmrt {

struct LayerWeights {
  std::vector<float> w_ih;      // (4H, I_l)
  std::vector<float> w_hh;      // (4H, H_out)
  std::vector<float> b_ih;      // (4H)
  std::vector<float> b_hh;      // (4H)
  std::vector<float> w_hr;      // (P, H) or empty
  std::vector<float> peephole;  // (3H) i f o, or empty
};

struct Weights {
  std::vector<LayerWeights> layers;  // index layer·D + direction slot
  LayerWeights& at(const ModelDesc& desc, int layer, int dir) { return layers.at(layer * desc.num_directions() + dir); }
  const LayerWeights& at(const ModelDesc& desc, int layer, int dir) const {
    return layers.at(layer * desc.num_directions() + dir);
  }
};

// Throws Error(kInvalidArgument) naming the first tensor whose size does not match `desc`,
// e.g. "layer 1 direction 0 w_ih has 4096 values, expected (4H=256, I_l=32) = 8192".
void validate(const ModelDesc& desc, const Weights& weights);

// Weights of the right shapes drawn uniformly from [−scale, scale] (PyTorch's default init uses
// scale = 1/sqrt(H)); biases, projection and peepholes included as the model asks. Deterministic
// for a seed. For tests, benchmarks and demos.
Weights random_weights(const ModelDesc& desc, std::uint64_t seed, float scale);

// A named float tensor, row-major.
struct Tensor {
  std::vector<std::int64_t> shape;
  std::vector<float> data;
  std::int64_t numel() const;
};
using TensorMap = std::map<std::string, Tensor>;
std::string shape_string(const std::vector<std::int64_t>& shape);  // "(4, 3, 2)"

// ---- PyTorch ----------------------------------------------------------------------------------
// Infers sizes, layers, bidirectionality and projection from the names and shapes of an
// nn.LSTM state_dict. Throws naming a missing or misshapen tensor.
ModelDesc pytorch_desc(const TensorMap& state_dict);
// `desc` must describe a PyTorch-expressible model (default activations, no peepholes/clip).
// Missing biases (bias=False) are zeros.
Weights from_pytorch(const ModelDesc& desc, const TensorMap& state_dict);
TensorMap to_pytorch(const ModelDesc& desc, const Weights& weights);

// ---- Keras 3 (one LSTM layer, one direction) ---------------------------------------------------
struct KerasLstmWeights {
  Tensor kernel;               // (I_l, 4H), gates i f c o
  Tensor recurrent_kernel;     // (H, 4H)
  std::optional<Tensor> bias;  // (4H); absent when use_bias=False
};
LayerWeights from_keras(const KerasLstmWeights& keras, int input_size, int hidden_size);
KerasLstmWeights to_keras(const LayerWeights& weights, int input_size, int hidden_size);

// ---- ONNX (one LSTM node = one layer, D directions) --------------------------------------------
struct OnnxLstmWeights {
  Tensor W;                 // (D, 4H, I_l), gates i o f c
  Tensor R;                 // (D, 4H, H)
  std::optional<Tensor> B;  // (D, 8H) = [Wb | Rb]; absent = zeros
  std::optional<Tensor> P;  // (D, 3H) peepholes i o f; absent = none
};
// Returns the D direction slots of one layer in canonical layout.
std::vector<LayerWeights> from_onnx(const OnnxLstmWeights& onnx, int num_directions, int input_size, int hidden_size);
OnnxLstmWeights to_onnx(const std::vector<LayerWeights>& layer, int input_size, int hidden_size);

}  // namespace lstmrt
