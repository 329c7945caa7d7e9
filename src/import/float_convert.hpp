// Internal: IEEE half and bfloat16 bit patterns to float (for safetensors and HDF5 readers).
#pragma once

#include <cstdint>
#include <cstring>

namespace lstmrt::import_detail {

// bfloat16 is the top 16 bits of a float32.
inline float bfloat16_to_float(std::uint16_t bits) {
  const std::uint32_t u = static_cast<std::uint32_t>(bits) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// binary16: 1 sign, 5 exponent (bias 15), 10 mantissa bits; subnormals, inf and NaN kept.
inline float half_to_float(std::uint16_t bits) {
  const std::uint32_t sign = static_cast<std::uint32_t>(bits & 0x8000u) << 16;
  std::uint32_t exponent = (bits >> 10) & 0x1fu;
  std::uint32_t mantissa = bits & 0x3ffu;
  std::uint32_t u;
  if (exponent == 0x1f) {
    u = sign | 0x7f800000u | (mantissa << 13);  // inf / NaN
  } else if (exponent == 0) {
    if (mantissa == 0) {
      u = sign;  // ±0
    } else {     // subnormal: normalise into a float32 normal number
      int shift = 0;
      while ((mantissa & 0x400u) == 0) mantissa <<= 1, ++shift;
      mantissa &= 0x3ffu;
      u = sign | static_cast<std::uint32_t>(127 - 15 - shift + 1) << 23 | (mantissa << 13);
    }
  } else {
    u = sign | (exponent + 127 - 15) << 23 | (mantissa << 13);
  }
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

}  // namespace lstmrt::import_detail
