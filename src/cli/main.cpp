// The lstmrt command-line tool: demo, run, info.
#include <iostream>

#include <CLI/CLI.hpp>

#include "cli/demo.hpp"
#include "lstmrt/lstmrt.hpp"

int main(int argc, char** argv) {
  CLI::App app{"lstmrt: LSTM layers on NVIDIA GPUs"};
  app.require_subcommand(1);
  CLI::App* demo = app.add_subcommand("demo", "run the seed example on every backend this machine offers");
  CLI11_PARSE(app, argc, argv);
  try {
    if (demo->parsed()) return lstmrt::cli::run_demo(std::cout);
  } catch (const lstmrt::Error& e) {
    std::cerr << "lstmrt: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
