// Test helper: random cell features for models that exercise every part of the gate math.
#pragma once

#include <random>
#include <vector>

#include "lstmrt/model.hpp"

namespace lstmrt::test {

// A random activation; `bounded` keeps to those whose output stays in a bounded range (for the
// cell/hidden slots of wide layers, where unbounded ones let float32 drift from the reference);
// `classic` to the kinds the persistent kernels evaluate (the first entries of each set).
inline Activation random_activation(std::mt19937_64& rng, bool bounded, bool classic = false) {
  std::uniform_real_distribution<float> u(0.1f, 0.9f);
  const std::vector<Activation> bounded_set = {Activation::sigmoid(),
                                               Activation::tanh(),
                                               Activation::hard_sigmoid(u(rng), 0.5f),
                                               Activation::hard_sigmoid_keras3(),
                                               Activation::softsign(),
                                               Activation::scaled_tanh(u(rng), u(rng)),
                                               Activation::hard_tanh(),
                                               Activation::sparse_sigmoid()};
  const std::vector<Activation> any_set = {Activation::relu(),
                                           Activation::affine(u(rng), u(rng) - 0.5f),
                                           Activation::leaky_relu(u(rng)),
                                           Activation::thresholded_relu(u(rng) - 0.5f),
                                           Activation::elu(u(rng)),
                                           Activation::softplus(),
                                           Activation::gelu(),
                                           Activation::silu(),
                                           Activation::selu(),
                                           Activation::celu(u(rng)),
                                           Activation::hard_silu(),
                                           Activation::mish(),
                                           Activation::relu6(),
                                           Activation::sparse_plus(),
                                           Activation::tanh_shrink(),
                                           Activation::hard_shrink(u(rng) - 0.1f),
                                           Activation::soft_shrink(u(rng) - 0.1f),
                                           Activation::log_sigmoid(),
                                           Activation::squareplus(u(rng) * 4.0f)};
  const std::size_t bounded_count = classic ? 6 : bounded_set.size(), any_count = classic ? 6 : any_set.size();
  if (bounded || rng() % 2) return bounded_set[rng() % bounded_count];
  return any_set[rng() % any_count];
}

// Peepholes, coupled gate, clip and (half of the time per direction) non-default activations
// (`classic`: only those the persistent kernels evaluate).
inline void randomize_cell_features(ModelDesc& m, std::mt19937_64& rng, bool bounded_cell_hidden,
                                    bool classic = false) {
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  m.peepholes = pick(0, 2) == 0;
  m.coupled_input_forget = pick(0, 3) == 0;
  m.clip = pick(0, 2) == 0 ? 0.5f + pick(0, 20) / 10.0f : 0.0f;
  for (int d = 0; d < 2; ++d) {
    if (pick(0, 1)) continue;  // default activations half of the time
    m.activations[d].gate = random_activation(rng, true, classic);
    m.activations[d].cell = random_activation(rng, bounded_cell_hidden, classic);
    m.activations[d].hidden = random_activation(rng, bounded_cell_hidden, classic);
  }
}

}  // namespace lstmrt::test
