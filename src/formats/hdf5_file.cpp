#include "formats/hdf5_file.hpp"

#include <algorithm>
#include <cstring>
#include <memory>
#include <mutex>

#include <hdf5.h>
#include <zip.h>

#include "common/check.hpp"
#include "formats/child_process.hpp"
#include "formats/file_bytes.hpp"
#include "formats/hdf5_check.hpp"

namespace lstmrt::formats_detail {
namespace {

constexpr std::uint64_t kMaxImageBytes = std::uint64_t{1} << 34;
constexpr std::size_t kMaxName = 4096;          // a member or attribute name
constexpr std::size_t kMaxAttribute = 1 << 20;  // a string attribute's value
constexpr int kMaxRank = 32;

template <typename... Args>
[[noreturn]] void bad(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(ErrorCode::kIoError, fmt::format(format, std::forward<Args>(args)...));
}

// Closes an HDF5 handle with the matching H5?close.
struct Handle {
  hid_t id;
  herr_t (*close)(hid_t);
  ~Handle() {
    if (id >= 0) close(id);
  }
};

std::string join(const std::string& group, const std::string& name) {
  return group.empty() ? name : group + "/" + name;
}
std::string h5_path(const std::string& path) { return path.empty() ? "/" : path; }

// ---- reading with libhdf5 (in this process or in the child) ------------------------------------------

class Reader {
 public:
  Reader(hid_t file, const std::string& source) : file_(file), source_(source) {}

