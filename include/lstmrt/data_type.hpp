// The element types lstmrt stores and computes in. Plain C++ without the standard library, so the
// kernels (kernels/*.cuh, compiled by nvcc) name element types with the same enum as the API.
#pragma once

namespace lstmrt {

enum class DataType { kFloat32, kFloat16, kBFloat16 };  // storage of x, y, h, c, weights on device

}  // namespace lstmrt
