// Keras 3 LSTM weights <-> canonical weights, one layer and one direction.
// Keras computes z = x·kernel + h·recurrent_kernel + bias with kernel (I_l, 4H) and
// recurrent_kernel (H, 4H), gate blocks i f c o along the columns (c is the candidate g, so the
// gate order equals the canonical i f g o). The canonical matrices are the transposes:
// w_ih (4H, I_l) = kernelᵀ, w_hh (4H, H) = recurrent_kernelᵀ. Keras has one bias: b_ih = bias,
// b_hh = 0; back to Keras the two biases are summed.
#include <fmt/format.h>

#include "common/check.hpp"
#include "convert/convert_common.hpp"
#include "lstmrt/weights.hpp"

namespace lstmrt {
namespace {

void check_sizes(int input_size, int hidden_size, const char* who) {
  if (input_size < 1) detail::invalid("{}: input_size is {}, expected >= 1", who, input_size);
  if (hidden_size < 1) detail::invalid("{}: hidden_size is {}, expected >= 1", who, hidden_size);
}

}  // namespace

LayerWeights from_keras(const KerasLstmWeights& keras, int input_size, int hidden_size) {
  check_sizes(input_size, hidden_size, "from_keras");
  const std::int64_t i = input_size, h = hidden_size, h4 = 4 * h;
  detail::expect_shape(keras.kernel, "kernel", {{i, h4}, {"I", "4H"}});
  detail::expect_shape(keras.recurrent_kernel, "recurrent_kernel", {{h, h4}, {"H", "4H"}});
  if (keras.bias) detail::expect_shape(*keras.bias, "bias", {{h4}, {"4H"}});
  LayerWeights w;
  w.w_ih = detail::transpose(keras.kernel.data.data(), i, h4);
  w.w_hh = detail::transpose(keras.recurrent_kernel.data.data(), h, h4);
  w.b_ih = keras.bias ? keras.bias->data : std::vector<float>(h4, 0.0f);  // use_bias=False: zeros
  w.b_hh.assign(h4, 0.0f);
  return w;
}

KerasLstmWeights to_keras(const LayerWeights& weights, int input_size, int hidden_size) {
  check_sizes(input_size, hidden_size, "to_keras");
  const std::int64_t i = input_size, h = hidden_size, h4 = 4 * h;
  if (!weights.w_hr.empty())
    detail::invalid("to_keras: Keras's LSTM has no projection, but w_hr holds {} values", weights.w_hr.size());
  if (!weights.peephole.empty())
    detail::invalid("to_keras: Keras's LSTM has no peepholes, but peephole holds {} values", weights.peephole.size());
  detail::expect_values(weights.w_ih, h4 * i, "w_ih", fmt::format("(4H={}, I={})", h4, i));
  detail::expect_values(weights.w_hh, h4 * h, "w_hh", fmt::format("(4H={}, H={})", h4, h));
  detail::expect_values(weights.b_ih, h4, "b_ih", fmt::format("(4H={})", h4));
  detail::expect_values(weights.b_hh, h4, "b_hh", fmt::format("(4H={})", h4));
  KerasLstmWeights keras;
  keras.kernel = Tensor{{i, h4}, detail::transpose(weights.w_ih.data(), h4, i)};
  keras.recurrent_kernel = Tensor{{h, h4}, detail::transpose(weights.w_hh.data(), h4, h)};
  Tensor bias{{h4}, std::vector<float>(h4)};
  for (std::int64_t r = 0; r < h4; ++r) bias.data[r] = weights.b_ih[r] + weights.b_hh[r];
  keras.bias = std::move(bias);
  return keras;
}

}  // namespace lstmrt
