// Test helpers: random weights in foreign layouts, written from the frameworks' naming rules
// directly (not through lstmrt's converters), so converter tests compare against an independent
// source.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "common/compare.hpp"
#include "lstmrt/weights.hpp"

namespace lstmrt::test {

inline Tensor random_tensor(std::vector<std::int64_t> shape, std::mt19937_64& rng, float scale = 1.0f) {
  Tensor t{std::move(shape), {}};
  t.data = random_vector(static_cast<std::size_t>(t.numel()), rng, scale);
  return t;
}

// PyTorch's suffix of layer l, direction d: "_l{l}" or "_l{l}_reverse".
inline std::string pytorch_suffix(int layer, int dir) { return fmt::format("_l{}{}", layer, dir ? "_reverse" : ""); }

// An nn.LSTM state_dict for `m` (default cell): weight_ih (4H, I_l), weight_hh (4H, H_out),
// bias_ih/bias_hh (4H) when `bias`, weight_hr (P, H) when projecting; names behind `prefix`.
inline TensorMap random_state_dict(const ModelDesc& m, std::mt19937_64& rng, bool bias, const std::string& prefix = "",
                                   float scale = 1.0f) {
  TensorMap sd;
  const std::int64_t h4 = 4 * m.hidden_size;
  for (int l = 0; l < m.num_layers; ++l)
    for (int d = 0; d < m.num_directions(); ++d) {
      const std::string sfx = pytorch_suffix(l, d);
      sd[prefix + "weight_ih" + sfx] = random_tensor({h4, m.layer_input_size(l)}, rng, scale);
      sd[prefix + "weight_hh" + sfx] = random_tensor({h4, m.output_size()}, rng, scale);
      if (bias) {
        sd[prefix + "bias_ih" + sfx] = random_tensor({h4}, rng, scale);
        sd[prefix + "bias_hh" + sfx] = random_tensor({h4}, rng, scale);
      }
      if (m.proj_size) sd[prefix + "weight_hr" + sfx] = random_tensor({m.proj_size, m.hidden_size}, rng, scale);
    }
  return sd;
}

}  // namespace lstmrt::test
