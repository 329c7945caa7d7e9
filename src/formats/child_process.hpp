// Internal: running a piece of work in a forked child process, so that a fault of a C library on
// hostile input (a crash, a hang, an allocation storm) cannot take the calling process down.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace lstmrt::formats_detail {

struct ChildLimits {
  std::chrono::milliseconds timeout{120000};    // the child is killed after this long
  std::uint64_t max_result_bytes = 1ull << 34;  // a longer answer is refused (the child is killed)
};

// Forks; the child runs `work`, sends what it returned (or the lstmrt::Error it threw, code and
// message) through a pipe and leaves with _exit (no atexit handlers, no static destructors; on
// Linux it is also killed if this process dies). The parent returns the bytes or rethrows the
// child's Error; a child that died from a signal, ran past the timeout, sent too much or exited
// without an answer is Error(kIoError) "WHAT: ..." saying which. POSIX only. fork() must be safe
// here: no other thread of the calling process may be inside the code `work` runs.
std::vector<std::uint8_t> run_in_child(const std::function<std::vector<std::uint8_t>()>& work, const std::string& what,
                                       const ChildLimits& limits = {});

}  // namespace lstmrt::formats_detail
