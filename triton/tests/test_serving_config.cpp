// The model configuration as Triton hands it over (JSON, protobuf field names) and the check of
// its tensors against the model.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include "common/expect_error.hpp"
#include "serving_helpers.hpp"

namespace lstmrt::serving::test {
namespace {

using lstmrt::test::expect_error;

// A configuration in the JSON form the server writes (64-bit numbers as strings, as protobuf's
// JSON printer may emit them), with the tensors of a model with I = 3, L·D = 2, H = 5.
std::string config_json(const std::string& parameters, const std::string& extra = "", const std::string& inputs = "",
                        const std::string& outputs = "", int max_batch = 16) {
  const std::string in = inputs.empty() ? R"([
      {"name": "x", "data_type": "TYPE_FP32", "dims": ["-1", "3"], "allow_ragged_batch": true},
      {"name": "lengths", "data_type": "TYPE_INT64", "dims": ["1"], "optional": true},
      {"name": "h0", "data_type": "TYPE_FP32", "dims": [2, 5], "optional": true},
      {"name": "c0", "data_type": "TYPE_FP32", "dims": [2, 5], "optional": true}])"
                                        : inputs;
  const std::string out = outputs.empty() ? R"([
      {"name": "y", "data_type": "TYPE_FP32", "dims": ["-1", "5"]},
      {"name": "h_n", "data_type": "TYPE_FP32", "dims": ["2", "5"]},
      {"name": "c_n", "data_type": "TYPE_FP32", "dims": ["2", "5"]}])"
                                          : outputs;
  return fmt::format(R"({{"name": "m", "backend": "lstmrt", "max_batch_size": {}, "input": {}, "output": {},
                         "parameters": {{{}}} {} }})",
                     max_batch, in, out, parameters, extra);
}

const std::string kModelFile = R"("model_file": {"string_value": "model.npz"})";

ServedModel small_model(int layers = 2) {
  ModelDesc d;
  d.input_size = 3;
  d.hidden_size = 5;
  d.num_layers = layers;
  return one_stage(d, random_weights(d, 1, 0.5f));
}

TEST(ServingConfig, ParsesParametersTensorsAndSequenceBatching) {
  const ServingConfig c = parse_serving_config(
      config_json(kModelFile + R"(, "backend": {"string_value": "fused"}, "dtype": {"string_value": "bfloat16"},
        "fused_kernel": {"string_value": "persistent"}, "math": {"string_value": "tf32"},
        "cudnn_algo": {"string_value": "persist_static"}, "reserve_steps": {"string_value": "64"})",
                  R"(, "sequence_batching": {"max_sequence_idle_microseconds": "2500000",
            "oldest": {"max_candidate_sequences": 300}, "state": []})"));
  EXPECT_EQ(c.model_name, "m");
  EXPECT_EQ(c.max_batch_size, 16);
  EXPECT_EQ(c.model_file, "model.npz");
  EXPECT_EQ(c.options.kind, BackendKind::kFused);
  EXPECT_EQ(c.options.data_type, DataType::kBFloat16);
  EXPECT_EQ(c.options.fused_kernel, FusedKernel::kPersistent);
  EXPECT_EQ(c.options.math, MathMode::kTF32);
  EXPECT_EQ(c.options.cudnn_algo, CudnnAlgo::kPersistStatic);
  EXPECT_EQ(c.reserve_steps, 64);
  ASSERT_NE(c.input("x"), nullptr);
  EXPECT_EQ(c.input("x")->dims, (std::vector<std::int64_t>{-1, 3}));
  EXPECT_EQ(c.input("lengths")->type, DataType::kInt64);
  EXPECT_EQ(c.input("x")->type, DataType::kFloat32);
  EXPECT_EQ(c.input("x")->type_name, "TYPE_FP32");
  EXPECT_TRUE(c.input("h0")->optional);
  EXPECT_EQ(c.output("h_n")->dims, (std::vector<std::int64_t>{2, 5}));
  EXPECT_TRUE(c.sequence.enabled);
  EXPECT_TRUE(c.sequence.oldest);
  EXPECT_EQ(c.sequence.slots, 300);
  EXPECT_EQ(c.sequence.idle_microseconds, 2500000u);
}

TEST(ServingConfig, DefaultsAndDirectStrategySlots) {
  const ServingConfig c = parse_serving_config(config_json(kModelFile, R"(, "sequence_batching": {"direct": {}})"));
  EXPECT_EQ(c.options.kind, BackendKind::kAuto);
  EXPECT_EQ(c.options.data_type, DataType::kFloat32);
  EXPECT_FALSE(c.sequence.oldest);
  EXPECT_EQ(c.sequence.slots, 16);  // direct: one slot per batch row
  EXPECT_EQ(c.sequence.idle_microseconds, 1000000u);
  const ServingConfig stateless = parse_serving_config(config_json(kModelFile));
  EXPECT_FALSE(stateless.sequence.enabled);
}

