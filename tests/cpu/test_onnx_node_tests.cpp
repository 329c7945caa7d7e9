// The ONNX backend node tests for LSTM (Debian's libonnx-testdata) through lstmrt's LSTM NODE
// reader (formats_detail::read_lstm_node): its test_data_set_0 inputs are run on the reference backend, and
// the outputs, converted to ONNX's layouts at the edge, must match output_*.pb within 1e-5. The
// same tests through the graph importer: test_import_onnx_node_tests.cpp.
#include <gtest/gtest.h>

#include "common/onnx_node_case.hpp"

namespace lstmrt::test {
namespace {

constexpr double kTolerance = 1e-5;

class OnnxNodeTests : public ::testing::TestWithParam<OnnxNodeExpect> {};

TEST_P(OnnxNodeTests, NodeReaderOnReference) {
  const OnnxNodeExpect& expect = GetParam();
  OnnxNodeCase c;
  ASSERT_NO_FATAL_FAILURE(load_onnx_node_case(expect.name, c));
  const ModelDesc& m = c.node.desc;
  EXPECT_EQ(m.hidden_size, expect.hidden_size);
  EXPECT_EQ(m.peepholes, expect.peepholes);
  EXPECT_EQ(c.node.layout, expect.layout);
  Lstm lstm = reference_lstm(m, c.node.weights);
  expect_onnx_node_outputs(c, expect.name, m, run_host(lstm, c.host), expect.outputs, kTolerance);
}

INSTANTIATE_TEST_SUITE_P(Lstm, OnnxNodeTests, ::testing::ValuesIn(onnx_lstm_node_tests()),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace lstmrt::test
