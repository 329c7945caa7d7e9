// Atomic output files and input file checks.
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "io/npy_format.hpp"

namespace lstmrt::io_detail {

namespace fs = std::filesystem;

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
  static std::atomic<unsigned> counter{0};
  const fs::path final_path(path_);
  if (final_path.filename().empty()) io_error("{}: not a file name", path_);
  const fs::path dir = final_path.parent_path();
  std::error_code ec;
  if (!dir.empty() && !fs::is_directory(dir, ec))
    io_error("{}: cannot write: directory {} does not exist", path_, dir.string());
  if (fs::is_directory(final_path, ec)) io_error("{}: cannot write: it is a directory", path_);
  temp_path_ =
      (dir / fmt::format(".{}.tmp-{}-{}", final_path.filename().string(), static_cast<long>(getpid()), counter++))
          .string();
}

AtomicFile::~AtomicFile() {
  if (!committed_) std::remove(temp_path_.c_str());  // may not exist; nothing to report
}

void AtomicFile::commit() {
  if (std::rename(temp_path_.c_str(), path_.c_str()) != 0)
    io_error("{}: cannot move the finished file into place: {}", path_, std::strerror(errno));
  committed_ = true;
}

std::uint64_t regular_file_size(const std::string& path) {
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (!fs::exists(status)) io_error("{}: no such file", path);
  if (fs::is_directory(status)) io_error("{}: is a directory, expected a file", path);
  if (!fs::is_regular_file(status)) io_error("{}: not a regular file", path);
  const std::uint64_t size = fs::file_size(path, ec);
  if (ec) io_error("{}: cannot read its size: {}", path, ec.message());
  return size;
}

}  // namespace lstmrt::io_detail
