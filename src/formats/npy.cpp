// The .npy format: header parsing and writing, load_npy / save_npy.
#include <algorithm>
#include <cstring>
#include <fstream>
#include <limits>
#include <optional>

#include <fmt/format.h>

#include "common/elements.hpp"
#include "formats/file_bytes.hpp"
#include "formats/file_format.hpp"
#include "formats/npy_format.hpp"

namespace lstmrt {
namespace formats_detail {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr std::size_t kMagicSize = 6;
constexpr std::size_t kMaxHeaderBytes = 1 << 20;  // numpy's own limit is 10 000 by default
constexpr std::size_t kMaxRank = 64;              // numpy's NPY_MAXDIMS
constexpr std::size_t kReadChunk = std::size_t{64} << 20;

// descr type codes lstmrt accepts: kind letter + item size, as numpy writes them. Every DataType
// but bfloat16, which NumPy has no type for.
struct TypeCode {
  DataType dtype;
  const char* code;
};
constexpr TypeCode kTypeCodes[] = {
    {DataType::kBool, "b1"},    {DataType::kUint8, "u1"},   {DataType::kInt8, "i1"},
    {DataType::kInt16, "i2"},   {DataType::kInt32, "i4"},   {DataType::kInt64, "i8"},
    {DataType::kFloat16, "f2"}, {DataType::kFloat32, "f4"}, {DataType::kFloat64, "f8"},
};

std::string kind_name(char kind) {
  switch (kind) {
    case 'b': return "bool";
    case 'i': return "signed integer";
    case 'u': return "unsigned integer";
    case 'f': return "floating point";
    case 'c': return "complex";
    case 'U': return "unicode string";
    case 'S': return "byte string";
    case 'O': return "Python object";
    case 'M': return "datetime";
    case 'm': return "timedelta";
    case 'V': return "void/structured";
  }
  return "unknown kind";
}

// Text from a file as one printable line for a message: control bytes escaped, trailing padding
// dropped, long headers cut.
std::string printable(const std::string& text) {
  constexpr std::size_t kShown = 160;
  std::string out;
  const std::size_t end = text.find_last_not_of(" \n");
  for (std::size_t i = 0; end != std::string::npos && i <= end && i < kShown; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    out += c >= 0x20 && c < 0x7f ? std::string(1, static_cast<char>(c)) : fmt::format("\\x{:02x}", c);
  }
  if (end != std::string::npos && end >= kShown) out += "...";
  return out;
}

DataType parse_descr(const std::string& descr, const std::string& name) {
  std::string code = descr;
  char order = '|';
  if (!code.empty() && std::strchr("<>|=", code[0])) order = code[0], code = code.substr(1);
  for (const TypeCode& c : kTypeCodes) {
    if (code != c.code) continue;
    if (order == '>' && detail::element_bytes(c.dtype) > 1)
      io_error("{}: dtype '{}' is big-endian: expected little-endian (save with arr.astype('<{}'))", name, descr, code);
    return c.dtype;
  }
  if (code == "V2")  // ml_dtypes' bfloat16 saves as two raw bytes
    io_error(
        "{}: dtype '{}' is 2 raw bytes (how ml_dtypes saves bfloat16): NumPy has no bfloat16 type, so .npy "
        "bfloat16 is not read: save it as float32 (arr.astype(numpy.float32)); expected one of {}",
        name, printable(descr), supported_dtypes());
  io_error("{}: unsupported dtype '{}' ({}): expected one of {}", name, printable(descr),
           code.empty() ? std::string("empty") : kind_name(code[0]), supported_dtypes());
}

// The header dict: {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), } — keys and values
// are Python literals (strings, True/False, a tuple of ints; Python 2 numpy wrote ints as 3L).
class HeaderParser {
 public:
  HeaderParser(const std::string& text, const std::string& name) : s_(text), name_(name) {}

