// Triton's element types ↔ DataType (triton_types.hpp): every type lstmrt has round-trips through
// the request API's name, config.pbtxt's TYPE_ name and the C API's enum value, with Triton's
// element size; the Triton types lstmrt has none for map to nothing, and a request or a
// configuration that uses one is refused naming it.
#include <gtest/gtest.h>

#include <set>

#include "common/elements.hpp"
#include "triton_types.hpp"

namespace lstmrt::serving::test {
namespace {

// Triton's own table (tritonserver.h's enum, model_config's TYPE_ names, the byte sizes of
// TRITONSERVER_DataTypeByteSize), written out independently of triton_types.cpp.
struct Expected {
  DataType data;
  const char* name;
  int value;
  std::size_t bytes;
};
constexpr Expected kExpected[] = {{DataType::kBool, "BOOL", 1, 1},     {DataType::kUint8, "UINT8", 2, 1},
                                  {DataType::kInt8, "INT8", 6, 1},     {DataType::kInt16, "INT16", 7, 2},
                                  {DataType::kInt32, "INT32", 8, 4},   {DataType::kInt64, "INT64", 9, 8},
                                  {DataType::kFloat16, "FP16", 10, 2}, {DataType::kFloat32, "FP32", 11, 4},
                                  {DataType::kFloat64, "FP64", 12, 8}, {DataType::kBFloat16, "BF16", 14, 2}};

TEST(TritonTypes, EveryDataTypeRoundTripsThroughEachSpelling) {
  std::set<DataType> seen;
  for (const Expected& e : kExpected) {
    SCOPED_TRACE(e.name);
    seen.insert(e.data);
    EXPECT_EQ(triton_name(e.data), e.name);
    EXPECT_EQ(data_type_from_triton(std::string(e.name)), e.data);
    EXPECT_EQ(data_type_from_triton("TYPE_" + std::string(e.name)), e.data);
    EXPECT_EQ(static_cast<int>(triton_type(e.data)), e.value);
    EXPECT_EQ(data_type_from_triton(static_cast<TRITONSERVER_DataType>(e.value)), e.data);
    EXPECT_EQ(triton_name(static_cast<TRITONSERVER_DataType>(e.value)), e.name);
    EXPECT_EQ(detail::element_bytes(e.data), e.bytes) << "Triton's size of " << e.name;
  }
  // The table covers every DataType, so each has a Triton type.
  for (DataType t : kAllDataTypes) {
    EXPECT_TRUE(seen.count(t)) << lstmrt::to_string(t);
    EXPECT_EQ(data_type_from_triton(triton_name(t)), t) << lstmrt::to_string(t);
    EXPECT_EQ(data_type_from_triton(triton_type(t)), t) << lstmrt::to_string(t);
  }
}

TEST(TritonTypes, TypesLstmrtHasNoneForMapToNothing) {
  for (const auto& [name, value] :
       {std::pair<const char*, int>{"INVALID", 0}, {"UINT16", 3}, {"UINT32", 4}, {"UINT64", 5}, {"BYTES", 13}}) {
    SCOPED_TRACE(name);
    EXPECT_EQ(data_type_from_triton(std::string(name)), std::nullopt);
    EXPECT_EQ(data_type_from_triton("TYPE_" + std::string(name)), std::nullopt);
    EXPECT_EQ(data_type_from_triton(static_cast<TRITONSERVER_DataType>(value)), std::nullopt);
    EXPECT_EQ(triton_name(static_cast<TRITONSERVER_DataType>(value)), name);  // still named in messages
  }
  // Names Triton does not have (wrong case, NumPy's names, a bare or doubled prefix), and 15: past
  // the enum's last value, still inside the range its underlying values may take.
  for (const char* name : {"", "fp32", "float32", "FP8", "TYPE_", "TYPE_TYPE_FP32", "TYPE_fp16", "FP32 "})
    EXPECT_EQ(data_type_from_triton(std::string(name)), std::nullopt) << "'" << name << "'";
  EXPECT_EQ(data_type_from_triton(static_cast<TRITONSERVER_DataType>(15)), std::nullopt);
  EXPECT_EQ(triton_name(static_cast<TRITONSERVER_DataType>(15)), "unknown");
}

}  // namespace
}  // namespace lstmrt::serving::test
