// The lstmrt CLI's subcommands other than demo: run (an LSTM over .npy/.npz files) and info.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace lstmrt::cli {

// `lstmrt run` options, exactly as the command line spells them.
struct RunOptions {
  std::string weights;  // --weights W.npz (PyTorch, Keras or ONNX names: see lstmrt/io.hpp)
  // --input X.npy float32 (T, B, I), or (B, T, I) with --batch-first; repeated for a Keras model
  // with several inputs (model.inputs order)
  std::vector<std::string> inputs;
  std::string output;   // --output OUT.npz: y, h_n, c_n (float32)
  std::string lengths;  // --lengths L.npy int32/int64 (B,)
  std::string h0, c0;   // --h0 (L·D, B, H_out), --c0 (L·D, B, H)
  std::string backend = "auto";
  std::string fused_kernel = "auto";  // --fused-kernel: auto | stepwise | persistent | cluster
  std::string padding = "zero";       // zero | carry
  bool batch_first = false;
  bool time_major = false;    // --time-major: (T, B, ...) for a Keras model, whose default is (B, T, ...)
  bool sequences = false;     // --sequences: write y
  bool state = false;         // --state: write h_n, c_n (neither flag: both)
  bool reverse = false;       // --reverse: one-direction weights run as a reverse layer
  bool go_backwards = false;  // --go-backwards: reverse layer, y in processing order (Keras)
  bool verbose = false;
  bool quiet = false;        // -q: no summary line after a successful run
  std::string memory_limit;  // --memory-limit SIZE: refuse runs needing more host memory
};

// The exit statuses of every subcommand, for --help and the README.
inline constexpr const char* kExitCodes =
    "Exit status: 0 success; 1 a bad or unreadable file, value or shape, or a failed run (one line on stderr, "
    "\"lstmrt: error: ...\"; no output file is written); 2 a bad command line; 3 a valid model or request this "
    "build or machine cannot serve (an unsupported layer or option, no GPU for --backend cudnn/fused, not enough "
    "memory); 128+N killed by signal N (Ctrl-C: 130), leaving no temporary file.";

// Declares `run` on `app`, filling `options` when parsed.
CLI::App* add_run_command(CLI::App& app, RunOptions& options);
// Runs it: reads every file and checks every shape before computing, writes OUT.npz atomically.
// Throws lstmrt::Error with a one-line message naming the option and file at fault.
int run_command(const RunOptions& options, std::ostream& log);

// `run` for a Keras model file (.keras / .weights.h5; src/cli/run_model.cpp): a chain of layers or a
// graph of them.
int run_imported_model(const RunOptions& options, std::ostream& log);

// `lstmrt info`: version, backends, GPUs, CUDA / cuDNN / cuBLAS versions.
int info_command(std::ostream& out);

}  // namespace lstmrt::cli
