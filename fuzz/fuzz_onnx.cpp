// libFuzzer: load_onnx_weights on arbitrary bytes (protobuf parse, graph checks, LSTM node
// reading, weight conversion) must return or throw lstmrt::Error — never crash or allocate
// without bound.
#include "fuzz_file.hpp"
#include "lstmrt/error.hpp"
#include "lstmrt/import.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = lstmrt::fuzz::write_input(data, size, ".onnx");
  try {
    (void)lstmrt::load_onnx_weights(path);
  } catch (const lstmrt::Error&) {
  }
  return 0;
}