TEST(ServingConfig, RejectsBadParameters) {
  const auto parse = [](const std::string& params, const std::string& extra = "") {
    return [=] { parse_serving_config(config_json(params, extra)); };
  };
  expect_error(parse(""), ErrorCode::kInvalidArgument, {"model 'm'", "no model file", "model_file"});
  expect_error(parse(R"("model_file": {"string_value": "../x.npz"})"), ErrorCode::kInvalidArgument,
               {"model_file is '../x.npz'", "without a path"});
  expect_error(parse(kModelFile + R"(, "backnd": {"string_value": "fused"})"), ErrorCode::kInvalidArgument,
               {"unknown parameter 'backnd'", "model_file, backend, dtype"});
  expect_error(parse(kModelFile + R"(, "backend": {"string_value": "tensorrt"})"), ErrorCode::kInvalidArgument,
               {"parameter backend is 'tensorrt'", "auto, cudnn, fused, reference"});
  expect_error(parse(kModelFile + R"(, "dtype": {"string_value": "float64"})"), ErrorCode::kInvalidArgument,
               {"parameter dtype is 'float64'", "float32, float16, bfloat16"});
  expect_error(parse(kModelFile + R"(, "fused_kernel": {"string_value": "fast"})"), ErrorCode::kInvalidArgument,
               {"parameter fused_kernel is 'fast'", "stepwise"});
  expect_error(parse(kModelFile + R"(, "reserve_steps": {"string_value": "many"})"), ErrorCode::kInvalidArgument,
               {"reserve_steps", "expected an integer"});
  expect_error(parse(kModelFile + R"(, "backend": {"int64_value": 3})"), ErrorCode::kInvalidArgument,
               {"parameter backend has no string_value"});
  expect_error(parse(kModelFile, R"(, "sequence_batching": {"state": [{"input_name": "h"}]})"),
               ErrorCode::kInvalidArgument, {"state section", "keeps each sequence's h and c itself"});
  expect_error([] { parse_serving_config("{not json"); }, ErrorCode::kInvalidArgument, {"not JSON"});
}

TEST(ServingConfig, TensorsMatchingTheModelPass) {
  EXPECT_NO_THROW(check_tensors(parse_serving_config(config_json(kModelFile)), small_model()));
  // Unbatched: the dims carry the batch dimension.
  const std::string in = R"([{"name": "x", "data_type": "TYPE_FP32", "dims": [-1, -1, 3]},
                              {"name": "lengths", "data_type": "TYPE_INT32", "dims": [-1]}])";
  const std::string out = R"([{"name": "y", "data_type": "TYPE_FP32", "dims": [4, -1, 5]}])";
  EXPECT_NO_THROW(check_tensors(parse_serving_config(config_json(kModelFile, "", in, out, 0)), small_model()));
}

