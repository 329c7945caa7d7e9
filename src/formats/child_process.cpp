// run_in_child (child_process.hpp). The child's answer on the pipe:
//   status (1 byte: 0 result, 1 lstmrt::Error), length (8 bytes, little-endian), then
//   status 0: the result bytes;  status 1: the error code (1 byte) and the message.
#include "formats/child_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <cerrno>
#include <cstring>
#include <new>

#include "common/check.hpp"

namespace lstmrt::formats_detail {
namespace {

constexpr std::size_t kHeaderBytes = 9;

void put_u64(std::vector<std::uint8_t>& out, std::size_t at, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out[at + i] = static_cast<std::uint8_t>(v >> (8 * i));
}

bool write_all(int fd, const std::uint8_t* p, std::size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w, n -= static_cast<std::size_t>(w);
  }
  return true;
}

// The child's side: never returns.
[[noreturn]] void child_main(int fd, const std::function<std::vector<std::uint8_t>()>& work) {
#ifdef __linux__
  prctl(PR_SET_PDEATHSIG, SIGKILL);
#endif
  std::vector<std::uint8_t> header(kHeaderBytes, 0), body;
  try {
    body = work();
  } catch (const Error& e) {
    header[0] = 1;
    const std::string message = e.what();
    body.assign(1, static_cast<std::uint8_t>(e.code()));
    body.insert(body.end(), message.begin(), message.end());
  } catch (const std::bad_alloc&) {
    header[0] = 1;
    const std::string message = "out of memory";
    body.assign(1, static_cast<std::uint8_t>(ErrorCode::kIoError));
    body.insert(body.end(), message.begin(), message.end());
  } catch (const std::exception& e) {
    header[0] = 1;
    const std::string message = e.what();
    body.assign(1, static_cast<std::uint8_t>(ErrorCode::kIoError));
    body.insert(body.end(), message.begin(), message.end());
  } catch (...) {
    ::_exit(3);
  }
  put_u64(header, 1, body.size());
  const bool sent = write_all(fd, header.data(), header.size()) && write_all(fd, body.data(), body.size());
  ::_exit(sent ? 0 : 4);
}

std::string exit_description(int status) {
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    const char* name = sigabbrev_np(sig);
    return fmt::format("was killed by signal SIG{} ({})", name ? name : "?", strsignal(sig));
  }
  if (WIFEXITED(status)) return fmt::format("exited with status {} without an answer", WEXITSTATUS(status));
  return "stopped without an answer";
}

int wait_for(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

}  // namespace

std::vector<std::uint8_t> run_in_child(const std::function<std::vector<std::uint8_t>()>& work, const std::string& what,
                                       const ChildLimits& limits) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    detail::fail(ErrorCode::kIoError, "{}: cannot create a pipe: {}", what, std::strerror(errno));
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]), ::close(fds[1]);
    detail::fail(ErrorCode::kIoError, "{}: cannot start a child process: {}", what, std::strerror(errno));
  }
  if (pid == 0) {
    ::close(fds[0]);
    child_main(fds[1], work);
  }
  ::close(fds[1]);
  const int fd = fds[0];
  std::vector<std::uint8_t> answer;
  const auto deadline = std::chrono::steady_clock::now() + limits.timeout;
  std::string failure;
  std::uint8_t chunk[1 << 16];
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      failure = fmt::format("did not finish within {} s", limits.timeout.count() / 1000.0);
      break;
    }
    pollfd p{fd, POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(std::min<std::int64_t>(left.count(), 1 << 30)));
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) {
      failure = fmt::format("could not be waited for: {}", std::strerror(errno));
      break;
    }
    if (ready == 0) continue;  // the deadline check above ends the loop
    const ssize_t got = ::read(fd, chunk, sizeof chunk);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;  // end of the answer (or of the child)
    if (answer.size() + static_cast<std::size_t>(got) > limits.max_result_bytes + kHeaderBytes) {
      failure = fmt::format("sent more than the {} bytes expected", limits.max_result_bytes);
      break;
    }
    answer.insert(answer.end(), chunk, chunk + got);
  }
  ::close(fd);
  if (!failure.empty()) {
    ::kill(pid, SIGKILL);
    wait_for(pid);
    detail::fail(ErrorCode::kIoError, "{} {}", what, failure);
  }
  const int status = wait_for(pid);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || answer.size() < kHeaderBytes)
    detail::fail(ErrorCode::kIoError, "{} {}", what, exit_description(status));
  std::uint64_t length = 0;
  for (int i = 7; i >= 0; --i) length = length << 8 | answer[1 + i];
  if (length != answer.size() - kHeaderBytes || answer[0] > 1 || (answer[0] == 1 && length < 1))
    detail::fail(ErrorCode::kIoError, "{} sent a malformed answer", what);
  if (answer[0] == 1) {
    const auto code =
        static_cast<ErrorCode>(std::min<int>(answer[kHeaderBytes], static_cast<int>(ErrorCode::kInternal)));
    throw Error(code, std::string(answer.begin() + kHeaderBytes + 1, answer.end()));
  }
  answer.erase(answer.begin(), answer.begin() + kHeaderBytes);
  return answer;
}

}  // namespace lstmrt::formats_detail
