// Internal: the few HDF5 reads the Keras importer needs — groups, a string attribute, float
// datasets — through the HDF5 C library, on a file or on an in-memory image (the
// model.weights.h5 member of a .keras zip). HDF5's own error printing is switched off: failures
// become Error(kIoError) naming the file and object.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "lstmrt/weights.hpp"

namespace lstmrt::import_detail {

class Hdf5File {
 public:
  // `source` names the file in errors. The image is copied by HDF5.
  static Hdf5File open_path(const std::string& path);
  static Hdf5File open_image(const std::vector<std::uint8_t>& image, const std::string& source);
  Hdf5File(Hdf5File&& other) noexcept;
  Hdf5File& operator=(Hdf5File&&) = delete;
  ~Hdf5File();

  bool has_group(const std::string& path) const;
  std::vector<std::string> children(const std::string& group) const;  // member names, sorted
  // A variable- or fixed-length string attribute of the object at `path`; nullopt if absent.
  std::optional<std::string> string_attribute(const std::string& path, const std::string& name) const;
  // A float dataset (any HDF5 float type, converted), at most `max_values` elements: checked from
  // the dataspace before anything is allocated.
  Tensor read_floats(const std::string& path, std::int64_t max_values) const;
  const std::string& source() const { return source_; }

 private:
  Hdf5File(std::int64_t id, std::string source) : id_(id), source_(std::move(source)) {}
  std::int64_t id_ = -1;
  std::string source_;
};

// The bytes of one member of a zip archive (a .keras file), at most max_bytes. Throws
// Error(kIoError) naming the archive and member when it is absent, too large or unreadable.
std::vector<std::uint8_t> read_zip_member(const std::string& archive, const std::string& member, std::uint64_t max_bytes);

}  // namespace lstmrt::import_detail