  void parse() {
    expect('{');
    while (!peek_is('}')) {
      const std::string key = parse_string();
      expect(':');
      if (key == "descr") {
        if (peek_is('['))
          io_error("{}: structured dtype (a list of fields) is not supported: expected one of {}", name_,
                   supported_dtypes());
        set_once(descr_, parse_string(), key);
      } else if (key == "fortran_order") {
        set_once(fortran_order_, parse_bool(), key);
      } else if (key == "shape") {
        set_once(shape_, parse_shape(), key);
      } else {
        malformed(fmt::format("unexpected key '{}'", printable(key)));
      }
      if (!peek_is('}')) expect(',');
    }
    expect('}');
    skip_space();
    if (pos_ != s_.size()) malformed("text after the closing '}'");
    if (!descr_) malformed("no 'descr' key");
    if (!fortran_order_) malformed("no 'fortran_order' key");
    if (!shape_) malformed("no 'shape' key");
  }

  const std::string& descr() const { return *descr_; }
  bool fortran_order() const { return *fortran_order_; }
  const std::vector<std::int64_t>& shape() const { return *shape_; }

 private:
  [[noreturn]] void malformed(const std::string& what) const {
    io_error("{}: malformed .npy header ({} at offset {}): {}", name_, what, pos_, printable(s_));
  }
  template <typename T>
  void set_once(std::optional<T>& slot, T value, const std::string& key) {
    if (slot) malformed(fmt::format("key '{}' given twice", key));
    slot = std::move(value);
  }
  void skip_space() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }
  bool peek_is(char c) {
    skip_space();
    return pos_ < s_.size() && s_[pos_] == c;
  }
  void expect(char c) {
    if (!peek_is(c)) malformed(fmt::format("expected '{}'", c));
    ++pos_;
  }
  std::string parse_string() {
    skip_space();
    if (pos_ >= s_.size() || (s_[pos_] != '\'' && s_[pos_] != '"')) malformed("expected a quoted string");
    const char quote = s_[pos_++];
    const std::size_t end = s_.find(quote, pos_);
    if (end == std::string::npos) malformed("unterminated string");
    std::string value = s_.substr(pos_, end - pos_);
    if (value.find('\\') != std::string::npos) malformed("escape sequence in a string");
    pos_ = end + 1;
    return value;
  }
  bool parse_bool() {
    skip_space();
    for (const auto& [word, value] : {std::pair<const char*, bool>{"True", true}, {"False", false}}) {
      if (s_.compare(pos_, std::strlen(word), word) == 0) {
        pos_ += std::strlen(word);
        return value;
      }
    }
    malformed("expected True or False");
  }
  std::int64_t parse_dim() {
    skip_space();
    const std::size_t start = pos_;
    std::int64_t value = 0;
    while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
      const int digit = s_[pos_++] - '0';
      if (value > (std::numeric_limits<std::int64_t>::max() - digit) / 10) malformed("dimension too large");
      value = value * 10 + digit;
    }
    if (pos_ == start) malformed("expected a non-negative integer dimension");
    if (pos_ < s_.size() && s_[pos_] == 'L') ++pos_;
    return value;
  }
  std::vector<std::int64_t> parse_shape() {
    expect('(');
    std::vector<std::int64_t> shape;
    bool comma_after_last = false;
    while (!peek_is(')')) {
      if (shape.size() == kMaxRank) malformed(fmt::format("more than {} dimensions", kMaxRank));
      shape.push_back(parse_dim());
      comma_after_last = peek_is(',');
      if (comma_after_last)
        ++pos_;
      else if (!peek_is(')'))
        malformed("expected ',' or ')' in the shape");
    }
    // Python needs "(3,)" for a 1-tuple: "(3)" is the integer 3.
    if (shape.size() == 1 && !comma_after_last) malformed("shape '(n)' is not a tuple; expected '(n,)'");
    expect(')');
    return shape;
  }

  const std::string& s_;
  const std::string& name_;
  std::size_t pos_ = 0;
  std::optional<std::string> descr_;
  std::optional<bool> fortran_order_;
  std::optional<std::vector<std::int64_t>> shape_;
};

