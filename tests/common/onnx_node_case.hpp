// Test helper: the ONNX backend node tests for LSTM (Debian's libonnx-testdata). A case is one
// model.onnx with its test_data_set_0: the LSTM node read by formats_detail::read_lstm_node (for its value
// names and layout), the data set's inputs turned into lstmrt's host inputs, and its outputs
// compared with what a backend computed, converted to ONNX's layouts at the edge.
// Needs the ONNX headers: link the test with onnx_proto (tests/CMakeLists.txt, tests/gpu/...).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

#include "common/compare.hpp"
#include "common/reference_runner.hpp"
#include "formats/onnx_lstm.hpp"
#include "lstmrt/io.hpp"

namespace lstmrt::test {

// Where Debian's libonnx-testdata puts the node tests; LSTMRT_ONNX_NODE_TEST_DIR overrides it.
inline std::string onnx_node_test_dir() {
  const char* dir = std::getenv("LSTMRT_ONNX_NODE_TEST_DIR");
  return dir ? dir : "/usr/share/libonnx-testdata/data/node";
}

// The four LSTM node tests and what a reader must find in each (so a test checks what it says).
struct OnnxNodeExpect {
  const char* name;
  int hidden_size;
  bool peepholes;
  TensorLayout layout;
  int outputs;  // output_*.pb files compared
};
inline void PrintTo(const OnnxNodeExpect& e, std::ostream* os) { *os << e.name; }  // gtest's parameter name
inline const std::vector<OnnxNodeExpect>& onnx_lstm_node_tests() {
  static const std::vector<OnnxNodeExpect> kTests = {
      {"test_lstm_defaults", 3, false, TensorLayout::kTimeMajor, 1},
      {"test_lstm_with_initial_bias", 4, false, TensorLayout::kTimeMajor, 1},
      {"test_lstm_with_peepholes", 3, true, TensorLayout::kTimeMajor, 1},
      {"test_lstm_batchwise", 7, false, TensorLayout::kBatchMajor, 2},
  };
  return kTests;
}

struct OnnxNodeCase {
  std::string model_path;  // DIR/model.onnx
  onnx::ModelProto model;
  formats_detail::ProtoMap inputs;    // test_data_set_0 inputs by value name, W/R/B/P included
  formats_detail::ProtoMap expected;  // test_data_set_0 outputs by value name
  formats_detail::OnnxLstmNode node;  // the node as the node reader sees it
  HostInputs host;                    // X, sequence_lens, initial_h/c in lstmrt's layouts
};

// Loads case `name` into `c` (fatal failures when the data is missing or malformed: call it
// through ASSERT_NO_FATAL_FAILURE).
inline void load_onnx_node_case(const std::string& name, OnnxNodeCase& c) {
  const std::string dir = onnx_node_test_dir() + "/" + name;
  ASSERT_TRUE(std::filesystem::is_directory(dir))
      << dir << " is missing: install the ONNX backend test data, Debian package libonnx-testdata "
      << "(scripts/setup installs it)";
  c.model_path = dir + "/model.onnx";
  c.model = formats_detail::load_onnx_model(c.model_path);
  const onnx::GraphProto& graph = c.model.graph();
  ASSERT_EQ(graph.node_size(), 1);
  const std::string data_dir = dir + "/test_data_set_0";
  c.inputs = formats_detail::load_test_data_inputs(graph, data_dir);
  c.expected = formats_detail::load_test_data_outputs(graph, data_dir);
  formats_detail::ProtoMap tensors = formats_detail::graph_initializers(graph);
  for (const auto& [value, proto] : c.inputs) tensors[value] = proto;
  c.node = formats_detail::read_lstm_node(graph.node(0), tensors);
  const int D = c.node.desc.num_directions(), H = c.node.desc.hidden_size;

  // X is (T, N, I), or (N, T, I) with layout=1: exactly lstmrt's time-/batch-major x.
  const Tensor x = formats_detail::tensor_from_proto(tensors.at(c.node.x));
  ASSERT_EQ(x.shape.size(), 3u);
  const bool batch_major = c.node.layout == TensorLayout::kBatchMajor;
  HostInputs& in = c.host;
  in.seq_len = static_cast<int>(batch_major ? x.shape[1] : x.shape[0]);
  in.batch = static_cast<int>(batch_major ? x.shape[0] : x.shape[1]);
  in.layout = c.node.layout;
  in.x = x.data;
  const int N = in.batch;
  if (!c.node.sequence_lens.empty()) {
    const formats_detail::IntTensor lens = formats_detail::int_tensor_from_proto(tensors.at(c.node.sequence_lens));
    ASSERT_EQ(lens.shape, (std::vector<std::int64_t>{N}));
    in.lengths = std::vector<std::int32_t>(lens.data.begin(), lens.data.end());
  }
  // initial_h / initial_c: ONNX (D, N, H) or (N, D, H) -> lstmrt (D, N, H); one alone means the
  // other is zeros.
  auto state = [&](const std::string& value) -> std::vector<float> {
    if (value.empty()) return std::vector<float>(static_cast<std::size_t>(D) * N * H, 0.0f);
    return formats_detail::lstmrt_state_from_onnx(formats_detail::tensor_from_proto(tensors.at(value)).data, N, D, H,
                                                  c.node.layout);
  };
  if (!c.node.initial_h.empty() || !c.node.initial_c.empty()) {
    in.h0 = state(c.node.initial_h);
    in.c0 = state(c.node.initial_c);
  }
}

// The data set's inputs as feeds for load_onnx_weights(path, feeds): FLOAT -> float32,
// INT32/INT64 -> int64.
inline ArrayMap onnx_node_case_feeds(const OnnxNodeCase& c) {
  ArrayMap feeds;
  for (const auto& [value, proto] : c.inputs) {
    if (proto.data_type() == onnx::TensorProto::FLOAT) {
      const Tensor t = formats_detail::tensor_from_proto(proto);
      feeds[value] = Array::from_float32(t.shape, t.data);
    } else {
      const formats_detail::IntTensor t = formats_detail::int_tensor_from_proto(proto);
      feeds[value] = Array::from_int64(t.shape, t.data);
    }
  }
  return feeds;
}

// Checks `out` (lstmrt layouts, from `desc`'s model) against every output_N.pb within `tolerance`.
inline void expect_onnx_node_outputs(const OnnxNodeCase& c, const std::string& what, const ModelDesc& desc,
                                     const HostOutputs& out, int expected_outputs, double tolerance) {
  const formats_detail::OnnxLstmNode& node = c.node;
  const int D = desc.num_directions(), H = desc.hidden_size, T = c.host.seq_len, N = c.host.batch;
  const bool batch_major = node.layout == TensorLayout::kBatchMajor;
  EXPECT_EQ(static_cast<int>(c.expected.size()), expected_outputs) << what;
  const std::vector<std::int64_t> state_shape =
      batch_major ? std::vector<std::int64_t>{N, D, H} : std::vector<std::int64_t>{D, N, H};
  for (const auto& [value, proto] : c.expected) {
    const Tensor want = formats_detail::tensor_from_proto(proto);
    std::vector<float> got;
    std::vector<std::int64_t> shape = state_shape;
    if (value == node.y) {
      got = formats_detail::onnx_y_from_lstmrt(out.y, T, N, D, H, node.layout);
      shape = batch_major ? std::vector<std::int64_t>{N, T, D, H} : std::vector<std::int64_t>{T, D, N, H};
    } else if (value == node.y_h) {
      got = formats_detail::onnx_state_from_lstmrt(out.h_n, N, D, H, node.layout);
    } else if (value == node.y_c) {
      got = formats_detail::onnx_state_from_lstmrt(out.c_n, N, D, H, node.layout);
    } else {
      ADD_FAILURE() << what << ": output '" << value << "' is none of the node's Y, Y_h, Y_c";
      continue;
    }
    EXPECT_EQ(want.shape, shape) << what << " " << value;
    EXPECT_TRUE(all_close(want.data, got, tolerance, 0.0, what + " " + value));
  }
}

}  // namespace lstmrt::test
