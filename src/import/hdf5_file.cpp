#include "import/hdf5_file.hpp"

#include <algorithm>
#include <memory>

#include <hdf5.h>
#include <zip.h>

#include "common/check.hpp"

namespace lstmrt::import_detail {
namespace {

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

void quiet_hdf5() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

bool link_exists(hid_t file, const std::string& path) {
  // H5Lexists needs every parent to exist: walk the path one component at a time.
  std::size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    const std::string prefix = path.substr(0, pos);
    if (H5Lexists(file, prefix.c_str(), H5P_DEFAULT) <= 0) return false;
  }
  return true;
}

}  // namespace

Hdf5File Hdf5File::open_path(const std::string& path) {
  quiet_hdf5();
  if (H5Fis_hdf5(path.c_str()) <= 0) bad("{}: not an HDF5 file", path);
  const hid_t id = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (id < 0) bad("{}: cannot open as HDF5", path);
  return Hdf5File(id, path);
}

Hdf5File Hdf5File::open_image(const std::vector<std::uint8_t>& image, const std::string& source) {
  quiet_hdf5();
  Handle fapl{H5Pcreate(H5P_FILE_ACCESS), H5Pclose};
  if (fapl.id < 0 || H5Pset_fapl_core(fapl.id, 1 << 16, 0) < 0 ||
      H5Pset_file_image(fapl.id, const_cast<std::uint8_t*>(image.data()), image.size()) < 0)
    bad("{}: cannot set up an in-memory HDF5 image", source);
  const hid_t id = H5Fopen(source.c_str(), H5F_ACC_RDONLY, fapl.id);
  if (id < 0) bad("{}: not a readable HDF5 file", source);
  return Hdf5File(id, source);
}

Hdf5File::Hdf5File(Hdf5File&& other) noexcept : id_(other.id_), source_(std::move(other.source_)) { other.id_ = -1; }

Hdf5File::~Hdf5File() {
  if (id_ >= 0) H5Fclose(id_);
}

bool Hdf5File::has_group(const std::string& path) const {
  if (!link_exists(id_, path)) return false;
  H5O_info_t info;
  return H5Oget_info_by_name(id_, path.c_str(), &info, H5P_DEFAULT) >= 0 && info.type == H5O_TYPE_GROUP;
}

std::vector<std::string> Hdf5File::children(const std::string& group) const {
  if (!has_group(group)) bad("{}: no group '{}'", source_, group);
  Handle g{H5Gopen2(id_, group.c_str(), H5P_DEFAULT), H5Gclose};
  H5G_info_t info;
  if (g.id < 0 || H5Gget_info(g.id, &info) < 0) bad("{}: cannot read group '{}'", source_, group);
  std::vector<std::string> names;
  for (hsize_t i = 0; i < info.nlinks && i < 100000; ++i) {
    const ssize_t len = H5Lget_name_by_idx(g.id, ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
    if (len < 0 || len > 4096) bad("{}: cannot read member {} of group '{}'", source_, i, group);
    std::string name(static_cast<std::size_t>(len) + 1, '\0');
    H5Lget_name_by_idx(g.id, ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size(), H5P_DEFAULT);
    name.resize(static_cast<std::size_t>(len));
    names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::optional<std::string> Hdf5File::string_attribute(const std::string& path, const std::string& name) const {
  if (!link_exists(id_, path) || H5Aexists_by_name(id_, path.c_str(), name.c_str(), H5P_DEFAULT) <= 0)
    return std::nullopt;
  Handle attr{H5Aopen_by_name(id_, path.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose};
  Handle type{H5Aget_type(attr.id), H5Tclose};
  Handle space{H5Aget_space(attr.id), H5Sclose};
  if (attr.id < 0 || type.id < 0 || space.id < 0 || H5Tget_class(type.id) != H5T_STRING ||
      H5Sget_simple_extent_npoints(space.id) != 1)
    bad("{}: attribute '{}' of '{}' is not one string", source_, name, path);
  if (H5Tis_variable_str(type.id) > 0) {
    Handle mem{H5Tcopy(H5T_C_S1), H5Tclose};
    H5Tset_size(mem.id, H5T_VARIABLE);
    H5Tset_cset(mem.id, H5Tget_cset(type.id));
    char* value = nullptr;
    if (H5Aread(attr.id, mem.id, &value) < 0 || !value) bad("{}: cannot read attribute '{}' of '{}'", source_, name, path);
    std::string out(value);
    H5free_memory(value);
    return out;
  }
  const std::size_t size = H5Tget_size(type.id);
  if (size == 0 || size > 4096) bad("{}: attribute '{}' of '{}' has a {}-byte string", source_, name, path, size);
  std::string out(size, '\0');
  if (H5Aread(attr.id, type.id, out.data()) < 0) bad("{}: cannot read attribute '{}' of '{}'", source_, name, path);
  out.resize(out.find('\0') == std::string::npos ? size : out.find('\0'));
  return out;
}

Tensor Hdf5File::read_floats(const std::string& path, std::int64_t max_values) const {
  if (!link_exists(id_, path)) bad("{}: no dataset '{}'", source_, path);
  Handle set{H5Dopen2(id_, path.c_str(), H5P_DEFAULT), H5Dclose};
  if (set.id < 0) bad("{}: '{}' is not a dataset", source_, path);
  Handle type{H5Dget_type(set.id), H5Tclose};
  if (type.id < 0 || H5Tget_class(type.id) != H5T_FLOAT)
    bad("{}: dataset '{}' is not of a float type", source_, path);
  Handle space{H5Dget_space(set.id), H5Sclose};
  const int rank = space.id < 0 ? -1 : H5Sget_simple_extent_ndims(space.id);
  if (rank < 0 || rank > 8) bad("{}: dataset '{}' has rank {}: expected 0..8", source_, path, rank);
  hsize_t dims[8] = {};
  H5Sget_simple_extent_dims(space.id, dims, nullptr);
  Tensor t;
  std::int64_t numel = 1;
  for (int i = 0; i < rank; ++i) {
    if (dims[i] > static_cast<hsize_t>(max_values) || (dims[i] > 0 && numel > max_values / static_cast<std::int64_t>(dims[i])))
      bad("{}: dataset '{}' is larger than the {} values this reader accepts", source_, path, max_values);
    numel *= static_cast<std::int64_t>(dims[i]);
    t.shape.push_back(static_cast<std::int64_t>(dims[i]));
  }
  // The values must be stored in the file (Keras writes them contiguous and uncompressed): a
  // dataspace declaring more than the bytes present is refused before anything is allocated.
  const hsize_t stored = H5Dget_storage_size(set.id);
  const std::size_t element = H5Tget_size(type.id);
  if (numel > 0 && (element == 0 || stored / element < static_cast<hsize_t>(numel)))
    bad("{}: dataset '{}' declares {} values but stores {} bytes of {}-byte elements", source_, path, numel, stored,
        element);
  t.data.resize(static_cast<std::size_t>(numel));
  if (numel > 0 && H5Dread(set.id, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, t.data.data()) < 0)
    bad("{}: cannot read dataset '{}'", source_, path);
  return t;
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

}  // namespace lstmrt::import_detail
