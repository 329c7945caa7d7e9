// How every loader picks its reader (include/lstmrt/import.hpp, "How a file's reader is chosen"):
// by content whatever the name says, a clear error naming the content, the extension and the
// formats expected when the content is a format the loader does not read, and the readers' own
// errors (or the list of formats) for garbage and truncated files. Also the one element-type enum:
// sizes and names of every DataType, and the refusals of non-storage types and of .npy bfloat16.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "common/elements.hpp"
#include "common/expect_error.hpp"
#include "common/foreign_weights.hpp"
#include "common/golden_files.hpp"
#include "lstmrt/import.hpp"
#include "lstmrt/io.hpp"
#include "lstmrt/lstm.hpp"

namespace lstmrt {
namespace {

namespace fs = std::filesystem;
using test::expect_error;
using test::golden_path;

std::vector<char> bytes_of(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<char>(std::istreambuf_iterator<char>(f), {});
}

void write_bytes(const std::string& path, const std::vector<char>& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

void copy_to(const std::string& from, const std::string& to) { write_bytes(to, bytes_of(from)); }

ModelDesc small_desc(int input, int hidden, int layers, Direction dir) {
  ModelDesc d;
  d.input_size = input, d.hidden_size = hidden, d.num_layers = layers, d.direction = dir;
  return d;
}

// A random nn.LSTM state_dict as an ArrayMap (fresh values of a random shape each call).
ArrayMap random_state_dict_arrays(std::mt19937_64& rng, ModelDesc* desc) {
  std::uniform_int_distribution<int> size(1, 7);
  *desc = small_desc(size(rng), size(rng), 1 + static_cast<int>(rng() % 2),
                     rng() % 2 ? Direction::kBidirectional : Direction::kForward);
  ArrayMap arrays;
  for (const auto& [name, t] : test::random_state_dict(*desc, rng, true))
    arrays[name] = Array::from_float32(t.shape, t.data);
  return arrays;
}

void expect_same_weights(const LoadedWeights& a, const LoadedWeights& b) {
  ASSERT_EQ(a.weights.layers.size(), b.weights.layers.size());
  for (std::size_t k = 0; k < a.weights.layers.size(); ++k) {
    EXPECT_EQ(a.weights.layers[k].w_ih, b.weights.layers[k].w_ih);
    EXPECT_EQ(a.weights.layers[k].w_hh, b.weights.layers[k].w_hh);
    EXPECT_EQ(a.weights.layers[k].b_ih, b.weights.layers[k].b_ih);
    EXPECT_EQ(a.weights.layers[k].b_hh, b.weights.layers[k].b_hh);
  }
  EXPECT_EQ(a.format, b.format);
  EXPECT_EQ(a.desc.hidden_size, b.desc.hidden_size);
  EXPECT_EQ(a.desc.num_layers, b.desc.num_layers);
}

// ---- each format read by its content under a wrong or missing extension ------------------------------

TEST(FileFormat, NpyAndNpzAreReadByContentWhateverTheirName) {
  std::mt19937_64 rng(11);
  test::ScratchDir dir;
  for (int round = 0; round < 3; ++round) {
    const std::int64_t rows = 1 + static_cast<std::int64_t>(rng() % 5), cols = 1 + static_cast<std::int64_t>(rng() % 4);
    std::vector<float> values(static_cast<std::size_t>(rows * cols));
    for (float& v : values) v = std::uniform_real_distribution<float>(-3, 3)(rng);
    const Array a = Array::from_float32({rows, cols}, values);
    save_npy(dir.file("x.npy"), a);
    for (const char* name : {"x.bin", "x", "x.npz", "x.safetensors"}) {
      SCOPED_TRACE(name);
      copy_to(dir.file("x.npy"), dir.file(name));
      const Array b = load_npy(dir.file(name));
      EXPECT_EQ(b.shape, a.shape);
      EXPECT_EQ(b.to_float32("b"), values);
    }
    ModelDesc desc;
    const ArrayMap arrays = random_state_dict_arrays(rng, &desc);
    save_npz(dir.file("w.npz"), arrays, round % 2 == 1);
    const LoadedWeights want = load_weights(dir.file("w.npz"));
    for (const char* name : {"w.bin", "w", "w.npy", "w.onnx", "w.h5"}) {
      SCOPED_TRACE(name);
      copy_to(dir.file("w.npz"), dir.file(name));
      EXPECT_EQ(load_npz(dir.file(name)).size(), arrays.size());
      expect_same_weights(want, load_weights(dir.file(name)));
      const std::optional<ArrayMap> named = load_weight_arrays(dir.file(name));
      ASSERT_TRUE(named.has_value());
      EXPECT_EQ(named->size(), arrays.size());
    }
  }
}

TEST(FileFormat, SafetensorsOnnxAndKerasAreReadByContentWhateverTheirName) {
  test::ScratchDir dir;
  const std::string st = golden_path("safetensors", "stack_bidir_f32.safetensors");
  const LoadedWeights st_want = load_weights(st);
  for (const char* name : {"w.bin", "w", "w.npz", "w.onnx"}) {
    SCOPED_TRACE(name);
    copy_to(st, dir.file(name));
    expect_same_weights(st_want, load_weights(dir.file(name)));
    EXPECT_EQ(load_safetensors(dir.file(name)).size(), load_safetensors(st).size());
    ASSERT_TRUE(load_weight_arrays(dir.file(name)).has_value());
  }
  const std::string onnx = golden_path("onnx_import", "torch_stack_bidir.onnx");
  const LoadedWeights onnx_want = load_weights(onnx);
  for (const char* name : {"m.bin", "m", "m.npz", "m.safetensors"}) {
    SCOPED_TRACE(name);
    copy_to(onnx, dir.file(name));
    expect_same_weights(onnx_want, load_weights(dir.file(name)));
    expect_same_weights(onnx_want, load_onnx_weights(dir.file(name)));
    EXPECT_FALSE(load_weight_arrays(dir.file(name)).has_value()) << "an ONNX model's weights come from its graph";
  }
  const std::string keras = golden_path("keras_import", "shared_layer.keras");
  const ImportedModel keras_want = load_keras_model(keras);
  for (const char* name : {"m.zip", "m", "m.npz"}) {
    SCOPED_TRACE(name);
    copy_to(keras, dir.file(name));
    EXPECT_TRUE(is_keras_model_file(dir.file(name)));
    const ImportedModel got = load_keras_model(dir.file(name));
    EXPECT_EQ(got.nodes.size(), keras_want.nodes.size());
    EXPECT_EQ(got.inputs.size(), keras_want.inputs.size());
    EXPECT_EQ(keras_config_path(dir.file(name)), "");
  }
  // A .weights.h5 under another name, with its config given.
  const std::string h5 = golden_path("keras_import", "sequential_stack.weights.h5");
  const std::string config = golden_path("keras_import", "sequential_stack.config.json");
  const ImportedModel h5_want = load_keras_model(h5, config);
  copy_to(h5, dir.file("weights.bin"));
  EXPECT_TRUE(is_keras_model_file(dir.file("weights.bin")));
  EXPECT_EQ(load_keras_model(dir.file("weights.bin"), config).nodes.size(), h5_want.nodes.size());
}

// ---- content a loader does not read: the content, the extension and what was expected ----------------

TEST(FileFormatErrors, ContentOfAnotherFormatNamesItTheExtensionAndTheExpectedFormat) {
  std::mt19937_64 rng(12);
  test::ScratchDir dir;
  ModelDesc desc;
  save_npz(dir.file("w.npz"), random_state_dict_arrays(rng, &desc));
  save_npy(dir.file("x.npy"), Array::from_float32({2}, {0.5f, -1.25f}));
  copy_to(dir.file("w.npz"), dir.file("a.npy"));
  expect_error([&] { load_npy(dir.file("a.npy")); }, ErrorCode::kIoError,
               {"a.npy", "the content is an .npz archive", "although its name ends in '.npy'", "expected a .npy array",
                "load_npz"});
  copy_to(dir.file("x.npy"), dir.file("b.npz"));
  expect_error(
      [&] { load_npz(dir.file("b.npz")); }, ErrorCode::kIoError,
      {"b.npz", "the content is a .npy array", "although its name ends in '.npz'", "expected an .npz archive"});
  expect_error([&] { load_weights(dir.file("b.npz")); }, ErrorCode::kIoError,
               {"b.npz", "a .npy array", "a .npy file holds one array", "numpy.savez"});
  expect_error([&] { load_weight_arrays(dir.file("b.npz")); }, ErrorCode::kIoError, {"b.npz", "a .npy array"});
  // No extension: the content alone, and no word about the name.
  copy_to(dir.file("x.npy"), dir.file("plain"));
  try {
    load_safetensors(dir.file("plain"));
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("the content is a .npy array"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find("although"), std::string::npos) << e.what();
  }
  copy_to(golden_path("safetensors", "proj_f16.safetensors"), dir.file("m.onnx"));
  expect_error([&] { load_onnx_weights(dir.file("m.onnx")); }, ErrorCode::kIoError,
               {"m.onnx", "a .safetensors file", "'.onnx'", "expected an ONNX model"});
  expect_error([&] { load_keras_model(dir.file("w.npz")); }, ErrorCode::kIoError,
               {"w.npz", "an .npz archive", "expected a Keras archive (.keras) or an HDF5 .weights.h5"});
  EXPECT_FALSE(is_keras_model_file(dir.file("w.npz")));
  copy_to(golden_path("keras_import", "shared_layer.keras"), dir.file("k.npz"));
  expect_error([&] { load_npz(dir.file("k.npz")); }, ErrorCode::kIoError, {"k.npz", "a Keras archive"});
  expect_error([&] { load_keras_model(dir.file("w.npz"), dir.file("c.json")); }, ErrorCode::kIoError,
               {"w.npz", "an .npz archive", "expected an HDF5 file"});
  // torch.save output, whatever its name: refused with what to do instead.
  for (const char* fixture : {"torch_legacy.pt", "torch_zip.pt"}) {
    copy_to(golden_path("formats", fixture), dir.file("t.npz"));
    expect_error([&] { load_weights(dir.file("t.npz")); }, ErrorCode::kIoError,
                 {"t.npz", "a PyTorch pickle (torch.save)", "'.npz'", "safetensors.torch.save_file"});
    expect_error([&] { load_npz(dir.file("t.npz")); }, ErrorCode::kIoError, {"t.npz", "PyTorch pickle"});
  }
}

// ---- garbage, truncated and empty files ---------------------------------------------------------------

TEST(FileFormatErrors, GarbageAndTruncatedFilesNameTheFileAndTheFormatsExpected) {
  std::mt19937_64 rng(13);
  test::ScratchDir dir;
  std::vector<char> garbage(300);
  for (char& c : garbage) c = static_cast<char>(rng() % 64 + 64);  // printable, no format's magic
  write_bytes(dir.file("junk.bin"), garbage);
  for (const auto& load : {std::function<void()>([&] { load_weights(dir.file("junk.bin")); }),
                           std::function<void()>([&] { load_weight_arrays(dir.file("junk.bin")); })})
    expect_error(
        load, ErrorCode::kIoError,
        {"junk.bin", "not a model file lstmrt reads", ".npz", ".safetensors", ".onnx", ".keras", ".weights.h5"});
  expect_error([&] { load_keras_model(dir.file("junk.bin")); }, ErrorCode::kIoError,
               {"junk.bin", "not a Keras model file lstmrt reads", ".keras", ".weights.h5"});
  // Unrecognised content goes to the reader of the only format a loader reads, or the one its
  // extension names: that reader says what is wrong.
  expect_error([&] { load_npy(dir.file("junk.bin")); }, ErrorCode::kIoError, {"junk.bin", "bad magic"});
  expect_error([&] { load_npz(dir.file("junk.bin")); }, ErrorCode::kIoError, {"junk.bin", ".npz (zip) archive"});
  // A truncated safetensors file: its header length passes the end, so the content is not
  // recognised; named .safetensors its reader explains, named otherwise the formats are listed.
  std::vector<char> st = bytes_of(golden_path("safetensors", "stack_bidir_f32.safetensors"));
  st.resize(st.size() / 3 > 40 ? 40 : st.size() / 3);
  write_bytes(dir.file("cut.safetensors"), st);
  write_bytes(dir.file("cut.bin"), st);
  expect_error([&] { load_weights(dir.file("cut.safetensors")); }, ErrorCode::kIoError, {"cut.safetensors"});
  expect_error([&] { load_weights(dir.file("cut.bin")); }, ErrorCode::kIoError,
               {"cut.bin", "not a model file lstmrt reads", ".safetensors"});
  // A truncated .npy keeps its magic: the .npy reader says what is missing, whatever the name.
  save_npy(dir.file("x.npy"), Array::from_float32({4, 4}, std::vector<float>(16, 1.5f)));
  std::vector<char> npy = bytes_of(dir.file("x.npy"));
  npy.resize(npy.size() - 7);
  write_bytes(dir.file("cut.dat"), npy);
  expect_error([&] { load_npy(dir.file("cut.dat")); }, ErrorCode::kIoError, {"cut.dat"});
  // An empty file, a directory and a missing path.
  write_bytes(dir.file("empty.npz"), {});
  expect_error([&] { load_weights(dir.file("empty.npz")); }, ErrorCode::kIoError, {"empty.npz"});
  expect_error([&] { load_npy(dir.file("empty.npz")); }, ErrorCode::kIoError, {"empty.npz", "bad magic"});
  fs::create_directories(dir.file("folder.npz"));
  expect_error([&] { load_weights(dir.file("folder.npz")); }, ErrorCode::kIoError, {"folder.npz", "is a directory"});
  expect_error([&] { load_safetensors(dir.file("absent.safetensors")); }, ErrorCode::kIoError,
               {"absent.safetensors", "no such file"});
}

// ---- one element-type enum ------------------------------------------------------------------------------

TEST(DataTypes, EveryValueHasASizeAndANameThatParsesBack) {
  const std::vector<std::pair<DataType, std::size_t>> sizes = {
      {DataType::kFloat32, 4}, {DataType::kFloat16, 2}, {DataType::kBFloat16, 2}, {DataType::kBool, 1},
      {DataType::kUint8, 1},   {DataType::kInt8, 1},    {DataType::kInt16, 2},    {DataType::kInt32, 4},
      {DataType::kInt64, 8},   {DataType::kFloat64, 8}};
  ASSERT_EQ(sizes.size(), std::size(kAllDataTypes));
  for (const auto& [type, bytes] : sizes) {
    SCOPED_TRACE(to_string(type));
    EXPECT_EQ(detail::element_bytes(type), bytes);
    EXPECT_EQ(data_type_from_string(to_string(type)), type);
    EXPECT_EQ(is_storage_type(type),
              type == DataType::kFloat32 || type == DataType::kFloat16 || type == DataType::kBFloat16);
  }
  // The API's first three values stay where they were.
  EXPECT_EQ(static_cast<int>(DataType::kFloat32), 0);
  EXPECT_EQ(static_cast<int>(DataType::kFloat16), 1);
  EXPECT_EQ(static_cast<int>(DataType::kBFloat16), 2);
  EXPECT_EQ(to_string(DataType::kBFloat16), "bfloat16");
  EXPECT_EQ(to_string(DataType::kBool), "bool");
  expect_error([] { data_type_from_string("float128"); }, ErrorCode::kInvalidArgument,
               {"'float128'", "float32, float16, bfloat16, bool", "float64"});
  expect_error([] { detail::element_bytes(static_cast<DataType>(99)); }, ErrorCode::kInvalidArgument, {"99"});
}

TEST(DataTypes, BackendsRefuseAFileOnlyTypeNamingItAndTheStorageTypes) {
  ModelDesc desc = small_desc(3, 4, 1, Direction::kForward);
  std::mt19937_64 rng(14);
  TensorMap sd = test::random_state_dict(desc, rng, true);
  const Weights w = from_pytorch(desc, sd);
  for (DataType type : {DataType::kInt64, DataType::kFloat64, DataType::kBool, DataType::kUint8}) {
    for (BackendKind kind : {BackendKind::kReference, BackendKind::kAuto, BackendKind::kCudnn, BackendKind::kFused}) {
      SCOPED_TRACE(to_string(type) + " on " + to_string(kind));
      BackendOptions o;
      o.kind = kind;
      o.data_type = type;
      expect_error([&] { Lstm::create(desc, w, o); }, ErrorCode::kInvalidArgument,
                   {to_string(type), "not a storage type", "float32, float16 or bfloat16"});
    }
  }
  // The conversions to device storage refuse them too.
  expect_error([] { detail::to_storage(std::vector<float>{1.0f}, DataType::kInt32); }, ErrorCode::kInvalidArgument,
               {"int32", "not a storage type"});
}

TEST(DataTypes, NpyAndNpzRefuseBfloat16NumpyHasNoTypeForIt) {
  test::ScratchDir dir;
  Array a;
  a.dtype = DataType::kBFloat16;
  a.shape = {3};
  a.data = {0x80, 0x3f, 0x00, 0x40, 0x40, 0xc0};  // 1, 2, -3 as bfloat16
  EXPECT_EQ(a.to_float32("a"), (std::vector<float>{1.0f, 2.0f, -3.0f}));
  expect_error([&] { save_npy(dir.file("b.npy"), a); }, ErrorCode::kInvalidArgument,
               {"b.npy", "bfloat16", "NumPy has no bfloat16", "float32"});
  EXPECT_FALSE(fs::exists(dir.file("b.npy"))) << "nothing is left behind";
  expect_error(
      [&] {
        save_npz(dir.file("b.npz"), ArrayMap{{"ok", Array::from_float32({1}, {1.0f})}, {"w", a}});
      },
      ErrorCode::kInvalidArgument, {"bfloat16", "NumPy has no bfloat16"});
  EXPECT_FALSE(fs::exists(dir.file("b.npz")));
  // What ml_dtypes writes for a bfloat16 array: descr '|V2', two raw bytes per element.
  std::string header = "{'descr': '|V2', 'fortran_order': False, 'shape': (3,), }";
  header.resize(128 - 10 - 1, ' ');  // prefix + header: a multiple of 64
  header += '\n';
  std::vector<char> file = {'\x93', 'N', 'U', 'M', 'P', 'Y', 1, 0, static_cast<char>(header.size()), 0};
  file.insert(file.end(), header.begin(), header.end());
  file.insert(file.end(), a.data.begin(), a.data.end());
  write_bytes(dir.file("ml.npy"), file);
  expect_error([&] { load_npy(dir.file("ml.npy")); }, ErrorCode::kIoError,
               {"ml.npy", "'|V2'", "NumPy has no bfloat16", "float32"});
}

}  // namespace
}  // namespace lstmrt
