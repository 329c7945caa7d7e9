// The element types lstmrt stores, computes in and reads from files: one enum for the device
// storage types and the element types of file arrays (io.hpp's Array). Plain C++ without the
// standard library, so the kernels (kernels/*.cuh, compiled by nvcc) name element types with the
// same enum as the API. Names (to_string, data_type_from_string in lstm.hpp) are NumPy's, plus
// "bfloat16"; sizes: detail::element_bytes (src/common/elements.hpp).
#pragma once

namespace lstmrt {

enum class DataType {
  // Storage of x, y, h, c and weights on device (BackendOptions::data_type); also file arrays.
  kFloat32 = 0,   // IEEE binary32            .npy '<f4'
  kFloat16 = 1,   // IEEE binary16            .npy '<f2'
  kBFloat16 = 2,  // the top half of a float32 (no .npy descr: NumPy has no bfloat16)
  // File arrays only (.npy / .npz / safetensors / ONNX values, lengths, masks).
  kBool,     // one byte, 0 or 1         .npy '|b1'
  kUint8,    // .npy '|u1'
  kInt8,     // .npy '|i1'
  kInt16,    // .npy '<i2'
  kInt32,    // .npy '<i4'
  kInt64,    // .npy '<i8'
  kFloat64,  // .npy '<f8'
};

// Every value, in the enum's order; the storage types are the first kStorageTypeCount.
constexpr DataType kAllDataTypes[] = {DataType::kFloat32, DataType::kFloat16, DataType::kBFloat16, DataType::kBool,
                                      DataType::kUint8,   DataType::kInt8,    DataType::kInt16,    DataType::kInt32,
                                      DataType::kInt64,   DataType::kFloat64};
constexpr int kStorageTypeCount = 3;
constexpr DataType kStorageTypes[kStorageTypeCount] = {DataType::kFloat32, DataType::kFloat16, DataType::kBFloat16};

// Whether a backend can hold x, y, h, c and weights in `type` (float32, float16, bfloat16).
constexpr bool is_storage_type(DataType type) {
  return type == DataType::kFloat32 || type == DataType::kFloat16 || type == DataType::kBFloat16;
}

// The name the API prints for `t` (to_string(DataType), error messages of the kernels' launchers);
// "unknown" for a value outside the enum.
constexpr const char* data_type_name(DataType t) {
  switch (t) {
    case DataType::kFloat32: return "float32";
    case DataType::kFloat16: return "float16";
    case DataType::kBFloat16: return "bfloat16";
    case DataType::kBool: return "bool";
    case DataType::kUint8: return "uint8";
    case DataType::kInt8: return "int8";
    case DataType::kInt16: return "int16";
    case DataType::kInt32: return "int32";
    case DataType::kInt64: return "int64";
    case DataType::kFloat64: return "float64";
  }
  return "unknown";
}

}  // namespace lstmrt
