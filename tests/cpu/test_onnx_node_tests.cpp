// The ONNX backend node tests for LSTM (Debian's libonnx-testdata): each model.onnx is read
// through lstmrt's ONNX reader, its test_data_set_0 inputs are run on the reference backend, and
// the outputs, converted to ONNX's layouts at the edge, must match output_*.pb within 1e-5.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "common/compare.hpp"
#include "common/reference_runner.hpp"
#include "io/onnx_lstm.hpp"
#include "lstmrt/lstmrt.hpp"

namespace lstmrt::test {
namespace {

// Where Debian's libonnx-testdata puts the node tests; LSTMRT_ONNX_NODE_TEST_DIR overrides it.
std::string node_test_dir() {
  const char* dir = std::getenv("LSTMRT_ONNX_NODE_TEST_DIR");
  return dir ? dir : "/usr/share/libonnx-testdata/data/node";
}
constexpr double kTolerance = 1e-5;

// What the reader must have found in each model (a check that the test exercises what it says).
struct Expect {
  int hidden_size;
  bool peepholes;
  TensorLayout layout;
  int outputs;  // output_*.pb files compared
};

void run_node_test(const std::string& name, const Expect& expect) {
  const std::string dir = node_test_dir() + "/" + name;
  ASSERT_TRUE(std::filesystem::is_directory(dir))
      << dir << " is missing: install the ONNX backend test data, Debian package libonnx-testdata "
      << "(scripts/setup installs it)";
  const onnx::ModelProto model = io::load_onnx_model(dir + "/model.onnx");
  const onnx::GraphProto& graph = model.graph();
  ASSERT_EQ(graph.node_size(), 1);
  const onnx::NodeProto& lstm_node = graph.node(0);

  // W, R, B, P are graph inputs here: they come from the data set, like X.
  const std::string data_dir = dir + "/test_data_set_0";
  io::ProtoMap tensors = io::graph_initializers(graph);
  for (auto& [value, proto] : io::load_test_data_inputs(graph, data_dir)) tensors[value] = proto;
  const io::OnnxLstmNode node = io::read_lstm_node(lstm_node, tensors);
  const ModelDesc& m = node.desc;
  EXPECT_EQ(m.hidden_size, expect.hidden_size);
  EXPECT_EQ(m.peepholes, expect.peepholes);
  EXPECT_EQ(node.layout, expect.layout);
  const int D = m.num_directions(), H = m.hidden_size;

  // X is (T, N, I), or (N, T, I) with layout=1: exactly lstmrt's time-/batch-major x.
  const Tensor x = io::tensor_from_proto(tensors.at(node.x));
  ASSERT_EQ(x.shape.size(), 3u);
  const bool batch_major = node.layout == TensorLayout::kBatchMajor;
  HostInputs in;
  in.seq_len = static_cast<int>(batch_major ? x.shape[1] : x.shape[0]);
  in.batch = static_cast<int>(batch_major ? x.shape[0] : x.shape[1]);
  in.layout = node.layout;
  in.x = x.data;
  const int T = in.seq_len, N = in.batch;
  if (!node.sequence_lens.empty()) {
    const io::IntTensor lens = io::int_tensor_from_proto(tensors.at(node.sequence_lens));
    ASSERT_EQ(lens.shape, (std::vector<std::int64_t>{N}));
    in.lengths = std::vector<std::int32_t>(lens.data.begin(), lens.data.end());
  }
  // initial_h / initial_c: ONNX (D, N, H) or (N, D, H) -> lstmrt (D, N, H); one alone means the
  // other is zeros.
  auto state = [&](const std::string& value) -> std::vector<float> {
    if (value.empty()) return std::vector<float>(static_cast<std::size_t>(D) * N * H, 0.0f);
    return io::lstmrt_state_from_onnx(io::tensor_from_proto(tensors.at(value)).data, N, D, H, node.layout);
  };
  if (!node.initial_h.empty() || !node.initial_c.empty()) {
    in.h0 = state(node.initial_h);
    in.c0 = state(node.initial_c);
  }

  Lstm lstm = reference_lstm(m, node.weights);
  const HostOutputs out = run_host(lstm, in);

  const io::ProtoMap expected = io::load_test_data_outputs(graph, data_dir);
  EXPECT_EQ(static_cast<int>(expected.size()), expect.outputs);
  const std::vector<std::int64_t> state_shape = batch_major ? std::vector<std::int64_t>{N, D, H}
                                                            : std::vector<std::int64_t>{D, N, H};
  for (const auto& [value, proto] : expected) {
    const Tensor want = io::tensor_from_proto(proto);
    std::vector<float> got;
    std::vector<std::int64_t> shape = state_shape;
    if (value == node.y) {
      got = io::onnx_y_from_lstmrt(out.y, T, N, D, H, node.layout);
      shape = batch_major ? std::vector<std::int64_t>{N, T, D, H} : std::vector<std::int64_t>{T, D, N, H};
    } else if (value == node.y_h) {
      got = io::onnx_state_from_lstmrt(out.h_n, N, D, H, node.layout);
    } else if (value == node.y_c) {
      got = io::onnx_state_from_lstmrt(out.c_n, N, D, H, node.layout);
    } else {
      ADD_FAILURE() << "output '" << value << "' is none of the node's Y, Y_h, Y_c";
      continue;
    }
    EXPECT_EQ(want.shape, shape) << value;
    EXPECT_TRUE(all_close(want.data, got, kTolerance, 0.0, name + " " + value));
  }
}

TEST(OnnxNodeTests, LstmDefaults) { run_node_test("test_lstm_defaults", {3, false, TensorLayout::kTimeMajor, 1}); }

TEST(OnnxNodeTests, LstmWithInitialBias) {
  run_node_test("test_lstm_with_initial_bias", {4, false, TensorLayout::kTimeMajor, 1});
}

TEST(OnnxNodeTests, LstmWithPeepholes) {
  run_node_test("test_lstm_with_peepholes", {3, true, TensorLayout::kTimeMajor, 1});
}

TEST(OnnxNodeTests, LstmBatchwise) { run_node_test("test_lstm_batchwise", {7, false, TensorLayout::kBatchMajor, 2}); }

}  // namespace
}  // namespace lstmrt::test
