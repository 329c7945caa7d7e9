// Internal: the checks every reader makes on the file it opens, and reading a whole model file
// into memory for the importers, with its size checked first.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace lstmrt::formats_detail {

// Throws Error(kIoError) unless `path` names an existing regular file ("no such file", "is a
// directory, expected a file", "not a regular file"). Returns its size in bytes.
std::uint64_t regular_file_size(const std::string& path);

// The bytes of `path`. Throws Error(kIoError) naming the file when it is missing, not a regular
// file, unreadable, or larger than `max_bytes` (nothing is allocated for such a file).
std::vector<std::uint8_t> read_file_bytes(const std::string& path, std::uint64_t max_bytes);

// Lower-cased file name suffix after the last '.', or "" (".weights.h5" gives "h5").
std::string file_extension(const std::string& path);
bool ends_with(const std::string& text, const std::string& suffix);

}  // namespace lstmrt::formats_detail
