// Internal: element types on the host — bytes per element of every DataType, and for the storage
// types the float32 ↔ float16 (IEEE binary16) / bfloat16 conversions. Plain C++ (no CUDA headers): the core library,
// the GPU module, the benchmark and the Triton backend all convert through these; the kernels keep their own __device__
// conversions (kernels/device.cuh).
//
// Bit layouts:  float32  s eeeeeeee mmmmmmmmmmmmmmmmmmmmmmm  (bias 127)
//               float16  s eeeee mmmmmmmmmm                 (bias 15; e = 0: subnormal m·2^-24)
//               bfloat16 s eeeeeeee mmmmmmm                 (the top half of a float32)
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "lstmrt/lstm.hpp"

namespace lstmrt::detail {

// Bytes per element, for every DataType: 1 for bool, uint8, int8; 2 for int16, float16, bfloat16;
// 4 for int32, float32; 8 for int64, float64. Error(kInvalidArgument) for a value outside the enum.
std::size_t element_bytes(DataType type);

// Error(kInvalidArgument) "`what` is int64: not a storage type: expected float32, float16 or
// bfloat16" unless is_storage_type(type): what the backends and BackendOptions validation refuse.
void require_storage_type(DataType type, const std::string& what);

// float32 → float16, rounded to nearest, ties to even: |v| ≥ 65520 (halfway past the largest
// finite 65504) → ±inf; values below 2^-14 become subnormals (multiples of 2^-24), ≤ 2^-25 → ±0.
// NaN stays NaN with the sign and the payload's top 10 bits (a payload that would vanish is 1).
std::uint16_t float_to_half(float value);
// float16 → float32: exact for every bit pattern (subnormals normalised, inf and NaN kept).
float half_to_float(std::uint16_t bits);

// float32 → bfloat16, rounded to nearest, ties to even (values past the largest finite bfloat16
// round to ±inf); NaN stays NaN with the sign and the payload's top 7 bits (quiet bit if none).
std::uint16_t float_to_bfloat16(float value);
// bfloat16 → float32: exact (the bits become the top half of the float32).
float bfloat16_to_float(std::uint16_t bits);

// The conversions below take the storage types only (Error(kInvalidArgument) naming another).
// One element of `type` at dst / src (element_bytes(type) bytes, any alignment).
void store_element(float value, DataType type, void* dst);
float load_element(const void* src, DataType type);

// Host float32 values as the raw bytes of `type` (count · element_bytes), and back. from_storage
// takes whole elements only: Error(kInvalidArgument) when bytes.size() is not a multiple.
std::vector<std::uint8_t> to_storage(const std::vector<float>& values, DataType type);
std::vector<std::uint8_t> to_storage(const float* values, std::size_t count, DataType type);
std::vector<float> from_storage(const std::vector<std::uint8_t>& bytes, DataType type);
void from_storage(const void* bytes, std::size_t count, DataType type, float* out);

}  // namespace lstmrt::detail
