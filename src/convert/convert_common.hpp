// Internal: helpers shared by the weight converters (PyTorch, Keras, ONNX): shape checks that name
// the tensor, its shape and the expected shape, transposes and gate-block reordering.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "lstmrt/weights.hpp"

namespace lstmrt::detail {

// An expected shape with a description of each dimension, e.g. dims {96, 24} and labels
// {"4H", "H_out"} print as "(4H=96, H_out=24)".
struct ExpectedShape {
  std::vector<std::int64_t> dims;
  std::vector<std::string> labels;
  std::string to_string() const;
};

// Throws kInvalidArgument "<name> has shape (a, b), expected (4H=.., I_l=..)" when `tensor`'s shape
// differs, and "<name> holds N values but its shape (..) has M" when the data does not fill it.
void expect_shape(const Tensor& tensor, const std::string& name, const ExpectedShape& expected);

// Throws kInvalidArgument "<name> has N values, expected <what> = M" for a canonical vector.
void expect_values(const std::vector<float>& values, std::size_t expected, const std::string& name,
                   const std::string& what);

// (rows, cols) row-major -> (cols, rows) row-major.
std::vector<float> transpose(const float* src, std::int64_t rows, std::int64_t cols);

// Rearranges the four (or three) gate blocks of `src` (blocks of block_size contiguous values):
// dst block k = src block from[k]. Used for 4H-row matrices (block_size = H·cols) and vectors.
template <std::size_t kBlocks>
void reorder_blocks(const float* src, float* dst, std::size_t block_size, const std::array<int, kBlocks>& from) {
  for (std::size_t k = 0; k < kBlocks; ++k) {
    const float* s = src + static_cast<std::size_t>(from[k]) * block_size;
    std::copy(s, s + block_size, dst + k * block_size);
  }
}

}  // namespace lstmrt::detail