std::uint32_t read_le(const unsigned char* p, int bytes) {
  std::uint32_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = v << 8 | p[i];
  return v;
}

void read_exactly(ByteReader& in, void* dst, std::size_t n, const std::string& name, const char* what) {
  const std::size_t got = in.read(dst, n);
  if (got != n) io_error("{}: truncated: {} needs {} bytes, only {} could be read", name, what, n, got);
}

class FileReader final : public ByteReader {
 public:
  explicit FileReader(std::ifstream& f) : f_(f) {}
  std::size_t read(void* dst, std::size_t n) override {
    f_.read(static_cast<char*>(dst), static_cast<std::streamsize>(n));
    return static_cast<std::size_t>(f_.gcount());
  }

 private:
  std::ifstream& f_;
};

}  // namespace

Array read_npy(ByteReader& in, std::uint64_t total_size, bool size_is_trusted, const std::string& name) {
  unsigned char prefix[12] = {};
  const std::size_t got = in.read(prefix, std::min<std::uint64_t>(total_size, 10));
  if (got < kMagicSize || std::memcmp(prefix, kMagic, kMagicSize) != 0)
    io_error("{}: not a .npy file: bad magic (expected the bytes \\x93NUMPY at the start)", name);
  if (got < 10) io_error("{}: truncated: {} bytes, too short for a .npy header", name, got);
  const int major = prefix[6], minor = prefix[7];
  if (!((major == 1 || major == 2 || major == 3) && minor == 0))
    io_error("{}: unsupported .npy format version {}.{}: expected 1.0, 2.0 or 3.0", name, major, minor);
  std::size_t prefix_size = 10;
  std::uint64_t header_size = read_le(prefix + 8, 2);
  if (major >= 2) {
    read_exactly(in, prefix + 10, 2, name, "the header length");
    prefix_size = 12;
    header_size = read_le(prefix + 8, 4);
  }
  if (header_size > total_size - std::min<std::uint64_t>(total_size, prefix_size))
    io_error("{}: truncated: the header length is {} bytes but the file has only {} after the prefix", name,
             header_size, total_size - std::min<std::uint64_t>(total_size, prefix_size));
  if (header_size > kMaxHeaderBytes)
    io_error("{}: malformed .npy header: {} bytes long, expected at most {}", name, header_size, kMaxHeaderBytes);

  std::string text(header_size, '\0');
  read_exactly(in, text.data(), text.size(), name, "the header");
  HeaderParser header(text, name);
  header.parse();
  Array array;
  array.dtype = parse_descr(header.descr(), name);
  array.shape = header.shape();
  if (header.fortran_order() && array.shape.size() > 1)
    io_error("{}: fortran_order=True (column-major) arrays are not supported: save with numpy.ascontiguousarray(a)",
             name);

  // Element and byte counts, refusing overflow, checked against the bytes present before any
  // allocation sized by the header.
  const std::uint64_t item = detail::element_bytes(array.dtype);
  std::uint64_t numel = 1;
  for (std::int64_t d : array.shape) {
    const auto dim = static_cast<std::uint64_t>(d);
    if (dim != 0 && numel > std::numeric_limits<std::uint64_t>::max() / item / dim)
      io_error("{}: shape {} of {} overflows a 64-bit byte count", name, shape_string(array.shape),
               to_string(array.dtype));
    numel *= dim;
  }
  const std::uint64_t data_bytes = numel * item;
  const std::uint64_t present = total_size - prefix_size - header_size;
  if (data_bytes > present)
    io_error("{}: truncated: shape {} of {} needs {} data bytes but only {} are present", name,
             shape_string(array.shape), to_string(array.dtype), data_bytes, present);
  if (data_bytes < present)
    io_error("{}: {} unexpected bytes after the data of shape {} of {} ({} bytes)", name, present - data_bytes,
             shape_string(array.shape), to_string(array.dtype), data_bytes);

  if (size_is_trusted) array.data.reserve(data_bytes);
  while (array.data.size() < data_bytes) {
    const std::size_t offset = array.data.size();
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(kReadChunk, data_bytes - offset));
    array.data.resize(offset + n);
    if (in.read(array.data.data() + offset, n) != n)
      io_error("{}: truncated: shape {} of {} needs {} data bytes but fewer could be read", name,
               shape_string(array.shape), to_string(array.dtype), data_bytes);
  }
  return array;
}

