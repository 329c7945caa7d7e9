// What a first-time user of `lstmrt` meets: --version and `help`, `run --help` naming every model
// format and the exit statuses, a summary line after a successful run and shapes with -v, the exit
// status of each kind of failure, GRU/RNN weights named as such, torch.save pickles refused with
// how to export instead, float16 x accepted, and model files recognised by content, not name.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "common/cli_process.hpp"
#include "common/compare.hpp"
#include "lstmrt/io.hpp"
#include "lstmrt/lstmrt.hpp"

namespace lstmrt {
namespace {

namespace fs = std::filesystem;
using test::expect_one_error_line;
using test::ProcessResult;
using test::run_cli_process;

class Newcomer : public ::testing::Test {
 protected:
  static constexpr int kT = 5, kB = 2, kI = 3, kH = 4;
  void SetUp() override {
    rng_.seed(test::test_seed());
    desc_.input_size = kI, desc_.hidden_size = kH;
    weights_ = random_weights(desc_, rng_(), 0.5f);
    ArrayMap sd;
    for (const auto& [name, t] : to_pytorch(desc_, weights_)) sd[name] = Array::from_float32(t.shape, t.data);
    save_npz(file("w.npz"), sd);
    x_ = test::random_vector(kT * kB * kI, rng_);
    save_npy(file("x.npy"), Array::from_float32({kT, kB, kI}, x_));
  }
  std::string file(const std::string& name) const { return dir_.file(name); }
  ProcessResult run(std::vector<std::string> args) const { return run_cli_process(args, dir_); }
  ProcessResult run_weights(const std::string& weights, std::vector<std::string> extra = {}) const {
    std::vector<std::string> a = {"run",      "--weights",   weights,     "--input",  file("x.npy"),
                                  "--output", file("o.npz"), "--backend", "reference"};
    a.insert(a.end(), extra.begin(), extra.end());
    return run(a);
  }
  std::vector<float> expected_y(const std::vector<float>& x) const {
    Lstm lstm = Lstm::create(desc_, weights_, BackendOptions{BackendKind::kReference});
    std::vector<float> y = test::poisoned(kT * kB * kH);
    ForwardRequest req;
    req.seq_len = kT, req.batch = kB, req.x = x.data(), req.y = y.data();
    lstm.forward_host(req);
    return y;
  }
  test::ScratchDir dir_;
  std::mt19937_64 rng_;
  ModelDesc desc_;
  Weights weights_;
  std::vector<float> x_;
};

TEST_F(Newcomer, VersionAndHelpWork) {
  ProcessResult r = run({"--version"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, std::string("lstmrt ") + version() + "\n");
  r = run({"help"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  for (const char* f : {"Subcommands:", "demo", "run", "info", "Exit status"})
    EXPECT_NE(r.out.find(f), std::string::npos) << f << " not in " << r.out;
  r = run({"help", "run"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("--weights"), std::string::npos) << r.out;
  expect_one_error_line(run({"help", "train"}), 2, {"help train", "demo, run or info"});
  expect_one_error_line(run({}), 2, {"subcommand", "lstmrt help"});
}

TEST_F(Newcomer, RunHelpNamesEveryFormatAndTheExitStatuses) {
  const ProcessResult r = run({"run", "--help"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* f :
       {".npz", ".safetensors", ".onnx", ".keras", ".weights.h5", "float16", "by its content",
        "Exit status: 0 success; 1 ", "2 a bad command line", "3 a valid model", "--memory-limit", "symbolic link"})
    EXPECT_NE(r.out.find(f), std::string::npos) << "'" << f << "' not in:\n" << r.out;
}

TEST_F(Newcomer, SuccessfulRunPrintsOneSummaryLineAndVerboseShowsShapes) {
  ProcessResult r = run_weights(file("w.npz"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, fmt::format("lstmrt: wrote {}: c_n (1, 2, 4), h_n (1, 2, 4), y (5, 2, 4)\n", file("o.npz")));
  r = run_weights(file("w.npz"), {"-q"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  r = run_weights(file("w.npz"), {"-v", "--sequences"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const std::string& f : {fmt::format("--input {} (5, 2, 3) read as (T=5, B=2, I=3)", file("x.npy")),
                               std::string("writes y (5, 2, 4)"), std::string("wrote")})
    EXPECT_NE(r.err.find(f), std::string::npos) << "'" << f << "' not in " << r.err;
  EXPECT_EQ(r.err.find("h_n ("), std::string::npos) << r.err;
}

TEST_F(Newcomer, ExitStatusNamesTheKindOfFailure) {
  expect_one_error_line(run_weights(file("absent.npz")), 1, {"--weights", "no such file"});
  expect_one_error_line(run({"run", "--weights", file("w.npz")}), 2, {"--input"});
  if (!gpu_available())
    expect_one_error_line(run({"run", "--weights", file("w.npz"), "--input", file("x.npy"), "--output", file("o.npz"),
                               "--backend", "cudnn"}),
                          3, {"--backend cudnn"});
  expect_one_error_line(run_weights(file("w.npz"), {"--memory-limit", "100"}), 3, {"needs", "is available"});
}

// nn.GRU / nn.RNN state_dicts, Keras GRU and ONNX GRU weights: named for what they are.
TEST_F(Newcomer, GruAndRnnWeightsAreNamedAsSuch) {
  const int H = 6, I = 3;
  auto f32 = [](std::vector<std::int64_t> shape) {
    std::int64_t n = 1;
    for (std::int64_t d : shape) n *= d;
    return Array::from_float32(shape, std::vector<float>(n, 0.1f));
  };
  save_npz(file("gru.npz"), {{"gru.weight_ih_l0", f32({3 * H, I})},
                             {"gru.weight_hh_l0", f32({3 * H, H})},
                             {"gru.bias_ih_l0", f32({3 * H})},
                             {"gru.bias_hh_l0", f32({3 * H})}});
  expect_one_error_line(run_weights(file("gru.npz")), 1,
                        {"gru.weight_hh_l0", "(18, 6)", "3 gate blocks of H=6", "PyTorch nn.GRU", "LSTM"});
  save_npz(file("rnn.npz"), {{"weight_ih_l0", f32({H, I})}, {"weight_hh_l0", f32({H, H})}});
  expect_one_error_line(run_weights(file("rnn.npz")), 1, {"1 gate block of H=6", "PyTorch nn.RNN"});
  save_npz(file("keras_gru.npz"),
           {{"kernel", f32({I, 3 * H})}, {"recurrent_kernel", f32({H, 3 * H})}, {"bias", f32({2, 3 * H})}});
  expect_one_error_line(run_weights(file("keras_gru.npz")), 1, {"recurrent_kernel", "Keras GRU"});
  save_npz(file("onnx_gru.npz"), {{"W", f32({1, 3 * H, I})}, {"R", f32({1, 3 * H, H})}});
  expect_one_error_line(run_weights(file("onnx_gru.npz")), 1, {"'R'", "ONNX GRU"});
}

TEST_F(Newcomer, TorchSaveFilesAreRefusedWithHowToExport) {
  for (const char* name : {"torch_zip.pt", "torch_legacy.pt"}) {
    const std::string pt = std::string(LSTMRT_TEST_DATA_DIR) + "/formats/" + name;
    expect_one_error_line(run_weights(pt), 1,
                          {name, "PyTorch pickle (torch.save)", "safetensors.torch.save_file", "numpy.savez"});
    fs::copy_file(pt, file(std::string(name) + ".npz"));  // the name does not matter
    expect_one_error_line(run_weights(file(std::string(name) + ".npz")), 1, {"PyTorch pickle"});
  }
}

TEST_F(Newcomer, Float16InputIsWidenedExactly) {
  // Values that are binary16 numbers, so float16 and float32 files hold the same x.
  std::vector<float> x(kT * kB * kI);
  std::vector<std::uint16_t> half(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    const int k = static_cast<int>(rng_() % 2048) - 1024;  // k/512: exact in binary16
    x[i] = k / 512.0f;
    // binary16 of k/512: sign, exponent and 10-bit mantissa of |k|·2^-9.
    const int a = std::abs(k);
    std::uint16_t bits = 0;
    if (a != 0) {
      int e = 0;
      while ((a >> e) > 1) ++e;  // a = 1.m · 2^e
      const int mantissa = ((a << 10) >> e) & 0x3ff;
      bits = static_cast<std::uint16_t>(((e - 9 + 15) << 10) | mantissa);
    }
    half[i] = static_cast<std::uint16_t>(bits | (k < 0 ? 0x8000 : 0));
  }
  Array x16;
  x16.dtype = DataType::kFloat16;
  x16.shape = {kT, kB, kI};
  x16.data.resize(half.size() * 2);
  std::memcpy(x16.data.data(), half.data(), x16.data.size());
  ASSERT_EQ(x16.to_float32("x16"), x);
  save_npy(file("x.npy"), x16);
  const ProcessResult r = run_weights(file("w.npz"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(test::all_close(expected_y(x), load_npz(file("o.npz")).at("y").to_float32("y"), 0, 0, "y"));
  save_npy(file("x.npy"), Array::from_float64({kT, kB, kI}, std::vector<double>(x.begin(), x.end())));
  expect_one_error_line(run_weights(file("w.npz")), 1, {"float64", "expected float32 or float16"});
}

TEST_F(Newcomer, ModelFilesAreRecognisedByContentNotName) {
  fs::copy_file(file("w.npz"), file("weights.bin"));
  ProcessResult r = run_weights(file("weights.bin"));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  const std::string data = LSTMRT_TEST_DATA_DIR;
  fs::copy_file(data + "/safetensors/stack_bidir_f32.safetensors", file("st.npz"));
  fs::copy_file(data + "/safetensors/stack_bidir_f32.x.npy", file("st_x.npy"));
  r = run({"run", "--weights", file("st.npz"), "--input", file("st_x.npy"), "--output", file("st_out.npz"), "-v",
           "--backend", "reference"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  const ArrayMap want = load_npz(data + "/safetensors/stack_bidir_f32.expected.npz");
  EXPECT_TRUE(test::all_close(want.at("y").to_float32("y"), load_npz(file("st_out.npz")).at("y").to_float32("y"), 1e-5,
                              1e-4, "safetensors named .npz"));
  fs::copy_file(data + "/onnx_import/torch_single.onnx", file("model.dat"));
  fs::copy_file(data + "/onnx_import/torch_single.x.npy", file("onnx_x.npy"));
  r = run({"run", "--weights", file("model.dat"), "--input", file("onnx_x.npy"), "--output", file("onnx_out.npz"),
           "--backend", "reference"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  fs::copy_file(data + "/keras_import/sequential_stack.weights.h5", file("renamed.bin"));
  fs::copy_file(data + "/keras_import/sequential_stack.config.json", file("config.json"));
  fs::copy_file(data + "/keras_import/sequential_stack.x.npy", file("k_x.npy"));
  r = run({"run", "--weights", file("renamed.bin"), "--input", file("k_x.npy"), "--output", file("k_out.npz")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  save_npy(file("plain.npz"), Array::from_float32({2}, {1, 2}));
  expect_one_error_line(run_weights(file("plain.npz")), 1, {"a .npy file holds one array", "numpy.savez"});
  std::ofstream(file("junk.bin")) << "hello, I am not a model";
  expect_one_error_line(run_weights(file("junk.bin")), 1, {"not a model file lstmrt reads", ".safetensors", ".keras"});
}

}  // namespace
}  // namespace lstmrt
