// The .npz format (a zip archive of NAME.npy members) through libzip: load_npz / save_npz.
#include <unistd.h>
#include <zip.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>

#include <fmt/format.h>

#include "formats/file_bytes.hpp"
#include "formats/file_format.hpp"
#include "formats/npy_format.hpp"

namespace lstmrt {
namespace formats_detail {
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
void write_empty_zip(OutputFile& file) {
  const char record[22] = {'P', 'K', 5, 6};  // signature, then 18 zero bytes: no disks, no entries
  file.write(record, sizeof record);
}

// A libzip source that is a new, empty archive and takes libzip's writes on the output's file
// descriptor (which it seeks in: the local headers are rewritten once the sizes are known), so
// the archive is written nowhere but there.
struct FdSink {
  int fd;
  zip_error_t error;
};

zip_int64_t fd_sink(void* state, void* data, zip_uint64_t len, zip_source_cmd_t cmd) {
  FdSink& s = *static_cast<FdSink*>(state);
  switch (cmd) {
    case ZIP_SOURCE_STAT:                            // no archive yet: libzip starts a new one
      zip_error_set(&s.error, ZIP_ER_READ, ENOENT);  // how libzip recognises a file that does not exist
      return -1;
    case ZIP_SOURCE_ERROR: return zip_error_to_data(&s.error, data, len);
    case ZIP_SOURCE_BEGIN_WRITE:
    case ZIP_SOURCE_COMMIT_WRITE:
    case ZIP_SOURCE_ROLLBACK_WRITE:
    case ZIP_SOURCE_REMOVE:
    case ZIP_SOURCE_FREE: return 0;
    case ZIP_SOURCE_WRITE: {
      const char* p = static_cast<const char*>(data);
      for (zip_uint64_t done = 0; done < len;) {
        const ssize_t w = ::write(s.fd, p + done, len - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
          zip_error_set(&s.error, ZIP_ER_WRITE, w < 0 ? errno : EIO);
          return -1;
        }
        done += static_cast<zip_uint64_t>(w);
      }
      return static_cast<zip_int64_t>(len);
    }
    case ZIP_SOURCE_SEEK_WRITE: {
      const auto* args = ZIP_SOURCE_GET_ARGS(zip_source_args_seek_t, data, len, &s.error);
      if (!args) return -1;
      if (::lseek(s.fd, static_cast<off_t>(args->offset), args->whence) < 0) {
        zip_error_set(&s.error, ZIP_ER_SEEK, errno);
        return -1;
      }
      return 0;
    }
    case ZIP_SOURCE_TELL_WRITE: {
      const off_t at = ::lseek(s.fd, 0, SEEK_CUR);
      if (at < 0) zip_error_set(&s.error, ZIP_ER_TELL, errno);
      return at;
    }
    case ZIP_SOURCE_SUPPORTS:
      return zip_source_make_command_bitmap(
          ZIP_SOURCE_OPEN, ZIP_SOURCE_READ, ZIP_SOURCE_CLOSE, ZIP_SOURCE_STAT, ZIP_SOURCE_SEEK, ZIP_SOURCE_TELL,
          ZIP_SOURCE_ERROR, ZIP_SOURCE_FREE, ZIP_SOURCE_BEGIN_WRITE, ZIP_SOURCE_COMMIT_WRITE, ZIP_SOURCE_ROLLBACK_WRITE,
          ZIP_SOURCE_WRITE, ZIP_SOURCE_SEEK_WRITE, ZIP_SOURCE_TELL_WRITE, ZIP_SOURCE_SUPPORTS, ZIP_SOURCE_REMOVE, -1);
    default:  // reading: there is nothing to read
      zip_error_set(&s.error, ZIP_ER_OPNOTSUPP, 0);
      return -1;
  }
}

}  // namespace
}  // namespace formats_detail

ArrayMap load_npz(const std::string& path) {
  using namespace formats_detail;
  choose_reader(path, {FileFormat::kNpz}, "an .npz archive (numpy.savez)", "array file");
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

void save_npz_views(const std::string& path, const ArrayViewMap& arrays, bool compressed) {
  using namespace formats_detail;
  // Each member is two fragments, its .npy header and the caller's data, read by zip_close.
  std::vector<std::string> headers;
  headers.reserve(arrays.size());
  for (const auto& [key, array] : arrays) {
    if (key.empty() || key.front() == '/' || key.find('\0') != std::string::npos)
      detail::invalid("{}: array name '{}' cannot be an archive member name", path, key);
    headers.push_back(npy_header(array, fmt::format("{} array '{}'", path, key)));
  }
  OutputFile file(path, /*seekable=*/true);
  if (arrays.empty()) {
    write_empty_zip(file);
    file.commit();
    return;
  }
  FdSink sink{file.fd(), {}};
  zip_error_init(&sink.error);
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* target = zip_source_function_create(fd_sink, &sink, &error);
  ZipHandle zip(target ? zip_open_from_source(target, ZIP_CREATE, &error) : nullptr);
  if (!zip) {
    if (target) zip_source_free(target);
    const std::string message = zip_error_strerror(&error);
    zip_error_fini(&error);
    io_error("{}: cannot start the archive: {}", path, message);
  }
  zip_error_fini(&error);
  std::size_t m = 0;
  for (const auto& [key, array] : arrays) {
    const std::string& header = headers[m++];
    const zip_buffer_fragment_t fragments[2] = {
        {reinterpret_cast<zip_uint8_t*>(const_cast<char*>(header.data())), header.size()},
        {static_cast<zip_uint8_t*>(const_cast<void*>(array.data)), array.bytes}};
    zip_source_t* source = zip_source_buffer_fragment(zip.get(), fragments, array.bytes ? 2 : 1, 0);
    if (!source) io_error("{}: cannot add array '{}': {}", path, key, zip_strerror(zip.get()));
    const std::string member = key + kMemberSuffix;
    const zip_int64_t index = zip_file_add(zip.get(), member.c_str(), source, ZIP_FL_ENC_UTF_8);
    if (index < 0) {
      zip_source_free(source);
      io_error("{}: cannot add array '{}': {}", path, key, zip_strerror(zip.get()));
    }
    if (zip_set_file_compression(zip.get(), static_cast<zip_uint64_t>(index),
                                 compressed ? ZIP_CM_DEFLATE : ZIP_CM_STORE, 0) != 0)
      io_error("{}: cannot set the compression of '{}': {}", path, member, zip_strerror(zip.get()));
  }
  if (zip_close(zip.get()) != 0) io_error("{}: writing failed: {}", path, zip_strerror(zip.get()));
  zip.release();  // zip_close freed it
  zip_error_fini(&sink.error);
  file.commit();
}

void save_npz(const std::string& path, const ArrayMap& arrays, bool compressed) {
  ArrayViewMap views;
  for (const auto& [key, array] : arrays) views.emplace(key, ArrayView::of(array));
  save_npz_views(path, views, compressed);
}

}  // namespace lstmrt
