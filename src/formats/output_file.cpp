// Output files (io.hpp "output files"; OutputFile in npy_format.hpp) and input file checks.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "formats/npy_format.hpp"

namespace lstmrt {
namespace formats_detail {
namespace {

namespace fs = std::filesystem;

// Temporary files being written, for remove_unfinished_outputs() in a signal handler: a slot is
// free (0), being filled (1) or holds a path the handler may unlink (2). Plain char arrays and
// lock-free atomics only, so the handler touches nothing a signal could find half-changed.
struct TemporarySlot {
  std::atomic<int> state{0};
  char path[PATH_MAX];
};
constexpr int kSlots = 32;
TemporarySlot g_temporaries[kSlots];
static_assert(std::atomic<int>::is_always_lock_free);

int register_temporary(const std::string& path) {
  if (path.size() >= PATH_MAX) return -1;
  for (int i = 0; i < kSlots; ++i) {
    int expected = 0;
    if (!g_temporaries[i].state.compare_exchange_strong(expected, 1)) continue;
    std::memcpy(g_temporaries[i].path, path.c_str(), path.size() + 1);
    g_temporaries[i].state.store(2);
    return i;
  }
  return -1;  // more writes at once than slots: this one is not removed on a signal
}

void unregister_temporary(int slot) {
  if (slot < 0) return;
  g_temporaries[slot].state.store(1);
  g_temporaries[slot].state.store(0);
}

std::atomic<unsigned> g_counter{0};

std::string temporary_name(const std::string& name) {
  return fmt::format(".{}.tmp-{}-{}", name, static_cast<long>(::getpid()), g_counter++);
}

void write_all(int fd, const void* data, std::size_t n, const std::string& what) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) io_error("{}: writing failed: {}", what, std::strerror(w < 0 ? errno : EIO));
    p += w, n -= static_cast<std::size_t>(w);
  }
}

}  // namespace

OutputTarget resolve_output(const std::string& path) {
  if (path.empty() || fs::path(path).filename().empty()) io_error("{}: not a file name", path);
  std::string current = path;
  for (int links = 0;; ++links) {
    struct stat st;
    if (::lstat(current.c_str(), &st) != 0) {
      if (errno != ENOENT) io_error("{}: cannot write: {}", path, std::strerror(errno));
      const fs::path dir = fs::path(current).parent_path();
      std::error_code ec;
      if (!dir.empty() && !fs::is_directory(dir, ec))
        io_error("{}: cannot write: directory {} does not exist", path, dir.string());
      return OutputTarget{current, OutputTarget::Kind::kNew, std::nullopt};
    }
    if (S_ISLNK(st.st_mode)) {
      if (links == 40) io_error("{}: cannot write: more than 40 symbolic links (a loop?)", path);
      char target[PATH_MAX];
      const ssize_t n = ::readlink(current.c_str(), target, sizeof target - 1);
      if (n < 0) io_error("{}: cannot read the symbolic link {}: {}", path, current, std::strerror(errno));
      target[n] = '\0';
      const fs::path next(target);
      current = next.is_absolute() ? next.string() : (fs::path(current).parent_path() / next).string();
      continue;
    }
    const FileIdentity id{static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino)};
    if (S_ISREG(st.st_mode)) return OutputTarget{current, OutputTarget::Kind::kRegular, id, st.st_mode & 07777};
    if (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode)) return OutputTarget{current, OutputTarget::Kind::kStream, id};
    const char* what = S_ISDIR(st.st_mode)   ? "it is a directory"
                       : S_ISBLK(st.st_mode) ? "it is a block device"
                                             : "it is a socket";
    io_error("{}: cannot write: {}{} (lstmrt writes regular files, character devices and pipes)", path, what,
             current == path ? "" : fmt::format(" ({} is where the link leads)", current));
  }
}

OutputFile::OutputFile(const std::string& path, bool seekable) : path_(path), target_(resolve_output(path)) {
  if (target_.kind == OutputTarget::Kind::kStream && !seekable) {
    fd_ = ::open(target_.path.c_str(), O_WRONLY | O_NOCTTY | O_CLOEXEC);
    if (fd_ < 0) io_error("{}: cannot open for writing: {}", path_, std::strerror(errno));
    return;
  }
  // A temporary beside a (new or regular) file, in $TMPDIR for a stream that needs seeking.
  const fs::path final_path(target_.path);
  const fs::path dir =
      target_.kind == OutputTarget::Kind::kStream ? fs::temp_directory_path() : final_path.parent_path();
  temp_path_ = (dir / temporary_name(final_path.filename().string())).string();
  slot_ = register_temporary(temp_path_);  // before the file exists: a signal now unlinks nothing
  fd_ = ::open(temp_path_.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd_ < 0) {
    const int err = errno;
    unregister_temporary(slot_);
    io_error("{}: cannot create {}: {}", path_, temp_path_, std::strerror(err));
  }
  if (target_.kind == OutputTarget::Kind::kRegular) (void)::fchmod(fd_, target_.mode);
}

OutputFile::~OutputFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_ && !temp_path_.empty()) ::unlink(temp_path_.c_str());
  unregister_temporary(slot_);
}

void OutputFile::write(const void* data, std::size_t n) { write_all(fd_, data, n, path_); }

void OutputFile::commit() {
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) io_error("{}: writing failed: {}", path_, std::strerror(errno));
  if (temp_path_.empty()) {  // written directly
    committed_ = true;
    return;
  }
  if (target_.kind == OutputTarget::Kind::kStream) {  // copy the finished archive to the stream
    const int in = ::open(temp_path_.c_str(), O_RDONLY | O_CLOEXEC);
    const int out = in < 0 ? -1 : ::open(target_.path.c_str(), O_WRONLY | O_NOCTTY | O_CLOEXEC);
    if (out < 0) {
      const int err = errno;
      if (in >= 0) ::close(in);
      io_error("{}: cannot open for writing: {}", path_, std::strerror(err));
    }
    std::vector<char> buffer(std::size_t{1} << 20);
    for (;;) {
      const ssize_t got = ::read(in, buffer.data(), buffer.size());
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) break;
      try {
        write_all(out, buffer.data(), static_cast<std::size_t>(got), path_);
      } catch (...) {
        ::close(in), ::close(out);
        throw;
      }
    }
    ::close(in);
    if (::close(out) != 0) io_error("{}: writing failed: {}", path_, std::strerror(errno));
    return;  // the destructor removes the temporary
  }
  if (std::rename(temp_path_.c_str(), target_.path.c_str()) != 0)
    io_error("{}: cannot move the finished file into place: {}", path_, std::strerror(errno));
  committed_ = true;
}

}  // namespace formats_detail

std::optional<FileIdentity> check_output_path(const std::string& path) {
  return formats_detail::resolve_output(path).identity;
}

std::optional<FileIdentity> file_identity(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return FileIdentity{static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino)};
}

void remove_unfinished_outputs() noexcept {
  for (formats_detail::TemporarySlot& slot : formats_detail::g_temporaries)
    if (slot.state.load() == 2) ::unlink(slot.path);
}

}  // namespace lstmrt
