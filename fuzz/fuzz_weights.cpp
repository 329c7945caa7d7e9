// libFuzzer: load_weights — what `lstmrt run --weights` reads — on arbitrary bytes under a neutral
// name, so the format comes from the content alone (file_format.cpp's sniffing: zip members,
// magic bytes, ONNX's leading fields, torch.save's pickles), then that format's reader and the
// weights' naming schemes and shape checks (weight_names.cpp: PyTorch, Keras and ONNX names, GRU
// and RNN weights refused). It must return or throw lstmrt::Error; Keras HDF5 files are read in
// process here, as fuzz_keras_h5 reads them.
#include "fuzz_file.hpp"
#include "lstmrt/error.hpp"
#include "lstmrt/io.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = lstmrt::fuzz::write_input(data, size, ".model");
  try {
    (void)lstmrt::load_weights(path);
  } catch (const lstmrt::Error&) {
  }
  return 0;
}
