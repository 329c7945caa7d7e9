// lstmrt's ONNX reader: TensorProto decoding and its error paths, files and test data sets, every
// LSTM node attribute, the layout conversions at the edge, and a node round trip through the
// reference backend.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "common/compare.hpp"
#include "common/expect_error.hpp"
#include "common/reference_runner.hpp"
#include "common/weights_equal.hpp"
#include "formats/onnx_lstm.hpp"
#include "lstmrt/lstmrt.hpp"

namespace lstmrt::test {
namespace {

onnx::TensorProto float_proto(const std::string& name, const std::vector<std::int64_t>& shape,
                              const std::vector<float>& values, bool raw) {
  onnx::TensorProto p;
  p.set_name(name);
  p.set_data_type(onnx::TensorProto_DataType_FLOAT);
  for (std::int64_t d : shape) p.add_dims(d);
  if (raw)
    p.set_raw_data(std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float)));
  else
    for (float v : values) p.add_float_data(v);
  return p;
}

onnx::TensorProto float_proto(const std::string& name, const Tensor& t, bool raw = true) {
  return float_proto(name, t.shape, t.data, raw);
}

// A fresh scratch directory per test, removed afterwards.
class ScratchDir {
 public:
  ScratchDir() {
    path_ = std::filesystem::temp_directory_path() / ("lstmrt_onnx_reader_" + std::to_string(test_seed()) + "_" +
                                                      ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() { std::filesystem::remove_all(path_); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

// ---- tensors --------------------------------------------------------------------------------------
TEST(OnnxTensor, ReadsRawDataAndFloatData) {
  std::mt19937_64 rng(test_seed());
  const std::vector<float> values = random_vector(24, rng);
  for (bool raw : {true, false}) {
    const Tensor t = formats_detail::tensor_from_proto(float_proto("w", {2, 3, 4}, values, raw));
    EXPECT_EQ(t.shape, (std::vector<std::int64_t>{2, 3, 4}));
    EXPECT_EQ(t.data, values);
  }
  const Tensor empty = formats_detail::tensor_from_proto(float_proto("e", {0, 5}, {}, true));
  EXPECT_EQ(empty.numel(), 0);
  const Tensor scalar = formats_detail::tensor_from_proto(float_proto("s", {}, {2.5f}, false));
  EXPECT_EQ(scalar.data, std::vector<float>{2.5f});
}

TEST(OnnxTensor, ReadsInt32AndInt64) {
  onnx::TensorProto p;
  p.set_data_type(onnx::TensorProto_DataType_INT32);
  p.add_dims(3);
  const std::int32_t v32[] = {7, -2, 5};
  p.set_raw_data(std::string(reinterpret_cast<const char*>(v32), sizeof(v32)));
  EXPECT_EQ(formats_detail::int_tensor_from_proto(p).data, (std::vector<std::int64_t>{7, -2, 5}));
  p.clear_raw_data();
  for (int v : {4, 0, 9}) p.add_int32_data(v);
  EXPECT_EQ(formats_detail::int_tensor_from_proto(p).data, (std::vector<std::int64_t>{4, 0, 9}));
  p.Clear();
  p.set_data_type(onnx::TensorProto_DataType_INT64);
  p.add_dims(2);
  const std::int64_t v64[] = {1LL << 40, -3};
  p.set_raw_data(std::string(reinterpret_cast<const char*>(v64), sizeof(v64)));
  EXPECT_EQ(formats_detail::int_tensor_from_proto(p).data, (std::vector<std::int64_t>{1LL << 40, -3}));
  p.clear_raw_data();
  p.add_int64_data(6);
  p.add_int64_data(8);
  const formats_detail::IntTensor t = formats_detail::int_tensor_from_proto(p);
  EXPECT_EQ(t.data, (std::vector<std::int64_t>{6, 8}));
  EXPECT_EQ(t.shape, (std::vector<std::int64_t>{2}));
}

TEST(OnnxTensor, ErrorPaths) {
  onnx::TensorProto p = float_proto("W", {2, 3}, std::vector<float>(6, 1.0f), true);
  p.set_data_type(onnx::TensorProto_DataType_DOUBLE);
  expect_error([&] { formats_detail::tensor_from_proto(p); }, ErrorCode::kInvalidArgument,
               {"tensor 'W' has data type DOUBLE, expected FLOAT"});
  expect_error([&] { formats_detail::int_tensor_from_proto(p); }, ErrorCode::kInvalidArgument,
               {"tensor 'W' has data type DOUBLE, expected INT32 or INT64"});
  p.set_data_type(77);
  expect_error([&] { formats_detail::tensor_from_proto(p); }, ErrorCode::kInvalidArgument, {"data type 77"});
  p = float_proto("W", {2, 3}, std::vector<float>(5, 1.0f), true);
  expect_error([&] { formats_detail::tensor_from_proto(p); }, ErrorCode::kIoError,
               {"tensor 'W' (FLOAT) has 20 bytes of raw_data, expected 6 elements × 4 bytes = 24"});
  p = float_proto("", {2, 3}, std::vector<float>(7, 1.0f), false);
  expect_error([&] { formats_detail::tensor_from_proto(p); }, ErrorCode::kIoError,
               {"TensorProto (FLOAT) has 7 values in float_data, expected 6 for shape (2, 3)"});
  p = float_proto("W", {2, -3}, {}, true);
  expect_error([&] { formats_detail::tensor_from_proto(p); }, ErrorCode::kIoError, {"negative dimension", "(2, -3)"});
  p = float_proto("W", {1LL << 30, 1LL << 30}, {}, true);
  expect_error([&] { formats_detail::tensor_from_proto(p); }, ErrorCode::kIoError, {"more than 2^40 elements"});
  p = float_proto("W", {2}, {1.0f, 2.0f}, true);
  p.set_data_location(onnx::TensorProto_DataLocation_EXTERNAL);
  expect_error([&] { formats_detail::tensor_from_proto(p); }, ErrorCode::kIoError, {"tensor 'W'", "external file"});
  onnx::TensorProto ints;
  ints.set_name("lens");
  ints.set_data_type(onnx::TensorProto_DataType_INT32);
  ints.add_dims(4);
  ints.set_raw_data(std::string(12, '\0'));
  expect_error([&] { formats_detail::int_tensor_from_proto(ints); }, ErrorCode::kIoError,
               {"tensor 'lens' (INT32) has 12 bytes of raw_data, expected 4 elements × 4 bytes = 16"});
  ints.clear_raw_data();
  ints.add_int32_data(1);
  expect_error([&] { formats_detail::int_tensor_from_proto(ints); }, ErrorCode::kIoError,
               {"1 values in int32_data, expected 4"});
  ints.set_data_type(onnx::TensorProto_DataType_INT64);
  expect_error([&] { formats_detail::int_tensor_from_proto(ints); }, ErrorCode::kIoError,
               {"0 values in int64_data, expected 4"});
  ints.set_data_type(onnx::TensorProto_DataType_FLOAT);
  expect_error([&] { formats_detail::int_tensor_from_proto(ints); }, ErrorCode::kInvalidArgument,
               {"FLOAT, expected INT32 or INT64"});
}

TEST(OnnxFiles, ReadsTensorAndModelFilesAndNamesBadOnes) {
  ScratchDir dir;
  const onnx::TensorProto p = float_proto("X", {2, 2}, {1, 2, 3, 4}, true);
  write_bytes(dir.file("x.pb"), p.SerializeAsString());
  EXPECT_EQ(formats_detail::tensor_from_proto(formats_detail::load_tensor_pb(dir.file("x.pb"))).data,
            (std::vector<float>{1, 2, 3, 4}));
  expect_error([&] { formats_detail::load_tensor_pb(dir.file("missing.pb")); }, ErrorCode::kIoError,
               {"missing.pb: cannot open tensor file", "No such file"});
  write_bytes(dir.file("junk.pb"), std::string("\xff\xff\xff\xff\xff", 5));
  expect_error([&] { formats_detail::load_tensor_pb(dir.file("junk.pb")); }, ErrorCode::kIoError,
               {"junk.pb: not a serialized ONNX TensorProto"});
  expect_error([&] { formats_detail::load_onnx_model(dir.file("junk.pb")); }, ErrorCode::kIoError,
               {"junk.pb: not an ONNX model"});
  expect_error([&] { formats_detail::load_onnx_model(dir.file("none.onnx")); }, ErrorCode::kIoError,
               {"none.onnx: cannot open ONNX model"});
  write_bytes(dir.file("empty.onnx"), onnx::ModelProto().SerializeAsString());
  expect_error([&] { formats_detail::load_onnx_model(dir.file("empty.onnx")); }, ErrorCode::kIoError,
               {"empty.onnx: ONNX model has no graph"});
}

TEST(OnnxFiles, TestDataSetsAreKeyedByNameOrGraphPosition) {
  ScratchDir dir;
  onnx::GraphProto graph;
  for (const char* n : {"X", "W", "R"}) graph.add_input()->set_name(n);
  graph.add_output()->set_name("Y_h");
  *graph.add_initializer() = float_proto("W", {1}, {5.0f}, true);  // W is an initializer: not fed
  write_bytes(dir.file("input_0.pb"), float_proto("", {1}, {1.0f}, true).SerializeAsString());
  write_bytes(dir.file("input_1.pb"), float_proto("", {1}, {2.0f}, true).SerializeAsString());
  write_bytes(dir.file("output_0.pb"), float_proto("Y_h", {1}, {3.0f}, true).SerializeAsString());
  const formats_detail::ProtoMap inputs = formats_detail::load_test_data_inputs(graph, dir.path());
  ASSERT_EQ(inputs.size(), 2u);
  EXPECT_EQ(formats_detail::tensor_from_proto(inputs.at("X")).data[0], 1.0f);
  EXPECT_EQ(formats_detail::tensor_from_proto(inputs.at("R")).data[0], 2.0f);
  const formats_detail::ProtoMap outputs = formats_detail::load_test_data_outputs(graph, dir.path());
  ASSERT_EQ(outputs.size(), 1u);
  EXPECT_EQ(formats_detail::tensor_from_proto(outputs.at("Y_h")).data[0], 3.0f);
  EXPECT_EQ(formats_detail::tensor_from_proto(formats_detail::graph_initializers(graph).at("W")).data[0], 5.0f);

  write_bytes(dir.file("input_2.pb"), float_proto("", {1}, {1.0f}, true).SerializeAsString());
  expect_error([&] { formats_detail::load_test_data_inputs(graph, dir.path()); }, ErrorCode::kIoError,
               {"input_2.pb: unnamed tensor and the graph has only 2 inputs"});
  write_bytes(dir.file("input_2.pb"), float_proto("X", {1}, {1.0f}, true).SerializeAsString());
  expect_error([&] { formats_detail::load_test_data_inputs(graph, dir.path()); }, ErrorCode::kIoError,
               {"input_2.pb: a second tensor named 'X'"});
  expect_error([&] { formats_detail::load_test_data_inputs(graph, dir.file("nope")); }, ErrorCode::kIoError,
               {"nope: test data set directory not found"});
}

// ---- the LSTM node --------------------------------------------------------------------------------
struct NodeFixture {
  onnx::NodeProto node;
  formats_detail::ProtoMap tensors;
};

// An LSTM node with inputs X W R B "" "" "" P (B/P as asked) and outputs Y Y_h Y_c.
NodeFixture make_node(int D, int I, int H, bool bias, bool peepholes, std::mt19937_64& rng) {
  NodeFixture f;
  f.node.set_op_type("LSTM");
  f.node.set_name("lstm0");
  for (const char* n : {"X", "W", "R", bias ? "B" : "", "", "", "", peepholes ? "P" : ""}) f.node.add_input(n);
  for (const char* n : {"Y", "Y_h", "Y_c"}) f.node.add_output(n);
  f.tensors["W"] = float_proto("W", {D, 4 * H, I}, random_vector(4 * D * H * I, rng), true);
  f.tensors["R"] = float_proto("R", {D, 4 * H, H}, random_vector(4 * D * H * H, rng), false);
  if (bias) f.tensors["B"] = float_proto("B", {D, 8 * H}, random_vector(8 * D * H, rng), true);
  if (peepholes) f.tensors["P"] = float_proto("P", {D, 3 * H}, random_vector(3 * D * H, rng), true);
  return f;
}

onnx::AttributeProto& add_attr(onnx::NodeProto& node, const std::string& name,
                               onnx::AttributeProto_AttributeType type) {
  onnx::AttributeProto* a = node.add_attribute();
  a->set_name(name);
  a->set_type(type);
  return *a;
}
void set_int(onnx::NodeProto& n, const std::string& name, std::int64_t v) {
  add_attr(n, name, onnx::AttributeProto_AttributeType_INT).set_i(v);
}
void set_float(onnx::NodeProto& n, const std::string& name, float v) {
  add_attr(n, name, onnx::AttributeProto_AttributeType_FLOAT).set_f(v);
}
void set_string(onnx::NodeProto& n, const std::string& name, const std::string& v) {
  add_attr(n, name, onnx::AttributeProto_AttributeType_STRING).set_s(v);
}
void set_strings(onnx::NodeProto& n, const std::string& name, const std::vector<std::string>& v) {
  auto& a = add_attr(n, name, onnx::AttributeProto_AttributeType_STRINGS);
  for (const auto& s : v) a.add_strings(s);
}
void set_floats(onnx::NodeProto& n, const std::string& name, const std::vector<float>& v) {
  auto& a = add_attr(n, name, onnx::AttributeProto_AttributeType_FLOATS);
  for (float x : v) a.add_floats(x);
}

TEST(OnnxLstmNode, DefaultsAndNames) {
  std::mt19937_64 rng(test_seed());
  NodeFixture f = make_node(1, 3, 5, true, false, rng);
  const formats_detail::OnnxLstmNode n = formats_detail::read_lstm_node(f.node, f.tensors);  // hidden_size from R
  EXPECT_EQ(n.desc.input_size, 3);
  EXPECT_EQ(n.desc.hidden_size, 5);
  EXPECT_EQ(n.desc.num_layers, 1);
  EXPECT_EQ(n.desc.proj_size, 0);
  EXPECT_EQ(n.desc.direction, Direction::kForward);
  EXPECT_FALSE(n.desc.uses_extended_cell());
  EXPECT_EQ(n.layout, TensorLayout::kTimeMajor);
  EXPECT_EQ(n.x, "X");
  EXPECT_EQ(n.sequence_lens, "");
  EXPECT_EQ(n.initial_h, "");
  EXPECT_EQ(n.y, "Y");
  EXPECT_EQ(n.y_h, "Y_h");
  EXPECT_EQ(n.y_c, "Y_c");
  OnnxLstmWeights o{formats_detail::tensor_from_proto(f.tensors["W"]),
                    formats_detail::tensor_from_proto(f.tensors["R"]),
                    formats_detail::tensor_from_proto(f.tensors["B"]), std::nullopt};
  EXPECT_TRUE(same_weights(n.weights, Weights{from_onnx(o, 1, 3, 5)}));
}

TEST(OnnxLstmNode, EveryAttribute) {
  std::mt19937_64 rng(test_seed());
  NodeFixture f = make_node(2, 4, 3, true, true, rng);
  set_int(f.node, "hidden_size", 3);
  set_string(f.node, "direction", "bidirectional");
  set_float(f.node, "clip", 2.5f);
  set_int(f.node, "input_forget", 1);
  set_int(f.node, "layout", 1);
  set_int(f.node, "output_sequence", 1);
  // alpha/beta are consumed in order by the activations that take them.
  set_strings(f.node, "activations", {"HardSigmoid", "LeakyRelu", "ScaledTanh", "sigmoid", "TANH", "Affine"});
  set_floats(f.node, "activation_alpha", {0.3f, 0.05f, 2.0f, 0.7f});
  set_floats(f.node, "activation_beta", {0.6f, 1.5f, 0.1f});
  const formats_detail::OnnxLstmNode n = formats_detail::read_lstm_node(f.node, f.tensors);
  const ModelDesc& m = n.desc;
  EXPECT_EQ(m.direction, Direction::kBidirectional);
  EXPECT_EQ(m.clip, 2.5f);
  EXPECT_TRUE(m.coupled_input_forget);
  EXPECT_TRUE(m.peepholes);
  EXPECT_EQ(n.layout, TensorLayout::kBatchMajor);
  EXPECT_EQ(m.activations[0].gate, Activation::hard_sigmoid(0.3f, 0.6f));
  EXPECT_EQ(m.activations[0].cell, Activation::leaky_relu(0.05f));
  EXPECT_EQ(m.activations[0].hidden, Activation::scaled_tanh(2.0f, 1.5f));
  EXPECT_EQ(m.activations[1].gate, Activation::sigmoid());
  EXPECT_EQ(m.activations[1].cell, Activation::tanh());
  EXPECT_EQ(m.activations[1].hidden, Activation::affine(0.7f, 0.1f));
  ASSERT_EQ(n.weights.layers.size(), 2u);
  EXPECT_EQ(n.weights.layers[1].peephole.size(), 9u);

  // Absent alpha/beta take ONNX's defaults; one direction's three activations serve it.
  NodeFixture g = make_node(1, 2, 2, false, false, rng);
  set_string(g.node, "direction", "reverse");
  set_strings(g.node, "activations", {"HardSigmoid", "Elu", "ThresholdedRelu"});
  const ModelDesc r = formats_detail::read_lstm_node(g.node, g.tensors).desc;
  EXPECT_EQ(r.direction, Direction::kReverse);
  EXPECT_EQ(r.activations[0].gate, Activation::hard_sigmoid(0.2f, 0.5f));
  EXPECT_EQ(r.activations[0].cell, Activation::elu(1.0f));
  EXPECT_EQ(r.activations[0].hidden, Activation::thresholded_relu(1.0f));
}

TEST(OnnxLstmNode, BadAttributesAndInputsAreNamed) {
  std::mt19937_64 rng(test_seed());
  const NodeFixture base = make_node(1, 3, 4, true, false, rng);
  const ErrorCode bad = ErrorCode::kInvalidArgument;
  auto expect_bad = [&](auto edit, std::initializer_list<const char*> parts) {
    NodeFixture f = base;
    edit(f);
    try {
      formats_detail::read_lstm_node(f.node, f.tensors);
      ADD_FAILURE() << "no error; expected " << *parts.begin();
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), bad) << e.what();
      for (const char* p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
    }
  };
  expect_bad([](NodeFixture& f) { f.node.set_op_type("GRU"); }, {"node 'lstm0' is GRU, expected an LSTM"});
  expect_bad([](NodeFixture& f) { f.node.set_domain("com.microsoft"); }, {"com.microsoft.LSTM"});
  expect_bad([](NodeFixture& f) { set_int(f.node, "hiden_size", 4); },
             {"LSTM node 'lstm0'", "unknown attribute 'hiden_size'"});
  expect_bad([](NodeFixture& f) { set_float(f.node, "hidden_size", 4); },
             {"attribute hidden_size has type FLOAT, expected INT"});
  expect_bad([](NodeFixture& f) { set_int(f.node, "clip", 1); }, {"attribute clip has type INT, expected FLOAT"});
  expect_bad([](NodeFixture& f) { set_string(f.node, "activations", "Tanh"); },
             {"activations has type STRING, expected STRINGS"});
  expect_bad([](NodeFixture& f) { set_int(f.node, "layout", 1), set_int(f.node, "layout", 0); },
             {"attribute layout is given twice"});
  expect_bad([](NodeFixture& f) { set_string(f.node, "direction", "sideways"); },
             {"attribute direction is 'sideways', expected forward, reverse or bidirectional"});
  expect_bad([](NodeFixture& f) { set_int(f.node, "layout", 2); },
             {"attribute layout is 2, expected 0 (time-major) or 1"});
  expect_bad([](NodeFixture& f) { set_int(f.node, "input_forget", 2); },
             {"attribute input_forget is 2, expected 0 or 1"});
  expect_bad([](NodeFixture& f) { set_int(f.node, "output_sequence", 3); },
             {"attribute output_sequence is 3, expected 0 or 1"});
  expect_bad([](NodeFixture& f) { set_float(f.node, "clip", -1.0f); },
             {"attribute clip is -1, expected a finite value > 0"});
  expect_bad([](NodeFixture& f) { set_float(f.node, "clip", 0.0f); }, {"attribute clip is 0"});
  expect_bad([](NodeFixture& f) { set_int(f.node, "hidden_size", 0); }, {"attribute hidden_size is 0"});
  expect_bad([](NodeFixture& f) { set_int(f.node, "hidden_size", 5); },
             {"direction forward, hidden_size 5", "W has shape (1, 16, 3), expected (D=1, 4H=20, I=3)"});
  expect_bad([](NodeFixture& f) { set_string(f.node, "direction", "bidirectional"); },
             {"W has shape (1, 16, 3), expected (D=2, 4H=16, I=3)"});
  expect_bad(
      [](NodeFixture& f) {
        set_strings(f.node, "activations", {"Sigmoid", "Tanh"});
      },
      {"attribute activations has 2 names, expected 3 per direction (f, g, h) × 1 = 3"});
  expect_bad(
      [](NodeFixture& f) {
        set_strings(f.node, "activations", {"Sigmoid", "Swish", "Tanh"});
      },
      {"attribute activations[1] is 'Swish'", "HardSigmoid"});
  expect_bad(
      [](NodeFixture& f) {
        set_strings(f.node, "activations", {"hard_sigmoid", "Tanh", "Tanh"});
      },
      {"activations[0] is 'hard_sigmoid'"});
  expect_bad(
      [](NodeFixture& f) {
        set_strings(f.node, "activations", {"LeakyRelu", "Tanh", "Tanh"});
        set_floats(f.node, "activation_alpha", {0.1f, 0.2f});
      },
      {"attribute activation_alpha has 2 values, but the activations take only 1"});
  expect_bad(
      [](NodeFixture& f) {
        set_strings(f.node, "activations", {"LeakyRelu", "Tanh", "Tanh"});
        set_floats(f.node, "activation_beta", {0.1f});
      },
      {"attribute activation_beta has 1 values, but the activations take only 0"});
  expect_bad([](NodeFixture& f) { set_floats(f.node, "activation_alpha", {0.1f}); },
             {"activation_alpha/activation_beta given without activations"});
  expect_bad([](NodeFixture& f) { f.node.set_input(0, ""); }, {"input X (input 0) is missing"});
  expect_bad([](NodeFixture& f) { f.node.set_input(2, ""); }, {"input R (input 2) is missing"});
  expect_bad([](NodeFixture& f) { f.tensors.erase("W"); },
             {"input W 'W' is neither an initializer nor a provided input"});
  expect_bad([](NodeFixture& f) { f.node.set_input(7, "P"); }, {"input P 'P' is neither"});
  expect_bad([](NodeFixture& f) { f.tensors["B"].set_data_type(onnx::TensorProto_DataType_FLOAT16); },
             {"input B: tensor 'B' has data type FLOAT16, expected FLOAT"});
  expect_bad(
      [](NodeFixture& f) {
        f.tensors["W"] = float_proto("W", {16, 3}, std::vector<float>(48), true);
      },
      {"input W has shape (16, 3), expected (D, 4H, I)"});
  expect_bad([](NodeFixture& f) { f.tensors["R"] = float_proto("R", {64}, std::vector<float>(64), true); },
             {"input R has shape (64,), expected (D, 4H, H)"});
  expect_bad(
      [](NodeFixture& f) {
        f.tensors["B"] = float_proto("B", {1, 16}, std::vector<float>(16), true);
      },
      {"B has shape (1, 16), expected (D=1, 8H=32)"});
  expect_bad([](NodeFixture& f) { f.node.add_input("extra"); },
             {"has 9 inputs and 3 outputs, expected at most 8 and 3"});
  // A bad raw_data size inside W keeps its I/O code and gains the node's name.
  NodeFixture f = base;
  f.tensors["W"] = float_proto("W", {1, 16, 3}, std::vector<float>(47), true);
  expect_error([&] { formats_detail::read_lstm_node(f.node, f.tensors); }, ErrorCode::kIoError,
               {"LSTM node 'lstm0': input W: tensor 'W' (FLOAT) has 188 bytes of raw_data"});
}

// ---- edge conversions ------------------------------------------------------------------------------
// Each value encodes its own indices, so a misplaced element shows where it came from.
TEST(OnnxLayouts, YAndStateConversionsMoveEveryElement) {
  const int T = 3, N = 4, D = 2, H = 5;
  auto code = [](int t, int n, int d, int h) { return static_cast<float>(1000 * t + 100 * n + 10 * d + h); };
  for (TensorLayout layout : {TensorLayout::kTimeMajor, TensorLayout::kBatchMajor}) {
    const bool bm = layout == TensorLayout::kBatchMajor;
    std::vector<float> y(T * N * D * H);  // lstmrt y: (T, N, D·H) or (N, T, D·H)
    for (int t = 0; t < T; ++t)
      for (int n = 0; n < N; ++n)
        for (int d = 0; d < D; ++d)
          for (int h = 0; h < H; ++h) y[((bm ? n * T + t : t * N + n) * D + d) * H + h] = code(t, n, d, h);
    const std::vector<float> onnx_y = formats_detail::onnx_y_from_lstmrt(y, T, N, D, H, layout);
    for (int t = 0; t < T; ++t)
      for (int n = 0; n < N; ++n)
        for (int d = 0; d < D; ++d)
          for (int h = 0; h < H; ++h) {
            const int at = bm ? ((n * T + t) * D + d) * H + h : ((t * D + d) * N + n) * H + h;  // (N,T,D,H) / (T,D,N,H)
            ASSERT_EQ(onnx_y[at], code(t, n, d, h)) << "t" << t << " n" << n << " d" << d << " h" << h;
          }
    std::vector<float> state(D * N * H);  // lstmrt (D, N, H)
    for (int d = 0; d < D; ++d)
      for (int n = 0; n < N; ++n)
        for (int h = 0; h < H; ++h) state[(d * N + n) * H + h] = code(0, n, d, h);
    const std::vector<float> onnx_state = formats_detail::onnx_state_from_lstmrt(state, N, D, H, layout);
    for (int d = 0; d < D; ++d)
      for (int n = 0; n < N; ++n)
        for (int h = 0; h < H; ++h)
          ASSERT_EQ(onnx_state[bm ? (n * D + d) * H + h : (d * N + n) * H + h], code(0, n, d, h));
    EXPECT_EQ(formats_detail::lstmrt_state_from_onnx(onnx_state, N, D, H, layout), state);
  }
  expect_error([&] { formats_detail::onnx_y_from_lstmrt(std::vector<float>(7), T, N, D, H, TensorLayout::kTimeMajor); },
               ErrorCode::kInvalidArgument, {"tensor has 7 values, expected"});
}

// A node written from canonical weights (to_onnx) and read back is the same model: weights,
// description (bidirectional, batch-major, peepholes, clip, per-direction activations with
// alpha/beta) and outputs with lengths and initial state.
TEST(OnnxLstmNode, NodeFromCanonicalWeightsRunsLikeTheModel) {
  std::mt19937_64 rng(test_seed());
  ModelDesc m;
  m.input_size = 4;
  m.hidden_size = 5;
  m.direction = Direction::kBidirectional;
  m.peepholes = true;
  m.clip = 1.5f;
  m.activations[0] = {Activation::hard_sigmoid(0.3f, 0.4f), Activation::tanh(), Activation::softsign()};
  m.activations[1] = {Activation::sigmoid(), Activation::scaled_tanh(1.2f, 0.8f), Activation::tanh()};
  const Weights w = random_weights(m, test_seed(), 0.6f);
  const OnnxLstmWeights o = to_onnx(w.layers, 4, 5);
  NodeFixture f;
  f.node.set_op_type("LSTM");
  for (const char* n : {"X", "W", "R", "B", "lens", "h0", "c0", "P"}) f.node.add_input(n);
  for (const char* n : {"Y", "Y_h", "Y_c"}) f.node.add_output(n);
  f.tensors["W"] = float_proto("W", o.W);
  f.tensors["R"] = float_proto("R", o.R, false);
  f.tensors["B"] = float_proto("B", *o.B);
  f.tensors["P"] = float_proto("P", *o.P);
  set_string(f.node, "direction", "bidirectional");
  set_int(f.node, "layout", 1);
  set_float(f.node, "clip", 1.5f);
  set_strings(f.node, "activations", {"HardSigmoid", "Tanh", "Softsign", "Sigmoid", "ScaledTanh", "Tanh"});
  set_floats(f.node, "activation_alpha", {0.3f, 1.2f});
  set_floats(f.node, "activation_beta", {0.4f, 0.8f});
  const formats_detail::OnnxLstmNode node = formats_detail::read_lstm_node(f.node, f.tensors);
  EXPECT_TRUE(same_weights(w, node.weights));
  EXPECT_EQ(describe(node.desc), describe(m));

  HostInputs in = random_inputs(m, 6, 3, rng, true, true, node.layout);
  Lstm direct = reference_lstm(m, w);
  Lstm via_onnx = reference_lstm(node.desc, node.weights);
  const HostOutputs want = run_host(direct, in);
  const HostOutputs got = run_host(via_onnx, in);
  EXPECT_TRUE(outputs_close(want, got, 0.0, 0.0, "ONNX round trip"));
}

}  // namespace
}  // namespace lstmrt::test
