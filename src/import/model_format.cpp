#include "import/model_format.hpp"

#include <zip.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <vector>

#include "common/check.hpp"
#include "import/file_bytes.hpp"

namespace lstmrt::import_detail {
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
ModelFormat zip_format(const std::string& path) {
  int code = 0;
  std::unique_ptr<zip_t, void (*)(zip_t*)> zip(zip_open(path.c_str(), ZIP_RDONLY, &code), zip_discard);
  if (!zip) return file_extension(path) == "keras" ? ModelFormat::kKeras : ModelFormat::kNpz;  // its reader explains
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
      return ModelFormat::kTorchPickle;
  }
  return config && weights ? ModelFormat::kKeras : ModelFormat::kNpz;
}

// ONNX ModelProto: protobuf writes field 1 (ir_version, a varint: tag 0x08) first, then a
// length-delimited field among 2..8 (producer_name ... graph, opset_import: tags 0x12..0x42).
bool looks_like_onnx(const Head& h) {
  return h.count >= 3 && h.bytes[0] == 0x08 && h.bytes[1] >= 1 && h.bytes[1] < 0x80 && (h.bytes[2] & 7) == 2 &&
         h.bytes[2] >= 0x12 && h.bytes[2] <= 0x42;
}

}  // namespace

const char* to_string(ModelFormat format) {
  switch (format) {
    case ModelFormat::kNpz: return "npz";
    case ModelFormat::kSafetensors: return "safetensors";
    case ModelFormat::kOnnx: return "onnx";
    case ModelFormat::kKeras: return "keras";
    case ModelFormat::kHdf5: return "hdf5";
    case ModelFormat::kNpy: return "npy";
    case ModelFormat::kTorchPickle: return "torch pickle";
    case ModelFormat::kUnknown: break;
  }
  return "unknown";
}

ModelFormat sniff_model_format(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (ec || !fs::exists(status)) detail::fail(ErrorCode::kIoError, "{}: no such file", path);
  if (fs::is_directory(status)) detail::fail(ErrorCode::kIoError, "{}: is a directory, expected a file", path);
  if (!fs::is_regular_file(status)) detail::fail(ErrorCode::kIoError, "{}: not a regular file", path);
  std::ifstream f(path, std::ios::binary);
  if (!f) detail::fail(ErrorCode::kIoError, "{}: cannot open for reading", path);
  Head h;
  h.size = fs::file_size(path, ec);
  f.read(reinterpret_cast<char*>(h.bytes), sizeof h.bytes);
  h.count = static_cast<std::size_t>(f.gcount());

  if (starts_with(h, "PK\x03\x04", 4) || starts_with(h, "PK\x05\x06", 4)) return zip_format(path);
  if (starts_with(h, "\x93NUMPY", 6)) return ModelFormat::kNpy;
  if (has_hdf5_signature(f, h.size)) return ModelFormat::kHdf5;
  // A pickle: protocol 2..5 opcode PROTO (0x80, version); torch.save's legacy format is one.
  if (h.count >= 2 && h.bytes[0] == 0x80 && h.bytes[1] >= 2 && h.bytes[1] <= 5) return ModelFormat::kTorchPickle;
  if (h.count >= 9 && h.bytes[8] == '{') {  // safetensors: u64 LE header length, then the JSON header
    std::uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = n << 8 | h.bytes[i];
    if (n >= 2 && n <= h.size - 8) return ModelFormat::kSafetensors;
  }
  if (looks_like_onnx(h)) return ModelFormat::kOnnx;
  // No recognisable content: the extension names the reader whose error will explain.
  const std::string ext = file_extension(path);
  if (ext == "npz") return ModelFormat::kNpz;
  if (ext == "safetensors") return ModelFormat::kSafetensors;
  if (ext == "onnx") return ModelFormat::kOnnx;
  if (ext == "keras") return ModelFormat::kKeras;
  if (ext == "h5" || ext == "hdf5") return ModelFormat::kHdf5;
  if (ext == "pt" || ext == "pth") return ModelFormat::kTorchPickle;
  return ModelFormat::kUnknown;
}

void refuse_model_format(const std::string& path, ModelFormat format) {
  switch (format) {
    case ModelFormat::kNpy:
      detail::fail(ErrorCode::kIoError,
                   "{}: a .npy file holds one array; weights are an .npz of named arrays, e.g. "
                   "numpy.savez('w.npz', **{{k: v.numpy() for k, v in lstm.state_dict().items()}})",
                   path);
    case ModelFormat::kTorchPickle:
      detail::fail(ErrorCode::kIoError,
                   "{}: a PyTorch pickle (torch.save): lstmrt does not load pickles (loading one can run code); "
                   "export the state_dict instead: safetensors.torch.save_file(lstm.state_dict(), 'w.safetensors'), "
                   "or numpy.savez('w.npz', **{{k: v.numpy() for k, v in lstm.state_dict().items()}})",
                   path);
    default:
      break;
  }
  detail::fail(ErrorCode::kIoError,
               "{}: not a model file lstmrt reads: expected an .npz (numpy.savez), .safetensors, .onnx, .keras or "
               ".weights.h5 (Keras) file",
               path);
}

}  // namespace lstmrt::import_detail
