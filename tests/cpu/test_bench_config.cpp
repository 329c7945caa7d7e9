// lstmrt-bench configuration: presets, sweeps, JSON configs, and errors that name the bad field.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>

#include "bench/config.hpp"

namespace lstmrt::bench {
namespace {

// Runs `f`, expects lstmrt::Error with `code` whose message contains every one of `parts`.
template <typename F>
void expect_error(F&& f, ErrorCode code, std::initializer_list<std::string> parts) {
  try {
    f();
    ADD_FAILURE() << "no error thrown; expected one mentioning " << *parts.begin();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    for (const std::string& part : parts)
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos)
          << "message \"" << e.what() << "\" lacks \"" << part << "\"";
  }
}

TEST(BenchNumerics, NamesMapToDataTypeAndMathModeAndRoundTrip) {
  const Numerics fp32 = numerics_from_string("fp32"), tf32 = numerics_from_string("tf32");
  const Numerics fp16 = numerics_from_string("fp16"), bf16 = numerics_from_string("bf16");
  EXPECT_EQ(fp32.type, DataType::kFloat32);
  EXPECT_EQ(fp32.math, MathMode::kStrict);
  EXPECT_EQ(tf32.type, DataType::kFloat32);
  EXPECT_EQ(tf32.math, MathMode::kTF32);
  EXPECT_EQ(fp16.type, DataType::kFloat16);
  EXPECT_EQ(fp16.math, MathMode::kStrict);
  EXPECT_EQ(bf16.type, DataType::kBFloat16);
  EXPECT_EQ(bf16.math, MathMode::kStrict);
  EXPECT_EQ(Numerics{}, fp32);  // the default
  for (const char* name : {"fp32", "tf32", "fp16", "bf16"}) EXPECT_EQ(to_string(numerics_from_string(name)), name);
  // A combination no name stands for still prints distinctly.
  EXPECT_EQ(to_string(Numerics{DataType::kBFloat16, MathMode::kTF32}), "bfloat16+tf32");
  // A strict order (map key): each of the four below the next in exactly one direction.
  const Numerics all[] = {fp32, tf32, fp16, bf16};
  for (const Numerics& a : all)
    for (const Numerics& b : all) EXPECT_EQ((a < b) + (b < a) + (a == b), 1) << to_string(a) << " " << to_string(b);
  // Looser storage, looser tolerance.
  EXPECT_LT(tolerance(fp32).atol, tolerance(tf32).atol);
  EXPECT_LT(tolerance(fp16).atol, tolerance(bf16).atol);
  expect_error([] { numerics_from_string("fp64"); }, ErrorCode::kInvalidArgument, {"fp64", "fp32, tf32, fp16 or bf16"});
}

TEST(BenchConfig, QuickPresetHasItsTenShapesWithInputDefaultingToHidden) {
  const std::vector<Shape> shapes = preset_shapes("quick");
  ASSERT_EQ(shapes.size(), 10u);
  const Shape stacked{16, 50, 256, 256, 0, 2, 2, Numerics{DataType::kBFloat16}};
  const Shape projected{8, 50, 512, 1024, 256, 1, 1, Numerics{DataType::kFloat32}};
  const Shape large{64, 50, 1024, 1024, 0, 1, 1, Numerics{DataType::kBFloat16}};
  for (const Shape& s : {stacked, projected, large})
    EXPECT_NE(std::find(shapes.begin(), shapes.end(), s), shapes.end()) << describe(s);
}

TEST(BenchConfig, EveryPresetParsesToValidShapes) {
  const std::vector<PresetInfo> presets = preset_list();
  std::vector<std::string> names;
  for (const PresetInfo& p : presets) {
    names.push_back(p.name);
    EXPECT_FALSE(p.description.empty()) << p.name;
    const std::vector<Shape> shapes = preset_shapes(p.name);
    EXPECT_FALSE(shapes.empty()) << p.name;
    for (const Shape& s : shapes) EXPECT_NO_THROW(validate(s)) << describe(s);
  }
  for (const char* wanted : {"quick", "persistent", "small-batch", "large-batch", "stacked"})
    EXPECT_NE(std::find(names.begin(), names.end(), wanted), names.end()) << wanted;
  // performance.md's large-batch case is in the large-batch preset.
  const std::vector<Shape> large = preset_shapes("large-batch");
  EXPECT_NE(std::find(large.begin(), large.end(), Shape{256, 100, 1024, 1024, 0, 1, 1, {DataType::kBFloat16}}),
            large.end());
  expect_error([] { preset_shapes("huge"); }, ErrorCode::kInvalidArgument, {"huge", "quick", "stacked"});
}

// The persistent kernels' targets as shapes: N=1 H=1024 T=256 fp32; N=8,16,32 × H=512,1024 × fp32,bf16; the
// cluster range H=128..512 × N=1..64.
TEST(BenchConfig, PersistentPresetCoversTheTargets) {
  const std::vector<Shape> shapes = preset_shapes("persistent");
  auto has = [&](const Shape& s) { return std::find(shapes.begin(), shapes.end(), s) != shapes.end(); };
  EXPECT_TRUE(has(Shape{1, 256, 1024, 1024, 0, 1, 1, {DataType::kFloat32}}));
  for (int n : {8, 16, 32})
    for (int h : {512, 1024})
      for (Numerics p : {Numerics{DataType::kFloat32}, Numerics{DataType::kBFloat16}})
        EXPECT_TRUE(has(Shape{n, 100, h, h, 0, 1, 1, p})) << n << " " << h << " " << to_string(p);
  int cluster_shapes = 0;
  for (const Shape& s : shapes) {
    EXPECT_EQ(s.layers, 1);
    EXPECT_EQ(s.directions, 1);
    EXPECT_EQ(s.proj, 0);
    if (s.hidden <= 512 && s.batch <= 64) ++cluster_shapes;
  }
  EXPECT_TRUE(has(Shape{1, 100, 128, 128, 0, 1, 1, {DataType::kFloat32}}));
  EXPECT_TRUE(has(Shape{64, 100, 512, 512, 0, 1, 1, {DataType::kFloat32}}));
  EXPECT_GE(cluster_shapes, 9);
  // Sized for bench/run-quick: a few dozen shapes at most.
  EXPECT_LE(shapes.size(), 24u);
}

TEST(BenchBackendChoice, NamesMapToBackendAndFusedKernel) {
  const struct {
    const char* name;
    BackendKind kind;
    FusedKernel kernel;
    const char* canonical;
  } cases[] = {{"reference", BackendKind::kReference, FusedKernel::kAuto, "reference"},
               {"cudnn", BackendKind::kCudnn, FusedKernel::kAuto, "cudnn"},
               {"fused", BackendKind::kFused, FusedKernel::kAuto, "fused:auto"},
               {"fused:auto", BackendKind::kFused, FusedKernel::kAuto, "fused:auto"},
               {"fused:stepwise", BackendKind::kFused, FusedKernel::kStepwise, "fused:stepwise"},
               {"fused:persistent", BackendKind::kFused, FusedKernel::kPersistent, "fused:persistent"},
               {"fused:cluster", BackendKind::kFused, FusedKernel::kCluster, "fused:cluster"}};
  for (const auto& c : cases) {
    const BackendChoice choice = backend_choice_from_string(c.name);
    EXPECT_EQ(choice.kind, c.kind) << c.name;
    EXPECT_EQ(choice.fused_kernel, c.kernel) << c.name;
    EXPECT_EQ(to_string(choice), c.canonical);
    EXPECT_EQ(backend_choice_from_string(to_string(choice)), choice) << c.name;
  }
  EXPECT_FALSE(backend_choice_from_string("fused:cluster") == backend_choice_from_string("fused:persistent"));
  EXPECT_EQ(BackendChoice(BackendKind::kCudnn), backend_choice_from_string("cudnn"));
  expect_error([] { backend_choice_from_string("cudann"); }, ErrorCode::kInvalidArgument,
               {"unknown backend 'cudann'", "fused:persistent"});
  expect_error([] { backend_choice_from_string("auto"); }, ErrorCode::kInvalidArgument, {"auto is not a backend"});
  expect_error([] { backend_choice_from_string("fused:turbo"); }, ErrorCode::kInvalidArgument,
               {"fused:turbo", "fused:stepwise", "fused:cluster"});
  expect_error([] { backend_choice_from_string("fused:"); }, ErrorCode::kInvalidArgument, {"'fused:'"});
  expect_error([] { backend_choice_from_string("cudnn:persistent"); }, ErrorCode::kInvalidArgument,
               {"only fused takes a kernel variant"});
}

TEST(BenchConfig, SweepIsTheCartesianProductWithoutDuplicates) {
  const std::vector<Shape> shapes = parse_config(
      R"({"sweeps": [{"batch": [1, 8, 64], "steps": 10, "hidden": [32, 48], "input": 16, "precision": ["fp32", "bf16"]},
                     {"batch": 8, "steps": 10, "hidden": 32, "input": 16, "precision": "bf16"},
                     {"batch": 2, "steps": 3, "hidden": 40, "proj": 20, "layers": 3, "directions": 2}]})",
      "test.json");
  ASSERT_EQ(shapes.size(), 3u * 2u * 2u + 1u);  // the second sweep's shape is already in the first
  EXPECT_EQ(std::count(shapes.begin(), shapes.end(), Shape{8, 10, 16, 32, 0, 1, 1, {DataType::kBFloat16}}), 1);
  for (int batch : {1, 8, 64})
    for (int hidden : {32, 48})
      for (Numerics p : {Numerics{DataType::kFloat32}, Numerics{DataType::kBFloat16}})
        EXPECT_NE(std::find(shapes.begin(), shapes.end(), Shape{batch, 10, 16, hidden, 0, 1, 1, p}), shapes.end());
  EXPECT_EQ(shapes.back(), (Shape{2, 3, 40, 40, 20, 3, 2, {DataType::kFloat32}}));
}

