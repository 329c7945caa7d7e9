// ONNX LSTM nodes with layout=1 through the graph importer and `lstmrt run`: the torch exports of
// tests/data/onnx_import edited here (onnx protobufs) to set layout=1 on their LSTM nodes and to
// join a stack as layout=1 Ys join (Y (N, T, D, H) reshaped to (N, T, D·H): the Transpose after
// each node becomes the identity), so such a model computes the torch model's
// function on batch-major data: x (N, T, I) in, y (N, T, D·H) out, h_n/c_n unchanged. `lstmrt
// run` must take that layout from the model, with or without --batch-first. Also: a stack whose
// nodes disagree on layout, and a layout=1 node whose X passes through a Transpose, are refused.
#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "common/compare.hpp"
#include "common/expect_error.hpp"
#include "common/golden_files.hpp"
#include "formats/onnx_lstm.hpp"
#include "lstmrt/import.hpp"
#include "lstmrt/io.hpp"

namespace lstmrt::test {
namespace {

constexpr double kTolerance = 1e-5;

// tests/data/onnx_import/NAME.onnx with `edit` applied, saved as DIR/NAME.edited.onnx.
std::string edited_model(const ScratchDir& dir, const std::string& name,
                         const std::function<void(onnx::GraphProto&)>& edit) {
  onnx::ModelProto model = formats_detail::load_onnx_model(golden_path("onnx_import", name + ".onnx"));
  edit(*model.mutable_graph());
  const std::string path = dir.file(name + ".edited.onnx");
  std::ofstream out(path, std::ios::binary);
  EXPECT_TRUE(model.SerializeToOstream(&out)) << path;
  return path;
}

std::vector<onnx::NodeProto*> lstm_nodes(onnx::GraphProto& g) {
  std::vector<onnx::NodeProto*> nodes;
  for (onnx::NodeProto& n : *g.mutable_node())
    if (n.op_type() == "LSTM") nodes.push_back(&n);
  return nodes;
}

void set_layout(onnx::NodeProto& node, int layout) {
  onnx::AttributeProto* a = node.add_attribute();
  a->set_name("layout");
  a->set_type(onnx::AttributeProto_AttributeType_INT);
  a->set_i(layout);
}

// (A, B, C) -> (B, A, C), row-major: time-major <-> batch-major.
Array swap_first_axes(const Array& a, const std::string& what) {
  const std::vector<float> v = a.to_float32(what);
  const std::int64_t A = a.shape.at(0), B = a.shape.at(1), C = a.shape.at(2);
  std::vector<float> out(v.size());
  for (std::int64_t i = 0; i < A; ++i)
    for (std::int64_t j = 0; j < B; ++j)
      for (std::int64_t k = 0; k < C; ++k) out[(j * A + i) * C + k] = v[(i * B + j) * C + k];
  return Array::from_float32({B, A, C}, out);
}

// Every Transpose after an LSTM node gets perm [0, 1, 2, 3].
void identity_transposes(onnx::GraphProto& g) {
  for (onnx::NodeProto& n : *g.mutable_node())
    if (n.op_type() == "Transpose")
      for (onnx::AttributeProto& a : *n.mutable_attribute())
        if (a.name() == "perm" && a.ints_size() == 4)
          for (int i = 0; i < 4; ++i) a.set_ints(i, i);
}

// torch's glue after a layout=1 node is the wrong join: (N, T, D, H) transposed to (N, D, T, H).
TEST(OnnxLayout1, RejectsTorchsTimeMajorJoinAfterALayout1Node) {
  ScratchDir dir;
  const std::string model = edited_model(dir, "torch_stack_bidir", [](onnx::GraphProto& g) {
    for (onnx::NodeProto* n : lstm_nodes(g)) set_layout(*n, 1);
  });
  expect_error([&] { load_weights(model); }, ErrorCode::kUnsupported,
               {"LSTM node '/lstm/LSTM_1'", "Transpose node '/lstm/Transpose', Reshape node '/lstm/Reshape'",
                "(N, D, T·H), not (N, T, D·H)"});
}

class OnnxLayout1 : public ::testing::TestWithParam<const char*> {};

TEST_P(OnnxLayout1, CliRunsBatchMajorFromTheModel) {
  const std::string name = GetParam();
  ScratchDir dir;
  const std::string model = edited_model(dir, name, [](onnx::GraphProto& g) {
    for (onnx::NodeProto* n : lstm_nodes(g)) set_layout(*n, 1);
    identity_transposes(g);
  });
  const LoadedWeights w = load_weights(model);
  EXPECT_EQ(w.input_layout, TensorLayout::kBatchMajor);
  EXPECT_FALSE(load_weights(golden_path("onnx_import", name + ".onnx")).input_layout.has_value())
      << "layout=0 leaves the layout to the caller";

  // torch's x and y are time-major (T, N, ...): the batch-major model takes and gives them swapped.
  const ArrayMap expected = load_npz(golden_path("onnx_import", name + ".expected.npz"));
  const std::string x_path = dir.file("x_batch_major.npy");
  save_npy(x_path, swap_first_axes(load_npy(golden_path("onnx_import", name + ".x.npy")), "x"));
  for (const bool flag : {false, true}) {
    const std::string out_path = dir.file(fmt::format("out{}.npz", flag));
    std::vector<std::string> args = {"run",     "--backend", "reference", "--weights", model,
                                     "--input", x_path,      "--output",  out_path,    "--verbose"};
    if (flag) args.push_back("--batch-first");
    const CommandResult r = run_cli(args);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    if (!flag) EXPECT_NE(r.output.find("batch-first (the ONNX model's layout=1)"), std::string::npos) << r.output;
    const ArrayMap got = load_npz(out_path);
    const Array want_y = swap_first_axes(npz_member(expected, "y", "torch"), "y");
    const Array& got_y = npz_member(got, "y", "lstmrt output");
    EXPECT_EQ(got_y.shape, want_y.shape);
    EXPECT_TRUE(all_close(want_y.to_float32("y"), got_y.to_float32("y"), kTolerance, 0.0, name + " y"));
    for (const char* key : {"h_n", "c_n"}) {
      const Array& e = npz_member(expected, key, "torch");
      const Array& g = npz_member(got, key, "lstmrt output");
      EXPECT_EQ(g.shape, e.shape) << key;
      EXPECT_TRUE(all_close(e.to_float32(key), g.to_float32(key), kTolerance, 0.0, name + " " + key));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(TorchExport, OnnxLayout1, ::testing::Values("torch_single", "torch_stack_bidir"));

TEST(OnnxLayout1, CliRefusesTimeMajorShapedInput) {
  // The model says (B, T, I): an x whose last axis is not I is named with that layout.
  ScratchDir dir;
  const std::string model = edited_model(dir, "torch_single", [](onnx::GraphProto& g) {
    for (onnx::NodeProto* n : lstm_nodes(g)) set_layout(*n, 1);
  });
  save_npy(dir.file("x.npy"), Array::from_float32({2, 3}, {1, 2, 3, 4, 5, 6}));
  const CommandResult r =
      run_cli({"run", "--weights", model, "--input", dir.file("x.npy"), "--output", dir.file("out.npz")});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("(B, T, input_size="), std::string::npos) << r.output;
}

TEST(OnnxLayout1, RejectsMixedLayoutsInAStack) {
  ScratchDir dir;
  const std::string model =
      edited_model(dir, "torch_stack_bidir", [](onnx::GraphProto& g) { set_layout(*lstm_nodes(g).at(1), 1); });
  expect_error([&] { load_weights(model); }, ErrorCode::kUnsupported,
               {model, "attribute layout is 1 but the first LSTM node's is 0"});
}

TEST(OnnxLayout1, RejectsTransposeBeforeTheFirstNode) {
  ScratchDir dir;
  const std::string model = edited_model(dir, "torch_single", [](onnx::GraphProto& g) {
    onnx::NodeProto* lstm = lstm_nodes(g).at(0);
    set_layout(*lstm, 1);
    onnx::NodeProto* t = g.add_node();
    t->set_op_type("Transpose");
    t->set_name("swap_x");
    onnx::AttributeProto* perm = t->add_attribute();
    perm->set_name("perm");
    perm->set_type(onnx::AttributeProto::INTS);
    for (int p : {1, 0, 2}) perm->add_ints(p);
    t->add_input(lstm->input(0));
    t->add_output("x_swapped");
    lstm->set_input(0, "x_swapped");
  });
  expect_error([&] { load_weights(model); }, ErrorCode::kUnsupported,
               {"attribute layout is 1 but X passes through Transpose node 'swap_x'"});
}

TEST(OnnxLayout1, RejectsALayoutOtherThan0Or1) {
  ScratchDir dir;
  const std::string model =
      edited_model(dir, "torch_single", [](onnx::GraphProto& g) { set_layout(*lstm_nodes(g).at(0), 2); });
  expect_error([&] { load_weights(model); }, ErrorCode::kInvalidArgument, {"attribute layout is 2", "expected 0"});
}

}  // namespace
}  // namespace lstmrt::test
