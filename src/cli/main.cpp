// The lstmrt command-line tool: demo, run, info. Errors are one line on stderr,
// "lstmrt: error: ...", with a non-zero exit status (2 for a bad command line, 1 otherwise).
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include "cli/commands.hpp"
#include "cli/demo.hpp"
#include "lstmrt/lstmrt.hpp"

namespace {

int report(const std::string& message, int status) {
  std::string line = message;
  for (char& c : line)
    if (c == '\n' || c == '\r') c = ' ';
  std::cerr << "lstmrt: error: " << line << "\n";
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"lstmrt: LSTM layers on NVIDIA GPUs"};
  app.require_subcommand(1);
  CLI::App* demo = app.add_subcommand("demo", "run the seed example on every backend this machine offers");
  lstmrt::cli::RunOptions run_options;
  CLI::App* run = lstmrt::cli::add_run_command(app, run_options);
  CLI::App* info = app.add_subcommand("info", "version, backends, GPUs, CUDA / cuDNN / cuBLAS versions");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(e);  // --help
    return report(e.what(), 2);
  }
  try {
    if (demo->parsed()) return lstmrt::cli::run_demo(std::cout);
    if (run->parsed()) return lstmrt::cli::run_command(run_options, std::cerr);
    if (info->parsed()) return lstmrt::cli::info_command(std::cout);
  } catch (const lstmrt::Error& e) {
    return report(e.what(), 1);
  } catch (const std::exception& e) {
    return report(std::string("internal error: ") + e.what(), 1);
  }
  return 0;
}
