// The .npz format (a zip archive of NAME.npy members) through libzip: load_npz / save_npz.
#include <zip.h>

#include <cstring>
#include <fstream>
#include <memory>

#include <fmt/format.h>

#include "io/npy_format.hpp"

namespace lstmrt {
namespace io_detail {
namespace {

constexpr char kMemberSuffix[] = ".npy";
constexpr std::size_t kMemberSuffixSize = 4;

std::string zip_code_message(int code) {
  zip_error_t error;
  zip_error_init_with_code(&error, code);
  std::string message = zip_error_strerror(&error);
  zip_error_fini(&error);
  return message;
}

struct ZipCloser {
  void operator()(zip_t* z) const { zip_discard(z); }
};
struct ZipFileCloser {
  void operator()(zip_file_t* f) const { zip_fclose(f); }
};
using ZipHandle = std::unique_ptr<zip_t, ZipCloser>;
using ZipFileHandle = std::unique_ptr<zip_file_t, ZipFileCloser>;

// One member being decompressed; libzip's own errors (bad CRC, corrupt deflate data) are reported
// as they happen, naming the member.
class ZipMemberReader final : public ByteReader {
 public:
  ZipMemberReader(zip_file_t* file, const std::string& name) : file_(file), name_(name) {}
  std::size_t read(void* dst, std::size_t n) override {
    std::size_t done = 0;
    while (done < n) {
      const zip_int64_t got = zip_fread(file_, static_cast<char*>(dst) + done, n - done);
      if (got < 0) io_error("{}: cannot read: {}", name_, zip_file_strerror(file_));
      if (got == 0) break;
      done += static_cast<std::size_t>(got);
    }
    return done;
  }

 private:
  zip_file_t* file_;
  const std::string& name_;
};

bool ends_with_npy(const std::string& s) {
  return s.size() > kMemberSuffixSize && s.compare(s.size() - kMemberSuffixSize, kMemberSuffixSize, kMemberSuffix) == 0;
}

// The 22-byte end-of-central-directory record alone: a valid zip with no members (libzip writes no
// file at all for an empty archive, numpy.savez() with no arrays writes this).
void write_empty_zip(const std::string& path, const std::string& temp_path) {
  const char record[22] = {'P', 'K', 5, 6};  // signature, then 18 zero bytes: no disks, no entries
  std::ofstream f(temp_path, std::ios::binary | std::ios::trunc);
  f.write(record, sizeof record);
  f.close();
  if (!f) io_error("{}: writing {} failed: {}", path, temp_path, std::strerror(errno));
}

}  // namespace
}  // namespace io_detail

ArrayMap load_npz(const std::string& path) {
  using namespace io_detail;
  regular_file_size(path);
  int code = 0;
  ZipHandle zip(zip_open(path.c_str(), ZIP_RDONLY, &code));
  if (!zip) io_error("{}: not a readable .npz (zip) archive: {}", path, zip_code_message(code));
  ArrayMap arrays;
  const zip_int64_t count = zip_get_num_entries(zip.get(), 0);
  for (zip_int64_t i = 0; i < count; ++i) {
    zip_stat_t stat;
    if (zip_stat_index(zip.get(), static_cast<zip_uint64_t>(i), 0, &stat) != 0)
      io_error("{}: cannot read member {}: {}", path, i, zip_strerror(zip.get()));
    const std::string member = (stat.valid & ZIP_STAT_NAME) && stat.name ? stat.name : "";
    const std::string name = fmt::format("{} member '{}'", path, member);
    if (!ends_with_npy(member))
      io_error("{}: not a .npy array: an .npz holds only NAME.npy members (numpy.savez)", name);
    const std::string key = member.substr(0, member.size() - kMemberSuffixSize);
    if (arrays.count(key)) io_error("{}: the archive holds two members named '{}': keys must be unique", path, member);
    if (!(stat.valid & ZIP_STAT_SIZE)) io_error("{}: the archive does not record its size", name);
    ZipFileHandle file(zip_fopen_index(zip.get(), static_cast<zip_uint64_t>(i), 0));
    if (!file) io_error("{}: cannot open: {}", name, zip_strerror(zip.get()));
    ZipMemberReader reader(file.get(), name);
    Array array = read_npy(reader, stat.size, false, name);
    // Reading to the end makes libzip check the CRC and reveals bytes beyond the declared size.
    char extra = 0;
    if (reader.read(&extra, 1) != 0) io_error("{}: more data than the archive's declared {} bytes", name, stat.size);
    arrays.emplace(key, std::move(array));
  }
  return arrays;
}

void save_npz(const std::string& path, const ArrayMap& arrays, bool compressed) {
  using namespace io_detail;
  // Each member's bytes (header + data) must live until zip_close, which does the writing.
  std::vector<std::string> members;
  members.reserve(arrays.size());
  for (const auto& [key, array] : arrays) {
    if (key.empty() || key.front() == '/' || key.find('\0') != std::string::npos)
      detail::invalid("{}: array name '{}' cannot be an archive member name", path, key);
    std::string bytes = npy_header(array, fmt::format("{} array '{}'", path, key));
    bytes.append(reinterpret_cast<const char*>(array.data.data()), array.data.size());
    members.push_back(std::move(bytes));
  }
  AtomicFile file(path);
  if (arrays.empty()) {
    write_empty_zip(path, file.temp_path());
    file.commit();
    return;
  }
  int code = 0;
  ZipHandle zip(zip_open(file.temp_path().c_str(), ZIP_CREATE | ZIP_EXCL, &code));
  if (!zip) io_error("{}: cannot create {}: {}", path, file.temp_path(), zip_code_message(code));
  std::size_t m = 0;
  for (const auto& entry : arrays) {
    const std::string& bytes = members[m++];
    zip_source_t* source = zip_source_buffer(zip.get(), bytes.data(), bytes.size(), 0);
    if (!source) io_error("{}: cannot add array '{}': {}", path, entry.first, zip_strerror(zip.get()));
    const std::string member = entry.first + kMemberSuffix;
    const zip_int64_t index = zip_file_add(zip.get(), member.c_str(), source, ZIP_FL_ENC_UTF_8);
    if (index < 0) {
      zip_source_free(source);
      io_error("{}: cannot add array '{}': {}", path, entry.first, zip_strerror(zip.get()));
    }
    if (zip_set_file_compression(zip.get(), static_cast<zip_uint64_t>(index),
                                 compressed ? ZIP_CM_DEFLATE : ZIP_CM_STORE, 0) != 0)
      io_error("{}: cannot set the compression of '{}': {}", path, member, zip_strerror(zip.get()));
  }
  if (zip_close(zip.get()) != 0) io_error("{}: writing failed: {}", path, zip_strerror(zip.get()));
  zip.release();  // zip_close freed it
  file.commit();
}

}  // namespace lstmrt
