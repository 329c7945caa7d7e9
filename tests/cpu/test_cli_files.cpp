// `lstmrt run`'s output file and memory safety: --output through a symbolic link, to a FIFO or a
// character device (written directly, never replaced), equal to an input (refused, whatever the
// spelling or link), interrupted by SIGINT/SIGTERM (no temporary left), outputs that do not fit
// (refused before allocating, naming the sizes; an allocation failure is "out of memory", never an
// internal error) and the outputs held once while written.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <poll.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <random>
#include <thread>

#include "common/cli_process.hpp"
#include "common/compare.hpp"
#include "lstmrt/io.hpp"
#include "lstmrt/lstmrt.hpp"

namespace lstmrt {
namespace {

namespace fs = std::filesystem;
using test::ProcessResult;
using test::run_cli_process;

void save_pytorch_weights(const std::string& path, const ModelDesc& desc, const Weights& weights) {
  ArrayMap arrays;
  for (const auto& [name, t] : to_pytorch(desc, weights)) arrays[name] = Array::from_float32(t.shape, t.data);
  save_npz(path, arrays);
}

std::vector<float> reference_y(const ModelDesc& desc, const Weights& w, int T, int B, const std::vector<float>& x) {
  Lstm lstm = Lstm::create(desc, w, BackendOptions{BackendKind::kReference});
  std::vector<float> y = test::poisoned(std::size_t(T) * B * desc.num_directions() * desc.output_size());
  ForwardRequest req;
  req.seq_len = T, req.batch = B, req.x = x.data(), req.y = y.data();
  lstm.forward_host(req);
  return y;
}

std::vector<std::string> names_in(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

bool is_kind(const std::string& path, mode_t kind) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0 && (st.st_mode & S_IFMT) == kind;
}

// A one-layer bidirectional model (I=3, H=5) and x (T=4, B=2) in a scratch directory.
class CliOutput : public ::testing::Test {
 protected:
  static constexpr int kT = 4, kB = 2, kI = 3, kH = 5;
  void SetUp() override {
    rng_.seed(test::test_seed());
    desc_.input_size = kI, desc_.hidden_size = kH, desc_.direction = Direction::kBidirectional;
    weights_ = random_weights(desc_, rng_(), 0.5f);
    save_pytorch_weights(file("w.npz"), desc_, weights_);
    x_ = test::random_vector(kT * kB * kI, rng_);
    save_npy(file("x.npy"), Array::from_float32({kT, kB, kI}, x_));
    save_npy(file("l.npy"), Array::from_int32({kB}, {4, 2}));
  }
  std::string file(const std::string& name) const { return dir_.file(name); }
  std::vector<std::string> args(const std::string& output) const {
    return {"run", "--weights", file("w.npz"), "--input", file("x.npy"), "--output", output, "--backend", "reference"};
  }
  void expect_y_in(const std::string& npz_path) {
    const ArrayMap got = load_npz(npz_path);
    ASSERT_TRUE(got.count("y")) << npz_path;
    EXPECT_TRUE(test::all_close(reference_y(desc_, weights_, kT, kB, x_), got.at("y").to_float32("y"), 0, 0, "y"));
  }
  // The run must fail with one "lstmrt: error:" line holding every fragment and write nothing.
  void expect_refused(const std::vector<std::string>& a, const std::vector<std::string>& fragments) {
    test::expect_one_error_line(run_cli_process(a, dir_), 1, fragments);
  }

