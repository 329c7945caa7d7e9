// The ONNX backend node tests for LSTM (Debian's libonnx-testdata) through the graph importer,
// load_onnx_weights(path, feeds), on the GPU backends: each of cudnn and fused that can serve a
// model (fp32, strict math) runs it with Lstm::forward_host and must match output_*.pb within
// 1e-5. kUnsupported at create is "cannot serve" (peepholes: fused only), but the defaults test
// must run on both, and every test on at least one. (Reference: test_import_onnx_node_tests.cpp.)
#include <gtest/gtest.h>

#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "common/onnx_node_case.hpp"
#include "gpu_test.hpp"
#include "lstmrt/import.hpp"

namespace lstmrt::test {
namespace {

constexpr double kTolerance = 1e-5;

class OnnxNodeTestsGpu : public GpuTest, public ::testing::WithParamInterface<OnnxNodeExpect> {};

TEST_P(OnnxNodeTestsGpu, GraphImporterOnGpuBackends) {
  const OnnxNodeExpect& expect = GetParam();
  OnnxNodeCase c;
  ASSERT_NO_FATAL_FAILURE(load_onnx_node_case(expect.name, c));
  const LoadedWeights w = load_onnx_weights(c.model_path, onnx_node_case_feeds(c));
  ASSERT_EQ(w.desc.peepholes, expect.peepholes);
  HostInputs in = c.host;
  in.layout = w.input_layout.value_or(TensorLayout::kTimeMajor);
  ASSERT_EQ(in.layout, expect.layout);
  const bool must_serve_both = std::string(expect.name) == "test_lstm_defaults";
  int served = 0;
  for (const BackendKind kind : {BackendKind::kCudnn, BackendKind::kFused}) {
    const std::string what = std::string(expect.name) + " on " + to_string(kind);
    std::optional<Lstm> lstm;
    try {
      lstm.emplace(Lstm::create(w.desc, w.weights, BackendOptions{kind, DataType::kFloat32, MathMode::kStrict}));
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kUnsupported || must_serve_both) {
        ADD_FAILURE() << what << ": " << e.what();
        continue;
      }
      std::cout << "[   NOTE   ] " << what << ": cannot serve: " << e.what() << "\n";
      continue;
    }
    ++served;
    expect_onnx_node_outputs(c, what, w.desc, run_host(*lstm, in), expect.outputs, kTolerance);
  }
  EXPECT_GE(served, 1) << expect.name << ": no GPU backend can serve it";
}

INSTANTIATE_TEST_SUITE_P(Lstm, OnnxNodeTestsGpu, ::testing::ValuesIn(onnx_lstm_node_tests()),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace lstmrt::test
