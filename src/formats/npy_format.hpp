// Internal: the .npy format shared by the npy and npz readers/writers, and output files.
//
// .npy layout (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html):
//   bytes 0-5   magic "\x93NUMPY"
//   bytes 6-7   format version major, minor (1.0, 2.0 or 3.0)
//   then        header length: uint16 LE (1.0) or uint32 LE (2.0, 3.0)
//   then        the header: a Python dict literal, e.g.
//               {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
//               padded with spaces and ended by '\n' (3.0 allows UTF-8 in it)
//   then        the data: numel · itemsize bytes in C order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "common/check.hpp"
#include "lstmrt/io.hpp"

namespace lstmrt::formats_detail {

template <typename... Args>
[[noreturn]] void io_error(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(ErrorCode::kIoError, fmt::format(format, std::forward<Args>(args)...));
}

// A sequential byte source: a file, or one member of a zip archive.
class ByteReader {
 public:
  virtual ~ByteReader() = default;
  // Reads up to n bytes into dst; returns how many were read (fewer only at the end or on error).
  virtual std::size_t read(void* dst, std::size_t n) = 0;
};

// Reads one .npy stream of `total_size` bytes. `name` prefixes every error ("x.npy",
// "w.npz member 'W.npy'"). When `size_is_trusted` is false (a zip member's declared size), the data
// buffer grows only as bytes actually arrive, so a lying header cannot make us allocate much.
Array read_npy(ByteReader& in, std::uint64_t total_size, bool size_is_trusted, const std::string& name);

// The magic, version, header length and padded header dict for `array` (the data follows it).
// Throws Error(kInvalidArgument) when the view's byte count does not match its shape and dtype.
std::string npy_header(const ArrayView& array, const std::string& name);

// What an output path leads to (symbolic links followed; see io.hpp "output files").
struct OutputTarget {
  enum class Kind { kNew, kRegular, kStream };  // absent; regular file; character device or FIFO
  std::string path;                             // the file itself, after the links
  Kind kind = Kind::kNew;
  std::optional<FileIdentity> identity;  // of an existing file
  unsigned mode = 0;                     // a regular file's permission bits
};
// Throws Error(kIoError) naming `path` for a directory, block device, socket, missing parent
// directory or link loop.
OutputTarget resolve_output(const std::string& path);

// One output being written (io.hpp "output files"): write() appends to fd(), commit() puts the
// result in place. `seekable`: the writer seeks in fd() (a zip archive), so a stream target gets a
// temporary file that commit() copies to it. Destroyed uncommitted, it leaves the target as it was
// and removes its temporary; while it exists, remove_unfinished_outputs() can remove it too.
class OutputFile {
 public:
  OutputFile(const std::string& path, bool seekable);
  ~OutputFile();
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  int fd() const { return fd_; }
  const std::string& path() const { return path_; }
  void write(const void* data, std::size_t n);  // all of it; throws Error(kIoError)
  void commit();                                // throws Error(kIoError)

 private:
  std::string path_;
  OutputTarget target_;
  std::string temp_path_;  // empty when writing the target directly
  int fd_ = -1;
  int slot_ = -1;  // in the signal handler's table
  bool committed_ = false;
};

}  // namespace lstmrt::formats_detail
