// Internal: the HDF5 reads the Keras importer needs — groups, string attributes, float datasets.
//
// Opening reads the whole file (or the in-memory image of a .keras member) into memory, checks its
// structure (hdf5_check.hpp), and only then lets libhdf5 read it, from that same image: every
// group, every string attribute and every dataset (shape; values when it is a float dataset whose
// bytes are stored) is copied out into Hdf5Contents, and the file is closed. The accessors below
// answer from that copy. With Hdf5Reader::kChildProcess the libhdf5 part runs in a forked child
// that sends the contents back through a pipe (child_process.hpp): a crash or hang of libhdf5 there
// is an Error(kIoError) here. HDF5's own error printing is switched off; failures are
// Error(kIoError) naming the file and object.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "lstmrt/import.hpp"
#include "lstmrt/weights.hpp"

namespace lstmrt::formats_detail {

// What libhdf5 read from a file. Paths have no leading '/': "" is the root group, "layers/lstm".
struct Hdf5Contents {
  struct Dataset {
    std::vector<std::int64_t> shape;
    bool is_float = false;
    std::uint64_t element_size = 0, stored_bytes = 0;  // the file's element size; bytes it stores
    std::vector<float> values;                         // float datasets storing all their values
  };
  std::map<std::string, std::vector<std::string>> groups;  // group path -> member names, sorted
  std::map<std::string, Dataset> datasets;
  std::map<std::string, std::map<std::string, std::string>> string_attributes;  // object -> name -> value
};

// The bytes of Hdf5Contents as the child process sends them, and back. decode_contents checks
// every length and count against the bytes present (they come from a process that ran libhdf5
// on a hostile file) and throws Error(kIoError) naming `source`.
std::vector<std::uint8_t> encode_contents(const Hdf5Contents& contents);
Hdf5Contents decode_contents(const std::vector<std::uint8_t>& bytes, const std::string& source);

// The structural check and the libhdf5 reads on one image, in this process.
Hdf5Contents read_hdf5_image(const std::vector<std::uint8_t>& image, const std::string& source);

class Hdf5File {
 public:
  // `source` names the file in errors.
  static Hdf5File open_path(const std::string& path, Hdf5Reader reader);
  static Hdf5File open_image(const std::vector<std::uint8_t>& image, const std::string& source, Hdf5Reader reader);

  bool has_group(const std::string& path) const;
  std::vector<std::string> children(const std::string& group) const;  // member names, sorted
  // A variable- or fixed-length string attribute of the object at `path`; nullopt if absent.
  std::optional<std::string> string_attribute(const std::string& path, const std::string& name) const;
  // A float dataset (any HDF5 float type, converted), at most `max_values` elements, all stored.
  Tensor read_floats(const std::string& path, std::int64_t max_values) const;
  const std::string& source() const { return source_; }

 private:
  Hdf5File(Hdf5Contents contents, std::string source) : contents_(std::move(contents)), source_(std::move(source)) {}
  Hdf5Contents contents_;
  std::string source_;
};

// The bytes of one member of a zip archive (a .keras file), at most max_bytes. Throws
// Error(kIoError) naming the archive and member when it is absent, too large or unreadable.
std::vector<std::uint8_t> read_zip_member(const std::string& archive, const std::string& member,
                                          std::uint64_t max_bytes);

}  // namespace lstmrt::formats_detail
