// The lstmrt CLI binary (LSTMRT_CLI_PATH): `run` compared element-wise with the library's
// reference run on the same files; --sequences / --state choose what is written; every bad file,
// shape, dtype, length or option gives a one-line error naming it, a non-zero exit and no output
// file; `info` prints versions.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "common/compare.hpp"
#include "common/golden_files.hpp"
#include "lstmrt/io.hpp"
#include "lstmrt/lstmrt.hpp"

namespace lstmrt {
namespace {

struct CliResult {
  int exit_code = -1;
  std::string out, err, command;
};

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

// Runs the CLI with stdout and stderr captured apart (paths here never contain a quote).
CliResult run_lstmrt(const std::vector<std::string>& args, const test::ScratchDir& dir) {
  CliResult r;
  r.command = fmt::format("'{}'", LSTMRT_CLI_PATH);
  for (const std::string& a : args) r.command += fmt::format(" '{}'", a);
  const int status =
      std::system(fmt::format("{} > '{}' 2> '{}'", r.command, dir.file("stdout.txt"), dir.file("stderr.txt")).c_str());
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = slurp(dir.file("stdout.txt"));
  r.err = slurp(dir.file("stderr.txt"));
  return r;
}

ModelDesc make_desc(int input, int hidden, int layers, Direction dir, int proj = 0) {
  ModelDesc d;
  d.input_size = input, d.hidden_size = hidden, d.num_layers = layers, d.direction = dir, d.proj_size = proj;
  return d;
}

void save_pytorch_weights(const std::string& path, const ModelDesc& desc, const Weights& weights) {
  ArrayMap arrays;
  for (const auto& [name, t] : to_pytorch(desc, weights)) arrays["lstm." + name] = Array::from_float32(t.shape, t.data);
  save_npz(path, arrays);
}

struct Outputs {
  std::vector<float> y, h_n, c_n;
};

// The library's reference run on the same request.
Outputs reference_run(const ModelDesc& desc, const Weights& weights, ForwardRequest req) {
  Lstm lstm = Lstm::create(desc, weights, BackendOptions{BackendKind::kReference});
  const int L = desc.num_layers, D = desc.num_directions();
  Outputs out{test::poisoned(std::size_t(req.seq_len) * req.batch * D * desc.output_size()),
              test::poisoned(std::size_t(L) * D * req.batch * desc.output_size()),
              test::poisoned(std::size_t(L) * D * req.batch * desc.hidden_size)};
  req.y = out.y.data(), req.h_n = out.h_n.data(), req.c_n = out.c_n.data();
  lstm.forward_host(req);
  return out;
}

std::vector<std::string> keys_of(const ArrayMap& m) {
  std::vector<std::string> keys;
  for (const auto& entry : m) keys.push_back(entry.first);
  return keys;
}

// A model and input files on disk, shared by the error tests: 2-layer bidirectional with
// projection, I=4, H=5, P=3, T=6, B=3.
class CliFiles : public ::testing::Test {
 protected:
  static constexpr int kT = 6, kB = 3, kI = 4, kH = 5, kP = 3;
  void SetUp() override {
    rng_.seed(test::test_seed());
    desc_ = make_desc(kI, kH, 2, Direction::kBidirectional, kP);
    weights_ = random_weights(desc_, rng_(), 0.4f);
    save_pytorch_weights(file("w.npz"), desc_, weights_);
    x_ = test::random_vector(kT * kB * kI, rng_);
    save_npy(file("x.npy"), Array::from_float32({kT, kB, kI}, x_));
    h0_ = test::random_vector(4 * kB * kP, rng_);
    c0_ = test::random_vector(4 * kB * kH, rng_);
    save_npy(file("h0.npy"), Array::from_float32({4, kB, kP}, h0_));
    save_npy(file("c0.npy"), Array::from_float32({4, kB, kH}, c0_));
    lengths_ = {6, 0, 3};
    save_npy(file("l.npy"), Array::from_int64({kB}, {6, 0, 3}));
  }
  std::string file(const std::string& name) const { return dir_.file(name); }
  std::vector<std::string> base_args() const {
    return {"run",      "--weights",     file("w.npz"), "--input",  file("x.npy"),
            "--output", file("out.npz"), "--backend",   "reference"};
  }
  // The command must fail: exit code, exactly one stderr line "lstmrt: error: ..." holding every
  // fragment, nothing on stdout, no output file.
  void expect_failure(std::vector<std::string> extra, const std::vector<std::string>& fragments,
                      std::vector<std::string> args = {}) {
    if (args.empty()) args = base_args();
    args.insert(args.end(), extra.begin(), extra.end());
    const CliResult r = run_lstmrt(args, dir_);
    SCOPED_TRACE(r.command);
    EXPECT_NE(r.exit_code, 0);
    EXPECT_EQ(r.err.rfind("lstmrt: error: ", 0), 0u) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "not one line: " << r.err;
    for (const std::string& f : fragments)
      EXPECT_NE(r.err.find(f), std::string::npos) << "'" << f << "' not in: " << r.err;
    EXPECT_EQ(r.out, "");
    EXPECT_FALSE(std::filesystem::exists(file("out.npz"))) << "a failed run left an output file";
    for (const auto& entry : std::filesystem::directory_iterator(file("")))
      EXPECT_EQ(entry.path().filename().string().find(".tmp"), std::string::npos) << "temporary file left behind";
  }