TEST(BenchConfig, FlagListsExpandLikeConfigs) {
  const Sweep sweep = {
      {"batch", split_list("--batch", "1, 4")}, {"steps", {"7"}}, {"hidden", split_list("--hidden", "16,24")}};
  const std::vector<Shape> shapes = expand(sweep, "flags");
  ASSERT_EQ(shapes.size(), 4u);
  for (const Shape& s : shapes) {
    EXPECT_EQ(s.steps, 7);
    EXPECT_EQ(s.input, s.hidden);
    EXPECT_EQ(s.numerics, Numerics{DataType::kFloat32});
    EXPECT_EQ(s.layers, 1);
    EXPECT_EQ(s.directions, 1);
  }
  expect_error([] { split_list("--batch", "1,,4"); }, ErrorCode::kInvalidArgument, {"--batch", "empty item"});
  expect_error([] { split_list("--batch", "1,4,"); }, ErrorCode::kInvalidArgument, {"--batch", "empty item"});
  expect_error(
      [] {
        expand(Sweep{{"batch", {"1"}}, {"hidden", {"8"}}}, "flags");
      },
      ErrorCode::kInvalidArgument, {"flags", "missing field 'steps'"});
  expect_error(
      [] {
        expand(Sweep{{"batch", {"1"}}, {"steps", {"2"}}, {"hidden", {"8"}}, {"heads", {"2"}}}, "flags");
      },
      ErrorCode::kInvalidArgument, {"unknown field 'heads'", "batch"});
}

