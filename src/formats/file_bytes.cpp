#include "formats/file_bytes.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "common/check.hpp"

namespace lstmrt::formats_detail {

std::uint64_t regular_file_size(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (ec || !fs::exists(status)) detail::fail(ErrorCode::kIoError, "{}: no such file", path);
  if (fs::is_directory(status)) detail::fail(ErrorCode::kIoError, "{}: is a directory, expected a file", path);
  if (!fs::is_regular_file(status)) detail::fail(ErrorCode::kIoError, "{}: not a regular file", path);
  const std::uintmax_t size = fs::file_size(path, ec);
  if (ec) detail::fail(ErrorCode::kIoError, "{}: cannot read its size: {}", path, ec.message());
  return size;
}

std::vector<std::uint8_t> read_file_bytes(const std::string& path, std::uint64_t max_bytes) {
  const std::uint64_t size = regular_file_size(path);
  if (size > max_bytes)
    detail::fail(ErrorCode::kIoError, "{}: {} bytes: larger than the {} bytes this reader accepts", path, size,
                 max_bytes);
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) detail::fail(ErrorCode::kIoError, "{}: cannot open for reading", path);
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size));
  if (size > 0 && std::fread(bytes.data(), 1, bytes.size(), file.get()) != bytes.size())
    detail::fail(ErrorCode::kIoError, "{}: read fewer than its {} bytes", path, size);
  return bytes;
}

std::string file_extension(const std::string& path) {
  const std::string name = std::filesystem::path(path).filename().string();
  const std::size_t dot = name.rfind('.');
  if (dot == std::string::npos) return "";
  std::string ext = name.substr(dot + 1);
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext;
}

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace lstmrt::formats_detail
