// Storage element sizes and float conversions (layouts in elements.hpp).
#include "common/elements.hpp"

#include <cstring>

#include "common/check.hpp"

namespace lstmrt::detail {
namespace {

std::uint32_t bits_of(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

float float_of(std::uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

[[noreturn]] void not_a_value(DataType type) {
  invalid("data type {} is not a DataType value", static_cast<int>(type));
}

// A conversion's refusal: a value outside the enum, or a file-only type.
[[noreturn]] void bad_type(DataType type) {
  const int v = static_cast<int>(type);
  if (v < 0 || v >= static_cast<int>(sizeof kAllDataTypes / sizeof kAllDataTypes[0])) not_a_value(type);
  require_storage_type(type, "data type");
  not_a_value(type);  // (unreachable: the storage types are converted by the callers' switches)
}

}  // namespace

std::size_t element_bytes(DataType type) {
  switch (type) {
    case DataType::kBool:
    case DataType::kUint8:
    case DataType::kInt8: return 1;
    case DataType::kInt16:
    case DataType::kFloat16:
    case DataType::kBFloat16: return 2;
    case DataType::kInt32:
    case DataType::kFloat32: return 4;
    case DataType::kInt64:
    case DataType::kFloat64: return 8;
  }
  not_a_value(type);
}

void require_storage_type(DataType type, const std::string& what) {
  if (!is_storage_type(type))
    invalid("{} is {}: not a storage type: expected float32, float16 or bfloat16", what, to_string(type));
}

std::uint16_t float_to_half(float value) {
  const std::uint32_t u = bits_of(value);
  const auto sign = static_cast<std::uint16_t>((u >> 16) & 0x8000u);
  const std::uint32_t a = u & 0x7fffffffu;  // |value|
  if (a > 0x7f800000u) {                    // NaN: keep the payload's top bits, never inf's 0
    const std::uint32_t payload = (a >> 13) & 0x3ffu;
    return static_cast<std::uint16_t>(sign | 0x7c00u | (payload ? payload : 1u));
  }
  // ≥ 65520, the midpoint above the largest finite 65504 (a tie: to the even 0x7c00), and inf → inf.
  if (a >= 0x477ff000u) return static_cast<std::uint16_t>(sign | 0x7c00u);
  if (a >= 0x38800000u) {  // ≥ 2^-14: a normal half. Rebias the exponent (127 → 15: minus 112 << 23),
    // then drop 13 mantissa bits, adding 0xfff plus the kept lowest bit so that ties go to even;
    // a carry out of the mantissa correctly bumps the exponent.
    const std::uint32_t r = a - (112u << 23);
    return static_cast<std::uint16_t>(sign | ((r + 0xfffu + ((r >> 13) & 1u)) >> 13));
  }
  // Below 2^-14: a subnormal half m·2^-24. For a float32 2^(e-127)·1.f with significand
  // s = 1.f·2^23, m = s·2^(e-127-23+24) = s >> (126 - e); e < 102 (below 2^-25) always rounds to 0.
  const std::uint32_t e = a >> 23;
  if (e < 102) return sign;
  const std::uint32_t s = (a & 0x7fffffu) | 0x800000u, shift = 126 - e;  // shift 14..24
  std::uint32_t m = s >> shift;
  const std::uint32_t rest = s & ((1u << shift) - 1), halfway = 1u << (shift - 1);
  if (rest > halfway || (rest == halfway && (m & 1u))) ++m;  // m = 0x400 is the smallest normal
  return static_cast<std::uint16_t>(sign | m);
}

float half_to_float(std::uint16_t bits) {
  const std::uint32_t sign = static_cast<std::uint32_t>(bits & 0x8000u) << 16;
  const std::uint32_t exponent = (bits >> 10) & 0x1fu;
  std::uint32_t mantissa = bits & 0x3ffu;
  if (exponent == 0x1f) return float_of(sign | 0x7f800000u | (mantissa << 13));  // inf / NaN
  if (exponent != 0) return float_of(sign | (exponent + 127 - 15) << 23 | (mantissa << 13));
  if (mantissa == 0) return float_of(sign);  // ±0
  // Subnormal m·2^-24: shift the leading 1 up to bit 10 (the implicit bit), one exponent step each.
  int shift = 0;
  while ((mantissa & 0x400u) == 0) mantissa <<= 1, ++shift;
  return float_of(sign | static_cast<std::uint32_t>(127 - 15 + 1 - shift) << 23 | ((mantissa & 0x3ffu) << 13));
}

std::uint16_t float_to_bfloat16(float value) {
  const std::uint32_t u = bits_of(value);
  if ((u & 0x7fffffffu) > 0x7f800000u) {  // NaN: truncate, keeping it a NaN (quiet bit if needed)
    const auto top = static_cast<std::uint16_t>(u >> 16);
    return (top & 0x7fu) ? top : static_cast<std::uint16_t>(top | 0x40u);
  }
  // Drop the low 16 bits, adding 0x7fff plus the kept lowest bit so that ties go to even; a carry
  // bumps the exponent, and past the largest finite value lands on inf (0x7f80).
  return static_cast<std::uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

float bfloat16_to_float(std::uint16_t bits) { return float_of(static_cast<std::uint32_t>(bits) << 16); }

void store_element(float value, DataType type, void* dst) {
  switch (type) {
    case DataType::kFloat32: std::memcpy(dst, &value, 4); return;
    case DataType::kFloat16: {
      const std::uint16_t h = float_to_half(value);
      std::memcpy(dst, &h, 2);
      return;
    }
    case DataType::kBFloat16: {
      const std::uint16_t b = float_to_bfloat16(value);
      std::memcpy(dst, &b, 2);
      return;
    }
    default: break;
  }
  bad_type(type);
}

float load_element(const void* src, DataType type) {
  switch (type) {
    case DataType::kFloat32: {
      float f;
      std::memcpy(&f, src, 4);
      return f;
    }
    case DataType::kFloat16:
    case DataType::kBFloat16: {
      std::uint16_t raw;
      std::memcpy(&raw, src, 2);
      return type == DataType::kFloat16 ? half_to_float(raw) : bfloat16_to_float(raw);
    }
    default: break;
  }
  bad_type(type);
}

std::vector<std::uint8_t> to_storage(const float* values, std::size_t count, DataType type) {
  const std::size_t es = element_bytes(type);
  std::vector<std::uint8_t> bytes(count * es);
  if (type == DataType::kFloat32) {
    if (count) std::memcpy(bytes.data(), values, bytes.size());
    return bytes;
  }
  for (std::size_t i = 0; i < count; ++i) store_element(values[i], type, bytes.data() + i * es);
  return bytes;
}

std::vector<std::uint8_t> to_storage(const std::vector<float>& values, DataType type) {
  return to_storage(values.data(), values.size(), type);
}

void from_storage(const void* bytes, std::size_t count, DataType type, float* out) {
  const std::size_t es = element_bytes(type);
  const auto* p = static_cast<const std::uint8_t*>(bytes);
  if (type == DataType::kFloat32) {
    if (count) std::memcpy(out, p, count * 4);
    return;
  }
  for (std::size_t i = 0; i < count; ++i) out[i] = load_element(p + i * es, type);
}

std::vector<float> from_storage(const std::vector<std::uint8_t>& bytes, DataType type) {
  const std::size_t es = element_bytes(type);
  if (bytes.size() % es != 0)
    invalid("{} bytes of {} data: expected a multiple of {} (whole elements)", bytes.size(), to_string(type), es);
  std::vector<float> out(bytes.size() / es);
  from_storage(bytes.data(), out.size(), type, out.data());
  return out;
}

}  // namespace lstmrt::detail
