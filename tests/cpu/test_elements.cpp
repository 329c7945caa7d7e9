// The host element conversions (src/common/elements.hpp) against a reference that shares none of
// their bit arithmetic: every finite value of the 16-bit format decoded with ldexp from its fields,
// and float32 → 16 bits found by binary search in that table, the tie at the exact midpoint going
// to the even bit pattern (IEEE round to nearest even). Overflow follows IEEE: the table ends with
// 2^(emax+1) standing for inf, so values at or past the midpoint above the largest finite go to inf.
#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "common/elements.hpp"
#include "common/expect_error.hpp"

namespace lstmrt::test {
namespace {

float float_of(std::uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

std::uint32_t bits_of(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

// One 16-bit format: mantissa bits and exponent bias; binary16 (10, 15) or bfloat16 (7, 127).
struct Format {
  const char* name;
  int mantissa_bits, exponent_bits, bias;
  std::uint16_t (*from_float)(float);
  float (*to_float)(std::uint16_t);

  std::uint16_t inf_bits() const { return static_cast<std::uint16_t>(((1u << exponent_bits) - 1) << mantissa_bits); }
  // The value of a non-NaN, non-inf bit pattern, from its fields (a double holds every one exactly).
  double decode(std::uint16_t b) const {
    const int e = (b >> mantissa_bits) & ((1 << exponent_bits) - 1);
    const int m = b & ((1 << mantissa_bits) - 1);
    const double magnitude = e == 0 ? std::ldexp(m, 1 - bias - mantissa_bits)
                                    : std::ldexp((1 << mantissa_bits) + m, e - bias - mantissa_bits);
    return (b & 0x8000) ? -magnitude : magnitude;
  }
  bool is_nan(std::uint16_t b) const { return (b & 0x7fff) > inf_bits(); }
};

const Format kHalf{"float16", 10, 5, 15, detail::float_to_half, detail::half_to_float};
const Format kBFloat16{"bfloat16", 7, 8, 127, detail::float_to_bfloat16, detail::bfloat16_to_float};

// Round to nearest even by search: values[i] is the value of bit pattern i for i < inf_bits, and
// values[inf_bits] = 2^(emax+1) (inf). Returns the expected bit pattern of a non-NaN float.
class NearestReference {
 public:
  explicit NearestReference(const Format& f) {
    for (std::uint32_t b = 0; b < f.inf_bits(); ++b) values_.push_back(f.decode(static_cast<std::uint16_t>(b)));
    values_.push_back(2 * f.decode(static_cast<std::uint16_t>(f.inf_bits() - (1u << f.mantissa_bits))));
  }
  std::uint16_t operator()(float v) const {
    const std::uint16_t sign = std::signbit(v) ? 0x8000 : 0;
    const double x = std::fabs(static_cast<double>(v));
    const auto top = static_cast<std::uint16_t>(values_.size() - 1);
    if (x >= values_.back()) return sign | top;
    // lo: the largest value ≤ x; the midpoint of lo and lo + 1 is exact in a double.
    const std::size_t lo = std::upper_bound(values_.begin(), values_.end(), x) - values_.begin() - 1;
    const double mid = (values_[lo] + values_[lo + 1]) / 2;
    const std::size_t pick = x < mid ? lo : x > mid ? lo + 1 : (lo % 2 == 0 ? lo : lo + 1);
    return static_cast<std::uint16_t>(sign | pick);
  }
  const std::vector<double>& values() const { return values_; }

 private:
  std::vector<double> values_;
};

// Checks from_float(v) against the reference for one float; counts and reports the first few.
struct Checker {
  const Format& f;
  const NearestReference& ref;
  int failures = 0;
  long checked = 0;
  void check(float v) {
    ++checked;
    const std::uint16_t got = f.from_float(v);
    if (std::isnan(v)) {
      if (!f.is_nan(got) || (got & 0x8000) != ((bits_of(v) >> 16) & 0x8000)) report(v, got, "a NaN of the same sign");
      return;
    }
    const std::uint16_t want = ref(v);
    if (got != want) report(v, got, fmt::format("0x{:04x}", want));
  }
  void report(float v, std::uint16_t got, const std::string& want) {
    if (++failures <= 8)
      ADD_FAILURE() << f.name << " of " << fmt::format("{:a} (0x{:08x})", v, bits_of(v)) << ": got "
                    << fmt::format("0x{:04x}", got) << ", expected " << want;
  }
};

void check_format(const Format& f) {
  const NearestReference ref(f);
  Checker c{f, ref};
  // Every finite value, both neighbours of every midpoint between consecutive values (the ties
  // themselves are exact floats: one bit more than the 16-bit format), for both signs.
  const std::vector<double>& values = ref.values();
  for (std::size_t i = 0; i + 1 < values.size(); ++i) {
    const auto mid = static_cast<float>((values[i] + values[i + 1]) / 2);
    ASSERT_EQ(static_cast<double>(mid), (values[i] + values[i + 1]) / 2) << "a midpoint is not a float";
    for (const float v : {static_cast<float>(values[i]), mid, std::nextafter(mid, 0.0f), std::nextafter(mid, INFINITY)})
      c.check(v), c.check(-v);
  }
  // Past the top, the specials, and float32 subnormals (all → ±0 for binary16, kept for bfloat16).
  for (const float v : {FLT_MAX, INFINITY, std::ldexp(1.0f, 127), FLT_MIN, std::nextafter(0.0f, 1.0f),
                        std::nextafter(FLT_MIN, 0.0f), 0.0f, std::numeric_limits<float>::quiet_NaN(),
                        std::numeric_limits<float>::signaling_NaN(), float_of(0x7f800001u), float_of(0x7fc00000u)})
    c.check(v), c.check(-v);
  // Random bit patterns over the whole float32 range, NaNs and subnormals included.
  std::mt19937 rng(20261201);
  for (int i = 0; i < 2'000'000; ++i) c.check(float_of(static_cast<std::uint32_t>(rng())));
  EXPECT_EQ(c.failures, 0) << c.failures << " of " << c.checked << " float32 values converted wrongly to " << f.name;
}

void check_round_trip(const Format& f) {
  int failures = 0;
  for (std::uint32_t b = 0; b < 0x10000; ++b) {
    const auto bits = static_cast<std::uint16_t>(b);
    const float wide = f.to_float(bits);
    const bool ok = f.is_nan(bits) ? std::isnan(wide) && std::signbit(wide) == bool(bits & 0x8000)
                    : (bits & 0x7fff) == f.inf_bits()
                        ? std::isinf(wide) && std::signbit(wide) == bool(bits & 0x8000)
                        : static_cast<double>(wide) == f.decode(bits) && std::signbit(wide) == bool(bits & 0x8000);
    // Back to 16 bits: every pattern, NaN payloads included, comes back as it was.
    const std::uint16_t back = f.from_float(wide);
    if ((!ok || back != bits) && ++failures <= 8)
      ADD_FAILURE() << f.name << fmt::format(" 0x{:04x} → {:a} → 0x{:04x}", bits, wide, back);
  }
  EXPECT_EQ(failures, 0) << failures << " of 65536 " << f.name << " bit patterns did not round-trip";
}

TEST(Elements, HalfRoundTripsEveryBitPattern) { check_round_trip(kHalf); }
TEST(Elements, BFloat16RoundTripsEveryBitPattern) { check_round_trip(kBFloat16); }
TEST(Elements, FloatToHalfIsNearestEven) { check_format(kHalf); }
TEST(Elements, FloatToBFloat16IsNearestEven) { check_format(kBFloat16); }

// Named corners, written out by hand so that a reader can check them without the reference.
TEST(Elements, HalfTiesOverflowAndUnderflow) {
  using detail::float_to_half;
  EXPECT_EQ(float_to_half(1.0f + std::ldexp(1.0f, -11)), 0x3c00);      // tie 1 | 1+2^-10: even 1
  EXPECT_EQ(float_to_half(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);  // tie 1+2^-10 | 1+2^-9: even up
  EXPECT_EQ(float_to_half(0.1f), 0x2e66);
  EXPECT_EQ(float_to_half(65504.0f), 0x7bff);                        // largest finite
  EXPECT_EQ(float_to_half(std::nextafter(65520.0f, 0.0f)), 0x7bff);  // just below the midpoint to 2^16
  EXPECT_EQ(float_to_half(65520.0f), 0x7c00);                        // the midpoint: ties to inf (even)
  EXPECT_EQ(float_to_half(-1e10f), 0xfc00);
  EXPECT_EQ(float_to_half(std::ldexp(1.0f, -14)), 0x0400);                          // smallest normal
  EXPECT_EQ(float_to_half(std::ldexp(1.0f, -14) - std::ldexp(1.0f, -25)), 0x0400);  // tie 0x03ff | 0x0400
  EXPECT_EQ(float_to_half(std::ldexp(1.0f, -24)), 0x0001);                          // smallest subnormal
  EXPECT_EQ(float_to_half(std::ldexp(1.5f, -24)), 0x0002);  // tie 1 | 2 (units of 2^-24): even 2
  EXPECT_EQ(float_to_half(std::ldexp(1.0f, -25)), 0x0000);  // tie 0 | 1: even 0
  EXPECT_EQ(float_to_half(std::nextafter(std::ldexp(1.0f, -25), 1.0f)), 0x0001);
  EXPECT_EQ(float_to_half(-std::ldexp(1.0f, -26)), 0x8000);  // −0 keeps its sign
  EXPECT_EQ(float_to_half(float_of(0x7f800001u)), 0x7c01);   // a NaN whose payload would vanish
  EXPECT_EQ(detail::half_to_float(0x3555), 0.333251953125f);
  EXPECT_EQ(detail::half_to_float(0x03ff), std::ldexp(1023.0f, -24));  // largest subnormal
}

TEST(Elements, BFloat16TiesOverflowAndNaN) {
  using detail::float_to_bfloat16;
  EXPECT_EQ(float_to_bfloat16(1.0f + std::ldexp(1.0f, -8)), 0x3f80);      // tie: even 1
  EXPECT_EQ(float_to_bfloat16(1.0f + 3 * std::ldexp(1.0f, -8)), 0x3f82);  // tie: even up
  EXPECT_EQ(float_to_bfloat16(0.1f), 0x3dcd);
  EXPECT_EQ(float_to_bfloat16(65504.0f), 0x4780);
  EXPECT_EQ(float_to_bfloat16(std::ldexp(255.0f, 120)), 0x7f7f);  // largest finite
  EXPECT_EQ(float_to_bfloat16(std::ldexp(511.0f, 119)), 0x7f80);  // midpoint above it: inf (even)
  EXPECT_EQ(float_to_bfloat16(std::nextafter(std::ldexp(511.0f, 119), 0.0f)), 0x7f7f);
  EXPECT_EQ(float_to_bfloat16(-FLT_MAX), 0xff80);
  EXPECT_EQ(float_to_bfloat16(std::nextafter(0.0f, 1.0f)), 0x0000);  // float32 subnormal 2^-149: below half of 2^-133
  EXPECT_EQ(float_to_bfloat16(float_of(0x00008000u)), 0x0000);       // tie 0 | 0x0001: even 0
  EXPECT_EQ(float_to_bfloat16(float_of(0x00018000u)), 0x0002);       // tie 0x0001 | 0x0002: even up
  EXPECT_EQ(float_to_bfloat16(float_of(0xff800001u)), 0xffc0);       // a NaN whose payload would vanish
  EXPECT_EQ(float_to_bfloat16(float_of(0x7fffffffu)), 0x7fff);       // NaN: no carry into the sign
}

TEST(Elements, ElementBytesAndBadTypes) {
  EXPECT_EQ(detail::element_bytes(DataType::kFloat32), 4u);
  EXPECT_EQ(detail::element_bytes(DataType::kFloat16), 2u);
  EXPECT_EQ(detail::element_bytes(DataType::kBFloat16), 2u);
  EXPECT_EQ(detail::element_bytes(DataType::kInt64), 8u);  // every DataType has a size (test_file_format: all)
  const auto bad = static_cast<DataType>(99);
  unsigned char buffer[8] = {};
  const std::vector<std::string> names = {"data type 99", "not a DataType value"};
  expect_error([&] { detail::element_bytes(bad); }, ErrorCode::kInvalidArgument, names);
  expect_error([&] { detail::store_element(1.0f, bad, buffer); }, ErrorCode::kInvalidArgument, names);
  expect_error([&] { detail::load_element(buffer, bad); }, ErrorCode::kInvalidArgument, names);
  expect_error([&] { detail::to_storage({1.0f}, bad); }, ErrorCode::kInvalidArgument, names);
  // A file-only type has a size but no storage conversion.
  const std::vector<std::string> file_only = {"int32", "not a storage type", "float32, float16 or bfloat16"};
  expect_error([&] { detail::store_element(1.0f, DataType::kInt32, buffer); }, ErrorCode::kInvalidArgument, file_only);
  expect_error([&] { detail::load_element(buffer, DataType::kInt32); }, ErrorCode::kInvalidArgument, file_only);
  expect_error([&] { detail::to_storage({1.0f}, DataType::kInt32); }, ErrorCode::kInvalidArgument, file_only);
  expect_error([&] { detail::from_storage(std::vector<std::uint8_t>(3), DataType::kFloat16); },
               ErrorCode::kInvalidArgument, {"3 bytes of float16", "multiple of 2"});
}

// to_storage / from_storage: every element written (output poisoned first), at its own offset,
// rounded as the scalar conversion rounds; float32 is a plain copy.
TEST(Elements, StorageArraysMatchTheScalarConversions) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-70000.0f, 70000.0f);
  for (const DataType t : {DataType::kFloat32, DataType::kFloat16, DataType::kBFloat16}) {
    for (const std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{17}, std::size_t{1000}}) {
      std::vector<float> values(n);
      for (float& v : values) v = dist(rng);
      const std::vector<std::uint8_t> bytes = detail::to_storage(values, t);
      ASSERT_EQ(bytes.size(), n * detail::element_bytes(t));
      std::vector<float> back(n + 1, std::numeric_limits<float>::quiet_NaN());  // poisoned, one past the end
      detail::from_storage(bytes.data(), n, t, back.data());
      EXPECT_TRUE(std::isnan(back[n])) << "wrote past the end";
      for (std::size_t i = 0; i < n; ++i) {
        const float want = t == DataType::kFloat32   ? values[i]
                           : t == DataType::kFloat16 ? detail::half_to_float(detail::float_to_half(values[i]))
                                                     : detail::bfloat16_to_float(detail::float_to_bfloat16(values[i]));
        ASSERT_EQ(bits_of(back[i]), bits_of(want)) << to_string(t) << " element " << i << " of " << n;
        ASSERT_EQ(bits_of(detail::load_element(bytes.data() + i * detail::element_bytes(t), t)), bits_of(want));
      }
      EXPECT_EQ(detail::from_storage(bytes, t), std::vector<float>(back.begin(), back.begin() + n));
    }
  }
}

}  // namespace
}  // namespace lstmrt::test
