// Canonical weights: validation against a model description, random weights, tensor helpers.
#include <random>

#include <fmt/format.h>

#include "common/check.hpp"
#include "lstmrt/weights.hpp"

namespace lstmrt {
namespace {

void expect_size(const std::vector<float>& v, std::size_t expected, int layer, int dir, const char* name,
                 const std::string& shape) {
  if (v.size() != expected)
    detail::invalid("layer {} direction {} {} has {} values, expected {} = {}", layer, dir, name, v.size(), shape,
                    expected);
}

void fill_uniform(std::vector<float>& v, std::size_t n, std::mt19937_64& rng, float scale) {
  std::uniform_real_distribution<float> dist(-scale, scale);
  v.resize(n);
  for (float& x : v) x = dist(rng);
}

}  // namespace

std::int64_t Tensor::numel() const {
  std::int64_t n = 1;
  for (std::int64_t d : shape) n *= d;
  return n;
}

std::string shape_string(const std::vector<std::int64_t>& shape) {
  if (shape.size() == 1) return fmt::format("({},)", shape[0]);
  return fmt::format("({})", fmt::join(shape, ", "));
}

void validate(const ModelDesc& desc, const Weights& weights) {
  validate(desc);
  const int dirs = desc.num_directions();
  const std::size_t expected_layers = static_cast<std::size_t>(desc.num_layers) * dirs;
  if (weights.layers.size() != expected_layers)
    detail::invalid("weights hold {} layer-directions, expected num_layers {} × directions {} = {}",
                    weights.layers.size(), desc.num_layers, dirs, expected_layers);
  const std::size_t h = desc.hidden_size, h_out = desc.output_size(), p = desc.proj_size;
  for (int l = 0; l < desc.num_layers; ++l) {
    const std::size_t in = desc.layer_input_size(l);
    for (int d = 0; d < dirs; ++d) {
      const LayerWeights& w = weights.at(desc, l, d);
      expect_size(w.w_ih, 4 * h * in, l, d, "w_ih", fmt::format("(4H={}, I_l={})", 4 * h, in));
      expect_size(w.w_hh, 4 * h * h_out, l, d, "w_hh", fmt::format("(4H={}, H_out={})", 4 * h, h_out));
      expect_size(w.b_ih, 4 * h, l, d, "b_ih", fmt::format("(4H={})", 4 * h));
      expect_size(w.b_hh, 4 * h, l, d, "b_hh", fmt::format("(4H={})", 4 * h));
      expect_size(w.w_hr, p * h, l, d, "w_hr",
                  p ? fmt::format("(P={}, H={})", p, h) : std::string("empty (no projection)"));
      expect_size(w.peephole, desc.peepholes ? 3 * h : 0, l, d, "peephole",
                  desc.peepholes ? fmt::format("(3H={})", 3 * h) : std::string("empty (no peepholes)"));
    }
  }
}

Weights random_weights(const ModelDesc& desc, std::uint64_t seed, float scale) {
  validate(desc);
  std::mt19937_64 rng(seed);
  Weights weights;
  const std::size_t h = desc.hidden_size, h_out = desc.output_size(), p = desc.proj_size;
  for (int l = 0; l < desc.num_layers; ++l) {
    for (int d = 0; d < desc.num_directions(); ++d) {
      LayerWeights w;
      fill_uniform(w.w_ih, 4 * h * desc.layer_input_size(l), rng, scale);
      fill_uniform(w.w_hh, 4 * h * h_out, rng, scale);
      fill_uniform(w.b_ih, 4 * h, rng, scale);
      fill_uniform(w.b_hh, 4 * h, rng, scale);
      if (p) fill_uniform(w.w_hr, p * h, rng, scale);
      if (desc.peepholes) fill_uniform(w.peephole, 3 * h, rng, scale);
      weights.layers.push_back(std::move(w));
    }
  }
  return weights;
}

}  // namespace lstmrt
