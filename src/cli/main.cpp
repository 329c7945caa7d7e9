// The lstmrt command-line tool: demo, run, info, help. Errors are one line on stderr,
// "lstmrt: error: ...", with the exit status of kExitCodes (commands.hpp). SIGINT, SIGTERM and
// SIGHUP remove the temporary file of an output being written before the process dies of them.
#include <signal.h>

#include <iostream>
#include <new>
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

int exit_status(lstmrt::ErrorCode code) {
  switch (code) {
    case lstmrt::ErrorCode::kUnsupported:
    case lstmrt::ErrorCode::kNoDevice: return 3;
    default: return 1;
  }
}

// Removes unfinished outputs, then dies of the signal as if unhandled (exit status 128+N).
void on_fatal_signal(int sig) {
  lstmrt::remove_unfinished_outputs();
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

void install_signal_handlers() {
  struct sigaction action = {};
  action.sa_handler = on_fatal_signal;
  sigemptyset(&action.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaction(sig, &action, nullptr);
  ::signal(SIGPIPE, SIG_IGN);  // a closed pipe is a write error (one line), not a silent death
}

}  // namespace

int main(int argc, char** argv) {
  install_signal_handlers();
  CLI::App app{"lstmrt: LSTM layers on NVIDIA GPUs"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("lstmrt ") + lstmrt::version());
  app.footer(lstmrt::cli::kExitCodes);
  CLI::App* demo = app.add_subcommand("demo", "run the seed example on every backend this machine offers");
  lstmrt::cli::RunOptions run_options;
  CLI::App* run = lstmrt::cli::add_run_command(app, run_options);
  CLI::App* info = app.add_subcommand("info", "version, backends, GPUs, CUDA / cuDNN / cuBLAS versions");
  std::string help_topic;
  CLI::App* help = app.add_subcommand("help", "this help, or a subcommand's: lstmrt help run");
  help->add_option("subcommand", help_topic, "demo, run or info");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(e);  // --help, --version
    return report(std::string(e.what()) + (argc == 1 ? ": lstmrt help lists them" : ""), 2);
  }
  if (help->parsed()) {
    if (help_topic.empty()) {  // app.help() would describe the parsed subcommand, `help` itself
      std::cout << app.get_formatter()->make_help(&app, app.get_name(), CLI::AppFormatMode::Normal);
      return 0;
    }
    for (CLI::App* sub : {demo, run, info})
      if (sub->get_name() == help_topic) {
        std::cout << sub->help();
        return 0;
      }
    return report("help " + help_topic + ": no such subcommand: expected demo, run or info", 2);
  }
  try {
    if (demo->parsed()) return lstmrt::cli::run_demo(std::cout);
    if (run->parsed()) return lstmrt::cli::run_command(run_options, std::cerr);
    if (info->parsed()) return lstmrt::cli::info_command(std::cout);
  } catch (const lstmrt::Error& e) {
    return report(e.what(), exit_status(e.code()));
  } catch (const std::bad_alloc&) {
    return report(
        "out of memory: the run needs more host memory than the system could allocate (see --memory-limit "
        "and -v for the sizes)",
        3);
  } catch (const std::length_error& e) {
    return report(std::string("out of memory: a buffer larger than this system can hold (") + e.what() + ")", 3);
  } catch (const std::exception& e) {
    return report(std::string("internal error: ") + e.what(), 1);
  }
  return 0;
}
