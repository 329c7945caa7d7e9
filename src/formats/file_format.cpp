#include "formats/file_format.hpp"

#include <fmt/format.h>

#include <zip.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <vector>

#include "common/check.hpp"
#include "formats/file_bytes.hpp"

namespace lstmrt::formats_detail {
namespace {

constexpr char kHdf5Signature[] = "\x89HDF\r\n\x1a\n";

struct Head {
  std::uint64_t size = 0;
  unsigned char bytes[16] = {};
  std::size_t count = 0;  // how many of `bytes` the file has
};

bool starts_with(const Head& h, const char* magic, std::size_t n) {
  return h.count >= n && std::memcmp(h.bytes, magic, n) == 0;
}

// An HDF5 superblock at 0, 512, 1024, 2048, ... (where libhdf5 looks for one).
bool has_hdf5_signature(std::ifstream& f, std::uint64_t size) {
  for (std::uint64_t at = 0; at + 8 <= size; at = at == 0 ? 512 : at * 2) {
    char sig[8];
    f.clear();
    f.seekg(static_cast<std::streamoff>(at));
    if (f.read(sig, 8) && std::memcmp(sig, kHdf5Signature, 8) == 0) return true;
  }
  return false;
}

// A zip's members decide: Keras archive, torch.save archive, or (anything else) an .npz.
FileFormat zip_format(const std::string& path) {
  int code = 0;
  std::unique_ptr<zip_t, void (*)(zip_t*)> zip(zip_open(path.c_str(), ZIP_RDONLY, &code), zip_discard);
  if (!zip) return file_extension(path) == "keras" ? FileFormat::kKeras : FileFormat::kNpz;  // its reader explains
  bool config = false, weights = false;
  const zip_int64_t count = zip_get_num_entries(zip.get(), 0);
  for (zip_int64_t i = 0; i < count && i < 100000; ++i) {
    const char* name = zip_get_name(zip.get(), static_cast<zip_uint64_t>(i), 0);
    if (!name) continue;
    const std::string member(name);
    config = config || member == "config.json";
    weights = weights || member == "model.weights.h5";
    // torch.save's zip format: ARCHIVE/data.pkl (and ARCHIVE/data/0 ...); TorchScript: constants.pkl.
    if (ends_with(member, "/data.pkl") || member == "data.pkl" || ends_with(member, "/constants.pkl"))
      return FileFormat::kTorchPickle;
  }
  // Either Keras member makes it a Keras archive (whose reader names a missing one).
  return config || weights ? FileFormat::kKeras : FileFormat::kNpz;
}

// ONNX ModelProto: protobuf writes field 1 (ir_version, a varint: tag 0x08) first, then a
// length-delimited field among 2..8 (producer_name ... graph, opset_import: tags 0x12..0x42).
bool looks_like_onnx(const Head& h) {
  return h.count >= 3 && h.bytes[0] == 0x08 && h.bytes[1] >= 1 && h.bytes[1] < 0x80 && (h.bytes[2] & 7) == 2 &&
         h.bytes[2] >= 0x12 && h.bytes[2] <= 0x42;
}

// The format a file name's extension stands for, if any.
std::optional<FileFormat> extension_format(const std::string& path) {
  const std::string ext = file_extension(path);
  if (ext == "npy") return FileFormat::kNpy;
  if (ext == "npz") return FileFormat::kNpz;
  if (ext == "safetensors") return FileFormat::kSafetensors;
  if (ext == "onnx") return FileFormat::kOnnx;
  if (ext == "keras") return FileFormat::kKeras;
  if (ext == "h5" || ext == "hdf5") return FileFormat::kHdf5;
  if (ext == "pt" || ext == "pth") return FileFormat::kTorchPickle;
  return std::nullopt;
}

// What to do instead, for content an entry point does not read.
std::string hint(FileFormat content, bool wants_weights) {  // wants_weights: load_weights and kin
  if (content == FileFormat::kTorchPickle)
    return "; lstmrt does not load pickles (loading one can run code): export the state_dict instead: "
           "safetensors.torch.save_file(lstm.state_dict(), 'w.safetensors'), or "
           "numpy.savez('w.npz', **{k: v.numpy() for k, v in lstm.state_dict().items()})";
  if (content == FileFormat::kNpy && wants_weights)
    return "; a .npy file holds one array; weights are an .npz of named arrays, e.g. "
           "numpy.savez('w.npz', **{k: v.numpy() for k, v in lstm.state_dict().items()})";
  if (content == FileFormat::kNpy) return ": read it with load_npy";
  if (content == FileFormat::kNpz) return ": read it with load_npz";
  return "";
}

}  // namespace

const char* to_string(FileFormat format) {
  switch (format) {
    case FileFormat::kNpy: return "npy";
    case FileFormat::kNpz: return "npz";
    case FileFormat::kSafetensors: return "safetensors";
    case FileFormat::kOnnx: return "onnx";
    case FileFormat::kKeras: return "keras";
    case FileFormat::kHdf5: return "hdf5";
    case FileFormat::kTorchPickle: return "torch pickle";
    case FileFormat::kUnknown: break;
  }
  return "unknown";
}

std::string describe(FileFormat format) {
  switch (format) {
    case FileFormat::kNpy: return "a .npy array (numpy.save)";
    case FileFormat::kNpz: return "an .npz archive (numpy.savez)";
    case FileFormat::kSafetensors: return "a .safetensors file";
    case FileFormat::kOnnx: return "an ONNX model (.onnx)";
    case FileFormat::kKeras: return "a Keras archive (.keras)";
    case FileFormat::kHdf5: return "an HDF5 file (Keras .weights.h5)";
    case FileFormat::kTorchPickle: return "a PyTorch pickle (torch.save)";
    case FileFormat::kUnknown: break;
  }
  return "unrecognised content";
}

FileFormat detect_format(const std::string& path) {
  Head h;
  h.size = regular_file_size(path);
  std::ifstream f(path, std::ios::binary);
  if (!f) detail::fail(ErrorCode::kIoError, "{}: cannot open for reading", path);
  f.read(reinterpret_cast<char*>(h.bytes), sizeof h.bytes);
  h.count = static_cast<std::size_t>(f.gcount());

  if (starts_with(h, "PK\x03\x04", 4) || starts_with(h, "PK\x05\x06", 4)) return zip_format(path);
  if (starts_with(h, "\x93NUMPY", 6)) return FileFormat::kNpy;
  if (has_hdf5_signature(f, h.size)) return FileFormat::kHdf5;
  // A pickle: protocol 2..5 opcode PROTO (0x80, version); torch.save's legacy format is one.
  if (h.count >= 2 && h.bytes[0] == 0x80 && h.bytes[1] >= 2 && h.bytes[1] <= 5) return FileFormat::kTorchPickle;
  if (h.count >= 9 && h.bytes[8] == '{') {  // safetensors: u64 LE header length, then the JSON header
    std::uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = n << 8 | h.bytes[i];
    if (n >= 2 && n <= h.size - 8) return FileFormat::kSafetensors;
  }
  if (looks_like_onnx(h)) return FileFormat::kOnnx;
  return FileFormat::kUnknown;
}

FileFormat choose_reader(const std::string& path, std::initializer_list<FileFormat> accepted,
                         const std::string& expected, const std::string& noun) {
  const auto accepts = [&](FileFormat f) { return std::find(accepted.begin(), accepted.end(), f) != accepted.end(); };
  const FileFormat content = detect_format(path);
  const std::optional<FileFormat> named = extension_format(path);
  if (content != FileFormat::kUnknown) {
    if (accepts(content)) return content;  // the content decides, whatever the name says
    const std::string name_says =
        named && *named != content ? fmt::format(" although its name ends in '.{}'", file_extension(path)) : "";
    detail::fail(ErrorCode::kIoError, "{}: the content is {}{}: expected {}{}", path, describe(content), name_says,
                 expected, hint(content, accepts(FileFormat::kNpz) && accepted.size() > 1));
  }
  // Unrecognised content: the reader the name (or the only accepted format) stands for explains
  // what is wrong with it (a truncated header, a bad magic, a corrupt archive).
  if (named && accepts(*named)) return *named;
  if (accepted.size() == 1) return *accepted.begin();
  detail::fail(ErrorCode::kIoError, "{}: not a {} lstmrt reads: its content is none of the formats expected: {}", path,
               noun, expected);
}

}  // namespace lstmrt::formats_detail
