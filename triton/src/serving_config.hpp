// What a Triton model configuration (config.pbtxt, handed to the backend as JSON) asks of lstmrt.
//
//   parameters { key: "model_file"   value: { string_value: "model.onnx" } }   required: a file in
//                                   the version directory (.npz, .safetensors, .onnx, .keras, .h5)
//   parameters { key: "backend"      value: { string_value: "auto" } }   GPU instances: auto|cudnn|fused
//   parameters { key: "dtype"        value: { string_value: "float32" } }  float32|float16|bfloat16:
//                                   the type of x, h0, c0, y, h_n, c_n (and of the device storage)
//   parameters { key: "fused_kernel" value: { string_value: "auto" } }   auto|stepwise|persistent|cluster
//   parameters { key: "math"         value: { string_value: "strict" } } strict|tf32
//   parameters { key: "cudnn_algo"   value: { string_value: "auto" } }   auto|standard|persist_static|...
//   parameters { key: "reserve_steps" value: { string_value: "0" } }     T to size buffers for at load
//
// Tensors (batch dimension first, as Triton batches): inputs x (B, T, I), optional lengths (B),
// h0 (B, L·D, H_out), c0 (B, L·D, H); outputs y (B, T, C) — (B, C) for a Keras model without
// return_sequences — h_n (B, L·D, H_out), c_n (B, L·D, H). With max_batch_size > 0 the config's
// dims leave out B; with max_batch_size 0 they include it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "lstmrt/lstm.hpp"

namespace lstmrt::serving {

struct TensorConfig {
  std::string name;
  std::optional<DataType> type;    // empty: a Triton type lstmrt has none for
  std::string type_name;           // as written in the config ("TYPE_FP32"), for messages
  std::vector<std::int64_t> dims;  // -1 = any; batch dimension excluded when batching
  bool optional = false;
};

struct SequenceConfig {
  bool enabled = false;                       // sequence_batching present
  bool oldest = false;                        // strategy oldest (else direct)
  int slots = 1;                              // sequences one instance holds at once: max_candidate_sequences (oldest)
                                              // or max_batch_size (direct), at least 1
  std::uint64_t idle_microseconds = 1000000;  // max_sequence_idle_microseconds (Triton's default 1 s)
};

struct ServingConfig {
  std::string model_name;
  int max_batch_size = 0;  // 0 = no batching by Triton: dims carry the batch dimension
  std::string model_file;
  BackendOptions options;  // kind (for GPU instances), data_type, math, fused_kernel, cudnn_algo
  int reserve_steps = 0;
  std::map<std::string, TensorConfig> inputs, outputs;
  SequenceConfig sequence;

  bool batching() const { return max_batch_size > 0; }
  const TensorConfig* input(const std::string& name) const;
  const TensorConfig* output(const std::string& name) const;
};

// Parses the JSON form of a model configuration (protobuf field names; 64-bit numbers may be
// strings). Throws Error(kInvalidArgument) naming the model and the field that is wrong.
ServingConfig parse_serving_config(const std::string& json);

// The parameter names parse_serving_config accepts, for messages.
std::string known_parameters();

}  // namespace lstmrt::serving