TEST(BenchConfig, ErrorsNameTheBadField) {
  auto parse = [](const std::string& text) { return [text] { parse_config(text, "cfg.json"); }; };
  expect_error(parse(R"({"sweeps": [{"batch": 1, "steps": 2, "hidden": 8},
                                    {"batch": 1, "steps": 2, "hidden": [8, 16, "big"]}]})"),
               ErrorCode::kInvalidArgument, {"cfg.json: sweeps[1].hidden[2]", "expected an integer", "\"big\""});
  expect_error(parse(R"({"sweeps": [{"batch": 0, "steps": 2, "hidden": 8}]})"), ErrorCode::kInvalidArgument,
               {"sweeps[0].batch", "expected an integer >= 1", "\"0\""});
  expect_error(parse(R"({"sweeps": [{"batch": 1, "steps": 2, "hidden": 8, "hiden": 4}]})"), ErrorCode::kInvalidArgument,
               {"sweeps[0]", "unknown field 'hiden'", "hidden"});
  expect_error(parse(R"({"sweeps": [{"batch": 1, "steps": 2, "hidden": 8, "precision": ["fp32", "int8"]}]})"),
               ErrorCode::kInvalidArgument, {"sweeps[0].precision[1]", "int8"});
  expect_error(parse(R"({"sweeps": [{"batch": 1, "steps": 2, "hidden": 8, "precision": 16}]})"),
               ErrorCode::kInvalidArgument, {"sweeps[0].precision", "expected a precision name"});
  expect_error(parse(R"({"sweeps": [{"batch": 1, "steps": 2, "hidden": 8, "directions": 3}]})"),
               ErrorCode::kInvalidArgument, {"sweeps[0]", "directions is 3", "1 or 2"});
  expect_error(parse(R"({"sweeps": [{"batch": 1, "steps": 2, "hidden": 8, "proj": 8}]})"), ErrorCode::kInvalidArgument,
               {"sweeps[0]", "P=8", "proj"});
  expect_error(parse(R"({"sweeps": [{"batch": 1, "steps": 2.5, "hidden": 8}]})"), ErrorCode::kInvalidArgument,
               {"sweeps[0].steps", "expected an integer", "2.5"});
  expect_error(parse(R"({"sweeps": [{"batch": [], "steps": 2, "hidden": 8}]})"), ErrorCode::kInvalidArgument,
               {"sweeps[0].batch", "empty list"});
  expect_error(parse(R"({"sweeps": [{"batch": 1, "hidden": 8}]})"), ErrorCode::kInvalidArgument,
               {"sweeps[0]", "missing field 'steps'"});
  expect_error(parse(R"({"sweeps": []})"), ErrorCode::kInvalidArgument, {"cfg.json: sweeps", "non-empty list"});
  expect_error(parse(R"({"shapes": []})"), ErrorCode::kInvalidArgument, {"cfg.json", "\"sweeps\""});
  expect_error(parse(R"({"sweeps": [{"batch": 1, "steps": 2, "hidden": 8}], "runs": 3})"), ErrorCode::kInvalidArgument,
               {"unknown key 'runs'"});
  expect_error(parse(R"({"sweeps": [{"batch": 1,)"), ErrorCode::kInvalidArgument, {"cfg.json", "not valid JSON"});
  expect_error(parse(R"({"sweeps": [[1, 2]]})"), ErrorCode::kInvalidArgument, {"sweeps[0]", "expected an object"});
}

