// lstmrt::Array: dtypes, construction from typed values, checked typed copies.
#include <cstring>
#include <limits>

#include <fmt/format.h>

#include "common/check.hpp"
#include "common/elements.hpp"
#include "lstmrt/io.hpp"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "lstmrt::Array stores little-endian bytes and copies them as host values");

namespace lstmrt {
namespace {

template <typename T>
Array from_values(DataType dtype, std::vector<std::int64_t> shape, const std::vector<T>& values) {
  Array a;
  a.dtype = dtype;
  a.shape = std::move(shape);
  for (std::int64_t d : a.shape)
    if (d < 0) detail::invalid("array shape {} has a negative dimension", shape_string(a.shape));
  if (static_cast<std::int64_t>(values.size()) != a.numel())
    detail::invalid("array of shape {} needs {} values, got {}", shape_string(a.shape), a.numel(), values.size());
  a.data.resize(values.size() * sizeof(T));
  if (!values.empty()) std::memcpy(a.data.data(), values.data(), a.data.size());
  return a;
}

template <typename T>
std::vector<T> values_of(const Array& a) {
  std::vector<T> out(a.data.size() / sizeof(T));
  if (!out.empty()) std::memcpy(out.data(), a.data.data(), out.size() * sizeof(T));
  return out;
}

void check_data_size(const Array& a, const std::string& name) {
  if (a.data.size() != static_cast<std::uint64_t>(a.numel()) * detail::element_bytes(a.dtype))
    detail::invalid("{} holds {} bytes, expected shape {} of {} = {} bytes", name, a.data.size(), shape_string(a.shape),
                    to_string(a.dtype), a.numel() * detail::element_bytes(a.dtype));
}

}  // namespace

std::int64_t Array::numel() const {
  std::int64_t n = 1;
  for (std::int64_t d : shape) n *= d;
  return n;
}

Array Array::from_float32(std::vector<std::int64_t> shape, const std::vector<float>& values) {
  return from_values(DataType::kFloat32, std::move(shape), values);
}
Array Array::from_float64(std::vector<std::int64_t> shape, const std::vector<double>& values) {
  return from_values(DataType::kFloat64, std::move(shape), values);
}
Array Array::from_int32(std::vector<std::int64_t> shape, const std::vector<std::int32_t>& values) {
  return from_values(DataType::kInt32, std::move(shape), values);
}
Array Array::from_int64(std::vector<std::int64_t> shape, const std::vector<std::int64_t>& values) {
  return from_values(DataType::kInt64, std::move(shape), values);
}

std::vector<float> Array::to_float32(const std::string& name) const {
  if (dtype != DataType::kFloat32 && dtype != DataType::kFloat16 && dtype != DataType::kBFloat16)
    detail::invalid("{} has dtype {}: expected float32 or float16 (or bfloat16; convert with .astype(numpy.float32))",
                    name, to_string(dtype));
  check_data_size(*this, name);
  if (dtype == DataType::kFloat32) return values_of<float>(*this);
  std::vector<float> out(static_cast<std::size_t>(numel()));  // every binary16 and bfloat16 is a float32
  detail::from_storage(data.data(), out.size(), dtype, out.data());
  return out;
}

namespace {

template <typename T>
std::vector<std::int32_t> narrowed(const Array& a, const std::string& name) {
  const std::vector<T> wide = values_of<T>(a);
  std::vector<std::int32_t> out(wide.size());
  for (std::size_t i = 0; i < wide.size(); ++i) {
    if (!std::is_signed_v<T> ? wide[i] > static_cast<std::uint64_t>(std::numeric_limits<std::int32_t>::max())
                             : (static_cast<std::int64_t>(wide[i]) < std::numeric_limits<std::int32_t>::min() ||
                                static_cast<std::int64_t>(wide[i]) > std::numeric_limits<std::int32_t>::max()))
      detail::invalid("{} value {} at flat index {} does not fit in int32", name, wide[i], i);
    out[i] = static_cast<std::int32_t>(wide[i]);
  }
  return out;
}

}  // namespace

std::vector<std::int32_t> Array::to_int32(const std::string& name) const {
  check_data_size(*this, name);
  switch (dtype) {
    case DataType::kInt32: return values_of<std::int32_t>(*this);
    case DataType::kInt64: return narrowed<std::int64_t>(*this, name);
    case DataType::kInt16: return narrowed<std::int16_t>(*this, name);
    case DataType::kInt8: return narrowed<std::int8_t>(*this, name);
    case DataType::kUint8: return narrowed<std::uint8_t>(*this, name);
    default: break;
  }
  detail::invalid("{} has dtype {}: expected int32 or int64 (or another integer dtype whose values fit int32)", name,
                  to_string(dtype));
}

ArrayView ArrayView::of(const Array& array) {
  return ArrayView{array.dtype, array.shape, array.data.data(), array.data.size()};
}

ArrayView ArrayView::of_float32(std::vector<std::int64_t> shape, const std::vector<float>& values) {
  ArrayView v{DataType::kFloat32, std::move(shape), values.data(), values.size() * sizeof(float)};
  std::int64_t numel = 1;
  for (std::int64_t d : v.shape) numel *= d;
  if (numel < 0 || static_cast<std::uint64_t>(numel) != values.size())
    detail::invalid("array of shape {} needs {} values, got {}", shape_string(v.shape), numel, values.size());
  return v;
}

}  // namespace lstmrt
