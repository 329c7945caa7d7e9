// safetensors reader (format: include/lstmrt/import.hpp). Every number in the header is checked
// against the buffer before use: the header length against the file size, each tensor's
// [begin, end) against the data buffer and against numel · dtype size, and the tensors must tile
// the buffer (no overlaps, holes or trailing bytes), as the reference implementation demands.
#include <algorithm>
#include <cstring>
#include <limits>

#include <nlohmann/json.hpp>

#include "common/check.hpp"
#include "common/elements.hpp"
#include "formats/file_bytes.hpp"
#include "formats/file_format.hpp"
#include "lstmrt/import.hpp"

namespace lstmrt {
namespace {

using nlohmann::json;

constexpr std::uint64_t kMaxHeaderBytes = 100u << 20;            // the reference implementation's limit
constexpr std::uint64_t kMaxFileBytes = std::uint64_t{1} << 36;  // 64 GiB

template <typename... Args>
[[noreturn]] void bad(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(ErrorCode::kIoError, fmt::format(format, std::forward<Args>(args)...));
}

struct Entry {
  std::string name;
  std::string dtype;
  std::vector<std::int64_t> shape;
  std::uint64_t begin = 0, end = 0;
};

std::size_t dtype_bytes(const std::string& dtype) {
  if (dtype == "F32") return 4;
  if (dtype == "F64") return 8;
  if (dtype == "F16" || dtype == "BF16") return 2;
  return 0;
}

std::uint64_t unsigned_number(const json& v, const std::string& what, const std::string& source) {
  if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<std::int64_t>() >= 0))
    bad("{}: {} is {}: expected a non-negative integer", source, what, v.dump());
  return v.get<std::uint64_t>();
}

Entry parse_entry(const std::string& name, const json& v, std::uint64_t buffer_size, const std::string& source) {
  if (!v.is_object()) bad("{}: tensor '{}' is {}: expected an object", source, name, v.type_name());
  for (const char* key : {"dtype", "shape", "data_offsets"})
    if (!v.contains(key)) bad("{}: tensor '{}' has no \"{}\"", source, name, key);
  Entry e;
  e.name = name;
  if (!v["dtype"].is_string()) bad("{}: tensor '{}' dtype is {}: expected a string", source, name, v["dtype"].dump());
  e.dtype = v["dtype"].get<std::string>();
  if (dtype_bytes(e.dtype) == 0)
    bad("{}: tensor '{}' has dtype {}: expected a float dtype (F32, F64, F16, BF16)", source, name, e.dtype);
  const json& shape = v["shape"];
  if (!shape.is_array() || shape.size() > 16)
    bad("{}: tensor '{}' shape is {}: expected an array of at most 16 dimensions", source, name, shape.dump());
  // Dimensions are capped at 2^40 before use, and the product is checked against the buffer size
  // step by step (unless a dimension is 0), so nothing overflows and nothing large is allocated.
  for (const json& d : shape) {
    const std::uint64_t n = unsigned_number(d, fmt::format("tensor '{}' dimension", name), source);
    if (n > (std::uint64_t{1} << 40)) bad("{}: tensor '{}' dimension {} is not a plausible size", source, name, n);
    e.shape.push_back(static_cast<std::int64_t>(n));
  }
  std::uint64_t numel = 1;
  if (std::find(e.shape.begin(), e.shape.end(), 0) != e.shape.end()) {
    numel = 0;
  } else {
    for (std::int64_t n : e.shape) {
      numel *= static_cast<std::uint64_t>(n);
      if (numel > buffer_size)
        bad("{}: tensor '{}' shape {} exceeds the {}-byte data buffer", source, name, shape.dump(), buffer_size);
    }
  }
  const json& offsets = v["data_offsets"];
  if (!offsets.is_array() || offsets.size() != 2)
    bad("{}: tensor '{}' data_offsets is {}: expected [begin, end]", source, name, offsets.dump());
  e.begin = unsigned_number(offsets[0], fmt::format("tensor '{}' data_offsets[0]", name), source);
  e.end = unsigned_number(offsets[1], fmt::format("tensor '{}' data_offsets[1]", name), source);
  if (e.begin > e.end || e.end > buffer_size)
    bad("{}: tensor '{}' data_offsets [{}, {}]: expected begin <= end <= {} (the data buffer size)", source, name,
        e.begin, e.end, buffer_size);
  const std::uint64_t expected = numel * dtype_bytes(e.dtype);
  if (e.end - e.begin != expected)
    bad("{}: tensor '{}' ({} {}) spans {} bytes: expected {}", source, name, e.dtype, shape.dump(), e.end - e.begin,
        expected);
  return e;
}