  void group(const std::string& path, int depth) {
    if (depth > 64) bad("{}: groups nested more than 64 deep", source_);
    Handle g{H5Gopen2(file_, h5_path(path).c_str(), H5P_DEFAULT), H5Gclose};
    H5G_info_t info;
    if (g.id < 0 || H5Gget_info(g.id, &info) < 0) bad("{}: cannot read group '{}'", source_, path);
    attributes(g.id, path);
    std::vector<std::string>& names = out.groups[path];
    for (hsize_t i = 0; i < info.nlinks; ++i) {
      const ssize_t len = H5Lget_name_by_idx(g.id, ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
      if (len <= 0 || static_cast<std::size_t>(len) > kMaxName)
        bad("{}: cannot read member {} of group '{}'", source_, i, path);
      std::string name(static_cast<std::size_t>(len) + 1, '\0');
      if (H5Lget_name_by_idx(g.id, ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size(), H5P_DEFAULT) != len)
        bad("{}: cannot read member {} of group '{}'", source_, i, path);
      name.resize(static_cast<std::size_t>(len));
      names.push_back(name);
    }
    std::sort(names.begin(), names.end());
    for (const std::string& name : names) {
      const std::string child = join(path, name);
      H5O_info_t object;
      if (H5Oget_info_by_name(g.id, name.c_str(), &object, H5P_DEFAULT) < 0)
        bad("{}: cannot read object '{}'", source_, child);
      if (object.type == H5O_TYPE_GROUP) {
        if (out.groups.count(child)) bad("{}: group '{}' is reached twice", source_, child);
        group(child, depth + 1);
      } else if (object.type == H5O_TYPE_DATASET) {
        dataset(g.id, name, child);
      }
    }
  }

  Hdf5Contents out;

 private:
  void dataset(hid_t parent, const std::string& name, const std::string& path) {
    Handle set{H5Dopen2(parent, name.c_str(), H5P_DEFAULT), H5Dclose};
    if (set.id < 0) bad("{}: cannot open dataset '{}'", source_, path);
    attributes(set.id, path);
    Handle type{H5Dget_type(set.id), H5Tclose};
    Handle space{H5Dget_space(set.id), H5Sclose};
    const int rank = space.id < 0 ? -1 : H5Sget_simple_extent_ndims(space.id);
    if (type.id < 0 || rank < 0 || rank > kMaxRank)
      bad("{}: cannot read the type and shape of dataset '{}'", source_, path);
    hsize_t dims[kMaxRank] = {};
    H5Sget_simple_extent_dims(space.id, dims, nullptr);
    Hdf5Contents::Dataset d;
    std::uint64_t numel = 1;
    for (int i = 0; i < rank; ++i) {
      if (dims[i] > (std::uint64_t{1} << 62) || (dims[i] && numel > (std::uint64_t{1} << 62) / dims[i]))
        bad("{}: dataset '{}' has more than 2^62 elements", source_, path);
      numel *= dims[i];
      d.shape.push_back(static_cast<std::int64_t>(dims[i]));
    }
    d.is_float = H5Tget_class(type.id) == H5T_FLOAT;
    d.element_size = H5Tget_size(type.id);
    d.stored_bytes = H5Dget_storage_size(set.id);
    // Values only for what the file stores: a dataspace larger than its bytes is not read.
    if (d.is_float && numel > 0 && d.element_size > 0 && d.stored_bytes / d.element_size >= numel) {
      d.values.resize(numel);
      if (H5Dread(set.id, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, d.values.data()) < 0)
        bad("{}: cannot read dataset '{}'", source_, path);
    }
    out.datasets[path] = std::move(d);
  }

  // The object's string attributes (scalar or one-element, fixed or variable length).
  void attributes(hid_t object, const std::string& path) {
    H5O_info_t info;
    if (H5Oget_info(object, &info) < 0) bad("{}: cannot read the attributes of '{}'", source_, path);
    for (hsize_t i = 0; i < info.num_attrs; ++i) {
      Handle attr{H5Aopen_by_idx(object, ".", H5_INDEX_NAME, H5_ITER_INC, i, H5P_DEFAULT, H5P_DEFAULT), H5Aclose};
      if (attr.id < 0) bad("{}: cannot open attribute {} of '{}'", source_, i, path);
      const ssize_t len = H5Aget_name(attr.id, 0, nullptr);
      if (len <= 0 || static_cast<std::size_t>(len) > kMaxName)
        bad("{}: attribute {} of '{}' has no name", source_, i, path);
      std::string name(static_cast<std::size_t>(len) + 1, '\0');
      H5Aget_name(attr.id, name.size(), name.data());
      name.resize(static_cast<std::size_t>(len));
      Handle type{H5Aget_type(attr.id), H5Tclose};
      Handle space{H5Aget_space(attr.id), H5Sclose};
      if (type.id < 0 || space.id < 0) bad("{}: cannot read attribute '{}' of '{}'", source_, name, path);
      if (H5Tget_class(type.id) != H5T_STRING || H5Sget_simple_extent_npoints(space.id) != 1) continue;
      out.string_attributes[path][name] = string_value(attr.id, type.id, name, path);
    }
  }

  std::string string_value(hid_t attr, hid_t type, const std::string& name, const std::string& path) {
    if (H5Tis_variable_str(type) > 0) {
      Handle mem{H5Tcopy(H5T_C_S1), H5Tclose};
      H5Tset_size(mem.id, H5T_VARIABLE);
      H5Tset_cset(mem.id, H5Tget_cset(type));
      char* value = nullptr;
      if (H5Aread(attr, mem.id, &value) < 0 || !value)
        bad("{}: cannot read attribute '{}' of '{}'", source_, name, path);
      std::unique_ptr<char, herr_t (*)(void*)> owned(value, H5free_memory);
      const std::size_t n = strnlen(value, kMaxAttribute + 1);
      if (n > kMaxAttribute)
        bad("{}: attribute '{}' of '{}' is longer than {} bytes", source_, name, path, kMaxAttribute);
      return std::string(value, n);
    }
    const std::size_t size = H5Tget_size(type);
    if (size == 0 || size > kMaxAttribute)
      bad("{}: attribute '{}' of '{}' has a {}-byte string", source_, name, path, size);
    std::string value(size, '\0');
    if (H5Aread(attr, type, value.data()) < 0) bad("{}: cannot read attribute '{}' of '{}'", source_, name, path);
    value.resize(std::min(value.find('\0'), size));
    return value;
  }

  hid_t file_;
  const std::string& source_;
};

// ---- Hdf5Contents <-> bytes ------------------------------------------------------------------------------
// u64 counts and lengths, little-endian; strings as length + bytes; floats as 4 raw bytes each.

class Encoder {
 public:
  void u64(std::uint64_t v) {
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  void str(const std::string& s) {
    u64(s.size());
    out.insert(out.end(), s.begin(), s.end());
  }
  std::vector<std::uint8_t> out;
};

class Decoder {
 public:
  Decoder(const std::vector<std::uint8_t>& in, const std::string& source) : in_(in), source_(source) {}
  std::uint64_t u64() {
    need(8);
    std::uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = v << 8 | in_[pos_ + i];
    pos_ += 8;
    return v;
  }
  // A count of items of at least `item_bytes` each: no more than the bytes left can hold.
  std::uint64_t count(std::uint64_t item_bytes) {
    const std::uint64_t n = u64();
    if (n > (in_.size() - pos_) / item_bytes) broken();
    return n;
  }
  std::string str() {
    const std::uint64_t n = u64();
    need(n);
    std::string s(in_.begin() + pos_, in_.begin() + pos_ + n);
    pos_ += n;
    return s;
  }
  void floats(std::vector<float>& v, std::uint64_t n) {
    if (n > (in_.size() - pos_) / 4) broken();
    v.resize(n);
    if (n) std::memcpy(v.data(), in_.data() + pos_, n * 4);
    pos_ += n * 4;
  }
  bool done() const { return pos_ == in_.size(); }
  [[noreturn]] void broken() const { bad("{}: the HDF5 reader's answer is malformed", source_); }

