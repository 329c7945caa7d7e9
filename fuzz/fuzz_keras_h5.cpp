// libFuzzer: a Keras .weights.h5 of arbitrary bytes, read with the Keras importer IN PROCESS
// (Hdf5Reader::kInProcess, what a C++ or Python caller gets by default) against the config of
// tests/data/keras_import/sequential_stack: the structural check (our code, ASan-instrumented)
// must refuse what it cannot vouch for, and libhdf5 — which runs here on whatever passes — must
// then neither crash nor hang (libFuzzer's -timeout). Debian's libhdf5 is not instrumented, so
// its silent out-of-bounds reads go unseen; crashes, aborts and hangs do not. A finding here is a
// gap in the structural check, not noise. LSTMRT_FUZZ_KERAS_CONFIG names the config file.
#include <cstdlib>
#include <string>

#include "fuzz_file.hpp"
#include "lstmrt/error.hpp"
#include "lstmrt/import.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string config = [] {
    const char* c = std::getenv("LSTMRT_FUZZ_KERAS_CONFIG");
    return std::string(c ? c : "sequential_stack.config.json");
  }();
  const std::string path = lstmrt::fuzz::write_input(data, size, ".weights.h5");
  try {
    (void)lstmrt::load_keras_model(path, config, lstmrt::Hdf5Reader::kInProcess);
  } catch (const lstmrt::Error&) {
  }
  return 0;
}
