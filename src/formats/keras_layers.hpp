// Internal: reading one Keras 3 layer entry of a model config (config.json): typed fields, LSTM
// options, activations, weights from model.weights.h5, and the __keras_tensor__ references that
// wire a functional model (keras_history [layer, node, tensor]). keras_model.cpp builds the graph.
#pragma once

#include <optional>
#include <string>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "formats/hdf5_file.hpp"
#include "lstmrt/import.hpp"

namespace lstmrt::formats_detail {

using nlohmann::json;

template <typename... Args>
[[noreturn]] void keras_bad(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(ErrorCode::kIoError, fmt::format(format, std::forward<Args>(args)...));
}
template <typename... Args>
[[noreturn]] void keras_unsupported(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(ErrorCode::kUnsupported, fmt::format(format, std::forward<Args>(args)...));
}

// A typed field of a layer config, `fallback` when absent or null. Wrong JSON types are kIoError
// naming `where` and the key (a string field that is not a string: kUnsupported, e.g. a custom
// activation object).
bool bool_field(const json& config, const char* key, bool fallback, const std::string& where);
int int_field(const json& config, const char* key, int fallback, const std::string& where);
std::string string_field(const json& config, const char* key, const char* fallback, const std::string& where);

// One direction of one Keras LSTM layer, as its config describes it.
struct LstmConfig {
  int units = 0;
  CellActivations activations;
  bool use_bias = true, return_sequences = false, return_state = false, go_backwards = false,
       zero_output_for_mask = false;
};
LstmConfig lstm_config(const json& layer, const std::string& where);
MergeMode merge_mode(const json& config, const std::string& where);

// Kernel, recurrent kernel and bias of `cell` (e.g. layers/lstm_1/cell), checked against
// (input_size, 4·units) and (units, 4·units), converted to lstmrt's layout.
LayerWeights direction_weights(const Hdf5File& h5, const std::string& cell, int input_size, const LstmConfig& c,
                               const std::string& where);

// Keras's naming.to_snake_case: the weight group stem of a layer class ("LSTM" → "lstm",
// "InputLayer" → "input_layer", "SpatialDropout1D" → "spatial_dropout1d").
std::string snake_case(const std::string& class_name);

// A functional model's reference to a tensor: output `index` of application `node` of `layer`.
struct KerasTensor {
  std::string layer;
  int node = 0, index = 0;
  bool operator<(const KerasTensor& o) const;
  std::string label() const;  // "lstm_1" or "lstm_1 output 2"
};
// The tensor an inbound argument refers to ({"class_name": "__keras_tensor__", "config":
// {"keras_history": [...]}}), or nullopt when `arg` is not a tensor reference.
std::optional<KerasTensor> tensor_reference(const json& arg, const std::string& where);
// [layer, node, index] as config.input_layers / output_layers spell them.
KerasTensor layer_reference(const json& triple, const std::string& where);

}  // namespace lstmrt::formats_detail