Array to_float32_array(const Entry& e, const std::uint8_t* buffer) {
  const std::uint8_t* p = buffer + e.begin;
  const std::size_t n = static_cast<std::size_t>((e.end - e.begin) / dtype_bytes(e.dtype));
  std::vector<float> values(n);
  for (std::size_t i = 0; i < n; ++i) {
    if (e.dtype == "F32") {
      std::memcpy(&values[i], p + 4 * i, 4);
    } else if (e.dtype == "F64") {
      double d;
      std::memcpy(&d, p + 8 * i, 8);
      values[i] = static_cast<float>(d);
    } else {
      const std::uint16_t bits = static_cast<std::uint16_t>(p[2 * i] | (p[2 * i + 1] << 8));
      values[i] = e.dtype == "F16" ? detail::half_to_float(bits) : detail::bfloat16_to_float(bits);
    }
  }
  return Array::from_float32(e.shape, values);
}

}  // namespace

ArrayMap parse_safetensors(const std::uint8_t* data, std::size_t size, const std::string& source) {
  if (size < 8) bad("{}: {} bytes: too short for a safetensors file (8-byte header length first)", source, size);
  std::uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = header_len << 8 | data[i];
  if (header_len > kMaxHeaderBytes || header_len > size - 8)
    bad("{}: header length {} exceeds the {} bytes after it (limit {})", source, header_len, size - 8, kMaxHeaderBytes);
  const char* header_begin = reinterpret_cast<const char*>(data + 8);
  json header = json::parse(header_begin, header_begin + header_len, nullptr, /*allow_exceptions=*/false);
  if (header.is_discarded()) bad("{}: the {}-byte header is not valid JSON", source, header_len);
  if (!header.is_object()) bad("{}: the header is a JSON {}: expected an object", source, header.type_name());

  const std::uint8_t* buffer = data + 8 + header_len;
  const std::uint64_t buffer_size = size - 8 - header_len;
  std::vector<Entry> entries;
  for (const auto& [name, value] : header.items()) {
    if (name == "__metadata__") continue;
    entries.push_back(parse_entry(name, value, buffer_size, source));
  }
  // The tensors must tile the buffer: sorted by begin, no overlap, no hole, nothing after.
  std::vector<const Entry*> order;
  for (const Entry& e : entries) order.push_back(&e);
  std::sort(order.begin(), order.end(), [](const Entry* a, const Entry* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  std::uint64_t expected_begin = 0;
  for (const Entry* e : order) {
    if (e->begin != expected_begin)
      bad("{}: tensor '{}' data_offsets [{}, {}]: expected it to start at byte {} ({})", source, e->name, e->begin,
          e->end, expected_begin, e->begin < expected_begin ? "it overlaps the tensor before it" : "a hole before it");
    expected_begin = e->end;
  }
  if (expected_begin != buffer_size)
    bad("{}: the tensors cover {} bytes of the {}-byte data buffer: expected all of it", source, expected_begin,
        buffer_size);

  ArrayMap arrays;
  for (const Entry& e : entries) arrays.emplace(e.name, to_float32_array(e, buffer));
  return arrays;
}

ArrayMap load_safetensors(const std::string& path) {
  formats_detail::choose_reader(path, {formats_detail::FileFormat::kSafetensors}, "a .safetensors file",
                                "weights file");
  const std::vector<std::uint8_t> bytes = formats_detail::read_file_bytes(path, kMaxFileBytes);
  return parse_safetensors(bytes.data(), bytes.size(), path);
}

}  // namespace lstmrt