TEST(BenchConfig, ConfigFilesLoadAndMissingOnesSaySo) {
  const std::string path = ::testing::TempDir() + "bench_config_test.json";
  {
    std::ofstream out(path);
    out << R"({"description": "two shapes", "sweeps": [{"batch": [2, 3], "steps": 5, "hidden": 12}]})";
  }
  const std::vector<Shape> shapes = load_config_file(path);
  ASSERT_EQ(shapes.size(), 2u);
  EXPECT_EQ(shapes[0].batch, 2);
  EXPECT_EQ(shapes[1].batch, 3);
  std::remove(path.c_str());
  expect_error([&] { load_config_file(path); }, ErrorCode::kIoError, {"cannot read config file", path});
}

TEST(BenchShape, ModelDescAndValidation) {
  const Shape s{4, 9, 24, 32, 16, 2, 2, Numerics{DataType::kFloat16}};
  const ModelDesc desc = model_desc(s);
  EXPECT_EQ(desc.input_size, 24);
  EXPECT_EQ(desc.hidden_size, 32);
  EXPECT_EQ(desc.proj_size, 16);
  EXPECT_EQ(desc.num_layers, 2);
  EXPECT_EQ(desc.direction, Direction::kBidirectional);
  EXPECT_EQ(describe(s), "N=4 T=9 I=24 H=32 P=16 L=2 D=2 fp16");
  expect_error([] { validate(Shape{0, 1, 8, 8}); }, ErrorCode::kInvalidArgument, {"batch is 0"});
  expect_error([] { validate(Shape{1, 0, 8, 8}); }, ErrorCode::kInvalidArgument, {"steps is 0"});
  expect_error([] { validate(Shape{1, 1, 8, 8, 0, 1, 0}); }, ErrorCode::kInvalidArgument, {"directions is 0"});
}

}  // namespace
}  // namespace lstmrt::bench
