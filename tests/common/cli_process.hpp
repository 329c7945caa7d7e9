// Test helper: the lstmrt CLI (LSTMRT_CLI_PATH) as a child process, with stdout and stderr kept
// apart, an optional address-space limit and environment, and its exit status, killing signal and
// peak resident memory; or started in the background, to be signalled while it runs.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "common/golden_files.hpp"

namespace lstmrt::test {

struct ProcessResult {
  int exit_code = -1;  // -1 when killed by a signal
  int signal = 0;      // the killing signal, or 0
  long max_rss_kib = 0;
  std::string out, err, command;
};

struct ProcessOptions {
  std::uint64_t address_space_limit = 0;   // RLIMIT_AS in bytes; 0: none
  std::map<std::string, std::string> env;  // set in the child
};

inline std::string slurp_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

class CliProcess {
 public:
  // Starts `lstmrt args...`; its stdout/stderr go to files in `dir`.
  CliProcess(const std::vector<std::string>& args, const ScratchDir& dir, const ProcessOptions& options = {})
      : out_path_(dir.file("cli-stdout.txt")), err_path_(dir.file("cli-stderr.txt")) {
    command_ = LSTMRT_CLI_PATH;
    for (const std::string& a : args) command_ += " " + a;
    pid_ = ::fork();
    if (pid_ == 0) {
      const int out = ::open(out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      const int err = ::open(err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(out, 1), ::dup2(err, 2);
      if (options.address_space_limit) {
        rlimit limit{options.address_space_limit, options.address_space_limit};
        ::setrlimit(RLIMIT_AS, &limit);
      }
      for (const auto& [k, v] : options.env) ::setenv(k.c_str(), v.c_str(), 1);
      std::vector<char*> argv{const_cast<char*>(LSTMRT_CLI_PATH)};
      for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      ::execv(LSTMRT_CLI_PATH, argv.data());
      ::_exit(127);
    }
  }
  CliProcess(const CliProcess&) = delete;
  CliProcess& operator=(const CliProcess&) = delete;
  ~CliProcess() {
    if (pid_ > 0 && !waited_) {
      ::kill(pid_, SIGKILL);
      wait();
    }
  }

  pid_t pid() const { return pid_; }
  // Non-blocking: has it ended?
  bool finished() {
    if (waited_) return true;
    int status = 0;
    rusage usage{};
    const pid_t r = ::wait4(pid_, &status, WNOHANG, &usage);
    if (r == pid_) record(status, usage);
    return waited_;
  }
  ProcessResult wait() {
    if (!waited_) {
      int status = 0;
      rusage usage{};
      while (::wait4(pid_, &status, 0, &usage) < 0 && errno == EINTR) {
      }
      record(status, usage);
    }
    return result_;
  }

 private:
  void record(int status, const rusage& usage) {
    waited_ = true;
    result_.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    result_.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    result_.max_rss_kib = usage.ru_maxrss;
    result_.out = slurp_file(out_path_);
    result_.err = slurp_file(err_path_);
    result_.command = command_;
  }

  std::string out_path_, err_path_, command_;
  pid_t pid_ = -1;
  bool waited_ = false;
  ProcessResult result_;
};

inline ProcessResult run_cli_process(const std::vector<std::string>& args, const ScratchDir& dir,
                                     const ProcessOptions& options = {}) {
  return CliProcess(args, dir, options).wait();
}

// A refused run: exit status `status`, stderr exactly one "lstmrt: error: ..." line holding every
// fragment.
inline void expect_one_error_line(const ProcessResult& r, int status, const std::vector<std::string>& fragments) {
  SCOPED_TRACE(r.command);
  EXPECT_EQ(r.exit_code, status) << r.err;
  EXPECT_EQ(r.err.rfind("lstmrt: error: ", 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  for (const std::string& f : fragments)
    EXPECT_NE(r.err.find(f), std::string::npos) << "'" << f << "' not in " << r.err;
}

// Sanitizer builds: ASan reserves terabytes of address space and keeps freed memory in
// quarantine, so address-space limits and resident-memory measurements mean nothing there.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kSanitizedBuild = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool kSanitizedBuild = true;
#else
inline constexpr bool kSanitizedBuild = false;
#endif
#else
inline constexpr bool kSanitizedBuild = false;
#endif

}  // namespace lstmrt::test
