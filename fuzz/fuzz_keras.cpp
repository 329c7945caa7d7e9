// libFuzzer: a Keras .keras archive of arbitrary bytes (a zip of config.json and
// model.weights.h5) read IN PROCESS (Hdf5Reader::kInProcess): the zip reader, the config parser,
// the HDF5 structural check and then libhdf5 on what passes must return or throw lstmrt::Error —
// never crash, hang or allocate without bound. See fuzz_keras_h5.cpp for what a finding means.
#include "fuzz_file.hpp"
#include "lstmrt/error.hpp"
#include "lstmrt/import.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = lstmrt::fuzz::write_input(data, size, ".keras");
  try {
    (void)lstmrt::load_keras_model(path, lstmrt::Hdf5Reader::kInProcess);
  } catch (const lstmrt::Error&) {
  }
  return 0;
}
