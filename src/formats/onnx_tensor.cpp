// ONNX protobuf files and tensors: TensorProto -> Tensor, .pb / .onnx files, test data sets.
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "common/check.hpp"
#include "formats/onnx_lstm.hpp"

namespace lstmrt::formats_detail {
namespace {

std::string proto_label(const onnx::TensorProto& proto) {
  return proto.name().empty() ? std::string("TensorProto") : fmt::format("tensor '{}'", proto.name());
}

std::string dtype_name(int data_type) {
  if (!onnx::TensorProto_DataType_IsValid(data_type)) return fmt::format("data type {}", data_type);
  return onnx::TensorProto_DataType_Name(static_cast<onnx::TensorProto_DataType>(data_type));
}

// Shape and element count of `proto`; rejects negative dimensions, overflow, external data.
std::vector<std::int64_t> checked_shape(const onnx::TensorProto& proto, std::int64_t& numel) {
  if (proto.data_location() == onnx::TensorProto_DataLocation_EXTERNAL)
    detail::fail(ErrorCode::kIoError, "{}: data stored in an external file is not supported", proto_label(proto));
  if (proto.has_segment())
    detail::fail(ErrorCode::kIoError, "{}: segmented tensors are not supported", proto_label(proto));
  std::vector<std::int64_t> shape(proto.dims().begin(), proto.dims().end());
  numel = 1;
  for (std::int64_t d : shape) {
    if (d < 0)
      detail::fail(ErrorCode::kIoError, "{} has negative dimension in shape {}", proto_label(proto),
                   shape_string(shape));
    if (d > 0 && numel > (std::int64_t{1} << 40) / d)
      detail::fail(ErrorCode::kIoError, "{} has shape {}: more than 2^40 elements", proto_label(proto),
                   shape_string(shape));
    numel *= d;
  }
  return shape;
}

// Copies numel little-endian elements of type T from raw_data (x86 and every CUDA host are
// little-endian, so a memcpy is the decode).
template <typename T>
std::vector<T> from_raw(const onnx::TensorProto& proto, std::int64_t numel) {
  const std::string& raw = proto.raw_data();
  const std::size_t expected = static_cast<std::size_t>(numel) * sizeof(T);
  if (raw.size() != expected)
    detail::fail(ErrorCode::kIoError, "{} ({}) has {} bytes of raw_data, expected {} elements × {} bytes = {}",
                 proto_label(proto), dtype_name(proto.data_type()), raw.size(), numel, sizeof(T), expected);
  std::vector<T> values(static_cast<std::size_t>(numel));
  if (expected) std::memcpy(values.data(), raw.data(), expected);
  return values;
}

template <typename Field>
void expect_count(const onnx::TensorProto& proto, const Field& field, const char* field_name, std::int64_t numel) {
  if (static_cast<std::int64_t>(field.size()) != numel)
    detail::fail(ErrorCode::kIoError, "{} ({}) has {} values in {}, expected {} for shape {}", proto_label(proto),
                 dtype_name(proto.data_type()), field.size(), field_name, numel,
                 shape_string({proto.dims().begin(), proto.dims().end()}));
}

std::string read_file(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) detail::fail(ErrorCode::kIoError, "{}: cannot open {} ({})", path, what, std::strerror(errno));
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (in.bad()) detail::fail(ErrorCode::kIoError, "{}: read error", path);
  return bytes.str();
}

// Data set files `<dir>/<stem>_N.pb` for N = 0, 1, ... until one is missing; names[N] keys a
// file whose proto carries no name.
ProtoMap load_numbered(const std::string& dir, const char* stem, const std::vector<std::string>& names) {
  if (!std::filesystem::is_directory(dir))
    detail::fail(ErrorCode::kIoError, "{}: test data set directory not found", dir);
  ProtoMap protos;
  for (std::size_t n = 0;; ++n) {
    const std::string path = fmt::format("{}/{}_{}.pb", dir, stem, n);
    if (!std::filesystem::exists(path)) break;
    onnx::TensorProto proto = load_tensor_pb(path);
    std::string name = proto.name();
    if (name.empty()) {
      if (n >= names.size())
        detail::fail(ErrorCode::kIoError, "{}: unnamed tensor and the graph has only {} {}s to name it", path,
                     names.size(), stem);
      name = names[n];
    }
    if (!protos.emplace(name, std::move(proto)).second)
      detail::fail(ErrorCode::kIoError, "{}: a second tensor named '{}' in {}", path, name, dir);
  }
  return protos;
}

}  // namespace