 private:
  void need(std::uint64_t n) const {
    if (n > in_.size() - pos_) broken();
  }
  const std::vector<std::uint8_t>& in_;
  const std::string& source_;
  std::size_t pos_ = 0;
};

}  // namespace

std::vector<std::uint8_t> encode_contents(const Hdf5Contents& c) {
  Encoder e;
  e.u64(c.groups.size());
  for (const auto& [path, names] : c.groups) {
    e.str(path);
    e.u64(names.size());
    for (const std::string& n : names) e.str(n);
  }
  e.u64(c.datasets.size());
  for (const auto& [path, d] : c.datasets) {
    e.str(path);
    e.u64(d.shape.size());
    for (std::int64_t s : d.shape) e.u64(static_cast<std::uint64_t>(s));
    e.u64(d.is_float);
    e.u64(d.element_size);
    e.u64(d.stored_bytes);
    e.u64(d.values.size());
    const auto* p = reinterpret_cast<const std::uint8_t*>(d.values.data());
    e.out.insert(e.out.end(), p, p + d.values.size() * 4);
  }
  e.u64(c.string_attributes.size());
  for (const auto& [path, attrs] : c.string_attributes) {
    e.str(path);
    e.u64(attrs.size());
    for (const auto& [name, value] : attrs) e.str(name), e.str(value);
  }
  return std::move(e.out);
}

Hdf5Contents decode_contents(const std::vector<std::uint8_t>& bytes, const std::string& source) {
  Decoder d(bytes, source);
  Hdf5Contents c;
  for (std::uint64_t g = d.count(16); g > 0; --g) {
    std::vector<std::string>& names = c.groups[d.str()];
    for (std::uint64_t n = d.count(8); n > 0; --n) names.push_back(d.str());
  }
  for (std::uint64_t n = d.count(40); n > 0; --n) {
    Hdf5Contents::Dataset& set = c.datasets[d.str()];
    for (std::uint64_t r = d.count(8); r > 0; --r) {
      const std::uint64_t dim = d.u64();
      if (dim > (std::uint64_t{1} << 62)) d.broken();
      set.shape.push_back(static_cast<std::int64_t>(dim));
    }
    set.is_float = d.u64() != 0;
    set.element_size = d.u64();
    set.stored_bytes = d.u64();
    d.floats(set.values, d.u64());
  }
  for (std::uint64_t n = d.count(16); n > 0; --n) {
    auto& attrs = c.string_attributes[d.str()];
    for (std::uint64_t a = d.count(16); a > 0; --a) {
      std::string name = d.str();
      attrs[name] = d.str();
    }
  }
  if (!d.done()) d.broken();
  return c;
}

Hdf5Contents read_hdf5_image(const std::vector<std::uint8_t>& image, const std::string& source) {
  check_hdf5_structure(image.data(), image.size(), source);
  // Debian's libhdf5 is the serial build, not thread-safe: one reader at a time in a process (a
  // server loads models from several threads). Under the lock each image is the only open file,
  // so its fixed label cannot alias another image (HDF5 shares an open file by name).
  static std::mutex hdf5_library;
  const std::lock_guard<std::mutex> lock(hdf5_library);
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);  // no printing: failures become Errors
  Handle fapl{H5Pcreate(H5P_FILE_ACCESS), H5Pclose};
  if (fapl.id < 0 || H5Pset_fapl_core(fapl.id, 1 << 16, 0) < 0 ||
      H5Pset_file_image(fapl.id, const_cast<std::uint8_t*>(image.data()), image.size()) < 0)
    bad("{}: cannot set up an in-memory HDF5 image", source);
  // The name only labels the image: the core driver must not look for a file of that name.
  Handle file{H5Fopen("lstmrt-hdf5-image", H5F_ACC_RDONLY, fapl.id), H5Fclose};
  if (file.id < 0) bad("{}: not a readable HDF5 file", source);
  Reader reader(file.id, source);
  reader.group("", 0);
  return std::move(reader.out);
}

Hdf5File Hdf5File::open_image(const std::vector<std::uint8_t>& image, const std::string& source, Hdf5Reader how) {
  if (how == Hdf5Reader::kInProcess) return Hdf5File(read_hdf5_image(image, source), source);
  // The answer is at most the stored floats (no more than the image) plus names and shapes.
  ChildLimits limits;
  limits.max_result_bytes = 2 * image.size() + (64u << 20);
  limits.timeout = std::chrono::milliseconds(120000 + image.size() / (1u << 20) * 100);
  const std::vector<std::uint8_t> answer = run_in_child(
      [&] { return encode_contents(read_hdf5_image(image, source)); },
      fmt::format("{}: corrupt HDF5 file: the HDF5 library (run in a child process to read it)", source), limits);
  return Hdf5File(decode_contents(answer, source), source);
}

Hdf5File Hdf5File::open_path(const std::string& path, Hdf5Reader how) {
  return open_image(read_file_bytes(path, kMaxImageBytes), path, how);
}

bool Hdf5File::has_group(const std::string& path) const { return contents_.groups.count(path) > 0; }

std::vector<std::string> Hdf5File::children(const std::string& group) const {
  const auto it = contents_.groups.find(group);
  if (it == contents_.groups.end()) bad("{}: no group '{}'", source_, group);
  return it->second;
}

std::optional<std::string> Hdf5File::string_attribute(const std::string& path, const std::string& name) const {
  const auto object = contents_.string_attributes.find(path);
  if (object == contents_.string_attributes.end()) return std::nullopt;
  const auto it = object->second.find(name);
  if (it == object->second.end()) return std::nullopt;
  return it->second;
}

Tensor Hdf5File::read_floats(const std::string& path, std::int64_t max_values) const {
  const auto it = contents_.datasets.find(path);
  if (it == contents_.datasets.end()) {
    if (contents_.groups.count(path)) bad("{}: '{}' is not a dataset", source_, path);
    bad("{}: no dataset '{}'", source_, path);
  }
  const Hdf5Contents::Dataset& d = it->second;
  if (!d.is_float) bad("{}: dataset '{}' is not of a float type", source_, path);
  std::int64_t numel = 1;
  for (std::int64_t dim : d.shape) {
    if (dim > max_values || (dim > 0 && numel > max_values / dim))
      bad("{}: dataset '{}' is larger than the {} values this reader accepts", source_, path, max_values);
    numel *= dim;
  }
  // The values must be stored in the file (Keras writes them contiguous and uncompressed).
  if (numel > 0 && static_cast<std::int64_t>(d.values.size()) != numel)
    bad("{}: dataset '{}' declares {} values but stores {} bytes of {}-byte elements", source_, path, numel,
        d.stored_bytes, d.element_size);
  return Tensor{d.shape, d.values};
}

std::vector<std::uint8_t> read_zip_member(const std::string& archive, const std::string& member,
                                          std::uint64_t max_bytes) {
  int code = 0;
  std::unique_ptr<zip_t, void (*)(zip_t*)> zip(zip_open(archive.c_str(), ZIP_RDONLY, &code), zip_discard);
  if (!zip) bad("{}: not a readable zip archive (a .keras file is one)", archive);
  zip_stat_t stat;
  if (zip_stat(zip.get(), member.c_str(), 0, &stat) != 0) bad("{}: no member '{}'", archive, member);
  if (!(stat.valid & ZIP_STAT_SIZE) || stat.size > max_bytes)
    bad("{}: member '{}' declares {} bytes: more than the {} this reader accepts", archive, member, stat.size,
        max_bytes);
  std::unique_ptr<zip_file_t, int (*)(zip_file_t*)> file(zip_fopen(zip.get(), member.c_str(), 0), zip_fclose);
  if (!file) bad("{}: cannot open member '{}': {}", archive, member, zip_strerror(zip.get()));
  // Grow only as bytes arrive: a lying size in the directory cannot make us allocate much.
  std::vector<std::uint8_t> bytes;
  std::uint8_t chunk[1 << 16];
  for (;;) {
    const zip_int64_t got = zip_fread(file.get(), chunk, sizeof chunk);
    if (got < 0) bad("{}: cannot read member '{}': {}", archive, member, zip_file_strerror(file.get()));
    if (got == 0) break;
    if (bytes.size() + static_cast<std::size_t>(got) > stat.size)
      bad("{}: member '{}' holds more than its declared {} bytes", archive, member, stat.size);
    bytes.insert(bytes.end(), chunk, chunk + got);
  }
  if (bytes.size() != stat.size)
    bad("{}: member '{}' holds {} bytes: expected {}", archive, member, bytes.size(), stat.size);
  return bytes;
}

}  // namespace lstmrt::formats_detail
