// Test helpers: exact comparison of canonical weights and of named foreign tensors.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <tuple>
#include <vector>

#include "lstmrt/weights.hpp"

namespace lstmrt::test {

inline ::testing::AssertionResult same_values(const std::vector<float>& a, const std::vector<float>& b,
                                              const std::string& what) {
  if (a.size() != b.size())
    return ::testing::AssertionFailure() << what << ": " << a.size() << " values vs " << b.size();
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i] != b[i]) return ::testing::AssertionFailure() << what << "[" << i << "]: " << a[i] << " vs " << b[i];
  return ::testing::AssertionSuccess();
}

inline ::testing::AssertionResult same_layer(const LayerWeights& a, const LayerWeights& b, const std::string& what) {
  for (auto [x, y, name] : {std::tuple{&a.w_ih, &b.w_ih, "w_ih"},
                            {&a.w_hh, &b.w_hh, "w_hh"},
                            {&a.b_ih, &b.b_ih, "b_ih"},
                            {&a.b_hh, &b.b_hh, "b_hh"},
                            {&a.w_hr, &b.w_hr, "w_hr"},
                            {&a.peephole, &b.peephole, "peephole"}}) {
    auto r = same_values(*x, *y, what + " " + name);
    if (!r) return r;
  }
  return ::testing::AssertionSuccess();
}

inline ::testing::AssertionResult same_weights(const Weights& a, const Weights& b) {
  if (a.layers.size() != b.layers.size())
    return ::testing::AssertionFailure() << a.layers.size() << " layer-directions vs " << b.layers.size();
  for (std::size_t k = 0; k < a.layers.size(); ++k) {
    auto r = same_layer(a.layers[k], b.layers[k], "layers[" + std::to_string(k) + "]");
    if (!r) return r;
  }
  return ::testing::AssertionSuccess();
}

inline ::testing::AssertionResult same_tensor(const Tensor& a, const Tensor& b, const std::string& what) {
  if (a.shape != b.shape)
    return ::testing::AssertionFailure() << what << ": shape " << shape_string(a.shape) << " vs "
                                         << shape_string(b.shape);
  return same_values(a.data, b.data, what);
}

inline ::testing::AssertionResult same_tensor_maps(const TensorMap& a, const TensorMap& b) {
  for (const auto& [name, t] : a)
    if (!b.count(name)) return ::testing::AssertionFailure() << name << " missing from the second map";
  for (const auto& [name, t] : b) {
    if (!a.count(name)) return ::testing::AssertionFailure() << name << " missing from the first map";
    auto r = same_tensor(a.at(name), t, name);
    if (!r) return r;
  }
  return ::testing::AssertionSuccess();
}

}  // namespace lstmrt::test