  test::ScratchDir dir_;
  std::mt19937_64 rng_;
  ModelDesc desc_;
  Weights weights_;
  std::vector<float> x_;
};

TEST_F(CliOutput, SymbolicLinkIsFollowedAndKept) {
  fs::create_directories(file("real"));
  save_npz(file("real/old.npz"), {{"previous", Array::from_int32({1}, {7})}});
  fs::create_symlink(file("real/old.npz"), file("link.npz"));
  ProcessResult r = run_cli_process(args(file("link.npz")), dir_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(is_kind(file("link.npz"), S_IFLNK)) << "the symbolic link was replaced by a file";
  expect_y_in(file("real/old.npz"));
  // A relative link, and a dangling one: its target is created.
  fs::create_symlink("real/new.npz", file("dangling.npz"));
  r = run_cli_process(args(file("dangling.npz")), dir_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(is_kind(file("dangling.npz"), S_IFLNK));
  expect_y_in(file("real/new.npz"));
  EXPECT_EQ(names_in(file("real")), (std::vector<std::string>{"new.npz", "old.npz"}));
}

// Everything written to the FIFO at `path` while `run` runs. The read end is opened first
// (non-blocking), so the writer never waits for a reader and the test never waits for a writer.
std::string read_fifo_while(const std::string& path, const std::function<void()>& run) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK);
  if (fd < 0) return "open failed";
  std::string received;
  std::atomic<bool> done{false};
  std::thread reader([&] {
    char buffer[1 << 16];
    for (;;) {
      pollfd p{fd, POLLIN, 0};
      ::poll(&p, 1, 20);
      const ssize_t n = ::read(fd, buffer, sizeof buffer);
      if (n > 0) {
        received.append(buffer, static_cast<std::size_t>(n));
        continue;
      }
      if (done) break;  // the writer has exited and the pipe is drained
    }
  });
  run();
  done = true;
  reader.join();
  ::close(fd);
  return received;
}

TEST_F(CliOutput, FifoIsWrittenDirectlyNotReplaced) {
  ASSERT_EQ(::mkfifo(file("out.fifo").c_str(), 0600), 0);
  ProcessResult r;
  const std::string received = read_fifo_while(file("out.fifo"), [&] {
    r = run_cli_process(args(file("out.fifo")), dir_, {0, {{"TMPDIR", file("")}}});
  });
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(is_kind(file("out.fifo"), S_IFIFO)) << "the FIFO was replaced";
  std::ofstream(file("received.npz"), std::ios::binary) << received;
  expect_y_in(file("received.npz"));
  for (const std::string& name : names_in(file(""))) EXPECT_EQ(name.find(".tmp"), std::string::npos) << name;
}

// As root, a device node given as --output was replaced by a regular file. A private copy of
// /dev/null (same major/minor) shows it without touching the real one: a CLI that regresses must
// not break the machine's /dev/null for everything else running on it.
TEST_F(CliOutput, CharacterDeviceIsWrittenDirectlyNotReplaced) {
  if (::geteuid() != 0) GTEST_SKIP() << "creating a device node needs root";
  ASSERT_EQ(::mknod(file("null").c_str(), S_IFCHR | 0666, makedev(1, 3)), 0);
  ProcessResult r = run_cli_process(args(file("null")), dir_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(is_kind(file("null"), S_IFCHR)) << "the device node was replaced by a regular file";
  for (const std::string& name : names_in(file(""))) EXPECT_EQ(name.find(".tmp"), std::string::npos) << name;
}

TEST_F(CliOutput, BlockDevicesDirectoriesAndSocketsAreRefusedBeforeTheRun) {
  fs::create_directories(file("sub"));
  expect_refused(args(file("sub")), {"--output", "directory"});
  if (::geteuid() == 0) {
    ASSERT_EQ(::mknod(file("blk").c_str(), S_IFBLK | 0600, makedev(7, 200)), 0);
    expect_refused(args(file("blk")), {"--output", "block device"});
    EXPECT_TRUE(is_kind(file("blk"), S_IFBLK));
  }
}

TEST_F(CliOutput, OutputThatIsAnInputIsRefused) {
  const std::string x_bytes = test::slurp_file(file("x.npy")), w_bytes = test::slurp_file(file("w.npz"));
  auto with = [&](const std::string& output, std::vector<std::string> extra = {}) {
    auto a = args(output);
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  expect_refused(with(file("x.npy")), {"--output", "same file as --input"});
  fs::create_directories(file("sub"));
  expect_refused(with(file("sub/../x.npy")), {"same file as --input"});  // another spelling
  fs::create_hard_link(file("w.npz"), file("hard.npz"));
  expect_refused(with(file("hard.npz")), {"same file as --weights"});  // a hard link
  fs::create_symlink(file("l.npy"), file("soft.npz"));
  expect_refused(with(file("soft.npz"), {"--lengths", file("l.npy")}), {"same file as --lengths"});  // a link
  save_npy(file("h0.npy"), Array::from_float32({2, kB, kH}, std::vector<float>(2 * kB * kH, 0.1f)));
  save_npy(file("c0.npy"), Array::from_float32({2, kB, kH}, std::vector<float>(2 * kB * kH, 0.2f)));
  const std::string h0_bytes = test::slurp_file(file("h0.npy")), c0_bytes = test::slurp_file(file("c0.npy"));
  expect_refused(with(file("h0.npy"), {"--h0", file("h0.npy"), "--c0", file("c0.npy")}), {"same file as --h0"});
  expect_refused(with(file("c0.npy"), {"--h0", file("h0.npy"), "--c0", file("c0.npy")}), {"same file as --c0"});
  EXPECT_EQ(test::slurp_file(file("x.npy")), x_bytes);
  EXPECT_EQ(test::slurp_file(file("w.npz")), w_bytes);
  EXPECT_EQ(test::slurp_file(file("h0.npy")), h0_bytes);
  EXPECT_EQ(test::slurp_file(file("c0.npy")), c0_bytes);
}

TEST_F(CliOutput, OutputThatIsTheKerasConfigIsRefused) {
  const std::string data = std::string(LSTMRT_TEST_DATA_DIR) + "/keras_import/";
  fs::copy_file(data + "sequential_stack.weights.h5", file("m.weights.h5"));
  fs::copy_file(data + "sequential_stack.config.json", file("m.config.json"));
  const std::string config = test::slurp_file(file("m.config.json"));
  expect_refused({"run", "--weights", file("m.weights.h5"), "--input", data + "sequential_stack.x.npy", "--output",
                  file("m.config.json")},
                 {"--output", "same file as the Keras config of --weights"});
  EXPECT_EQ(test::slurp_file(file("m.config.json")), config);
}

// The temporary output file while the archive is written: ".out.npz.tmp-PID-N" beside it.
bool has_temporary(const std::string& dir) {
  for (const std::string& name : names_in(dir))
    if (name.find(".tmp-") != std::string::npos) return true;
  return false;
}

// Big enough that writing y takes a while: y is (T, B, 2·16) float32, about 60 MiB.
void save_big_run(const std::string& dir, const test::ScratchDir& scratch, int T) {
  ModelDesc d;
  d.input_size = 1, d.hidden_size = 16, d.direction = Direction::kBidirectional;
  save_pytorch_weights(scratch.file("big_w.npz"), d, random_weights(d, 3, 0.3f));
  save_npy(scratch.file("big_x.npy"),
           Array::from_float32({T, 500, 1}, std::vector<float>(std::size_t(T) * 500, 0.25f)));
  (void)dir;
}

// Ctrl-C or SIGTERM while the output is being written: the process dies of the signal and no
// temporary file is left (nor the output).
TEST_F(CliOutput, SignalDuringTheWriteLeavesNoTemporary) {
  for (int sig : {SIGINT, SIGTERM}) {
    SCOPED_TRACE(strsignal(sig));
    bool hit = false;
    for (int T = 1000; T <= 8000 && !hit; T *= 2) {
      fs::create_directories(file("out"));
      save_big_run(file("out"), dir_, T);
      test::CliProcess cli({"run", "--weights", file("big_w.npz"), "--input", file("big_x.npy"), "--output",
                            file("out/y.npz"), "--backend", "reference"},
                           dir_);
      while (!cli.finished() && !has_temporary(file("out")))
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      if (cli.finished()) {  // done before we saw it writing: a bigger run
        fs::remove_all(file("out"));
        continue;
      }
      hit = true;
      ::kill(cli.pid(), sig);
      const ProcessResult r = cli.wait();
      EXPECT_EQ(r.signal, sig) << "exit " << r.exit_code << ": " << r.err;
      EXPECT_FALSE(has_temporary(file("out"))) << "a temporary file was left behind";
      EXPECT_FALSE(fs::exists(file("out/y.npz")));
      fs::remove_all(file("out"));
    }
    EXPECT_TRUE(hit) << "never caught the CLI while it wrote its output";
  }
}

// A FIFO nobody reads: the archive is complete in $TMPDIR and the CLI waits to open the FIFO;
// SIGTERM then must remove it.
TEST_F(CliOutput, SignalWhileWaitingForAPipeLeavesNoTemporary) {
  fs::create_directories(file("tmp"));
  ASSERT_EQ(::mkfifo(file("out.fifo").c_str(), 0600), 0);
  test::CliProcess cli(args(file("out.fifo")), dir_, {0, {{"TMPDIR", file("tmp")}}});
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!cli.finished() && !has_temporary(file("tmp")) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ASSERT_FALSE(cli.finished()) << "the CLI ended without waiting for a reader: " << cli.wait().err;
  ASSERT_TRUE(has_temporary(file("tmp")));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // into the blocking open()
  ::kill(cli.pid(), SIGTERM);
  const ProcessResult r = cli.wait();
  EXPECT_EQ(r.signal, SIGTERM) << r.err;
  EXPECT_TRUE(names_in(file("tmp")).empty()) << "a temporary file was left in $TMPDIR";
  EXPECT_TRUE(is_kind(file("out.fifo"), S_IFIFO));
}

// H=2048-like weights on a small x: y and the reference's working memory are checked before
// anything is allocated, the message names the input, the sizes and the limit.
TEST_F(CliOutput, OutputsThatDoNotFitAreRefusedNamingTheSizes) {
  ModelDesc d;
  d.input_size = 1, d.hidden_size = 64, d.direction = Direction::kBidirectional;
  save_pytorch_weights(file("wide.npz"), d, random_weights(d, 5, 0.2f));
  save_npy(file("long.npy"), Array::from_float32({4096, 16, 1}, std::vector<float>(4096 * 16, 0.5f)));
  const std::vector<std::string> a = {"run",      "--weights",   file("wide.npz"), "--input",   file("long.npy"),
                                      "--output", file("o.npz"), "--backend",      "reference", "--memory-limit",
                                      "8M"};
  const ProcessResult r = run_cli_process(a, dir_);
  EXPECT_EQ(r.exit_code, 3) << r.err;
  for (const char* f : {"--input", "long.npy", "T=4096, B=16", "y (4096, 16, 128) 32.0 MiB", "h_n and c_n",
                        "reference backend working memory 512.", "8.0 MiB is available (--memory-limit)"})
    EXPECT_NE(r.err.find(f), std::string::npos) << "'" << f << "' not in " << r.err;
  EXPECT_FALSE(fs::exists(file("o.npz")));
  // --state needs no y, but the reference's working memory (the input in double: 8·T·B·I = 512 KiB)
  // still counts; a small run within a tight limit runs.
  std::vector<std::string> state = a;
  state.back() = "400K";
  state.push_back("--state");
  const ProcessResult s = run_cli_process(state, dir_);
  EXPECT_EQ(s.exit_code, 3) << s.err;
  EXPECT_EQ(s.err.find("y (4096"), std::string::npos) << s.err;
  std::vector<std::string> small = args(file("o.npz"));
  small.insert(small.end(), {"--memory-limit", "1M"});
  EXPECT_EQ(run_cli_process(small, dir_).exit_code, 0);
  EXPECT_EQ(run_cli_process({"run", "--weights", file("wide.npz"), "--input", file("long.npy"), "--output",
                             file("o.npz"), "--memory-limit", "lots"},
                            dir_)
                .exit_code,
            1);
}

// H=1024 bidirectional weights and a 16 MiB input: y alone is 32 GiB; the machine's available
// memory is the default limit.
TEST_F(CliOutput, DefaultLimitIsTheAvailableMemory) {
  ModelDesc d;
  d.input_size = 1, d.hidden_size = 1024, d.direction = Direction::kBidirectional;
  save_pytorch_weights(file("h1024.npz"), d, random_weights(d, 9, 0.05f));
  save_npy(file("x16m.npy"), Array::from_float32({65536, 64, 1}, std::vector<float>(65536 * 64, 0.5f)));
  const ProcessResult r = run_cli_process({"run", "--weights", file("h1024.npz"), "--input", file("x16m.npy"),
                                           "--output", file("o.npz"), "--backend", "reference"},
                                          dir_);
  if (r.exit_code == 0) GTEST_SKIP() << "this machine has more than 32 GiB available: " << r.err;
  EXPECT_EQ(r.exit_code, 3) << r.err;
  for (const char* f : {"needs 32.", "y (65536, 64, 2048) 32.0 GiB", "is available (", "x16m.npy"})
    EXPECT_NE(r.err.find(f), std::string::npos) << "'" << f << "' not in " << r.err;
  EXPECT_EQ(r.err.find("internal error"), std::string::npos) << r.err;
}

// A limit the check accepts but the system cannot meet (y is 4 GiB, the address space 3 GiB): the
// allocation fails, and that is an "out of memory" error with exit status 3, not an internal error.
TEST_F(CliOutput, AllocationFailureIsOutOfMemory) {
  if (test::kSanitizedBuild) GTEST_SKIP() << "ASan reserves far more address space than any limit set here";
  ModelDesc d;
  d.input_size = 1, d.hidden_size = 64, d.direction = Direction::kBidirectional;
  save_pytorch_weights(file("wide.npz"), d, random_weights(d, 5, 0.2f));
  save_npy(file("long.npy"), Array::from_float32({131072, 64, 1}, std::vector<float>(131072 * 64, 0.5f)));
  const ProcessResult r = run_cli_process({"run", "--weights", file("wide.npz"), "--input", file("long.npy"),
                                           "--output", file("o.npz"), "--backend", "reference", "--memory-limit", "1T"},
                                          dir_, {std::uint64_t{3} << 30, {}});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("out of memory"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("internal error"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(file("o.npz")));
}

// y is held once while it is written: the run's peak resident memory grows by about y (plus the
// x it read), not by three copies of it.
TEST_F(CliOutput, OutputsAreHeldOnceWhileWritten) {
  if (test::kSanitizedBuild) GTEST_SKIP() << "ASan's quarantine and shadow memory distort resident sizes";
  ModelDesc d;
  d.input_size = 1, d.hidden_size = 8;
  save_pytorch_weights(file("w8.npz"), d, random_weights(d, 11, 0.3f));
  auto peak_kib = [&](int T) {
    save_npy(file("xt.npy"), Array::from_float32({T, 64, 1}, std::vector<float>(std::size_t(T) * 64, 0.5f)));
    const ProcessResult r = run_cli_process({"run", "--weights", file("w8.npz"), "--input", file("xt.npy"), "--output",
                                             file("o.npz"), "--backend", "reference", "--sequences"},
                                            dir_);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.max_rss_kib;
  };
  const long small = peak_kib(16);
  const int T = 1 << 17;  // y = T·64·8 floats = 256 MiB
  const long big = peak_kib(T);
  const double y_kib = double(T) * 64 * 8 * 4 / 1024;
  // y once, the reference backend's working memory (the input in double, 8·T·B·I bytes = y/4) and
  // x's float32 values (y/8). Holding y three times, or the top layer's output in double as well
  // (2·y), ends above the bound.
  const double expected = y_kib * (1.0 + 0.25 + 0.125);
  EXPECT_LT(big - small, expected + 0.5 * y_kib)
      << "peak grew by " << (big - small) / 1024 << " MiB for y of " << y_kib / 1024 << " MiB";
}

}  // namespace
}  // namespace lstmrt
