// Hostile Keras HDF5 files: the structural check (import/hdf5_check.hpp) refuses each planted
// corruption by name; single-byte corruptions of the group, heap, B-tree and object-header area of
// a real .weights.h5 (some of which crash or hang libhdf5 1.10 when it opens them unchecked) and of
// the same file zipped into a .keras load or fail with one Error, in process and through the CLI;
// and run_in_child turns a crash, a hang or an oversized answer of the child into an Error.
#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>
#include <zip.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "common/cli_process.hpp"
#include "common/expect_error.hpp"
#include "common/golden_files.hpp"
#include "formats/child_process.hpp"
#include "formats/hdf5_check.hpp"
#include "lstmrt/import.hpp"

namespace lstmrt {
namespace {

using test::golden_path;

std::string read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// tests/data/keras_import/sequential_stack.weights.h5 (h5py, superblock 0): the superblock, the
// root object header at 96, the root group's B-tree at 136 and local heap at 680 (data at 712),
// a symbol table node at 1504, the global heap collection of the "name" attributes at 2048.
const std::string& stack_h5() {
  static const std::string bytes = read_bytes(golden_path("keras_import", "sequential_stack.weights.h5"));
  return bytes;
}

void check(const std::string& bytes) {
  formats_detail::check_hdf5_structure(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size(), "m.h5");
}

std::string with(std::string bytes, std::size_t at, const std::string& replacement) {
  bytes.replace(at, replacement.size(), replacement);
  return bytes;
}

std::string le64(std::uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>(v >> (8 * i));
  return s;
}

TEST(Hdf5Check, AcceptsEveryKerasFileOfTheTestData) {
  EXPECT_NO_THROW(check(stack_h5()));
  for (const char* name : {"bidir_concat_state", "bidir_mul_go_backwards_last", "bidir_sum_ave_masked_nobias",
                           "go_backwards_stack_masked"})
    EXPECT_NO_THROW(load_keras_model(golden_path("keras_import", std::string(name) + ".keras"))) << name;
}

// A server loads models from several threads: each in-process load sees its own file (libhdf5 is
// serial, and HDF5 shares an open file by name, so unguarded loads read each other's groups).
TEST(Hdf5Reader, ConcurrentInProcessLoadsEachReadTheirOwnFile) {
  const std::vector<std::string> names = {"bidir_concat_state", "bidir_mul_go_backwards_last",
                                          "bidir_sum_ave_masked_nobias", "go_backwards_stack_masked"};
  std::vector<std::string> expected;
  for (const std::string& name : names) {
    const ImportedModel m = load_keras_model(golden_path("keras_import", name + ".keras"));
    expected.push_back(m.nodes.back().name + "/" + std::to_string(m.nodes.size()));
  }
  std::vector<std::string> failures(16);
  std::vector<std::thread> threads;
  for (std::size_t k = 0; k < failures.size(); ++k)
    threads.emplace_back([&, k] {
      for (int round = 0; round < 5; ++round) {
        const std::size_t which = (k + round) % names.size();
        try {
          const ImportedModel m = load_keras_model(golden_path("keras_import", names[which] + ".keras"));
          const std::string got = m.nodes.back().name + "/" + std::to_string(m.nodes.size());
          if (got != expected[which]) failures[k] = names[which] + " read as " + got;
        } catch (const Error& e) {
          failures[k] = names[which] + ": " + e.what();
        }
      }
    });
  for (std::thread& t : threads) t.join();
  for (const std::string& f : failures) EXPECT_EQ(f, "");
}

// Each planted corruption is refused, naming what is wrong.
TEST(Hdf5Check, RefusesEachPlantedCorruption) {
  const std::string& h5 = stack_h5();
  struct Case {
    std::size_t at;
    std::string bytes, expected;
  };
  const std::vector<Case> cases = {
      {8, "\x02", "superblock version 2"},
      {13, "\x04", "4-byte offsets and 8-byte lengths"},
      {40, le64(1u << 30), "truncated: the superblock says the file has"},
      {80, le64(0), "its entry caches B-tree 0"},  // root entry's cached B-tree
      {96, "\x02", "version 2: expected 1"},       // root object header version
      {98, "\x05", "messages but it declares 5"},  // its message count
      {136, "XREE", "no B-tree node signature"},
      {142, "\xff", "a B-tree node with 255 entries"},
      {680 + 16, le64(4000), "local heap free block at offset 4000"},  // free list head
      {712 + 24, le64(24), "local heap free block at offset 24"},      // a free list that loops
      {1504 + 6, "\xff", "a symbol table node with 255 entries"},
      {1504 + 8, le64(1u << 20), "a name at heap offset 1048576"},  // first entry's name
      {2056, "\xff", "global heap object"},                         // the collection's size
      {2048, "GCOX", "no global heap collection signature"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.expected);
    test::expect_error([&] { check(with(h5, c.at, c.bytes)); }, ErrorCode::kIoError,
                       {"m.h5: corrupt or unsupported HDF5 file: ", c.expected, " at byte "});
  }
  test::expect_error([&] { check(h5.substr(0, 1000)); }, ErrorCode::kIoError, {"truncated"});
  test::expect_error([&] { check("not hdf5 at all"); }, ErrorCode::kIoError, {"no HDF5 signature"});
}

// Single-byte changes over the metadata area (superblock, headers, B-trees, heaps, symbol nodes,
// the global heap): among them bytes that make an unchecked libhdf5 1.10 crash (SIGSEGV at 2105
// = 0xff, SIGABRT at 2105 = 0x10) or loop forever (2056 = 0xff, 2104 = 0x00). In process, each
// loads or throws one Error naming the file; nothing crashes or hangs.
std::vector<std::pair<std::size_t, char>> metadata_mutations() {
  std::vector<std::pair<std::size_t, char>> m = {{2105, '\xff'}, {2105, '\x10'}, {2056, '\xff'}, {2104, '\x00'}};
  for (std::size_t at = 0; at < 2200; at += 7)
    for (char v : {'\x00', '\xff', '\x01', '\x7f'}) m.emplace_back(at, v);
  return m;
}

TEST(Hdf5Hostile, SingleByteCorruptionsLoadOrFailInProcess) {
  test::ScratchDir dir;
  write_bytes(dir.file("m.config.json"), read_bytes(golden_path("keras_import", "sequential_stack.config.json")));
  int refused = 0;
  for (const auto& [at, v] : metadata_mutations()) {
    if (stack_h5()[at] == v) continue;
    std::string bytes = stack_h5();
    bytes[at] = v;
    write_bytes(dir.file("m.weights.h5"), bytes);
    try {
      (void)load_keras_model(dir.file("m.weights.h5"), Hdf5Reader::kInProcess);
    } catch (const Error& e) {
      ++refused;
      const std::string m = e.what();
      EXPECT_NE(m.find("m.weights.h5"), std::string::npos) << at << ": " << m;
      EXPECT_EQ(m.find('\n'), std::string::npos) << at << ": " << m;
    }
  }
  EXPECT_GT(refused, 250);  // most of the ~1250 corruptions are refused; the rest change values
}

// The same corruptions zipped into a .keras (with a correct CRC) and given to `lstmrt run`, which
// reads HDF5 in a child process: exit status 1 with one error line, or a successful run.
TEST(Hdf5Hostile, CorruptKerasArchivesGiveTheCliOneErrorLine) {
  test::ScratchDir dir;
  const std::string config = read_bytes(golden_path("keras_import", "sequential_stack.config.json"));
  const std::string x = golden_path("keras_import", "sequential_stack.x.npy");
  int runs = 0;
  for (const auto& [at, v] : metadata_mutations()) {
    if (runs++ % 17 != 0 && at != 2105 && at != 2056 && at != 2104) continue;  // a sample: each run starts a process
    std::string h5 = stack_h5();
    h5[at] = v;
    const std::string path = dir.file("m.keras");
    std::filesystem::remove(path);
    int code = 0;
    zip_t* z = zip_open(path.c_str(), ZIP_CREATE | ZIP_EXCL, &code);
    ASSERT_NE(z, nullptr);
    for (const auto& [member, data] :
         {std::pair<const char*, const std::string*>{"config.json", &config}, {"model.weights.h5", &h5}})
      ASSERT_GE(zip_file_add(z, member, zip_source_buffer(z, data->data(), data->size(), 0), 0), 0);
    ASSERT_EQ(zip_close(z), 0);
    const test::ProcessResult r =
        test::run_cli_process({"run", "--weights", path, "--input", x, "--output", dir.file("o.npz")}, dir);
    SCOPED_TRACE(fmt::format("byte {} = {:#04x}: {}", at, static_cast<unsigned char>(v), r.err));
    EXPECT_EQ(r.signal, 0);
    EXPECT_TRUE(r.exit_code == 0 || r.exit_code == 1);
    if (r.exit_code == 1) {
      EXPECT_EQ(r.err.rfind("lstmrt: error: --weights ", 0), 0u);
      EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1);
    }
  }
}

// ---- run_in_child ---------------------------------------------------------------------------------

using formats_detail::ChildLimits;
using formats_detail::run_in_child;

std::vector<std::uint8_t> bytes_of(const std::string& s) { return {s.begin(), s.end()}; }

TEST(ChildProcess, ReturnsTheAnswerAndRethrowsErrors) {
  EXPECT_EQ(run_in_child([] { return bytes_of("answer"); }, "work"), bytes_of("answer"));
  std::vector<std::uint8_t> big(3u << 20);
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<std::uint8_t>(i * 7);
  EXPECT_EQ(run_in_child([&] { return big; }, "work"), big);  // more than a pipe holds at once
  test::expect_error(
      [] { run_in_child([]() -> std::vector<std::uint8_t> { throw Error(ErrorCode::kUnsupported, "no"); }, "w"); },
      ErrorCode::kUnsupported, {"no"});
}

TEST(ChildProcess, CrashesHangsAndFloodsAreErrors) {
  // Under AddressSanitizer its SEGV handler reports the fault and aborts (abort_on_error=1).
  test::expect_error(
      [] {
        run_in_child(
            []() -> std::vector<std::uint8_t> {
              ::raise(SIGSEGV);
              return {};
            },
            "libfoo");
      },
      ErrorCode::kIoError,
      {test::kSanitizedBuild ? "libfoo was killed by signal SIG" : "libfoo was killed by signal SIGSEGV"});
  test::expect_error([] { run_in_child([]() -> std::vector<std::uint8_t> { std::abort(); }, "libfoo"); },
                     ErrorCode::kIoError, {"libfoo was killed by signal SIGABRT"});
  ChildLimits quick;
  quick.timeout = std::chrono::milliseconds(300);
  test::expect_error(
      [&] {
        run_in_child(
            []() -> std::vector<std::uint8_t> {
              for (;;) ::pause();
            },
            "libfoo", quick);
      },
      ErrorCode::kIoError, {"libfoo did not finish within 0.3 s"});
  ChildLimits small;
  small.max_result_bytes = 1000;
  test::expect_error([&] { run_in_child([] { return std::vector<std::uint8_t>(5000, 1); }, "libfoo", small); },
                     ErrorCode::kIoError, {"libfoo sent more than the 1000 bytes expected"});
  test::expect_error([] { run_in_child([]() -> std::vector<std::uint8_t> { ::_exit(5); }, "libfoo"); },
                     ErrorCode::kIoError, {"libfoo exited with status 5 without an answer"});
}

}  // namespace
}  // namespace lstmrt
