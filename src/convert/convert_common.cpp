// Shape checks and layout helpers shared by the weight converters.
#include "convert/convert_common.hpp"

#include <fmt/format.h>

#include "common/check.hpp"

namespace lstmrt::detail {

std::string ExpectedShape::to_string() const {
  std::vector<std::string> parts;
  for (std::size_t i = 0; i < dims.size(); ++i)
    parts.push_back(i < labels.size() && !labels[i].empty() ? fmt::format("{}={}", labels[i], dims[i])
                                                            : fmt::format("{}", dims[i]));
  if (parts.size() == 1) return fmt::format("({},)", parts[0]);
  return fmt::format("({})", fmt::join(parts, ", "));
}

void expect_shape(const Tensor& tensor, const std::string& name, const ExpectedShape& expected) {
  if (tensor.shape != expected.dims)
    invalid("{} has shape {}, expected {}", name, shape_string(tensor.shape), expected.to_string());
  if (static_cast<std::int64_t>(tensor.data.size()) != tensor.numel())
    invalid("{} holds {} values but its shape {} has {}", name, tensor.data.size(), shape_string(tensor.shape),
            tensor.numel());
}

void expect_values(const std::vector<float>& values, std::size_t expected, const std::string& name,
                   const std::string& what) {
  if (values.size() != expected) invalid("{} has {} values, expected {} = {}", name, values.size(), what, expected);
}

std::vector<float> transpose(const float* src, std::int64_t rows, std::int64_t cols) {
  std::vector<float> dst(static_cast<std::size_t>(rows * cols));
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < cols; ++c) dst[static_cast<std::size_t>(c * rows + r)] = src[r * cols + c];
  return dst;
}

}  // namespace lstmrt::detail
