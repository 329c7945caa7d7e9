// lstmrt — errors.
//
// Every failure in lstmrt is reported by throwing lstmrt::Error: a code for programs and a
// one-line message for people that names what was wrong and what was expected, e.g.
//   "input_size 7 does not match weight_ih_l0 (96, 10): expected 10".
// The library never prints and never exits.
#pragma once

#include <stdexcept>
#include <string>

namespace lstmrt {

enum class ErrorCode {
  kInvalidArgument,  // a shape, size, pointer, option or value is wrong
  kUnsupported,      // a valid request this backend (or this build/machine) cannot serve
  kNoDevice,         // a GPU backend was asked for and no usable GPU exists
  kCudaError,        // a CUDA, cuBLAS or cuDNN call failed
  kIoError,          // a file could not be read or written, or is corrupt
  kInternal,         // a broken invariant inside lstmrt (a bug: please report it)
};

const char* to_string(ErrorCode code) noexcept;

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const noexcept { return code_; }

 private:
  ErrorCode code_;
};

}  // namespace lstmrt
