// Keras 3 model import: config.json (the model's to_json()) says which layers form the chain and
// their options; model.weights.h5 holds each layer's variables:
//   layers/<group>/cell/vars/{0,1,2}                               LSTM: kernel, recurrent_kernel, bias
//   layers/<group>/{forward_layer,backward_layer}/cell/vars/{0,1,2} Bidirectional(LSTM)
// where <group> is the saving name (lstm, lstm_1, bidirectional, ...) and layers/<group>/vars
// carries the layer's config name in its "name" attribute, which is how groups are matched.
// Each LSTM or Bidirectional layer becomes one ImportedStage (include/lstmrt/import.hpp).
#include <filesystem>
#include <map>

#include <nlohmann/json.hpp>

#include "common/check.hpp"
#include "import/file_bytes.hpp"
#include "import/hdf5_file.hpp"
#include "import/model_format.hpp"
#include "lstmrt/import.hpp"

namespace lstmrt {
namespace {

using nlohmann::json;
using import_detail::Hdf5File;

constexpr std::uint64_t kMaxConfigBytes = 64u << 20;
constexpr std::uint64_t kMaxWeightsBytes = std::uint64_t{1} << 34;
constexpr std::int64_t kMaxValues = std::int64_t{1} << 30;

template <typename... Args>
[[noreturn]] void bad(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(ErrorCode::kIoError, fmt::format(format, std::forward<Args>(args)...));
}

// A typed field of a layer config, with a default when absent (or null for optional fields).
template <typename T>
T field(const json& config, const char* key, const T& fallback, const std::string& where) {
  if (!config.contains(key) || config[key].is_null()) return fallback;
  const json& v = config[key];
  if constexpr (std::is_same_v<T, bool>) {
    if (!v.is_boolean()) bad("{}: \"{}\" is {}: expected true or false", where, key, v.dump());
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (!v.is_string())
      throw Error(ErrorCode::kUnsupported, fmt::format("{}: \"{}\" is {}: lstmrt takes a built-in name here", where,
                                                       key, v.dump()));
  } else {
    if (!v.is_number_integer()) bad("{}: \"{}\" is {}: expected an integer", where, key, v.dump());
  }
  return v.get<T>();
}

Activation activation(const json& config, const char* key, const char* fallback, const std::string& where) {
  const std::string name = field<std::string>(config, key, fallback, where);
  try {
    return Activation::from_name(name);
  } catch (const Error& e) {
    throw Error(ErrorCode::kUnsupported, fmt::format("{}: {} '{}': {}", where, key, name, e.what()));
  }
}

// One direction of one Keras LSTM layer, as its config describes it.
struct LstmConfig {
  int units = 0;
  CellActivations activations;
  bool use_bias = true, return_sequences = false, go_backwards = false, zero_output_for_mask = false;
};

LstmConfig lstm_config(const json& layer, const std::string& where) {
  if (!layer.is_object() || layer.value("class_name", "") != "LSTM")
    throw Error(ErrorCode::kUnsupported, fmt::format("{}: wraps a {}: lstmrt imports Bidirectional(LSTM) only", where,
                                                     layer.is_object() ? layer.value("class_name", "?") : "?"));
  const json& c = layer.at("config");
  LstmConfig out;
  out.units = field<int>(c, "units", 0, where);
  if (out.units < 1 || out.units > (1 << 20)) bad("{}: units {}: expected 1..{}", where, out.units, 1 << 20);
  out.activations.gate = activation(c, "recurrent_activation", "sigmoid", where);
  out.activations.cell = out.activations.hidden = activation(c, "activation", "tanh", where);
  out.use_bias = field<bool>(c, "use_bias", true, where);
  out.return_sequences = field<bool>(c, "return_sequences", false, where);
  out.go_backwards = field<bool>(c, "go_backwards", false, where);
  out.zero_output_for_mask = field<bool>(c, "zero_output_for_mask", false, where);
  return out;
}

// layers/<group> whose vars carry `name`; saving names (lstm, lstm_1, ...) as the fallback.
std::map<std::string, std::string> groups_by_layer_name(const Hdf5File& h5) {
  std::map<std::string, std::string> out;
  if (!h5.has_group("layers")) bad("{}: no 'layers' group: not a Keras 3 weights file", h5.source());
  for (const std::string& group : h5.children("layers")) {
    const std::string path = "layers/" + group;
    const auto name = h5.string_attribute(path + "/vars", "name");
    out[name ? *name : group] = path;
  }
  return out;
}

LayerWeights direction_weights(const Hdf5File& h5, const std::string& cell, int input_size, const LstmConfig& c,
                               const std::string& where) {
  const int H = c.units;
  auto check = [&](const Tensor& t, std::vector<std::int64_t> expected, const char* what) {
    if (t.shape != expected)
      bad("{}: {} ({}/vars) has shape {}: expected {}", where, what, cell, shape_string(t.shape),
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

MergeMode merge_mode(const json& config, const std::string& where) {
  if (!config.contains("merge_mode") || config["merge_mode"].is_null())
    throw Error(ErrorCode::kUnsupported,
                fmt::format("{}: merge_mode None (a list of two outputs): expected concat, sum, ave or mul", where));
  const std::string m = field<std::string>(config, "merge_mode", "concat", where);
  if (m == "concat") return MergeMode::kConcat;
  if (m == "sum") return MergeMode::kSum;
  if (m == "ave") return MergeMode::kAverage;
  if (m == "mul") return MergeMode::kMultiply;
  throw Error(ErrorCode::kUnsupported, fmt::format("{}: merge_mode '{}': expected concat, sum, ave or mul", where, m));
}

// The name of the layer feeding a Functional layer entry, or "" when the entry does not say.
std::string inbound_layer(const json& entry) {
  if (!entry.contains("inbound_nodes") || !entry["inbound_nodes"].is_array() || entry["inbound_nodes"].empty())
    return "";
  const json& node = entry["inbound_nodes"][0];
  if (!node.is_object() || !node.contains("args") || !node["args"].is_array() || node["args"].empty()) return "";
  const json& arg = node["args"][0];
  if (!arg.is_object() || !arg.contains("config") || !arg["config"].contains("keras_history")) return "";
  const json& history = arg["config"]["keras_history"];
  return history.is_array() && !history.empty() && history[0].is_string() ? history[0].get<std::string>() : "";
}

struct Builder {
  ImportedModel model;
  const Hdf5File& h5;
  std::map<std::string, std::string> groups;
  int width = 0;  // input width of the next stage
  bool last_returns_sequences = true;

  void add_lstm(const std::string& name, const json& entry, const std::string& where) {
    const LstmConfig c = lstm_config(entry, where);
    ImportedStage stage;
    stage.name = name;
    stage.desc.input_size = width;
    stage.desc.hidden_size = c.units;
    stage.desc.direction = c.go_backwards ? Direction::kReverse : Direction::kForward;
    stage.desc.set_activations(c.activations);
    stage.reverse_order = c.go_backwards ? ReverseOutputOrder::kProcessing : ReverseOutputOrder::kOriginal;
    stage.padding = c.zero_output_for_mask ? PaddingMode::kZero : PaddingMode::kCarryLast;
    stage.weights.layers.push_back(direction_weights(h5, group(name, where) + "/cell", width, c, where));
    finish(std::move(stage), c.return_sequences, where);
  }

  void add_bidirectional(const std::string& name, const json& entry, const std::string& where) {
    const json& config = entry.at("config");
    const LstmConfig fwd = lstm_config(config.at("layer"), where + " forward layer");
    LstmConfig bwd = fwd;
    if (config.contains("backward_layer") && !config["backward_layer"].is_null())
      bwd = lstm_config(config["backward_layer"], where + " backward layer");
    else
      bwd.go_backwards = !fwd.go_backwards;
    if (fwd.go_backwards || !bwd.go_backwards)
      throw Error(ErrorCode::kUnsupported,
                  fmt::format("{}: a forward layer with go_backwards=True (or a backward one without): lstmrt runs "
                              "Bidirectional as forward + reverse halves", where));
    if (fwd.units != bwd.units || fwd.use_bias != bwd.use_bias || fwd.return_sequences != bwd.return_sequences)
      throw Error(ErrorCode::kUnsupported,
                  fmt::format("{}: forward and backward layers differ in units, use_bias or return_sequences", where));
    ImportedStage stage;
    stage.name = name;
    stage.desc.input_size = width;
    stage.desc.hidden_size = fwd.units;
    stage.desc.direction = Direction::kBidirectional;
    stage.desc.activations = {fwd.activations, bwd.activations};
    stage.merge = merge_mode(config, where);
    // Keras sets zero_output_for_mask on both halves when they return sequences.
    stage.padding = fwd.zero_output_for_mask ? PaddingMode::kZero : PaddingMode::kCarryLast;
    const std::string g = group(name, where);
    stage.weights.layers.push_back(direction_weights(h5, g + "/forward_layer/cell", width, fwd, where + " forward"));
    stage.weights.layers.push_back(direction_weights(h5, g + "/backward_layer/cell", width, bwd, where + " backward"));
    finish(std::move(stage), fwd.return_sequences, where);
  }

  std::string group(const std::string& name, const std::string& where) const {
    const auto it = groups.find(name);
    if (it == groups.end()) bad("{}: no weights for it in {} (layers/*/vars named '{}')", where, h5.source(), name);
    return it->second;
  }

  void finish(ImportedStage stage, bool return_sequences, const std::string& where) {
    if (!last_returns_sequences)
      throw Error(ErrorCode::kUnsupported,
                  fmt::format("{}: follows a layer with return_sequences=False (its input is not a sequence)", where));
    validate(stage.desc, stage.weights);
    width = stage.output_width();
    last_returns_sequences = return_sequences;
    model.stages.push_back(std::move(stage));
  }
};

int batch_input_width(const json& config, const std::string& where) {
  for (const char* key : {"batch_shape", "batch_input_shape"}) {
    if (!config.contains(key)) continue;
    const json& shape = config[key];
    if (!shape.is_array() || shape.size() != 3 || !shape[2].is_number_integer() || shape[2].get<std::int64_t>() < 1 ||
        shape[2].get<std::int64_t>() > (1 << 24))
      bad("{}: {} is {}: expected [batch, steps, features] with a feature count", where, key, shape.dump());
    return shape[2].get<int>();
  }
  return 0;
}

ImportedModel build(const json& root, const Hdf5File& h5, const std::string& source) {
  if (!root.is_object() || !root.contains("config") || !root["config"].is_object() ||
      !root["config"].contains("layers") || !root["config"]["layers"].is_array())
    bad("{}: the config is not a Keras model (no config.layers list)", source);
  const std::string model_class = root.value("class_name", "");
  if (model_class != "Sequential" && model_class != "Functional" && model_class != "Model")
    throw Error(ErrorCode::kUnsupported,
                fmt::format("{}: a {} model: expected Sequential or Functional", source, model_class));
  Builder b{ImportedModel{}, h5, groups_by_layer_name(h5)};
  b.model.format = "keras";
  b.model.source = source;
  std::string previous;  // the layer feeding the next one, in a Functional chain
  for (const json& entry : root["config"]["layers"]) {
    if (!entry.is_object() || !entry.contains("config") || !entry["config"].is_object())
      bad("{}: a layer entry without a config object", source);
    const std::string cls = entry.value("class_name", "");
    const std::string name = entry["config"].value("name", entry.value("name", ""));
    const std::string where = fmt::format("{}: layer '{}' ({})", source, name, cls);
    const std::string module = entry.value("module", "");
    if (module.rfind("keras.src.ops", 0) == 0 && (cls == "NotEqual" || cls == "Any")) continue;  // Masking's mask
    const std::string inbound = inbound_layer(entry);
    if (!inbound.empty() && !previous.empty() && inbound != previous)
      throw Error(ErrorCode::kUnsupported,
                  fmt::format("{}: takes '{}' but follows '{}': lstmrt imports a chain of layers", where, inbound,
                              previous));
    if (cls == "InputLayer") {
      b.width = batch_input_width(entry["config"], where);
    } else if (cls == "Masking") {
      if (!b.model.stages.empty())
        throw Error(ErrorCode::kUnsupported, fmt::format("{}: Masking after an LSTM layer", where));
      b.model.masking = true;
      const json& v = entry["config"].value("mask_value", json(0.0));
      if (!v.is_number()) bad("{}: mask_value is {}: expected a number", where, v.dump());
      b.model.mask_value = v.get<float>();
    } else if (cls == "LSTM" || cls == "Bidirectional") {
      if (b.width == 0) {  // Sequential without an InputLayer entry: the layer's build_config
        if (entry.contains("build_config") && entry["build_config"].contains("input_shape")) {
          json c = {{"batch_shape", entry["build_config"]["input_shape"]}};
          b.width = batch_input_width(c, where);
        }
        if (b.width == 0) bad("{}: the input feature count is not in the config", where);
      }
      if (cls == "LSTM")
        b.add_lstm(name, entry, where);
      else
        b.add_bidirectional(name, entry, where);
    } else {
      throw Error(ErrorCode::kUnsupported,
                  fmt::format("{}: lstmrt imports InputLayer, Masking, LSTM and Bidirectional(LSTM) layers", where));
    }
    previous = name;
  }
  if (b.model.stages.empty()) bad("{}: no LSTM or Bidirectional layer", source);
  b.model.return_sequences = b.last_returns_sequences;
  return b.model;
}

json parse_config(const std::uint8_t* data, std::size_t size, const std::string& source) {
  json root = json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) bad("{}: not valid JSON", source);
  return root;
}

ImportedModel build_checked(const json& root, const Hdf5File& h5, const std::string& source) {
  try {
    return build(root, h5, source);
  } catch (const json::exception& e) {  // a field of the wrong JSON type (e.g. via .at())
    bad("{}: unexpected config structure: {}", source, e.what());
  }
}

}  // namespace

int ImportedStage::output_width() const {
  const int d = desc.num_directions();
  return (d == 2 && merge != MergeMode::kConcat) ? desc.output_size() : d * desc.output_size();
}

bool is_keras_model_file(const std::string& path) {
  const import_detail::ModelFormat f = import_detail::sniff_model_format(path);
  return f == import_detail::ModelFormat::kKeras || f == import_detail::ModelFormat::kHdf5;
}

ImportedModel load_keras_model(const std::string& weights_h5, const std::string& config_json, Hdf5Reader reader) {
  const std::vector<std::uint8_t> config = import_detail::read_file_bytes(config_json, kMaxConfigBytes);
  const Hdf5File h5 = Hdf5File::open_path(weights_h5, reader);
  return build_checked(parse_config(config.data(), config.size(), config_json), h5, weights_h5);
}

ImportedModel load_keras_model(const std::string& path, Hdf5Reader reader) {
  // An HDF5 file is a .weights.h5; anything else is read as a .keras archive (whose reader says
  // what is wrong with a file that is none).
  if (import_detail::sniff_model_format(path) != import_detail::ModelFormat::kHdf5) {
    const std::vector<std::uint8_t> config = import_detail::read_zip_member(path, "config.json", kMaxConfigBytes);
    const std::vector<std::uint8_t> weights = import_detail::read_zip_member(path, "model.weights.h5", kMaxWeightsBytes);
    const Hdf5File h5 = Hdf5File::open_image(weights, path + " member model.weights.h5", reader);
    return build_checked(parse_config(config.data(), config.size(), path + " member config.json"), h5, path);
  }
  return load_keras_model(path, keras_config_path(path), reader);
}

std::string keras_config_path(const std::string& weights_h5) {
  const std::string& path = weights_h5;
  if (import_detail::sniff_model_format(path) != import_detail::ModelFormat::kHdf5) return "";  // an archive
  // m.weights.h5 -> m.config.json, else config.json in the same folder.
  std::string stem = import_detail::ends_with(path, ".h5") ? path.substr(0, path.size() - 3) : path;
  if (import_detail::ends_with(stem, ".weights")) stem.resize(stem.size() - 8);
  std::string config = stem + ".config.json";
  if (!std::filesystem::exists(config)) {
    const std::string dir = std::filesystem::path(path).parent_path().string();
    config = (dir.empty() ? std::string(".") : dir) + "/config.json";
    if (!std::filesystem::exists(config))
      bad("{}: its Keras config was not found: expected {} or {} (model.to_json())", path, stem + ".config.json",
          config);
  }
  return config;
}

}  // namespace lstmrt