std::string npy_header(const ArrayView& array, const std::string& name) {
  std::uint64_t bytes = detail::element_bytes(array.dtype);
  for (std::int64_t d : array.shape) {
    if (d < 0) detail::invalid("{}: shape {} has a negative dimension", name, shape_string(array.shape));
    if (d > 0 && bytes > std::numeric_limits<std::uint64_t>::max() / static_cast<std::uint64_t>(d))
      detail::invalid("{}: shape {} overflows a 64-bit byte count", name, shape_string(array.shape));
    bytes *= static_cast<std::uint64_t>(d);
  }
  if (array.shape.size() > kMaxRank)
    detail::invalid("{}: {} dimensions, at most {} can be saved", name, array.shape.size(), kMaxRank);
  if (array.bytes != bytes || (bytes > 0 && !array.data))
    detail::invalid("{}: holds {} bytes, expected shape {} of {} = {} bytes", name, array.bytes,
                    shape_string(array.shape), to_string(array.dtype), bytes);
  const char* code = nullptr;
  for (const TypeCode& c : kTypeCodes)
    if (c.dtype == array.dtype) code = c.code;
  if (!code)
    detail::invalid(
        "{}: a {} array cannot be saved as .npy: NumPy has no {} type (convert it to float32 first); "
        ".npy holds {}",
        name, to_string(array.dtype), to_string(array.dtype), supported_dtypes());
  const std::string shape = array.shape.empty() ? "()" : shape_string(array.shape);
  std::string dict = fmt::format("{{'descr': '{}{}', 'fortran_order': False, 'shape': {}, }}",
                                 detail::element_bytes(array.dtype) == 1 ? '|' : '<', code, shape);
  // Pad with spaces so that prefix + header (ending in '\n') is a multiple of 64 bytes, as numpy
  // does. Version 1.0's 16-bit length always suffices: at most 64 dimensions keep it under 2 KB.
  const std::size_t prefix_size = 10;
  const std::size_t total = (prefix_size + dict.size() + 1 + 63) / 64 * 64;
  dict.append(total - prefix_size - dict.size() - 1, ' ');
  dict.push_back('\n');
  std::string out(kMagic, kMagicSize);
  out.push_back(1);  // version 1.0
  out.push_back(0);
  out.push_back(static_cast<char>(dict.size() & 0xff));
  out.push_back(static_cast<char>(dict.size() >> 8));
  return out + dict;
}

}  // namespace formats_detail

std::string supported_dtypes() {
  std::string names;
  for (const formats_detail::TypeCode& c : formats_detail::kTypeCodes)
    names += (names.empty() ? "" : ", ") + to_string(c.dtype);
  return names;
}

Array load_npy(const std::string& path) {
  formats_detail::choose_reader(path, {formats_detail::FileFormat::kNpy}, "a .npy array (numpy.save)", "array file");
  const std::uint64_t size = formats_detail::regular_file_size(path);
  std::ifstream f(path, std::ios::binary);
  if (!f) formats_detail::io_error("{}: cannot open for reading: {}", path, std::strerror(errno));
  formats_detail::FileReader reader(f);
  return formats_detail::read_npy(reader, size, true, path);
}

void save_npy(const std::string& path, const Array& array) {
  const ArrayView view = ArrayView::of(array);
  const std::string header = formats_detail::npy_header(view, path);
  formats_detail::OutputFile file(path, /*seekable=*/false);
  file.write(header.data(), header.size());
  file.write(view.data, view.bytes);
  file.commit();
}

}  // namespace lstmrt