  test::ScratchDir dir_;
  std::mt19937_64 rng_;
  ModelDesc desc_;
  Weights weights_;
  std::vector<float> x_, h0_, c0_;
  std::vector<std::int32_t> lengths_;
};

TEST_F(CliFiles, RunMatchesTheLibraryWithLengthsAndInitialState) {
  const CliResult r = run_lstmrt(
      [&] {
        auto a = base_args();
        a.insert(a.end(), {"--lengths", file("l.npy"), "--h0", file("h0.npy"), "--c0", file("c0.npy")});
        return a;
      }(),
      dir_);
  ASSERT_EQ(r.exit_code, 0) << r.command << "\n" << r.err;
  // One summary line on stderr, nothing on stdout.
  EXPECT_EQ(r.err, fmt::format("lstmrt: wrote {}: c_n (4, 3, 5), h_n (4, 3, 3), y (6, 3, 6)\n", file("out.npz")));
  EXPECT_EQ(r.out, "");
  ForwardRequest req;
  req.seq_len = kT, req.batch = kB, req.x = x_.data(), req.lengths = lengths_.data();
  req.h0 = h0_.data(), req.c0 = c0_.data();
  const Outputs expected = reference_run(desc_, weights_, req);
  const ArrayMap got = load_npz(file("out.npz"));
  EXPECT_EQ(keys_of(got), (std::vector<std::string>{"c_n", "h_n", "y"}));
  EXPECT_EQ(got.at("y").shape, (std::vector<std::int64_t>{kT, kB, 2 * kP}));
  EXPECT_EQ(got.at("h_n").shape, (std::vector<std::int64_t>{4, kB, kP}));
  EXPECT_EQ(got.at("c_n").shape, (std::vector<std::int64_t>{4, kB, kH}));
  EXPECT_TRUE(test::all_close(expected.y, got.at("y").to_float32("y"), 0, 0, "y"));
  EXPECT_TRUE(test::all_close(expected.h_n, got.at("h_n").to_float32("h_n"), 0, 0, "h_n"));
  EXPECT_TRUE(test::all_close(expected.c_n, got.at("c_n").to_float32("c_n"), 0, 0, "c_n"));
}

TEST_F(CliFiles, BatchFirstSequencesOnlyWritesOnlyY) {
  // The same data laid out (B, T, I).
  std::vector<float> xb(x_.size());
  for (int t = 0; t < kT; ++t)
    for (int b = 0; b < kB; ++b)
      for (int i = 0; i < kI; ++i) xb[(b * kT + t) * kI + i] = x_[(t * kB + b) * kI + i];
  save_npy(file("xb.npy"), Array::from_float32({kB, kT, kI}, xb));
  auto args = base_args();
  args[4] = file("xb.npy");
  args.insert(args.end(), {"--batch-first", "--sequences"});
  const CliResult r = run_lstmrt(args, dir_);
  ASSERT_EQ(r.exit_code, 0) << r.command << "\n" << r.err;
  ForwardRequest req;
  req.seq_len = kT, req.batch = kB, req.x = xb.data(), req.layout = TensorLayout::kBatchMajor;
  const Outputs expected = reference_run(desc_, weights_, req);
  const ArrayMap got = load_npz(file("out.npz"));
  ASSERT_EQ(keys_of(got), std::vector<std::string>{"y"});
  EXPECT_EQ(got.at("y").shape, (std::vector<std::int64_t>{kB, kT, 2 * kP}));
  EXPECT_TRUE(test::all_close(expected.y, got.at("y").to_float32("y"), 0, 0, "y"));
}

TEST_F(CliFiles, StateOnlyWritesOnlyHnAndCnWithTheDefaultBackend) {
  const CliResult r = run_lstmrt({"run", "--weights", file("w.npz"), "--input", file("x.npy"), "--output",
                                  file("out.npz"), "--state", "--lengths", file("l.npy")},
                                 dir_);
  ASSERT_EQ(r.exit_code, 0) << r.command << "\n" << r.err;
  ForwardRequest req;
  req.seq_len = kT, req.batch = kB, req.x = x_.data(), req.lengths = lengths_.data();
  const Outputs expected = reference_run(desc_, weights_, req);
  const ArrayMap got = load_npz(file("out.npz"));
  ASSERT_EQ(keys_of(got), (std::vector<std::string>{"c_n", "h_n"}));
  // `auto` may pick a GPU backend where there is one (strict fp32 math): allow rounding.
  EXPECT_TRUE(test::all_close(expected.h_n, got.at("h_n").to_float32("h_n"), 1e-5, 1e-4, "h_n"));
  EXPECT_TRUE(test::all_close(expected.c_n, got.at("c_n").to_float32("c_n"), 1e-5, 1e-4, "c_n"));
}

// Keras-named weights run as go_backwards with carry-over padding, and ONNX-named ones as reverse.
TEST_F(CliFiles, GoBackwardsAndReverseOneDirectionWeights) {
  const ModelDesc desc = make_desc(kI, kH, 1, Direction::kReverse);
  Weights weights = random_weights(desc, rng_(), 0.4f);
  std::fill(weights.layers[0].b_hh.begin(), weights.layers[0].b_hh.end(), 0.0f);  // Keras has one bias
  const KerasLstmWeights k = to_keras(weights.layers[0], kI, kH);
  save_npz(file("keras.npz"),
           {{"kernel", Array::from_float32(k.kernel.shape, k.kernel.data)},
            {"recurrent_kernel", Array::from_float32(k.recurrent_kernel.shape, k.recurrent_kernel.data)},
            {"bias", Array::from_float32(k.bias->shape, k.bias->data)}});
  const CliResult r =
      run_lstmrt({"run", "--weights", file("keras.npz"), "--input", file("x.npy"), "--output", file("out.npz"),
                  "--backend", "reference", "--go-backwards", "--lengths", file("l.npy"), "--padding", "carry"},
                 dir_);
  ASSERT_EQ(r.exit_code, 0) << r.command << "\n" << r.err;
  ForwardRequest req;
  req.seq_len = kT, req.batch = kB, req.x = x_.data(), req.lengths = lengths_.data();
  req.reverse_order = ReverseOutputOrder::kProcessing, req.padding = PaddingMode::kCarryLast;
  Outputs expected = reference_run(desc, weights, req);
  ArrayMap got = load_npz(file("out.npz"));
  EXPECT_TRUE(test::all_close(expected.y, got.at("y").to_float32("y"), 0, 0, "go_backwards y"));
  EXPECT_TRUE(test::all_close(expected.h_n, got.at("h_n").to_float32("h_n"), 0, 0, "go_backwards h_n"));

  const OnnxLstmWeights onnx = to_onnx({weights.layers[0]}, kI, kH);
  save_npz(file("onnx.npz"), {{"W", Array::from_float32(onnx.W.shape, onnx.W.data)},
                              {"R", Array::from_float32(onnx.R.shape, onnx.R.data)},
                              {"B", Array::from_float32(onnx.B->shape, onnx.B->data)}});
  const CliResult r2 = run_lstmrt({"run", "--weights", file("onnx.npz"), "--input", file("x.npy"), "--output",
                                   file("out2.npz"), "--backend", "reference", "--reverse", "--sequences"},
                                  dir_);
  ASSERT_EQ(r2.exit_code, 0) << r2.command << "\n" << r2.err;
  ForwardRequest req2;
  req2.seq_len = kT, req2.batch = kB, req2.x = x_.data();
  expected = reference_run(desc, weights, req2);
  got = load_npz(file("out2.npz"));
  EXPECT_TRUE(test::all_close(expected.y, got.at("y").to_float32("y"), 0, 0, "reverse y"));
}

TEST_F(CliFiles, BadWeightsFiles) {
  expect_failure({}, {"--weights", "absent.npz", "no such file"},
                 {"run", "--weights", file("absent.npz"), "--input", file("x.npy"), "--output", file("out.npz")});
  save_npz(file("bad.npz"), {{"fc.weight", Array::from_float32({1}, {1.0f})}});
  expect_failure({}, {"--weights", "bad.npz", "unrecognised weight names fc.weight", "PyTorch", "Keras", "ONNX"},
                 {"run", "--weights", file("bad.npz"), "--input", file("x.npy"), "--output", file("out.npz")});
  expect_failure({}, {"--weights", "x.npy", "a .npy file holds one array", "numpy.savez"},
                 {"run", "--weights", file("x.npy"), "--input", file("x.npy"), "--output", file("out.npz")});
}

TEST_F(CliFiles, BadInputs) {
  auto with_input = [&](const std::string& name) {
    auto a = base_args();
    a[4] = file(name);
    return a;
  };
  expect_failure({}, {"--input", "absent.npy", "no such file"}, with_input("absent.npy"));
  save_npy(file("x2.npy"), Array::from_float32({5, 3}, std::vector<float>(15, 0.5f)));
  expect_failure({}, {"--input", "x2.npy", "has shape (5, 3) but expected 3 dimensions (T, B, input_size=4)"},
                 with_input("x2.npy"));
  save_npy(file("x7.npy"), Array::from_float32({2, 3, 7}, std::vector<float>(42, 0.5f)));
  expect_failure({}, {"--input", "x7.npy", "(2, 3, 7)", "input_size=4"}, with_input("x7.npy"));
  save_npy(file("x64.npy"), Array::from_float64({2, 3, 4}, std::vector<double>(24, 0.5)));
  expect_failure({}, {"--input", "x64.npy", "float64", "expected float32"}, with_input("x64.npy"));
  save_npy(file("x0.npy"), Array::from_float32({0, 3, 4}, {}));
  expect_failure({}, {"--input", "x0.npy", "T (steps) = 0"}, with_input("x0.npy"));
  save_npy(file("xb0.npy"), Array::from_float32({3, 0, 4}, {}));
  expect_failure({"--batch-first"}, {"--input", "xb0.npy", "T (steps) = 0"}, with_input("xb0.npy"));
  std::ofstream(file("junk.npy")) << "junk";
  expect_failure({}, {"--input", "junk.npy", "bad magic"}, with_input("junk.npy"));
}

TEST_F(CliFiles, BadLengths) {
  save_npy(file("l2.npy"), Array::from_int32({2}, {1, 2}));
  expect_failure({"--lengths", file("l2.npy")}, {"--lengths", "l2.npy", "has shape (2,) but expected (B=3,)"});
  save_npy(file("lf.npy"), Array::from_float32({3}, {1, 2, 3}));
  expect_failure({"--lengths", file("lf.npy")}, {"--lengths", "lf.npy", "float32", "expected int32 or int64"});
  save_npy(file("l9.npy"), Array::from_int32({3}, {1, 9, 2}));
  expect_failure({"--lengths", file("l9.npy")}, {"--lengths", "l9.npy", "value 9 at index 1", "0..T=6"});
  save_npy(file("ln.npy"), Array::from_int64({3}, {1, 2, -1}));
  expect_failure({"--lengths", file("ln.npy")}, {"--lengths", "ln.npy", "value -1 at index 2"});
  save_npy(file("lbig.npy"), Array::from_int64({3}, {1, 2, 1LL << 40}));
  expect_failure({"--lengths", file("lbig.npy")}, {"--lengths", "lbig.npy", "does not fit in int32"});
}

TEST_F(CliFiles, BadInitialState) {
  expect_failure({"--h0", file("h0.npy")}, {"--h0 is given without --c0"});
  expect_failure({"--c0", file("c0.npy")}, {"--c0 is given without --h0"});
  expect_failure({"--h0", file("c0.npy"), "--c0", file("c0.npy")},
                 {"--h0", "c0.npy", "has shape (4, 3, 5) but expected (layers*dirs=4, B=3, H_out=3)"});
  expect_failure({"--h0", file("h0.npy"), "--c0", file("h0.npy")},
                 {"--c0", "h0.npy", "has shape (4, 3, 3) but expected (layers*dirs=4, B=3, H=5)"});
  expect_failure({"--h0", file("absent.npy"), "--c0", file("c0.npy")}, {"--h0", "absent.npy", "no such file"});
}

TEST_F(CliFiles, BadOptions) {
  expect_failure({"--backend", "tpu"}, {"--backend", "tpu"});
  expect_failure({"--padding", "mirror"}, {"--padding", "mirror"});
  expect_failure({"--fused-kernel", "warp"}, {"--fused-kernel", "warp"});
  expect_failure({"--bogus"}, {"--bogus"});
  expect_failure({}, {"--weights", "required"}, {"run", "--input", file("x.npy"), "--output", file("out.npz")});
  expect_failure({}, {"--output", "required"}, {"run", "--weights", file("w.npz"), "--input", file("x.npy")});
  expect_failure({"--go-backwards"}, {"--go-backwards", "one-direction", "bidirectional"});
  expect_failure({}, {"subcommand"}, {"--weights", file("w.npz")});
  expect_failure({}, {"--output", "does not exist"},
                 {"run", "--weights", file("w.npz"), "--input", file("x.npy"), "--output", file("no/dir/out.npz")});
}

TEST_F(CliFiles, FailureLeavesAnExistingOutputUntouched) {
  save_npz(file("out.npz"), {{"previous", Array::from_int32({1}, {123})}});
  const CliResult r = run_lstmrt(
      [&] {
        auto a = base_args();
        a.insert(a.end(), {"--lengths", file("absent.npy")});
        return a;
      }(),
      dir_);
  EXPECT_NE(r.exit_code, 0);
  const ArrayMap kept = load_npz(file("out.npz"));
  ASSERT_EQ(keys_of(kept), std::vector<std::string>{"previous"});
  EXPECT_EQ(kept.at("previous").to_int32("previous"), std::vector<std::int32_t>{123});
}

TEST_F(CliFiles, VerboseDescribesTheModelOnStderr) {
  auto args = base_args();
  args.push_back("-v");
  const CliResult r = run_lstmrt(args, dir_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* f : {"pytorch weights", "bidirectional", "backend reference", "T=6 B=3"})
    EXPECT_NE(r.err.find(f), std::string::npos) << "'" << f << "' not in: " << r.err;
  EXPECT_EQ(r.out, "");
}

// --fused-kernel chooses the fused backend's kernels; other backends ignore it, and -v names
// what runs (the execution plan).
TEST_F(CliFiles, FusedKernelOptionIsIgnoredByTheReferenceAndPlanIsPrinted) {
  auto args = base_args();
  args.insert(args.end(), {"-v", "--fused-kernel", "persistent"});
  const CliResult r = run_lstmrt(args, dir_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("lstmrt: reference"), std::string::npos) << r.err;
}

TEST_F(CliFiles, GpuBackendWithoutAGpuFailsNamingTheBackend) {
  if (gpu_available()) GTEST_SKIP() << "a GPU is present: the cudnn backend can run here";
  expect_failure({"--backend", "cudnn"}, {"--backend cudnn", "cudnn"},
                 {"run", "--weights", file("w.npz"), "--input", file("x.npy"), "--output", file("out.npz")});
  expect_failure({"--backend", "fused"}, {"--backend fused", "fused"},
                 {"run", "--weights", file("w.npz"), "--input", file("x.npy"), "--output", file("out.npz")});
}

TEST(CliInfo, PrintsVersionsAndExitsZero) {
  test::ScratchDir dir;
  const CliResult r = run_lstmrt({"info"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  for (const std::string& f :
       {std::string("lstmrt ") + version(), std::string("backends built in: "), std::string("backends usable here: "),
        std::string("CUDA runtime: "), std::string("CUDA driver: "), std::string("cuDNN: 9."), std::string("cuBLAS: ")})
    EXPECT_NE(r.out.find(f), std::string::npos) << "'" << f << "' not in:\n" << r.out;
  EXPECT_NE(r.out.find(gpu_available() ? "GPU 0: " : "GPUs: none ("), std::string::npos) << r.out;
}

TEST(CliHelp, RunHelpExitsZero) {
  test::ScratchDir dir;
  const CliResult r = run_lstmrt({"run", "--help"}, dir);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  for (const char* option : {"--weights", "--input", "--output", "--batch-first", "--lengths", "--h0", "--c0",
                             "--backend", "--fused-kernel", "--sequences", "--state", "--padding", "--go-backwards"})
    EXPECT_NE(r.out.find(option), std::string::npos) << option << " not in:\n" << r.out;
}

}  // namespace
}  // namespace lstmrt
