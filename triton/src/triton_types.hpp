// Triton's element types ↔ lstmrt's DataType, the one place they meet. Triton names a type three
// ways: the request API and TRITONSERVER_DataTypeString write "FP32", config.pbtxt (model_config's
// DataType) writes "TYPE_FP32", and the C API passes TRITONSERVER_DataType values. Every DataType
// has a Triton type; of Triton's, UINT16, UINT32, UINT64, BYTES and INVALID have no DataType
// (lstmrt reads and writes none of them), and the mappings answer std::nullopt for them. Sizes are
// detail::element_bytes (src/common/elements.hpp).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "lstmrt/data_type.hpp"
#include "triton_api.hpp"

namespace lstmrt::serving {

// "FP32" or "TYPE_FP32" → DataType::kFloat32; std::nullopt for a type lstmrt has none for
// ("UINT16", "TYPE_BYTES") and for a name Triton does not have.
std::optional<DataType> data_type_from_triton(std::string_view name);
std::optional<DataType> data_type_from_triton(TRITONSERVER_DataType type);

// Triton's name of `type` as the request API writes it: "FP32", "INT64", "BF16", ...
std::string triton_name(DataType type);
// The name of any TRITONSERVER_DataType ("UINT16", "BYTES", ...); "unknown" outside the enum.
std::string triton_name(TRITONSERVER_DataType type);
TRITONSERVER_DataType triton_type(DataType type);

}  // namespace lstmrt::serving
