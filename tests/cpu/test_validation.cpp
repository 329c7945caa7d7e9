// Every validation error of the library API: the message names the field and what was expected.
#include <gtest/gtest.h>

#include <string>

#include "common/reference_runner.hpp"

namespace lstmrt {
namespace {

// Expects `fn` to throw lstmrt::Error with `code` and a message containing every `parts` string.
template <typename Fn>
void expect_error(Fn&& fn, ErrorCode code, std::initializer_list<const char*> parts) {
  try {
    fn();
    ADD_FAILURE() << "no error thrown; expected one containing '" << *parts.begin() << "'";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    for (const char* part : parts) EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

ModelDesc small_model() {
  ModelDesc m;
  m.input_size = 3;
  m.hidden_size = 4;
  return m;
}

TEST(ModelValidation, NamesTheBadField) {
  auto bad = [](auto mutate, const char* field, const char* expected) {
    ModelDesc m = small_model();
    mutate(m);
    expect_error([&] { validate(m); }, ErrorCode::kInvalidArgument, {field, expected});
  };
  bad([](ModelDesc& m) { m.input_size = 0; }, "input_size is 0", ">= 1");
  bad([](ModelDesc& m) { m.hidden_size = -2; }, "hidden_size is -2", ">= 1");
  bad([](ModelDesc& m) { m.num_layers = 0; }, "num_layers is 0", ">= 1");
  bad([](ModelDesc& m) { m.proj_size = 4; }, "proj_size is 4", "below hidden_size 4");
  bad([](ModelDesc& m) { m.proj_size = -1; }, "proj_size is -1", "expected 0");
  bad([](ModelDesc& m) { m.clip = -1.0f; }, "clip is -1", "> 0");
  bad([](ModelDesc& m) { m.direction = static_cast<Direction>(7); }, "direction is 7", "bidirectional");
  bad([](ModelDesc& m) { m.activations[0].cell = {static_cast<ActivationKind>(99)}; }, "activations[0].cell",
      "unknown");
  bad([](ModelDesc& m) { m.activations[0].gate = Activation::affine(NAN, 1); }, "activations[0].gate", "finite");
  bad([](ModelDesc& m) { m.hidden_size = 1 << 29; }, "elements", "2^31");
  ModelDesc ok = small_model();
  ok.direction = Direction::kBidirectional;
  ok.proj_size = 2;
  ok.clip = 3.0f;
  EXPECT_NO_THROW(validate(ok));
}

TEST(ModelValidation, ReverseSlotOnlyCheckedWhenBidirectional) {
  ModelDesc m = small_model();
  m.activations[1].hidden = {static_cast<ActivationKind>(99)};
  EXPECT_NO_THROW(validate(m));
  m.direction = Direction::kBidirectional;
  expect_error([&] { validate(m); }, ErrorCode::kInvalidArgument, {"activations[1].hidden"});
}

TEST(Activations, NamesParseAndStayApart) {
  EXPECT_EQ(Activation::from_onnx("HardSigmoid"), Activation::hard_sigmoid(0.2f, 0.5f));
  EXPECT_EQ(Activation::from_keras("hard_sigmoid"), Activation::hard_sigmoid_keras3());
  EXPECT_NE(Activation::from_keras("hard_sigmoid"), Activation::from_onnx("HardSigmoid"));
  EXPECT_EQ(Activation::from_onnx("LeakyRelu"), Activation::leaky_relu(0.01f));
  EXPECT_EQ(Activation::from_onnx("LeakyRelu", 0.3f), Activation::leaky_relu(0.3f));
  EXPECT_EQ(Activation::from_onnx("ScaledTanh", 2.0f, 0.5f), Activation::scaled_tanh(2.0f, 0.5f));
  EXPECT_EQ(Activation::from_keras("linear"), Activation::affine(1.0f, 0.0f));
  EXPECT_EQ(to_string(Activation::hard_sigmoid_keras3()), "hard_sigmoid_keras3");
  EXPECT_EQ(to_string(Activation::hard_sigmoid()), "hard_sigmoid_onnx(alpha=0.2, beta=0.5)");
  expect_error([] { Activation::from_onnx("Swish"); }, ErrorCode::kInvalidArgument, {"'Swish'", "Sigmoid"});
  // Each format's names only: a Keras name is not an ONNX one and the other way round.
  expect_error([] { Activation::from_onnx("leaky_relu"); }, ErrorCode::kInvalidArgument, {"'leaky_relu'", "LeakyRelu"});
  expect_error([] { Activation::from_keras("LeakyRelu"); }, ErrorCode::kInvalidArgument, {"'LeakyRelu'", "leaky_relu"});
}

// The defaults each format's name implies (Keras 3's keras.activations signatures, the ONNX operators').
TEST(Activations, DefaultsFollowTheSourceFormat) {
  EXPECT_EQ(Activation::from_keras("leaky_relu"), Activation::leaky_relu(0.2f));  // negative_slope=0.2
  EXPECT_EQ(Activation::from_onnx("LeakyRelu"), Activation::leaky_relu(0.01f));   // alpha=0.01
  EXPECT_EQ(Activation::from_keras("elu"), Activation::elu(1.0f));
  EXPECT_EQ(Activation::from_onnx("Elu"), Activation::elu(1.0f));
  EXPECT_EQ(Activation::from_onnx("ThresholdedRelu"), Activation::thresholded_relu(1.0f));
  EXPECT_EQ(Activation::from_onnx("Affine"), Activation::affine(1.0f, 0.0f));
  EXPECT_EQ(Activation::from_keras("celu"), Activation::celu(1.0f));
  EXPECT_EQ(Activation::from_keras("hard_shrink"), Activation::hard_shrink(0.5f));
  EXPECT_EQ(Activation::from_keras("soft_shrink"), Activation::soft_shrink(0.5f));
  EXPECT_EQ(Activation::from_keras("squareplus"), Activation::squareplus(4.0f));
  EXPECT_EQ(Activation::from_keras("swish"), Activation::silu());
  EXPECT_EQ(Activation::from_keras("hard_swish"), Activation::hard_silu());
  const char* keras_names[] = {
      "sigmoid",     "tanh",      "relu",       "linear",      "leaky_relu",     "hard_sigmoid", "elu",
      "softsign",    "softplus",  "gelu",       "silu",        "swish",          "selu",         "celu",
      "exponential", "hard_silu", "hard_swish", "hard_tanh",   "hard_shrink",    "soft_shrink",  "tanh_shrink",
      "log_sigmoid", "mish",      "relu6",      "sparse_plus", "sparse_sigmoid", "squareplus"};
  for (const char* name : keras_names) {
    ModelDesc m = small_model();
    m.activations[0].gate = m.activations[0].cell = m.activations[0].hidden = Activation::from_keras(name);
    EXPECT_NO_THROW(validate(m)) << name;
    EXPECT_NE(to_string(m.activations[0].cell), "") << name;
  }
  for (const char* name : {"softmax", "log_softmax", "sparsemax", "glu", "threshold"})
    expect_error([&] { Activation::from_keras(name); }, ErrorCode::kUnsupported, {name, "unit by unit"});
}

// from_name takes either format's names, each with its own defaults.
TEST(Activations, FromNameDispatchesByFormat) {
  EXPECT_EQ(Activation::from_name("leaky_relu"), Activation::leaky_relu(0.2f));
  EXPECT_EQ(Activation::from_name("LeakyRelu"), Activation::leaky_relu(0.01f));
  EXPECT_EQ(Activation::from_name("HardSigmoid", 0.3f, 0.4f), Activation::hard_sigmoid(0.3f, 0.4f));
  EXPECT_EQ(Activation::from_name("hard_sigmoid"), Activation::hard_sigmoid_keras3());
  EXPECT_EQ(Activation::from_name("gelu"), Activation::gelu());
  expect_error([] { Activation::from_name("elu", 0.5f); }, ErrorCode::kInvalidArgument, {"'elu'", "alpha/beta"});
  expect_error([] { Activation::from_name("Gelu"); }, ErrorCode::kInvalidArgument, {"'Gelu'"});
}

TEST(Activations, ParametersThatBreakTheFormulaAreRefused) {
  ModelDesc m = small_model();
  m.activations[0].cell = Activation::celu(0.0f);
  expect_error([&] { validate(m); }, ErrorCode::kInvalidArgument, {"activations[0].cell", "celu", "alpha > 0"});
  m.activations[0].cell = Activation::squareplus(-1.0f);
  expect_error([&] { validate(m); }, ErrorCode::kInvalidArgument, {"activations[0].cell", "squareplus", ">= 0"});
  m.activations[0].cell = Activation::squareplus(0.0f);
  EXPECT_NO_THROW(validate(m));
}

TEST(WeightsValidation, NamesTheTensorAndItsExpectedShape) {
  ModelDesc m = small_model();
  m.num_layers = 2;
  m.proj_size = 2;
  std::mt19937_64 rng(1);
  const Weights good = random_weights(m, 1, 0.5f);
  EXPECT_NO_THROW(validate(m, good));
  auto bad = [&](auto mutate, std::initializer_list<const char*> parts) {
    Weights w = good;
    mutate(w);
    expect_error([&] { validate(m, w); }, ErrorCode::kInvalidArgument, parts);
  };
  bad([](Weights& w) { w.layers.pop_back(); }, {"1 layer-directions", "num_layers 2"});
  bad([](Weights& w) { w.layers[1].w_ih.resize(5); }, {"layer 1 direction 0 w_ih", "I_l=2"});
  bad([](Weights& w) { w.layers[0].w_hh.clear(); }, {"layer 0 direction 0 w_hh", "H_out=2"});
  bad([](Weights& w) { w.layers[0].b_hh.push_back(1); }, {"b_hh has 17 values", "(4H=16)"});
  bad([](Weights& w) { w.layers[0].w_hr.clear(); }, {"w_hr", "(P=2, H=4)"});
  bad([](Weights& w) { w.layers[0].peephole.assign(12, 0.f); }, {"peephole", "no peepholes"});
}

class RequestValidation : public ::testing::Test {
 protected:
  ModelDesc m = small_model();
  Lstm lstm = test::reference_lstm(m, random_weights(m, 2, 0.5f));
  std::vector<float> x = std::vector<float>(2 * 3 * 3, 0.25f), y = std::vector<float>(2 * 3 * 4);
  std::vector<float> h = std::vector<float>(3 * 4), c = std::vector<float>(3 * 4);
  ForwardRequest good() {
    ForwardRequest r;
    r.seq_len = 2;
    r.batch = 3;
    r.x = x.data();
    r.y = y.data();
    return r;
  }
  template <typename Mutate>
  void bad(Mutate mutate, std::initializer_list<const char*> parts) {
    ForwardRequest r = good();
    mutate(r);
    std::fill(y.begin(), y.end(), -7.0f);
    expect_error([&] { lstm.forward_host(r); }, ErrorCode::kInvalidArgument, parts);
    for (float v : y) ASSERT_EQ(v, -7.0f) << "a refused request wrote output";
  }
};

TEST_F(RequestValidation, NamesTheBadFieldAndWritesNothing) {
  EXPECT_NO_THROW(lstm.forward_host(good()));
  const std::int32_t too_long[3] = {1, 3, 0}, negative[3] = {1, -1, 0};
  bad([](ForwardRequest& r) { r.seq_len = 0; }, {"seq_len is 0", ">= 1"});
  bad([](ForwardRequest& r) { r.batch = -1; }, {"batch is -1"});
  bad([](ForwardRequest& r) { r.x = nullptr; }, {"x is null"});
  bad([](ForwardRequest& r) { r.y = nullptr; }, {"no output requested"});
  bad([&](ForwardRequest& r) { r.h0 = h.data(); }, {"h0 is given without c0"});
  bad([&](ForwardRequest& r) { r.lengths = too_long; }, {"lengths[1] is 3", "0..seq_len 2"});
  bad([&](ForwardRequest& r) { r.lengths = negative; }, {"lengths[1] is -1"});
  bad([](ForwardRequest& r) { r.reverse_order = ReverseOutputOrder::kProcessing; },
      {"go_backwards", "expected reverse"});
  bad([](ForwardRequest& r) { r.padding = static_cast<PaddingMode>(5); }, {"padding is 5"});
  bad([](ForwardRequest& r) { r.layout = static_cast<TensorLayout>(5); }, {"layout is 5"});
  bad([&](ForwardRequest& r) { r.h_n = r.y; }, {"y and h_n are the same buffer"});
  bad([&](ForwardRequest& r) { r.y = x.data(); }, {"y aliases an input"});
}

TEST(BackendChoice, ReferenceRefusesReducedPrecision) {
  const ModelDesc m = small_model();
  expect_error(
      [&] {
        Lstm::create(m, random_weights(m, 3, 0.5f), {BackendKind::kReference, DataType::kBFloat16});
      },
      ErrorCode::kUnsupported, {"backend reference", "bfloat16"});
}

TEST(BackendChoice, GpuBackendsWithoutGpuNameTheBackend) {
  if (gpu_available()) GTEST_SKIP() << "a GPU is present: this test covers machines without one";
  const ModelDesc m = small_model();
  for (BackendKind kind : {BackendKind::kCudnn, BackendKind::kFused}) {
    expect_error([&] { Lstm::create(m, random_weights(m, 3, 0.5f), {kind}); }, ErrorCode::kNoDevice,
                 {to_string(kind).c_str(), "needs a CUDA GPU"});
  }
  Lstm chosen = Lstm::create(m, random_weights(m, 3, 0.5f), {BackendKind::kAuto});
  EXPECT_EQ(chosen.backend_name(), "reference");
  EXPECT_EQ(chosen.options().kind, BackendKind::kReference);
  EXPECT_EQ(chosen.memory_space(), MemorySpace::kHost);
}

TEST(BackendChoice, CreateValidatesModelAndWeightsFirst) {
  ModelDesc m = small_model();
  const Weights w = random_weights(m, 4, 0.5f);
  m.hidden_size = 5;
  expect_error([&] { Lstm::create(m, w, {BackendKind::kReference}); }, ErrorCode::kInvalidArgument, {"w_ih"});
  expect_error([] { backend_from_string("tensorrt"); }, ErrorCode::kInvalidArgument, {"'tensorrt'", "cudnn"});
  EXPECT_EQ(backend_from_string("fused"), BackendKind::kFused);
}

TEST(Workspace, ReferenceNeedsNoneAndShapesAreChecked) {
  const ModelDesc m = small_model();
  Lstm lstm = test::reference_lstm(m, random_weights(m, 5, 0.5f));
  EXPECT_EQ(lstm.workspace_size(10, 4), 0u);
  EXPECT_NO_THROW(lstm.reserve(10, 4));
  expect_error([&] { lstm.workspace_size(0, 4); }, ErrorCode::kInvalidArgument, {"seq_len >= 1"});
  expect_error([&] { lstm.reserve(3, 0); }, ErrorCode::kInvalidArgument, {"batch >= 1"});
}

}  // namespace
}  // namespace lstmrt
