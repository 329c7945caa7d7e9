// The ONNX backend node tests for LSTM (Debian's libonnx-testdata) through the GRAPH importer,
// load_onnx_weights(path, feeds): their W, R, B, P are graph inputs whose values come from
// test_data_set_0 as feeds. Run on the reference backend, the outputs must match output_*.pb within
// 1e-5. Also: the importer's errors for graph-input weights without a value and for bad feeds.
// (GPU backends: tests/gpu/test_onnx_node_tests_gpu.cpp.)
#include <gtest/gtest.h>

#include "common/expect_error.hpp"
#include "common/onnx_node_case.hpp"
#include "lstmrt/import.hpp"

namespace lstmrt::test {
namespace {

constexpr double kTolerance = 1e-5;

class ImportOnnxNodeTests : public ::testing::TestWithParam<OnnxNodeExpect> {};

TEST_P(ImportOnnxNodeTests, GraphImporterOnReference) {
  const OnnxNodeExpect& expect = GetParam();
  OnnxNodeCase c;
  ASSERT_NO_FATAL_FAILURE(load_onnx_node_case(expect.name, c));
  const LoadedWeights w = load_onnx_weights(c.model_path, onnx_node_case_feeds(c));
  EXPECT_EQ(w.format, "onnx");
  EXPECT_EQ(w.desc.num_layers, 1);
  EXPECT_EQ(w.desc.hidden_size, expect.hidden_size);
  EXPECT_EQ(w.desc.peepholes, expect.peepholes);
  // layout=1 is recorded; layout=0 leaves the layout to the caller.
  if (expect.layout == TensorLayout::kBatchMajor)
    EXPECT_EQ(w.input_layout, TensorLayout::kBatchMajor);
  else
    EXPECT_FALSE(w.input_layout.has_value());
  HostInputs in = c.host;
  in.layout = w.input_layout.value_or(TensorLayout::kTimeMajor);
  Lstm lstm = reference_lstm(w.desc, w.weights);
  expect_onnx_node_outputs(c, expect.name, w.desc, run_host(lstm, in), expect.outputs, kTolerance);
}

INSTANTIATE_TEST_SUITE_P(Lstm, ImportOnnxNodeTests, ::testing::ValuesIn(onnx_lstm_node_tests()),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(ImportOnnxFeeds, WeightGraphInputWithoutValueIsNamed) {
  OnnxNodeCase c;
  ASSERT_NO_FATAL_FAILURE(load_onnx_node_case("test_lstm_with_peepholes", c));
  expect_error([&] { load_onnx_weights(c.model_path); }, ErrorCode::kInvalidArgument,
               {c.model_path, "input W is the graph input 'W', which has no value", "feeds"});
  // Every weight input is checked, the later ones too.
  ArrayMap feeds = onnx_node_case_feeds(c);
  feeds.erase("P");
  expect_error([&] { load_onnx_weights(c.model_path, feeds); }, ErrorCode::kInvalidArgument,
               {"input P is the graph input 'P'"});
  // load_weights (no feeds) reaches the same importer.
  expect_error([&] { load_weights(c.model_path); }, ErrorCode::kInvalidArgument, {"input W", "feeds"});
}

TEST(ImportOnnxFeeds, RejectsBadFeeds) {
  OnnxNodeCase c;
  ASSERT_NO_FATAL_FAILURE(load_onnx_node_case("test_lstm_defaults", c));
  ArrayMap feeds = onnx_node_case_feeds(c);
  feeds["Q"] = Array::from_float32({1}, {1.0f});
  expect_error([&] { load_onnx_weights(c.model_path, feeds); }, ErrorCode::kInvalidArgument,
               {"feed 'Q' is not a graph input", "R, W, X"});

  feeds = onnx_node_case_feeds(c);
  const Array& w = feeds.at("W");
  feeds["W"] = Array::from_float64(w.shape, std::vector<double>(static_cast<std::size_t>(w.numel()), 0.5));
  expect_error([&] { load_onnx_weights(c.model_path, feeds); }, ErrorCode::kInvalidArgument,
               {"feed 'W' is float64", "expected float32"});

  feeds = onnx_node_case_feeds(c);
  feeds["R"] = Array::from_float32({1, 4, 2}, std::vector<float>(8, 0.5f));  // H is 3: R must be (1, 12, 3)
  expect_error([&] { load_onnx_weights(c.model_path, feeds); }, ErrorCode::kInvalidArgument, {"R"});
}

}  // namespace
}  // namespace lstmrt::test
