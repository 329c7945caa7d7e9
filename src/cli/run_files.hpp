// `lstmrt run`'s checks on its files and memory before it computes, and the writing of OUT.npz —
// shared by the plain path (run.cpp) and the model-file path (run_model.cpp).
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "lstmrt/import.hpp"
#include "lstmrt/io.hpp"
#include "lstmrt/keras_run.hpp"

namespace lstmrt::cli {

// Refuses, naming both options, an --output that is (by device and inode, whatever the names or
// links) the same file as an input: --weights, --input, --lengths, --h0, --c0, and `extra`
// (option, path) pairs such as the Keras config a weights file brings. Also refuses an --output
// that cannot be written (a directory, a missing directory: io.hpp "output files"), so that a
// bad output path fails before the run, not after.
void check_output_path(const RunOptions& o, const std::vector<std::pair<std::string, std::string>>& extra = {});

// Host memory one run still has to allocate, item by item.
struct MemoryNeed {
  std::string what;  // "y (T, B, D·H_out) = (6, 3, 10)"
  std::uint64_t bytes = 0;
};
// float32 bytes of `shape`, saturating instead of overflowing.
std::uint64_t float32_bytes(const std::vector<std::int64_t>& shape);
// Throws Error(kUnsupported) "CAUSE needs X of host memory: ITEMS; Y is available (...)" when the
// needs exceed --memory-limit, or without it the memory this machine has available now
// (MemAvailable, and the cgroup's limit when there is one).
void check_host_memory(const RunOptions& o, const std::string& cause, const std::vector<MemoryNeed>& needs);
std::string byte_string(std::uint64_t bytes);  // "1.5 GiB", "12 KiB", "80 B"
// What run_model (import.hpp) allocates for T, B: the LSTM outputs it holds until the model's
// outputs are assembled, and the layer whose input and y with its backend's working memory are
// largest (the reference backend's when `options` resolve to it; GPU backends stage float32
// without host copies).
std::vector<MemoryNeed> model_memory_needs(const ImportedModel& model, const BackendOptions& options, int T, int B);

// Writes OUT.npz from the arrays where they are (no copy), errors prefixed "--output", then one
// summary line on `log` unless --quiet: "lstmrt: wrote OUT.npz: y (6, 3, 10), h_n (...)".
void write_outputs(const RunOptions& o, const ArrayViewMap& arrays, std::ostream& log);
// "y (6, 3, 10), h_n (4, 3, 5), c_n (4, 3, 5)".
std::string shapes_string(const ArrayViewMap& arrays);

}  // namespace lstmrt::cli
