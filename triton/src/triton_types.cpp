#include "triton_types.hpp"

namespace lstmrt::serving {
namespace {

struct TritonType {
  TRITONSERVER_DataType value;
  const char* name;  // without config.pbtxt's TYPE_ prefix
  std::optional<DataType> data;
};

// Every TRITONSERVER_DataType, in the enum's order (kTypes[v].value == v).
constexpr TritonType kTypes[] = {
    {TRITONSERVER_TYPE_INVALID, "INVALID", std::nullopt},  {TRITONSERVER_TYPE_BOOL, "BOOL", DataType::kBool},
    {TRITONSERVER_TYPE_UINT8, "UINT8", DataType::kUint8},  {TRITONSERVER_TYPE_UINT16, "UINT16", std::nullopt},
    {TRITONSERVER_TYPE_UINT32, "UINT32", std::nullopt},    {TRITONSERVER_TYPE_UINT64, "UINT64", std::nullopt},
    {TRITONSERVER_TYPE_INT8, "INT8", DataType::kInt8},     {TRITONSERVER_TYPE_INT16, "INT16", DataType::kInt16},
    {TRITONSERVER_TYPE_INT32, "INT32", DataType::kInt32},  {TRITONSERVER_TYPE_INT64, "INT64", DataType::kInt64},
    {TRITONSERVER_TYPE_FP16, "FP16", DataType::kFloat16},  {TRITONSERVER_TYPE_FP32, "FP32", DataType::kFloat32},
    {TRITONSERVER_TYPE_FP64, "FP64", DataType::kFloat64},  {TRITONSERVER_TYPE_BYTES, "BYTES", std::nullopt},
    {TRITONSERVER_TYPE_BF16, "BF16", DataType::kBFloat16},
};
constexpr std::string_view kConfigPrefix = "TYPE_";

const TritonType* find(TRITONSERVER_DataType type) {
  for (const TritonType& t : kTypes)
    if (t.value == type) return &t;
  return nullptr;
}

const TritonType& find(DataType type) {
  for (const TritonType& t : kTypes)
    if (t.data == type) return t;
  return kTypes[0];  // not reached: every DataType is in kTypes
}

}  // namespace

std::optional<DataType> data_type_from_triton(std::string_view name) {
  if (name.substr(0, kConfigPrefix.size()) == kConfigPrefix) name.remove_prefix(kConfigPrefix.size());
  for (const TritonType& t : kTypes)
    if (name == t.name) return t.data;
  return std::nullopt;
}

std::optional<DataType> data_type_from_triton(TRITONSERVER_DataType type) {
  const TritonType* t = find(type);
  return t ? t->data : std::nullopt;
}

std::string triton_name(DataType type) { return find(type).name; }

std::string triton_name(TRITONSERVER_DataType type) {
  const TritonType* t = find(type);
  return t ? t->name : "unknown";
}

TRITONSERVER_DataType triton_type(DataType type) { return find(type).value; }

}  // namespace lstmrt::serving
