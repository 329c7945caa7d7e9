// libFuzzer: parse_safetensors on arbitrary bytes must return or throw lstmrt::Error — never crash
// or allocate without bound.
#include "lstmrt/error.hpp"
#include "lstmrt/import.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    (void)lstmrt::parse_safetensors(data, size, "fuzz");
  } catch (const lstmrt::Error&) {
  }
  return 0;
}
