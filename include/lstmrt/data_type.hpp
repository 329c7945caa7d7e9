// The element types lstmrt stores and computes in. Plain C++ without the standard library, so the
// kernels (kernels/*.cuh, compiled by nvcc) name element types with the same enum as the API.
#pragma once

namespace lstmrt {

enum class DataType { kFloat32, kFloat16, kBFloat16 };  // storage of x, y, h, c, weights on device

// The name the API prints for `t` (to_string(DataType), error messages of the kernels' launchers);
// "unknown" for a value outside the enum.
constexpr const char* data_type_name(DataType t) {
  switch (t) {
    case DataType::kFloat32: return "float32";
    case DataType::kFloat16: return "float16";
    case DataType::kBFloat16: return "bfloat16";
  }
  return "unknown";
}

}  // namespace lstmrt