TEST(ServingConfig, TensorsNotMatchingTheModelAreNamed) {
  const auto check = [](const std::string& in, const std::string& out, int max_batch = 16, int layers = 2) {
    return [=] {
      check_tensors(parse_serving_config(config_json(kModelFile, "", in, out, max_batch)), small_model(layers));
    };
  };
  const std::string x = R"({"name": "x", "data_type": "TYPE_FP32", "dims": [-1, 3]})";
  const std::string y = R"([{"name": "y", "data_type": "TYPE_FP32", "dims": [-1, 5]}])";
  expect_error(check(R"([{"name": "x", "data_type": "TYPE_FP32", "dims": [-1, 4]}])", y), ErrorCode::kInvalidArgument,
               {"tensor 'x' has dims [-1, 4]", "expected [-1, 3]", "input_size 3"});
  expect_error(check(R"([{"name": "x", "data_type": "TYPE_FP32", "dims": [-1, 3]}])", y, 0),
               ErrorCode::kInvalidArgument,
               {"tensor 'x' has dims [-1, 3]", "expected [-1, -1, 3]", "batch dimension included"});
  expect_error(check(R"([{"name": "x", "data_type": "TYPE_FP64", "dims": [-1, 3]}])", y), ErrorCode::kInvalidArgument,
               {"tensor 'x' is TYPE_FP64", "expected TYPE_FP32"});
  expect_error(check(R"([{"name": "x", "data_type": "TYPE_UINT16", "dims": [-1, 3]}])", y), ErrorCode::kInvalidArgument,
               {"tensor 'x' is TYPE_UINT16", "expected TYPE_FP32"});
  expect_error(check(R"([{"name": "x", "dims": [-1, 3]}])", y), ErrorCode::kInvalidArgument,
               {"tensor 'x' is TYPE_INVALID", "expected TYPE_FP32"});
  expect_error(check("[" + x + R"(, {"name": "mask", "data_type": "TYPE_FP32", "dims": [1]}])", y),
               ErrorCode::kInvalidArgument, {"unknown input 'mask'", "x, lengths, h0 or c0"});
  expect_error(check("[" + x + R"(, {"name": "lengths", "data_type": "TYPE_FP32", "dims": [1]}])", y),
               ErrorCode::kInvalidArgument, {"tensor 'lengths' is TYPE_FP32", "TYPE_INT32 or TYPE_INT64"});
  expect_error(check("[" + x + R"(, {"name": "lengths", "data_type": "TYPE_UINT64", "dims": [1]}])", y),
               ErrorCode::kInvalidArgument, {"tensor 'lengths' is TYPE_UINT64", "TYPE_INT32 or TYPE_INT64"});
  expect_error(check("[" + x + R"(, {"name": "lengths", "data_type": "TYPE_INT32", "dims": [2]}])", y),
               ErrorCode::kInvalidArgument, {"tensor 'lengths' has dims [2]", "one length per batch row"});
  expect_error(check("[" + x + R"(, {"name": "h0", "data_type": "TYPE_FP32", "dims": [1, 5]}])", y),
               ErrorCode::kInvalidArgument, {"tensor 'h0' has dims [1, 5]", "expected [2, 5]"});
  expect_error(check(R"([{"name": "lengths", "data_type": "TYPE_INT32", "dims": [1]}])", y),
               ErrorCode::kInvalidArgument, {"no input 'x'"});
  expect_error(check("[" + x + "]", R"([{"name": "h_n", "data_type": "TYPE_FP32", "dims": [2, 6]}])"),
               ErrorCode::kInvalidArgument, {"tensor 'h_n' has dims [2, 6]", "expected [2, 5]"});
  expect_error(check("[" + x + "]", R"([{"name": "logits", "data_type": "TYPE_FP32", "dims": [5]}])"),
               ErrorCode::kInvalidArgument, {"unknown output 'logits'", "y, h_n or c_n"});
  expect_error(check("[" + x + "]", R"([{"name": "y", "data_type": "TYPE_FP32", "dims": [5]}])"),
               ErrorCode::kInvalidArgument, {"tensor 'y' has dims [5]", "T steps of width 5"});
  expect_error(check("[" + x + "]", "[]"), ErrorCode::kInvalidArgument, {"no outputs"});
}

TEST(ServingConfig, DtypeSetsTheTensorType) {
  const std::string in = R"([{"name": "x", "data_type": "TYPE_FP16", "dims": [-1, 3]}])";
  const std::string out = R"([{"name": "y", "data_type": "TYPE_FP16", "dims": [-1, 5]}])";
  const std::string half = kModelFile + R"(, "dtype": {"string_value": "float16"})";
  EXPECT_NO_THROW(check_tensors(parse_serving_config(config_json(half, "", in, out)), small_model()));
  expect_error([&] { check_tensors(parse_serving_config(config_json(kModelFile, "", in, out)), small_model()); },
               ErrorCode::kInvalidArgument, {"tensor 'x' is TYPE_FP16", "expected TYPE_FP32", "dtype float32"});
}

TEST(ServedModel, LoadsEveryFormatAsStages) {
  const std::string data = LSTMRT_TEST_DATA_DIR;
  const ServedModel npz = load_served_model(data + "/torch/stack_bidir_proj.weights.npz");
  ASSERT_EQ(npz.stages.size(), 1u);
  EXPECT_TRUE(npz.model.return_sequences);
  EXPECT_EQ(npz.stages[0].state_rows, npz.model.stages[0].desc.num_layers * 2);
  const ServedModel keras = load_served_model(data + "/keras_import/bidir_mul_go_backwards_last.keras");
  ASSERT_EQ(keras.stages.size(), 2u);
  EXPECT_FALSE(keras.model.return_sequences);
  EXPECT_EQ(keras.stages[1].input_width, keras.stages[0].output_width);
  const ServedModel onnx = load_served_model(data + "/onnx_import/torch_stack_bidir.onnx");
  EXPECT_EQ(onnx.stages.size(), 1u);
  expect_error([&] { load_served_model(data + "/onnx_import/missing.onnx"); }, ErrorCode::kIoError, {"missing.onnx"});
}

}  // namespace
}  // namespace lstmrt::serving::test