Tensor tensor_from_proto(const onnx::TensorProto& proto) {
  if (proto.data_type() != onnx::TensorProto_DataType_FLOAT)
    detail::invalid("{} has data type {}, expected FLOAT (float32)", proto_label(proto), dtype_name(proto.data_type()));
  Tensor tensor;
  std::int64_t numel = 0;
  tensor.shape = checked_shape(proto, numel);
  if (proto.has_raw_data()) {
    tensor.data = from_raw<float>(proto, numel);
  } else {
    expect_count(proto, proto.float_data(), "float_data", numel);
    tensor.data.assign(proto.float_data().begin(), proto.float_data().end());
  }
  return tensor;
}

IntTensor int_tensor_from_proto(const onnx::TensorProto& proto) {
  const int type = proto.data_type();
  if (type != onnx::TensorProto_DataType_INT32 && type != onnx::TensorProto_DataType_INT64)
    detail::invalid("{} has data type {}, expected INT32 or INT64", proto_label(proto), dtype_name(type));
  IntTensor tensor;
  std::int64_t numel = 0;
  tensor.shape = checked_shape(proto, numel);
  if (type == onnx::TensorProto_DataType_INT32) {
    if (proto.has_raw_data()) {
      const std::vector<std::int32_t> v = from_raw<std::int32_t>(proto, numel);
      tensor.data.assign(v.begin(), v.end());
    } else {
      expect_count(proto, proto.int32_data(), "int32_data", numel);
      tensor.data.assign(proto.int32_data().begin(), proto.int32_data().end());
    }
  } else if (proto.has_raw_data()) {
    tensor.data = from_raw<std::int64_t>(proto, numel);
  } else {
    expect_count(proto, proto.int64_data(), "int64_data", numel);
    tensor.data.assign(proto.int64_data().begin(), proto.int64_data().end());
  }
  return tensor;
}

onnx::TensorProto load_tensor_pb(const std::string& path) {
  const std::string bytes = read_file(path, "tensor file");
  onnx::TensorProto proto;
  if (!proto.ParseFromString(bytes))
    detail::fail(ErrorCode::kIoError, "{}: not a serialized ONNX TensorProto (protobuf parse failed)", path);
  return proto;
}

onnx::ModelProto load_onnx_model(const std::string& path) {
  const std::string bytes = read_file(path, "ONNX model");
  onnx::ModelProto model;
  if (!model.ParseFromString(bytes))
    detail::fail(ErrorCode::kIoError, "{}: not an ONNX model (protobuf parse failed)", path);
  if (!model.has_graph()) detail::fail(ErrorCode::kIoError, "{}: ONNX model has no graph", path);
  return model;
}

ProtoMap graph_initializers(const onnx::GraphProto& graph) {
  ProtoMap protos;
  for (const onnx::TensorProto& t : graph.initializer()) protos[t.name()] = t;
  return protos;
}

ProtoMap load_test_data_inputs(const onnx::GraphProto& graph, const std::string& dir) {
  // Test data feeds the graph inputs that are not initializers, in graph order.
  const ProtoMap inits = graph_initializers(graph);
  std::vector<std::string> names;
  for (const onnx::ValueInfoProto& v : graph.input())
    if (!inits.count(v.name())) names.push_back(v.name());
  return load_numbered(dir, "input", names);
}

ProtoMap load_test_data_outputs(const onnx::GraphProto& graph, const std::string& dir) {
  std::vector<std::string> names;
  for (const onnx::ValueInfoProto& v : graph.output()) names.push_back(v.name());
  return load_numbered(dir, "output", names);
}

}  // namespace lstmrt::formats_detail
