// Test helpers for golden files written by Python generators (tests/data/*/gen_*.py): reading
// .npy/.npz members as float32/int32 vectors with their shapes, and running the lstmrt CLI binary
// on such files in a scratch directory.
#pragma once

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include <sys/wait.h>

#include <fmt/format.h>

#include "lstmrt/io.hpp"
#include "lstmrt/weights.hpp"

namespace lstmrt::test {

inline std::string golden_path(const std::string& framework, const std::string& file) {
  return std::string(LSTMRT_TEST_DATA_DIR) + "/" + framework + "/" + file;
}

// One member of an .npz, which must exist; `what` names it in failures.
inline const Array& npz_member(const ArrayMap& npz, const std::string& key, const std::string& what) {
  const auto it = npz.find(key);
  if (it == npz.end()) throw std::runtime_error(fmt::format("{}: no member '{}'", what, key));
  return it->second;
}

// ArrayMap (float32 members) -> TensorMap, as the converters take it.
inline TensorMap tensor_map(const ArrayMap& arrays, const std::string& source) {
  TensorMap tensors;
  for (const auto& [name, array] : arrays)
    tensors[name] = Tensor{array.shape, array.to_float32(source + " member '" + name + "'")};
  return tensors;
}

// A fresh, empty directory under the system temp dir, removed with the object.
class ScratchDir {
 public:
  ScratchDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() / fmt::format("lstmrt-test-{:08x}{:08x}", rd(), rd());
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Runs `LSTMRT_CLI_PATH args` through the shell; arguments are single-quoted (paths here never
// contain a quote).
inline CommandResult run_cli(const std::vector<std::string>& args) {
  std::string command = fmt::format("'{}'", LSTMRT_CLI_PATH);
  for (const std::string& a : args) command += fmt::format(" '{}'", a);
  command += " 2>&1";
  CommandResult result;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) {
    result.output = "popen failed for: " + command;
    return result;
  }
  std::array<char, 4096> buffer;
  while (std::size_t n = std::fread(buffer.data(), 1, buffer.size(), pipe)) result.output.append(buffer.data(), n);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.output = command + "\n" + result.output;
  return result;
}

}  // namespace lstmrt::test
