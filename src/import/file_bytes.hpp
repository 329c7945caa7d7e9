// Internal: reading a whole model file into memory for the importers, with its size checked first.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace lstmrt::import_detail {

// The bytes of `path`. Throws Error(kIoError) naming the file when it is missing, not a regular
// file, unreadable, or larger than `max_bytes` (nothing is allocated for such a file).
std::vector<std::uint8_t> read_file_bytes(const std::string& path, std::uint64_t max_bytes);

// Lower-cased file name suffix after the last '.', or "" (".weights.h5" gives "h5").
std::string file_extension(const std::string& path);
bool ends_with(const std::string& text, const std::string& suffix);

}  // namespace lstmrt::import_detail
