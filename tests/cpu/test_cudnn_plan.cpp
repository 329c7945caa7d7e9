// The cudnn backend's host side, without a GPU: refusals, algorithm rules, every cuDNN descriptor
// parameter, the weight-packing order (canonical gate blocks -> linLayerIDs), the workspace
// layout, and the length/direction/padding workarounds. The workarounds are checked end to end
// by simulating cuDNN with the reference backend: run what the backend would hand cuDNN (forward
// direction, x reversed per row, zero lengths raised to 1), apply the same index maps the device
// kernels use, and compare with the reference on the original request.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "backend.hpp"
#include "common/compare.hpp"
#include "common/expect_error.hpp"
#include "common/reference_runner.hpp"
#include "cudnn/cudnn_plan.hpp"
#include "kernels/cudnn_shift.hpp"
#include "kernels/cudnn_transforms.hpp"
#include "lstmrt/lstmrt.hpp"

namespace lstmrt {
namespace {

using cudnn::DataPlan;
using cudnn::WeightPlacement;
using test::expect_error;

ModelDesc small_model(int I = 5, int H = 6, int P = 0, int L = 1, Direction dir = Direction::kForward) {
  ModelDesc d;
  d.input_size = I;
  d.hidden_size = H;
  d.proj_size = P;
  d.num_layers = L;
  d.direction = dir;
  return d;
}

// ---- refusals -------------------------------------------------------------------------------------

TEST(CudnnPlan, DefaultModelHasNothingToRefuse) {
  for (Direction dir : {Direction::kForward, Direction::kReverse, Direction::kBidirectional}) {
    const ModelDesc d = small_model(4, 8, 3, 2, dir);
    EXPECT_TRUE(cudnn::unsupported_model_features(d).empty());
    EXPECT_NO_THROW(cudnn::check_model_supported(d));
  }
}

TEST(CudnnPlan, RefusesEachExtendedCellFeatureByName) {
  struct Case {
    const char* name;
    void (*apply)(ModelDesc&);
    const char* expected;
  };
  const Case cases[] = {
      {"peepholes", [](ModelDesc& d) { d.peepholes = true; }, "peepholes"},
      {"coupled", [](ModelDesc& d) { d.coupled_input_forget = true; }, "coupled input-forget gate"},
      {"clip", [](ModelDesc& d) { d.clip = 2.5f; }, "ONNX clip 2.5"},
      {"gate activation", [](ModelDesc& d) { d.activations[0].gate = Activation::hard_sigmoid(); }, "hard_sigmoid"},
      {"cell activation", [](ModelDesc& d) { d.activations[0].cell = Activation::relu(); }, "relu"},
      {"hidden activation", [](ModelDesc& d) { d.activations[0].hidden = Activation::softsign(); }, "softsign"},
  };
  for (const Case& c : cases) {
    ModelDesc d = small_model();
    c.apply(d);
    const auto features = cudnn::unsupported_model_features(d);
    ASSERT_EQ(features.size(), 1u) << c.name;
    EXPECT_NE(features[0].find(c.expected), std::string::npos) << features[0];
    expect_error([&] { cudnn::check_model_supported(d); }, ErrorCode::kUnsupported, {"backend cudnn", c.expected});
  }
}

TEST(CudnnPlan, ReverseHalfActivationsAreCheckedToo) {
  ModelDesc d = small_model(4, 4, 0, 1, Direction::kBidirectional);
  d.activations[1].cell = Activation::elu();
  const auto features = cudnn::unsupported_model_features(d);
  ASSERT_EQ(features.size(), 1u);
  EXPECT_NE(features[0].find("direction 1"), std::string::npos) << features[0];
  // Slot 1 of a unidirectional model is unused: not a reason to refuse.
  ModelDesc forward = small_model();
  forward.activations[1].cell = Activation::elu();
  EXPECT_TRUE(cudnn::unsupported_model_features(forward).empty());
}

TEST(CudnnPlan, RefusalNamesEveryFeatureAtOnce) {
  ModelDesc d = small_model();
  d.peepholes = true;
  d.clip = 1.0f;
  d.coupled_input_forget = true;
  expect_error([&] { cudnn::check_model_supported(d); }, ErrorCode::kUnsupported,
               {"backend cudnn", "peepholes", "ONNX clip 1", "coupled input-forget gate", "fused"});
}

// The factory refuses an extended cell before touching any device, so this runs without a GPU.
TEST(CudnnPlan, FactoryRefusesBeforeAnyDeviceWork) {
  ModelDesc d = small_model();
  d.peepholes = true;
  const Weights w = random_weights(d, 1, 0.5f);
  BackendOptions o;
  o.kind = BackendKind::kCudnn;
  expect_error([&] { make_cudnn_backend(d, w, o); }, ErrorCode::kUnsupported, {"backend cudnn", "peepholes"});
}

TEST(CudnnPlan, CreateWithoutGpuIsNoDevice) {
  if (gpu_available()) GTEST_SKIP() << "this machine has a GPU (tests/gpu cover it)";
  const ModelDesc d = small_model();
  BackendOptions o;
  o.kind = BackendKind::kCudnn;
  expect_error([&] { Lstm::create(d, random_weights(d, 2, 0.5f), o); }, ErrorCode::kNoDevice, {"backend cudnn"});
}

// ---- algorithms -------------------------------------------------------------------------------------

TEST(CudnnPlan, AlgorithmMapping) {
  EXPECT_EQ(cudnn::to_cudnn_algo(CudnnAlgo::kStandard), CUDNN_RNN_ALGO_STANDARD);
  EXPECT_EQ(cudnn::to_cudnn_algo(CudnnAlgo::kPersistStatic), CUDNN_RNN_ALGO_PERSIST_STATIC);
  EXPECT_EQ(cudnn::to_cudnn_algo(CudnnAlgo::kPersistStaticSmallH), CUDNN_RNN_ALGO_PERSIST_STATIC_SMALL_H);
  EXPECT_EQ(cudnn::to_cudnn_algo(CudnnAlgo::kPersistDynamic), CUDNN_RNN_ALGO_PERSIST_DYNAMIC);
  expect_error([] { cudnn::to_cudnn_algo(CudnnAlgo::kAuto); }, ErrorCode::kInvalidArgument, {"auto", "standard"});
  expect_error([] { cudnn::to_cudnn_algo(static_cast<CudnnAlgo>(42)); }, ErrorCode::kInvalidArgument, {"unknown"});
}

TEST(CudnnPlan, CandidateAlgorithms) {
  const ModelDesc plain = small_model(8, 16);
  const ModelDesc projected = small_model(8, 16, 4);
  const std::vector<CudnnAlgo> all = {CudnnAlgo::kStandard, CudnnAlgo::kPersistStatic, CudnnAlgo::kPersistStaticSmallH,
                                      CudnnAlgo::kPersistDynamic};
  EXPECT_EQ(cudnn::candidate_algos(plain, CudnnAlgo::kAuto), all);
  EXPECT_EQ(cudnn::candidate_algos(projected, CudnnAlgo::kAuto), std::vector<CudnnAlgo>{CudnnAlgo::kStandard});
  for (CudnnAlgo a : all) {
    EXPECT_EQ(cudnn::candidate_algos(plain, a), std::vector<CudnnAlgo>{a});
    // An explicit choice is left to cuDNN to accept or refuse, even with projection.
    EXPECT_EQ(cudnn::candidate_algos(projected, a), std::vector<CudnnAlgo>{a});
  }
  expect_error([&] { cudnn::candidate_algos(plain, static_cast<CudnnAlgo>(9)); }, ErrorCode::kInvalidArgument,
               {"unknown"});
}

TEST(CudnnPlan, UnequalLengthsRuleAndChoice) {
  EXPECT_TRUE(cudnn::algo_accepts_unequal_lengths(CudnnAlgo::kStandard));
  EXPECT_TRUE(cudnn::algo_accepts_unequal_lengths(CudnnAlgo::kPersistStatic));
  EXPECT_TRUE(cudnn::algo_accepts_unequal_lengths(CudnnAlgo::kPersistDynamic));
  EXPECT_FALSE(cudnn::algo_accepts_unequal_lengths(CudnnAlgo::kPersistStaticSmallH));

  const std::vector<CudnnAlgo> ranked = {CudnnAlgo::kPersistStaticSmallH, CudnnAlgo::kPersistDynamic,
                                         CudnnAlgo::kStandard};
  EXPECT_EQ(cudnn::choose_algo(ranked, true), CudnnAlgo::kPersistStaticSmallH);
  EXPECT_EQ(cudnn::choose_algo(ranked, false), CudnnAlgo::kPersistDynamic);
  EXPECT_EQ(cudnn::choose_algo({CudnnAlgo::kPersistStaticSmallH}, false), CudnnAlgo::kStandard);
  EXPECT_EQ(cudnn::choose_algo({}, true), CudnnAlgo::kStandard);
}

// ---- RNN descriptor ---------------------------------------------------------------------------------------

// ---- cuDNN statuses: refusal or failure ----------------------------------------------------------

TEST(CudnnPlan, NotSupportedAndBadParamAreRefusalsWithEverySubCode) {
  for (cudnnStatus_t s :
       {CUDNN_STATUS_NOT_SUPPORTED, CUDNN_STATUS_NOT_SUPPORTED_SHAPE, CUDNN_STATUS_NOT_SUPPORTED_DATA_TYPE,
        CUDNN_STATUS_NOT_SUPPORTED_LAYOUT, CUDNN_STATUS_NOT_SUPPORTED_SHARED_MEMORY_INSUFFICIENT,
        CUDNN_STATUS_BAD_PARAM, CUDNN_STATUS_BAD_PARAM_OUT_OF_BOUND, CUDNN_STATUS_BAD_PARAM_SHAPE_MISMATCH,
        CUDNN_STATUS_BAD_PARAM_NULL_POINTER}) {
    SCOPED_TRACE(static_cast<int>(s));
    EXPECT_TRUE(cudnn::is_refusal_status(s));
    EXPECT_EQ(cudnn::status_action(s, false), cudnn::StatusAction::kRefuse);
    EXPECT_EQ(cudnn::status_action(s, true), cudnn::StatusAction::kDrop);
  }
}

TEST(CudnnPlan, OtherStatusesFailUnlessTheAlgorithmIsDroppable) {
  for (cudnnStatus_t s :
       {CUDNN_STATUS_EXECUTION_FAILED, CUDNN_STATUS_EXECUTION_FAILED_CUDART, CUDNN_STATUS_INTERNAL_ERROR,
        CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED, CUDNN_STATUS_NOT_INITIALIZED,
        CUDNN_STATUS_SUBLIBRARY_LOADING_FAILED, CUDNN_STATUS_LICENSE_ERROR}) {
    SCOPED_TRACE(static_cast<int>(s));
    EXPECT_FALSE(cudnn::is_refusal_status(s));
    EXPECT_EQ(cudnn::status_action(s, false), cudnn::StatusAction::kFail);
    EXPECT_EQ(cudnn::status_action(s, true), cudnn::StatusAction::kDrop);  // auto: the next algorithm serves
  }
}

TEST(CudnnPlan, RefusalsDescribeTheShape) {
  EXPECT_EQ(cudnn::describe_shape(65536, 1, true, TensorLayout::kTimeMajor),
            "seq_len 65536 batch 1 (equal lengths, time-major)");
  EXPECT_EQ(cudnn::describe_shape(7, 3, false, TensorLayout::kBatchMajor),
            "seq_len 7 batch 3 (unequal lengths, batch-major)");
}

TEST(CudnnPlan, Bfloat16NeedsCudnn913OnAmpereOrNewer) {
  EXPECT_EQ(cudnn::kCudnnMinBFloat16Version, 91300u);
  for (std::size_t v : {91300u, 91301u, 91900u, 100000u}) EXPECT_EQ(cudnn::bf16_refusal(v, 9), "") << v;
  EXPECT_EQ(cudnn::bf16_refusal(91300, 8), "");
  for (std::size_t v : {91299u, 91202u, 90100u, 90000u}) {
    const std::string why = cudnn::bf16_refusal(v, 9);
    EXPECT_NE(why.find(fmt::format("cuDNN {}.{}.{} has no bfloat16 RNN", v / 10000, v / 100 % 100, v % 100)),
              std::string::npos)
        << why;
    EXPECT_NE(why.find("expected cuDNN 9.13.0 or newer"), std::string::npos) << why;
  }
  const std::string volta = cudnn::bf16_refusal(91900, 7);
  EXPECT_NE(volta.find("compute capability 7.x"), std::string::npos) << volta;
  EXPECT_NE(volta.find("8.0 or newer"), std::string::npos) << volta;
}

TEST(CudnnPlan, DescriptorParametersPerPrecision) {
  const ModelDesc d = small_model(12, 20, 0, 3, Direction::kBidirectional);
  struct Case {
    DataType type;
    MathMode math;
    cudnnDataType_t data;
    cudnnMathType_t math_type;
  };
  const Case cases[] = {
      {DataType::kFloat32, MathMode::kStrict, CUDNN_DATA_FLOAT, CUDNN_FMA_MATH},
      {DataType::kFloat32, MathMode::kTF32, CUDNN_DATA_FLOAT, CUDNN_DEFAULT_MATH},
      {DataType::kFloat16, MathMode::kStrict, CUDNN_DATA_HALF, CUDNN_TENSOR_OP_MATH},
      {DataType::kFloat16, MathMode::kTF32, CUDNN_DATA_HALF, CUDNN_TENSOR_OP_MATH},
      {DataType::kBFloat16, MathMode::kStrict, CUDNN_DATA_BFLOAT16, CUDNN_TENSOR_OP_MATH},
  };
  for (const Case& c : cases) {
    BackendOptions o;
    o.data_type = c.type;
    o.math = c.math;
    const cudnn::RnnDescParams p = cudnn::rnn_desc_params(d, o, CudnnAlgo::kPersistStatic);
    SCOPED_TRACE(to_string(c.type));
    EXPECT_EQ(p.algo, CUDNN_RNN_ALGO_PERSIST_STATIC);
    EXPECT_EQ(p.cell_mode, CUDNN_LSTM);
    EXPECT_EQ(p.bias_mode, CUDNN_RNN_DOUBLE_BIAS);
    EXPECT_EQ(p.dir_mode, CUDNN_BIDIRECTIONAL);
    EXPECT_EQ(p.input_mode, CUDNN_LINEAR_INPUT);
    EXPECT_EQ(p.data_type, c.data);
    EXPECT_EQ(p.math_prec, CUDNN_DATA_FLOAT);  // float32 accumulation always
    EXPECT_EQ(p.math_type, c.math_type);
    EXPECT_EQ(p.input_size, 12);
    EXPECT_EQ(p.hidden_size, 20);
    EXPECT_EQ(p.proj_size, 20);  // no projection: projSize == hiddenSize
    EXPECT_EQ(p.num_layers, 3);
    EXPECT_EQ(p.aux_flags, CUDNN_RNN_PADDED_IO_ENABLED);
  }
  BackendOptions bad;
  bad.math = static_cast<MathMode>(7);
  expect_error([&] { cudnn::rnn_desc_params(d, bad, CudnnAlgo::kStandard); }, ErrorCode::kInvalidArgument,
               {"math mode 7"});
  bad = {};
  bad.data_type = static_cast<DataType>(7);
  expect_error([&] { cudnn::rnn_desc_params(d, bad, CudnnAlgo::kStandard); }, ErrorCode::kInvalidArgument,
               {"data type 7"});
  expect_error([&] { cudnn::rnn_desc_params(d, {}, CudnnAlgo::kAuto); }, ErrorCode::kInvalidArgument, {"auto"});
}

TEST(CudnnPlan, DescriptorDirectionAndProjection) {
  EXPECT_EQ(cudnn::rnn_desc_params(small_model(3, 8), {}, CudnnAlgo::kStandard).dir_mode, CUDNN_UNIDIRECTIONAL);
  // Reverse-only runs UNIDIRECTIONAL on per-row reversed input (see cudnn_plan.hpp).
  EXPECT_EQ(cudnn::rnn_desc_params(small_model(3, 8, 0, 1, Direction::kReverse), {}, CudnnAlgo::kStandard).dir_mode,
            CUDNN_UNIDIRECTIONAL);
  const cudnn::RnnDescParams p = cudnn::rnn_desc_params(small_model(3, 8, 5, 2), {}, CudnnAlgo::kStandard);
  EXPECT_EQ(p.hidden_size, 8);
  EXPECT_EQ(p.proj_size, 5);
  EXPECT_EQ(p.algo, CUDNN_RNN_ALGO_STANDARD);
}

// ---- weights ------------------------------------------------------------------------------------------------

TEST(CudnnPlan, LinearLayerShapes) {
  const ModelDesc d = small_model(7, 6, 4, 3, Direction::kBidirectional);  // I 7, H 6, P 4, D·H_out 8
  EXPECT_EQ(cudnn::num_pseudo_layers(d), 6);
  EXPECT_EQ(cudnn::num_lin_layers(d), 9);
  EXPECT_EQ(cudnn::num_lin_layers(small_model()), 8);
  for (int pseudo = 0; pseudo < 6; ++pseudo) {
    const int input_width = pseudo < 2 ? 7 : 8;
    for (int id = 0; id < 4; ++id) {
      const auto s = cudnn::lin_layer_shape(d, pseudo, id);
      EXPECT_EQ(s.rows, 6);
      EXPECT_EQ(s.cols, input_width) << "pseudo-layer " << pseudo;
      EXPECT_TRUE(s.has_bias);
    }
    for (int id = 4; id < 8; ++id) {
      const auto s = cudnn::lin_layer_shape(d, pseudo, id);
      EXPECT_EQ(s.rows, 6);
      EXPECT_EQ(s.cols, 4);  // recurrent input is h, H_out wide
      EXPECT_TRUE(s.has_bias);
    }
    const auto proj = cudnn::lin_layer_shape(d, pseudo, 8);
    EXPECT_EQ(proj.rows, 4);
    EXPECT_EQ(proj.cols, 6);
    EXPECT_FALSE(proj.has_bias);
  }
  expect_error([&] { cudnn::lin_layer_shape(d, 6, 0); }, ErrorCode::kInvalidArgument, {"pseudo-layer 6", "0..5"});
  expect_error([&] { cudnn::lin_layer_shape(d, -1, 0); }, ErrorCode::kInvalidArgument, {"pseudo-layer -1"});
  expect_error([&] { cudnn::lin_layer_shape(d, 0, 9); }, ErrorCode::kInvalidArgument, {"linLayerID 9", "0..8"});
  expect_error([&] { cudnn::lin_layer_shape(small_model(), 0, 8); }, ErrorCode::kInvalidArgument,
               {"linLayerID 8", "0..7"});
}

TEST(CudnnPlan, CanonicalBlocksFollowGateOrder) {
  const ModelDesc d = small_model(3, 5, 2, 2, Direction::kBidirectional);
  const Weights w = random_weights(d, 7, 1.0f);
  for (int pseudo = 0; pseudo < 4; ++pseudo) {
    const LayerWeights& lw = w.layers[pseudo];
    const int in = d.layer_input_size(pseudo / 2);
    for (int gate = 0; gate < 4; ++gate) {  // i f g o: rows [gate·H, (gate+1)·H)
      const auto input_side = cudnn::canonical_block(d, w, pseudo, gate);
      EXPECT_EQ(input_side.matrix, lw.w_ih.data() + gate * 5 * in);
      EXPECT_EQ(input_side.bias, lw.b_ih.data() + gate * 5);
      const auto recurrent = cudnn::canonical_block(d, w, pseudo, 4 + gate);
      EXPECT_EQ(recurrent.matrix, lw.w_hh.data() + gate * 5 * 2);
      EXPECT_EQ(recurrent.bias, lw.b_hh.data() + gate * 5);
    }
    const auto proj = cudnn::canonical_block(d, w, pseudo, 8);
    EXPECT_EQ(proj.matrix, lw.w_hr.data());
    EXPECT_EQ(proj.bias, nullptr);
  }
}

// Placements in a deliberately non-flat order with gaps (cuDNN's layout is never assumed).
std::vector<WeightPlacement> scattered_placements(const ModelDesc& d, std::size_t element, std::size_t& bytes) {
  std::vector<WeightPlacement> out;
  std::ptrdiff_t at = 64;  // leading gap
  for (int pseudo = cudnn::num_pseudo_layers(d) - 1; pseudo >= 0; --pseudo) {
    for (int k = 0; k < cudnn::num_lin_layers(d); ++k) {
      const int id = (k * 5 + 3) % cudnn::num_lin_layers(d);  // a permutation of 0..7 (and 8)
      const auto s = cudnn::lin_layer_shape(d, pseudo, id);
      WeightPlacement p;
      p.pseudo_layer = pseudo;
      p.lin_id = id;
      p.matrix_offset = at;
      p.matrix_dims = {1, s.rows, s.cols};
      at += static_cast<std::ptrdiff_t>(s.rows * s.cols * element) + 16;  // gap after each block
      if (s.has_bias) {
        p.bias_offset = at;
        p.bias_dims = {1, s.rows, 1};
        at += static_cast<std::ptrdiff_t>(s.rows * element) + 32;
      } else {
        p.bias_offset = -1;
      }
      out.push_back(p);
    }
  }
  bytes = static_cast<std::size_t>(at) + 128;
  return out;
}

TEST(CudnnPlan, PackWeightImagePutsEveryValueWhereCudnnSaid) {
  const ModelDesc d = small_model(3, 4, 2, 2, Direction::kBidirectional);
  const Weights w = random_weights(d, 11, 1.0f);
  std::size_t bytes = 0;
  const auto placements = scattered_placements(d, 4, bytes);
  std::vector<unsigned char> image(bytes, 0xAB);  // dirty: packing must zero it first
  cudnn::pack_weight_image(d, w, DataType::kFloat32, placements, image);

  std::vector<bool> written(bytes, false);
  for (const WeightPlacement& p : placements) {
    const auto s = cudnn::lin_layer_shape(d, p.pseudo_layer, p.lin_id);
    const auto src = cudnn::canonical_block(d, w, p.pseudo_layer, p.lin_id);
    for (int r = 0; r < s.rows; ++r)
      for (int c = 0; c < s.cols; ++c) {
        float v;
        const std::size_t off = p.matrix_offset + (static_cast<std::size_t>(r) * s.cols + c) * 4;
        std::memcpy(&v, image.data() + off, 4);
        ASSERT_EQ(v, src.matrix[r * s.cols + c]) << "pseudo " << p.pseudo_layer << " id " << p.lin_id;
        for (int k = 0; k < 4; ++k) written[off + k] = true;
      }
    if (!s.has_bias) continue;
    for (int r = 0; r < s.rows; ++r) {
      float v;
      const std::size_t off = p.bias_offset + static_cast<std::size_t>(r) * 4;
      std::memcpy(&v, image.data() + off, 4);
      ASSERT_EQ(v, src.bias[r]) << "bias pseudo " << p.pseudo_layer << " id " << p.lin_id;
      for (int k = 0; k < 4; ++k) written[off + k] = true;
    }
  }
  for (std::size_t i = 0; i < bytes; ++i)
    if (!written[i]) ASSERT_EQ(image[i], 0) << "gap byte " << i << " not zeroed";
}

TEST(CudnnPlan, PackWeightImageConvertsTo16Bit) {
  ModelDesc d = small_model(1, 1);
  Weights w = random_weights(d, 3, 1.0f);
  // Values with known encodings: 1 → half 0x3C00 / bf16 0x3F80; −2 → 0xC000 / 0xC000;
  // 0.1f → half 0x2E66 / bf16 0x3DCD (round to nearest even); 65504 (half max) → 0x7BFF / 0x4780.
  const float values[4] = {1.0f, -2.0f, 0.1f, 65504.0f};
  const std::uint16_t half_bits[4] = {0x3C00, 0xC000, 0x2E66, 0x7BFF};
  const std::uint16_t bf16_bits[4] = {0x3F80, 0xC000, 0x3DCD, 0x4780};
  LayerWeights& lw = w.layers[0];
  for (int g = 0; g < 4; ++g) lw.w_ih[g] = values[g];
  std::size_t bytes = 0;
  const auto placements = scattered_placements(d, 2, bytes);
  for (DataType type : {DataType::kFloat16, DataType::kBFloat16}) {
    std::vector<unsigned char> image(bytes);
    cudnn::pack_weight_image(d, w, type, placements, image);
    for (const WeightPlacement& p : placements) {
      if (p.lin_id >= 4) continue;
      std::uint16_t bits;
      std::memcpy(&bits, image.data() + p.matrix_offset, 2);
      EXPECT_EQ(bits, type == DataType::kFloat16 ? half_bits[p.lin_id] : bf16_bits[p.lin_id])
          << to_string(type) << " gate " << p.lin_id;
    }
  }
}

TEST(CudnnPlan, PackWeightImageRejectsDisagreeingPlacements) {
  const ModelDesc d = small_model(3, 4, 2);
  const Weights w = random_weights(d, 5, 1.0f);
  std::size_t bytes = 0;
  const auto good = scattered_placements(d, 4, bytes);
  std::vector<unsigned char> image(bytes);
  ASSERT_NO_THROW(cudnn::pack_weight_image(d, w, DataType::kFloat32, good, image));

  auto broken = [&](auto mutate) {
    auto p = good;
    mutate(p);
    expect_error([&] { cudnn::pack_weight_image(d, w, DataType::kFloat32, p, image); }, ErrorCode::kInternal,
                 {"cudnn weight space"});
  };
  broken([](auto& p) { p.pop_back(); });                                                  // one missing
  broken([](auto& p) { p.push_back(p.front()); });                                        // one twice
  broken([](auto& p) { p[0].matrix_dims = {1, 99, 3}; });                                 // wrong shape
  broken([](auto& p) { p[0].matrix_offset = -1; });                                       // no matrix
  broken([&](auto& p) { p[0].matrix_offset = static_cast<std::ptrdiff_t>(bytes) - 4; });  // past the end
  broken([](auto& p) { p[0].matrix_offset += 1; });                                       // misaligned
  broken([](auto& p) {                                                                    // bias on the projection
    for (auto& q : p)
      if (q.lin_id == 8) q.bias_offset = 0, q.bias_dims = {1, 2, 1};
  });
  broken([](auto& p) {  // gate without bias
    for (auto& q : p)
      if (q.lin_id == 2) q.bias_offset = -1;
  });
  broken([](auto& p) {
    for (auto& q : p)
      if (q.lin_id == 5) q.bias_dims = {1, 3, 1};
  });
  auto bad_id = good;
  bad_id[0].lin_id = 9;
  expect_error([&] { cudnn::pack_weight_image(d, w, DataType::kFloat32, bad_id, image); }, ErrorCode::kInvalidArgument,
               {"linLayerID 9"});
}

TEST(CudnnPlan, PlacementEquality) {
  std::size_t bytes = 0;
  const auto a = scattered_placements(small_model(), 4, bytes);
  auto b = a;
  EXPECT_TRUE(a == b);
  b[3].bias_offset += 4;
  EXPECT_FALSE(a == b);
  EXPECT_TRUE(a[0] != b[3]);
}

// ---- data descriptors, workspace -----------------------------------------------------------------------------

TEST(CudnnPlan, StateTensorDims) {
  const ModelDesc d = small_model(3, 10, 4, 3, Direction::kBidirectional);
  const auto h = cudnn::state_dims(d, 7, d.output_size());
  EXPECT_EQ(std::vector<int>(h.dims, h.dims + 3), (std::vector<int>{6, 7, 4}));
  EXPECT_EQ(std::vector<int>(h.strides, h.strides + 3), (std::vector<int>{28, 4, 1}));
  const auto c = cudnn::state_dims(d, 7, d.hidden_size);
  EXPECT_EQ(std::vector<int>(c.dims, c.dims + 3), (std::vector<int>{6, 7, 10}));
  EXPECT_EQ(std::vector<int>(c.strides, c.strides + 3), (std::vector<int>{70, 10, 1}));
}

ForwardRequest request(int T, int N, const std::vector<std::int32_t>* lengths, bool y, bool state) {
  static const float dummy[1] = {0.0f};
  static float out[3];
  ForwardRequest r;
  r.seq_len = T;
  r.batch = N;
  r.x = dummy;
  r.lengths = lengths ? lengths->data() : nullptr;
  if (y) r.y = &out[0];
  if (state) r.h_n = &out[1], r.c_n = &out[2];
  return r;
}

TEST(CudnnPlan, ForwardPlanShapesAndLayout) {
  const ModelDesc d = small_model(9, 6, 3, 2, Direction::kBidirectional);
  BackendOptions o;
  o.data_type = DataType::kBFloat16;
  DataPlan plan;
  ForwardRequest r = request(11, 4, nullptr, true, true);
  cudnn::plan_forward(d, o, r, plan);
  EXPECT_EQ(plan.max_seq_len, 11);
  EXPECT_EQ(plan.batch, 4);
  EXPECT_EQ(plan.layout, CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_UNPACKED);
  EXPECT_EQ(plan.data_type, CUDNN_DATA_BFLOAT16);
  EXPECT_EQ(plan.x_vector_size, 9);
  EXPECT_EQ(plan.y_vector_size, 6);  // D·H_out
  EXPECT_EQ(plan.h_dims.dims[0], 4);
  EXPECT_EQ(plan.h_dims.dims[2], 3);
  EXPECT_EQ(plan.c_dims.dims[2], 6);
  EXPECT_EQ(plan.cudnn_lengths, (std::vector<int>{11, 11, 11, 11}));
  EXPECT_TRUE(plan.uniform_lengths);
  EXPECT_FALSE(plan.has_padding || plan.has_zero_length || plan.reversed_run || plan.finish_y || plan.y_to_scratch ||
               plan.restore_states);
  r.layout = TensorLayout::kBatchMajor;
  cudnn::plan_forward(d, o, r, plan);
  EXPECT_EQ(plan.layout, CUDNN_RNN_DATA_LAYOUT_BATCH_MAJOR_UNPACKED);
}

TEST(CudnnPlan, ForwardPlanLengths) {
  const ModelDesc d = small_model();
  DataPlan plan;
  const std::vector<std::int32_t> lengths = {5, 0, 3, 0, 5};
  cudnn::plan_forward(d, {}, request(5, 5, &lengths, true, true), plan);
  EXPECT_EQ(plan.cudnn_lengths, (std::vector<int>{5, 1, 3, 1, 5}));  // zero runs as 1
  EXPECT_FALSE(plan.uniform_lengths);
  EXPECT_TRUE(plan.has_zero_length);
  EXPECT_TRUE(plan.has_padding);
  EXPECT_TRUE(plan.finish_y);       // zero-length rows' y must be zeroed
  EXPECT_FALSE(plan.y_to_scratch);  // in place on y
  EXPECT_TRUE(plan.restore_states);

  // Zero padding alone is cuDNN's paddingFill: no pass of ours.
  const std::vector<std::int32_t> short_rows = {2, 5, 4};
  cudnn::plan_forward(d, {}, request(5, 3, &short_rows, true, true), plan);
  EXPECT_TRUE(plan.has_padding);
  EXPECT_FALSE(plan.has_zero_length || plan.finish_y || plan.restore_states);
  // ... carry-over padding needs one.
  ForwardRequest carry = request(5, 3, &short_rows, true, false);
  carry.padding = PaddingMode::kCarryLast;
  cudnn::plan_forward(d, {}, carry, plan);
  EXPECT_TRUE(plan.finish_y);
  // Carry-over without padding is the identity.
  const std::vector<std::int32_t> full = {5, 5, 5};
  carry.lengths = full.data();
  cudnn::plan_forward(d, {}, carry, plan);
  EXPECT_FALSE(plan.finish_y);
  EXPECT_TRUE(plan.uniform_lengths);

  // All rows 0 or 1 look uniform to cuDNN (it sees 1 for each).
  const std::vector<std::int32_t> tiny = {0, 1, 0};
  cudnn::plan_forward(d, {}, request(4, 3, &tiny, false, true), plan);
  EXPECT_TRUE(plan.uniform_lengths);
  EXPECT_TRUE(plan.y_to_scratch);  // y not asked: cuDNN writes it to scratch
  EXPECT_FALSE(plan.finish_y);
  EXPECT_TRUE(plan.restore_states);
  // Zero lengths with only y asked: nothing to restore.
  cudnn::plan_forward(d, {}, request(4, 3, &tiny, true, false), plan);
  EXPECT_FALSE(plan.restore_states);
  EXPECT_TRUE(plan.finish_y);
}

TEST(CudnnPlan, ForwardPlanReverseModel) {
  const ModelDesc d = small_model(3, 4, 0, 2, Direction::kReverse);
  DataPlan plan;
  ForwardRequest r = request(6, 2, nullptr, true, false);
  cudnn::plan_forward(d, {}, r, plan);
  EXPECT_TRUE(plan.reversed_run);
  EXPECT_TRUE(plan.y_to_scratch);
  EXPECT_TRUE(plan.finish_y);
  r.reverse_order = ReverseOutputOrder::kProcessing;
  cudnn::plan_forward(d, {}, r, plan);
  EXPECT_TRUE(plan.finish_y);
  cudnn::plan_forward(d, {}, request(6, 2, nullptr, false, true), plan);
  EXPECT_TRUE(plan.reversed_run);
  EXPECT_FALSE(plan.finish_y);
}

TEST(CudnnPlan, WorkspaceLayoutIsAlignedAndDisjoint) {
  for (Direction dir : {Direction::kForward, Direction::kReverse, Direction::kBidirectional})
    for (DataType type : {DataType::kFloat32, DataType::kFloat16}) {
      const ModelDesc d = small_model(7, 5, 3, 2, dir);
      const int T = 9, N = 13;
      const std::size_t work = 1000;
      const auto w = cudnn::workspace_layout(d, type, T, N, work);
      const std::size_t e = type == DataType::kFloat32 ? 4 : 2;
      for (std::size_t off : {w.lengths_offset, w.y_scratch_offset, w.x_scratch_offset, w.cudnn_offset, w.total})
        EXPECT_EQ(off % cudnn::kWorkspaceAlignment, 0u);
      EXPECT_GE(w.y_scratch_offset, w.lengths_offset + 2 * 4 * N);
      EXPECT_GE(w.x_scratch_offset, w.y_scratch_offset + T * N * d.num_directions() * 3 * e);
      // x scratch for every model: reversed (reverse models) or shifted (left-padded masks).
      EXPECT_GE(w.cudnn_offset, w.x_scratch_offset + T * N * 7 * e);
      EXPECT_EQ(w.cudnn_bytes, work);
      EXPECT_GE(w.total, w.cudnn_offset + work);
      EXPECT_LT(w.total, w.cudnn_offset + work + cudnn::kWorkspaceAlignment);
    }
  expect_error([] { cudnn::workspace_layout(small_model(), DataType::kFloat32, 0, 1, 0); }, ErrorCode::kInvalidArgument,
               {"seq_len 0"});
  expect_error([] { cudnn::workspace_layout(small_model(), DataType::kFloat32, 1, 0, 0); }, ErrorCode::kInvalidArgument,
               {"batch 0"});
}

TEST(CudnnPlan, DataTypes) {
  EXPECT_EQ(cudnn::to_cudnn_data_type(DataType::kFloat32), CUDNN_DATA_FLOAT);
  EXPECT_EQ(cudnn::to_cudnn_data_type(DataType::kFloat16), CUDNN_DATA_HALF);
  EXPECT_EQ(cudnn::to_cudnn_data_type(DataType::kBFloat16), CUDNN_DATA_BFLOAT16);
  expect_error([] { cudnn::to_cudnn_data_type(static_cast<DataType>(5)); }, ErrorCode::kInvalidArgument,
               {"data type 5"});
}

// ---- index maps of the transform kernels ---------------------------------------------------------------------

TEST(CudnnTransforms, ShiftedIndexMaps) {
  // len 3 of T 6, valid steps 3..5: moved to the front; reversed for a reversed run; padding in place.
  const int forward[6] = {3, 4, 5, 3, 4, 5}, reversed[6] = {5, 4, 3, 3, 4, 5};
  for (int s = 0; s < 6; ++s) {
    EXPECT_EQ(kernels::shifted_input_step(s, 3, 6, false), forward[s]) << s;
    EXPECT_EQ(kernels::shifted_input_step(s, 3, 6, true), reversed[s]) << s;
  }
  // Output: original 3..5 come from shifted 0..2; the front padding is zeros, or with carry (reverse
  // slots only: they meet it last) the shifted step 0, i.e. original step 3.
  EXPECT_EQ(kernels::shifted_output_source_step(1, 3, 6, false, false, false), -1);
  EXPECT_EQ(kernels::shifted_output_source_step(1, 3, 6, false, false, true), 0);
  EXPECT_EQ(kernels::shifted_output_source_step(4, 3, 6, false, false, false), 1);
  EXPECT_EQ(kernels::shifted_output_source_step(4, 3, 6, true, false, false), 1);  // reversed: len−1−1
  EXPECT_EQ(kernels::shifted_output_source_step(5, 3, 6, true, false, false), 0);
  EXPECT_EQ(kernels::shifted_output_source_step(0, 3, 6, true, false, true), 2);  // carry: original 3
  // Processing order (go_backwards): output t is original T−1−t.
  EXPECT_EQ(kernels::shifted_output_source_step(0, 3, 6, true, true, false), 0);   // original 5
  EXPECT_EQ(kernels::shifted_output_source_step(5, 3, 6, true, true, false), -1);  // original 0: padding
  for (int t = 0; t < 6; ++t) EXPECT_EQ(kernels::shifted_output_source_step(t, 0, 6, false, false, true), -1);
}

TEST(CudnnPlan, MasksAsLengthsShiftedOrRefused) {
  const ModelDesc d = small_model(3, 4, 0, 1, Direction::kBidirectional);
  const int T = 4, N = 3;
  std::vector<float> x(T * N * 3, 0.5f), y(T * N * 8);
  std::vector<std::uint8_t> mask = {1, 1, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0};  // right-padded
  ForwardRequest r;
  r.seq_len = T;
  r.batch = N;
  r.x = x.data();
  r.y = y.data();
  r.mask = mask.data();
  DataPlan plan;
  cudnn::plan_forward(d, {}, r, plan);
  EXPECT_FALSE(plan.left_padded);
  EXPECT_EQ(plan.true_lengths, (std::vector<std::int32_t>{2, 4, 0}));
  EXPECT_EQ(plan.cudnn_lengths, (std::vector<int>{2, 4, 1}));
  EXPECT_FALSE(plan.restore_states);            // no state asked
  mask = {0, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1};  // left-padded
  cudnn::plan_forward(d, {}, r, plan);
  EXPECT_TRUE(plan.left_padded);
  EXPECT_TRUE(plan.y_to_scratch);
  EXPECT_TRUE(plan.finish_y);
  EXPECT_EQ(plan.true_lengths, (std::vector<std::int32_t>{2, 4, 1}));
  mask = {1, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1};  // a gap in row 0
  expect_error([&] { cudnn::plan_forward(d, {}, r, plan); }, ErrorCode::kUnsupported,
               {"backend cudnn", "mask row 0 has a masked step between valid ones", "fused and reference"});
  expect_error([&] { cudnn::check_mask_supported(r); }, ErrorCode::kUnsupported, {"mask row 0"});
  mask = {1, 1, 1, 0, 1, 1, 1, 1, 0, 1, 1, 1};  // rows padded on both sides
  expect_error([&] { cudnn::check_mask_supported(r); }, ErrorCode::kUnsupported,
               {"mask row 2 is padded at the front and row 0 at the back"});
}

TEST(CudnnTransforms, IndexMaps) {
  EXPECT_EQ(kernels::sequence_vector(2, 3, 5, 7, false), 2 * 7 + 3);
  EXPECT_EQ(kernels::sequence_vector(2, 3, 5, 7, true), 3 * 5 + 2);
  // len 4 of T 6: valid steps reversed, padding in place.
  const int expected_rev[6] = {3, 2, 1, 0, 4, 5};
  for (int s = 0; s < 6; ++s) EXPECT_EQ(kernels::reversed_input_step(s, 4), expected_rev[s]);
  // Forward, zero padding: identity, then −1.
  EXPECT_EQ(kernels::output_source_step(2, 4, 6, false, false, false), 2);
  EXPECT_EQ(kernels::output_source_step(4, 4, 6, false, false, false), -1);
  // Carry: padding repeats the last valid step.
  EXPECT_EQ(kernels::output_source_step(5, 4, 6, false, false, true), 3);
  // Length 0: zeros, whatever else.
  for (int t = 0; t < 6; ++t) EXPECT_EQ(kernels::output_source_step(t, 0, 6, true, true, true), -1);
  // Reversed run, original order: original step t is cuDNN's step len−1−t.
  EXPECT_EQ(kernels::output_source_step(0, 4, 6, true, false, false), 3);
  EXPECT_EQ(kernels::output_source_step(3, 4, 6, true, false, false), 0);
  EXPECT_EQ(kernels::output_source_step(4, 4, 6, true, false, false), -1);
  // Reversed run, processing order (Keras go_backwards): output t is original T−1−t.
  EXPECT_EQ(kernels::output_source_step(0, 4, 6, true, true, false), -1);  // original 5: padding
  EXPECT_EQ(kernels::output_source_step(2, 4, 6, true, true, false), 0);   // original 3: cuDNN step 0
  EXPECT_EQ(kernels::output_source_step(5, 4, 6, true, true, false), 3);   // original 0: cuDNN step 3
}

// The launchers validate before touching the device, so their refusals are testable here.
TEST(CudnnTransforms, LaunchersRejectBadParameters) {
  std::int32_t fake_lengths[1] = {1};
  float fake[4] = {0, 0, 0, 0};
  kernels::ReverseRowsParams r{fake, fake + 2, fake_lengths, 1, 1, 1, false, 4};
  auto bad_reverse = [&](auto mutate) {
    kernels::ReverseRowsParams q = r;
    mutate(q);
    expect_error([&] { kernels::launch_reverse_rows(q, nullptr); }, ErrorCode::kInvalidArgument, {"reverse_rows"});
  };
  bad_reverse([](auto& q) { q.element_bytes = 8; });
  bad_reverse([](auto& q) { q.steps = 0; });
  bad_reverse([](auto& q) { q.width = 0; });
  bad_reverse([](auto& q) { q.src = nullptr; });
  bad_reverse([](auto& q) { q.lengths = nullptr; });

  kernels::FinishOutputsParams f{};
  f.src = fake, f.dst = fake + 2, f.lengths = fake_lengths, f.steps = 1, f.rows = 1, f.width = 1, f.directions = 1;
  f.element_bytes = 2;
  auto bad_finish = [&](auto mutate) {
    kernels::FinishOutputsParams q = f;
    mutate(q);
    expect_error([&] { kernels::launch_finish_outputs(q, nullptr); }, ErrorCode::kInvalidArgument, {"finish_outputs"});
  };
  bad_finish([](auto& q) { q.directions = 3; });
  bad_finish([](auto& q) { q.element_bytes = 3; });
  bad_finish([](auto& q) { q.dst = nullptr; });
  bad_finish([](auto& q) { q.rows = 0; });
  // A reversed gather in place would read what it already overwrote.
  bad_finish([&](auto& q) { q.src = q.dst, q.reversed_run = true; });
  bad_finish([&](auto& q) { q.src = q.dst, q.processing = true; });

  kernels::RestoreStatesParams s{fake, fake + 1, fake + 2, nullptr, fake_lengths, 1, 1, 1, 1, 4};
  expect_error([&] { kernels::launch_restore_states(s, nullptr); }, ErrorCode::kInvalidArgument,
               {"restore_states", "both h0 and c0"});
  s.c0 = fake + 3;
  s.slots = 0;
  expect_error([&] { kernels::launch_restore_states(s, nullptr); }, ErrorCode::kInvalidArgument, {"restore_states"});
  s.slots = 1;
  s.lengths = nullptr;
  expect_error([&] { kernels::launch_restore_states(s, nullptr); }, ErrorCode::kInvalidArgument, {"restore_states"});
  s.lengths = fake_lengths;
  s.element_bytes = 1;
  expect_error([&] { kernels::launch_restore_states(s, nullptr); }, ErrorCode::kInvalidArgument, {"restore_states"});
  // Nothing to restore into: a no-op, not an error (and no launch).
  s.element_bytes = 4;
  s.h_n = s.c_n = nullptr;
  EXPECT_NO_THROW(kernels::launch_restore_states(s, nullptr));
}

// ---- the workarounds end to end, cuDNN simulated by the reference ---------------------------------------------

struct Outputs {
  std::vector<float> y, h_n, c_n;
};

Outputs run_reference(const ModelDesc& d, const Weights& w, ForwardRequest r) {
  Outputs o;
  const std::size_t states = static_cast<std::size_t>(cudnn::num_pseudo_layers(d)) * r.batch;
  o.y = test::poisoned(static_cast<std::size_t>(r.seq_len) * r.batch * d.num_directions() * d.output_size());
  o.h_n = test::poisoned(states * d.output_size());
  o.c_n = test::poisoned(states * d.hidden_size);
  r.y = o.y.data();
  r.h_n = o.h_n.data();
  r.c_n = o.c_n.data();
  BackendOptions opts;
  opts.kind = BackendKind::kReference;
  Lstm::create(d, w, opts).forward(r);
  return o;
}

// What the cudnn backend does, with cuDNN played by the reference backend: forward direction for
// reverse models on x reversed per row, zero lengths raised to 1, zero padding (paddingFill 0),
// then the device kernels' index maps and the state restore.
Outputs run_simulated_cudnn(const ModelDesc& d, const Weights& w, const ForwardRequest& r) {
  DataPlan plan;
  ForwardRequest every_output = r;  // the simulation always asks for y, h_n and c_n
  float sink[3];
  every_output.y = &sink[0], every_output.h_n = &sink[1], every_output.c_n = &sink[2];
  cudnn::plan_forward(d, {}, every_output, plan);
  const int T = r.seq_len, N = r.batch, I = d.input_size;
  const bool bm = r.layout == TensorLayout::kBatchMajor;
  ModelDesc run_desc = d;
  if (plan.reversed_run) run_desc.direction = Direction::kForward;
  std::vector<float> x(static_cast<const float*>(r.x),
                       static_cast<const float*>(r.x) + static_cast<std::size_t>(T) * N * I);
  if (plan.left_padded) {
    std::vector<float> shifted(x.size());
    for (int s = 0; s < T; ++s)
      for (int b = 0; b < N; ++b) {
        const int src = kernels::shifted_input_step(s, plan.true_lengths[b], T, plan.reversed_run);
        std::copy_n(&x[kernels::sequence_vector(src, b, T, N, bm) * I], I,
                    &shifted[kernels::sequence_vector(s, b, T, N, bm) * I]);
      }
    x = shifted;
  } else if (plan.reversed_run) {
    std::vector<float> rev(x.size());
    for (int s = 0; s < T; ++s)
      for (int b = 0; b < N; ++b) {
        const int src = kernels::reversed_input_step(s, plan.cudnn_lengths[b]);
        std::copy_n(&x[kernels::sequence_vector(src, b, T, N, bm) * I], I,
                    &rev[kernels::sequence_vector(s, b, T, N, bm) * I]);
      }
    x = rev;
  }
  ForwardRequest inner = r;
  inner.x = x.data();
  inner.mask = nullptr;
  inner.lengths = plan.cudnn_lengths.data();
  inner.padding = PaddingMode::kZero;
  inner.reverse_order = ReverseOutputOrder::kOriginal;
  Outputs raw = run_reference(run_desc, w, inner);

  Outputs out = raw;
  const int D = d.num_directions(), W = d.output_size(), C = D * W;
  if (plan.finish_y) {
    for (int t = 0; t < T; ++t)
      for (int b = 0; b < N; ++b)
        for (int dir = 0; dir < D; ++dir) {
          const int len = plan.true_lengths[b];
          const bool processing = r.reverse_order == ReverseOutputOrder::kProcessing;
          const bool carry = r.padding == PaddingMode::kCarryLast;
          const int s = plan.left_padded ? kernels::shifted_output_source_step(t, len, T, plan.reversed_run, processing,
                                                                               carry && d.is_reverse_slot(dir))
                                         : kernels::output_source_step(t, len, T, plan.reversed_run, processing,
                                                                       carry && !d.is_reverse_slot(dir));
          float* dst = &out.y[kernels::sequence_vector(t, b, T, N, bm) * C + dir * W];
          if (s < 0)
            std::fill_n(dst, W, 0.0f);
          else
            std::copy_n(&raw.y[kernels::sequence_vector(s, b, T, N, bm) * C + dir * W], W, dst);
        }
  }
  if (plan.restore_states) {
    for (int slot = 0; slot < cudnn::num_pseudo_layers(d); ++slot)
      for (int b = 0; b < N; ++b) {
        if (plan.true_lengths[b] != 0) continue;
        const std::size_t hb = (static_cast<std::size_t>(slot) * N + b) * W,
                          cb = (static_cast<std::size_t>(slot) * N + b) * d.hidden_size;
        for (int j = 0; j < W; ++j) out.h_n[hb + j] = r.h0 ? static_cast<const float*>(r.h0)[hb + j] : 0.0f;
        for (int j = 0; j < d.hidden_size; ++j) out.c_n[cb + j] = r.c0 ? static_cast<const float*>(r.c0)[cb + j] : 0.0f;
      }
  }
  return out;
}

TEST(CudnnPlan, WorkaroundsReproduceTheReference) {
  std::mt19937_64 rng(test::test_seed());
  SCOPED_TRACE("LSTMRT_TEST_SEED=" + std::to_string(test::test_seed()));
  std::uniform_int_distribution<int> pick(0, 1 << 30);
  for (int trial = 0; trial < 200; ++trial) {
    const Direction dir = static_cast<Direction>(pick(rng) % 3);
    const int I = 1 + pick(rng) % 5, H = 2 + pick(rng) % 5, L = 1 + pick(rng) % 2;
    const int P = pick(rng) % 3 == 0 ? 1 + pick(rng) % (H - 1) : 0;
    const ModelDesc d = small_model(I, H, P, L, dir);
    const Weights w = random_weights(d, pick(rng), 0.6f);
    const int T = 1 + pick(rng) % 6, N = 1 + pick(rng) % 5;
    std::vector<float> x = test::random_vector(static_cast<std::size_t>(T) * N * I, rng);
    std::vector<std::int32_t> lengths(N);
    for (auto& len : lengths) len = pick(rng) % (T + 1);  // 0 and T both drawn
    const std::size_t states = static_cast<std::size_t>(cudnn::num_pseudo_layers(d)) * N;
    std::vector<float> h0 = test::random_vector(states * d.output_size(), rng);
    std::vector<float> c0 = test::random_vector(states * H, rng);

    ForwardRequest r;
    r.seq_len = T;
    r.batch = N;
    r.x = x.data();
    r.layout = pick(rng) % 2 ? TensorLayout::kBatchMajor : TensorLayout::kTimeMajor;
    // Lengths, or a right- or left-padded mask (the two the backend serves), or neither.
    std::vector<std::uint8_t> mask;
    const int rows_kind = pick(rng) % 5;
    if (rows_kind < 2) {
      r.lengths = lengths.data();
    } else if (rows_kind < 4) {
      mask = test::random_mask(T, N, rng, rows_kind == 2 ? test::MaskKind::kPrefix : test::MaskKind::kSuffix);
      r.mask = mask.data();
    }
    if (pick(rng) % 2) r.h0 = h0.data(), r.c0 = c0.data();
    r.padding = pick(rng) % 2 ? PaddingMode::kCarryLast : PaddingMode::kZero;
    if (dir == Direction::kReverse && pick(rng) % 2) r.reverse_order = ReverseOutputOrder::kProcessing;
    const std::string what = fmt::format(
        "trial {}: {} T {} N {} layout {} lengths {} mask {} h0 {} carry {} processing {}", trial, describe(d), T, N,
        static_cast<int>(r.layout), r.lengths != nullptr,
        rows_kind == 2   ? "prefix"
        : rows_kind == 3 ? "suffix"
                         : "none",
        r.h0 != nullptr, r.padding == PaddingMode::kCarryLast, r.reverse_order == ReverseOutputOrder::kProcessing);
    const Outputs want = run_reference(d, w, r);
    const Outputs got = run_simulated_cudnn(d, w, r);
    ASSERT_TRUE(test::all_close(want.y, got.y, 1e-6, 0.0, what + " y"));
    ASSERT_TRUE(test::all_close(want.h_n, got.h_n, 1e-6, 0.0, what + " h_n"));
    ASSERT_TRUE(test::all_close(want.c_n, got.c_n, 1e-6, 0.0, what + " c_n"));
  }
}

}  // namespace
}  // namespace lstmrt
