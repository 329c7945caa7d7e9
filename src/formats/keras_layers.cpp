// One Keras 3 layer entry of a model config (see keras_layers.hpp).
#include "formats/keras_layers.hpp"

#include <cctype>

namespace lstmrt::formats_detail {
namespace {

const json* present(const json& config, const char* key) {
  if (!config.is_object() || !config.contains(key) || config[key].is_null()) return nullptr;
  return &config[key];
}

Activation activation(const json& config, const char* key, const char* fallback, const std::string& where) {
  const std::string name = string_field(config, key, fallback, where);
  try {
    return Activation::from_keras(name);
  } catch (const Error& e) {
    keras_unsupported("{}: {} '{}': {}", where, key, name, e.what());
  }
}

}  // namespace

bool bool_field(const json& config, const char* key, bool fallback, const std::string& where) {
  const json* v = present(config, key);
  if (!v) return fallback;
  if (!v->is_boolean()) keras_bad("{}: \"{}\" is {}: expected true or false", where, key, v->dump());
  return v->get<bool>();
}

int int_field(const json& config, const char* key, int fallback, const std::string& where) {
  const json* v = present(config, key);
  if (!v) return fallback;
  if (!v->is_number_integer() || v->get<std::int64_t>() < -(1 << 30) || v->get<std::int64_t>() > (1 << 30))
    keras_bad("{}: \"{}\" is {}: expected an integer", where, key, v->dump());
  return v->get<int>();
}

std::string string_field(const json& config, const char* key, const char* fallback, const std::string& where) {
  const json* v = present(config, key);
  if (!v) return fallback;
  if (!v->is_string()) keras_unsupported("{}: \"{}\" is {}: lstmrt takes a built-in name here", where, key, v->dump());
  return v->get<std::string>();
}

LstmConfig lstm_config(const json& layer, const std::string& where) {
  if (!layer.is_object() || layer.value("class_name", "") != "LSTM")
    keras_unsupported("{}: wraps a {}: lstmrt imports Bidirectional(LSTM) only", where,
                      layer.is_object() ? layer.value("class_name", "?") : "?");
  if (!layer.contains("config") || !layer["config"].is_object()) keras_bad("{}: the LSTM has no config object", where);
  const json& c = layer["config"];
  LstmConfig out;
  out.units = int_field(c, "units", 0, where);
  if (out.units < 1 || out.units > (1 << 20)) keras_bad("{}: units {}: expected 1..{}", where, out.units, 1 << 20);
  out.activations.gate = activation(c, "recurrent_activation", "sigmoid", where);
  out.activations.cell = out.activations.hidden = activation(c, "activation", "tanh", where);
  out.use_bias = bool_field(c, "use_bias", true, where);
  out.return_sequences = bool_field(c, "return_sequences", false, where);
  out.return_state = bool_field(c, "return_state", false, where);
  out.go_backwards = bool_field(c, "go_backwards", false, where);
  out.zero_output_for_mask = bool_field(c, "zero_output_for_mask", false, where);
  return out;
}

MergeMode merge_mode(const json& config, const std::string& where) {
  if (!present(config, "merge_mode")) return MergeMode::kNone;  // merge_mode=None: a list of two outputs
  const std::string m = string_field(config, "merge_mode", "concat", where);
  if (m == "concat") return MergeMode::kConcat;
  if (m == "sum") return MergeMode::kSum;
  if (m == "ave") return MergeMode::kAverage;
  if (m == "mul") return MergeMode::kMultiply;
  keras_unsupported("{}: merge_mode '{}': expected concat, sum, ave, mul or None", where, m);
}

LayerWeights direction_weights(const Hdf5File& h5, const std::string& cell, int input_size, const LstmConfig& c,
                               const std::string& where) {
  constexpr std::int64_t kMaxValues = std::int64_t{1} << 30;
  const int H = c.units;
  auto check = [&](const Tensor& t, std::vector<std::int64_t> expected, const char* what) {
    if (t.shape != expected)
      keras_bad("{}: {} ({}/vars) has shape {}: expected {}", where, what, cell, shape_string(t.shape),
                shape_string(expected));
  };
  KerasLstmWeights k;
  k.kernel = h5.read_floats(cell + "/vars/0", kMaxValues);
  check(k.kernel, {input_size, 4 * H}, "kernel");
  k.recurrent_kernel = h5.read_floats(cell + "/vars/1", kMaxValues);
  check(k.recurrent_kernel, {H, 4 * H}, "recurrent_kernel");
  if (c.use_bias) {
    k.bias = h5.read_floats(cell + "/vars/2", kMaxValues);
    check(*k.bias, {4 * H}, "bias");
  }
  return from_keras(k, input_size, H);
}

std::string snake_case(const std::string& class_name) {
  // re.sub(r"\W+", "", name); re.sub("(.)([A-Z][a-z]+)", r"\1_\2"); re.sub("([a-z])([A-Z])", r"\1_\2").lower()
  std::string s;
  for (char ch : class_name)
    if (std::isalnum(static_cast<unsigned char>(ch)) || ch == '_') s += ch;
  auto upper = [](char ch) { return std::isupper(static_cast<unsigned char>(ch)) != 0; };
  auto lower = [](char ch) { return std::islower(static_cast<unsigned char>(ch)) != 0; };
  std::string a;
  for (std::size_t i = 0; i < s.size(); ++i) {  // "_" before an upper letter followed by a lower one
    if (i > 0 && upper(s[i]) && i + 1 < s.size() && lower(s[i + 1])) a += '_';
    a += s[i];
  }
  std::string b;
  for (std::size_t i = 0; i < a.size(); ++i) {  // "_" between a lower letter and an upper one
    if (i > 0 && lower(a[i - 1]) && upper(a[i])) b += '_';
    b += static_cast<char>(std::tolower(static_cast<unsigned char>(a[i])));
  }
  return b;
}

bool KerasTensor::operator<(const KerasTensor& o) const {
  return layer != o.layer ? layer < o.layer : node != o.node ? node < o.node : index < o.index;
}

std::string KerasTensor::label() const {
  std::string s = "'" + layer + "'";
  if (node > 0) s += fmt::format(" (call {})", node);
  if (index > 0) s += fmt::format(" output {}", index);
  return s;
}

KerasTensor layer_reference(const json& triple, const std::string& where) {
  if (!triple.is_array() || triple.size() != 3 || !triple[0].is_string() || !triple[1].is_number_integer() ||
      !triple[2].is_number_integer() || triple[1].get<std::int64_t>() < 0 || triple[2].get<std::int64_t>() < 0 ||
      triple[1].get<std::int64_t>() > (1 << 20) || triple[2].get<std::int64_t>() > (1 << 20))
    keras_bad("{}: tensor reference {} is not [layer name, node index, tensor index]", where, triple.dump());
  return {triple[0].get<std::string>(), triple[1].get<int>(), triple[2].get<int>()};
}

std::optional<KerasTensor> tensor_reference(const json& arg, const std::string& where) {
  if (!arg.is_object() || arg.value("class_name", "") != "__keras_tensor__") return std::nullopt;
  if (!arg.contains("config") || !arg["config"].is_object() || !arg["config"].contains("keras_history"))
    keras_bad("{}: a tensor argument without keras_history", where);
  return layer_reference(arg["config"]["keras_history"], where);
}

}  // namespace lstmrt::formats_detail
