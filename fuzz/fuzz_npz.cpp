// libFuzzer: load_npz on arbitrary bytes must return or throw lstmrt::Error — never crash,
// hang or allocate without bound (ASan's allocation limit catches the last).
#include "fuzz_file.hpp"
#include "lstmrt/error.hpp"
#include "lstmrt/io.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = lstmrt::fuzz::write_input(data, size, ".npz");
  try {
    (void)lstmrt::load_npz(path);
  } catch (const lstmrt::Error&) {
  }
  return 0;
}
