// Reading a request tensor's pieces (TensorView::chunks) in order into host staging memory.
#pragma once

#include <algorithm>
#include <cstring>

#include "device.hpp"
#include "executor.hpp"
#include "lstmrt/error.hpp"

namespace lstmrt::serving {

// Reads a tensor's pieces in order into consecutive destinations (host staging memory), copying
// pieces that live on the device through `device`.
class ChunkReader {
 public:
  ChunkReader(const TensorView& t, Device& device) : t_(t), device_(device) {}
  void read(void* dst, std::size_t bytes) {
    char* out = static_cast<char*>(dst);
    while (bytes > 0) {
      if (chunk_ >= t_.chunks.size())
        throw Error(ErrorCode::kInvalidArgument, "tensor data is shorter than its shape");  // checked before
      const TensorView::Chunk& c = t_.chunks[chunk_];
      const std::size_t n = std::min(bytes, c.bytes - pos_);
      const char* src = static_cast<const char*>(c.data) + pos_;
      if (c.on_device)
        device_.copy(out, src, n);
      else
        std::memcpy(out, src, n);
      out += n;
      bytes -= n;
      pos_ += n;
      if (pos_ == c.bytes) {
        ++chunk_;
        pos_ = 0;
      }
    }
  }

 private:
  const TensorView& t_;
  Device& device_;
  std::size_t chunk_ = 0, pos_ = 0;
};

}  // namespace lstmrt::serving
