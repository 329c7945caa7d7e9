#include "serving_config.hpp"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "lstmrt/error.hpp"
#include "triton_types.hpp"

namespace lstmrt::serving {
namespace {

using nlohmann::json;

[[noreturn]] void bad(const std::string& model, const std::string& what) {
  throw Error(ErrorCode::kInvalidArgument, fmt::format("model '{}': {}", model, what));
}

// protobuf's JSON writes 64-bit integers as strings and 32-bit ones as numbers.
std::int64_t to_int(const json& v, const std::string& model, const std::string& field) {
  if (v.is_number_integer()) return v.get<std::int64_t>();
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    std::size_t used = 0;
    try {
      const long long n = std::stoll(s, &used);
      if (used == s.size()) return n;
    } catch (const std::exception&) {
    }
  }
  bad(model, fmt::format("{} is {}: expected an integer", field, v.dump()));
}

std::map<std::string, TensorConfig> parse_tensors(const json& config, const char* key, const std::string& model) {
  std::map<std::string, TensorConfig> tensors;
  if (!config.contains(key)) return tensors;
  for (const json& t : config.at(key)) {
    TensorConfig tc;
    tc.name = t.value("name", "");
    tc.type_name = t.value("data_type", "TYPE_INVALID");
    tc.type = data_type_from_triton(tc.type_name);
    if (t.contains("dims"))
      for (const json& d : t.at("dims")) tc.dims.push_back(to_int(d, model, fmt::format("{} '{}' dims", key, tc.name)));
    tc.optional = t.value("optional", false);
    if (!tensors.emplace(tc.name, tc).second) bad(model, fmt::format("{} '{}' is listed twice", key, tc.name));
  }
  return tensors;
}

template <typename Enum, typename Values>
Enum choose(const std::string& model, const std::string& key, const std::string& value, const Values& values) {
  std::string names;
  for (const auto& [name, v] : values) {
    if (name == value) return v;
    names += (names.empty() ? "" : ", ") + name;
  }
  bad(model, fmt::format("parameter {} is '{}': expected one of {}", key, value, names));
}

void apply_parameter(ServingConfig& c, const std::string& key, const std::string& value) {
  const std::string& m = c.model_name;
  if (key == "model_file") {
    c.model_file = value;
  } else if (key == "backend") {
    c.options.kind =
        choose<BackendKind>(m, key, value,
                            std::vector<std::pair<std::string, BackendKind>>{{"auto", BackendKind::kAuto},
                                                                             {"cudnn", BackendKind::kCudnn},
                                                                             {"fused", BackendKind::kFused},
                                                                             {"reference", BackendKind::kReference}});
  } else if (key == "dtype") {
    std::vector<std::pair<std::string, DataType>> v;
    for (DataType t : kStorageTypes) v.emplace_back(to_string(t), t);
    c.options.data_type = choose<DataType>(m, key, value, v);
  } else if (key == "fused_kernel") {
    std::vector<std::pair<std::string, FusedKernel>> v;
    for (FusedKernel k : {FusedKernel::kAuto, FusedKernel::kStepwise, FusedKernel::kPersistent, FusedKernel::kCluster})
      v.emplace_back(to_string(k), k);
    c.options.fused_kernel = choose<FusedKernel>(m, key, value, v);
  } else if (key == "math") {
    c.options.math = choose<MathMode>(
        m, key, value,
        std::vector<std::pair<std::string, MathMode>>{{"strict", MathMode::kStrict}, {"tf32", MathMode::kTF32}});
  } else if (key == "cudnn_algo") {
    std::vector<std::pair<std::string, CudnnAlgo>> v;
    for (CudnnAlgo a : {CudnnAlgo::kAuto, CudnnAlgo::kStandard, CudnnAlgo::kPersistStatic,
                        CudnnAlgo::kPersistStaticSmallH, CudnnAlgo::kPersistDynamic})
      v.emplace_back(to_string(a), a);
    c.options.cudnn_algo = choose<CudnnAlgo>(m, key, value, v);
  } else if (key == "reserve_steps") {
    const std::int64_t n = to_int(json(value), m, "parameter reserve_steps");
    if (n < 0 || n > (1 << 24)) bad(m, fmt::format("parameter reserve_steps is {}: expected 0..16777216", n));
    c.reserve_steps = static_cast<int>(n);
  } else {
    bad(m, fmt::format("unknown parameter '{}': expected {}", key, known_parameters()));
  }
}

}  // namespace

std::string known_parameters() { return "model_file, backend, dtype, fused_kernel, math, cudnn_algo, reserve_steps"; }

const TensorConfig* ServingConfig::input(const std::string& name) const {
  auto it = inputs.find(name);
  return it == inputs.end() ? nullptr : &it->second;
}

const TensorConfig* ServingConfig::output(const std::string& name) const {
  auto it = outputs.find(name);
  return it == outputs.end() ? nullptr : &it->second;
}

ServingConfig parse_serving_config(const std::string& text) {
  json config;
  try {
    config = json::parse(text);
  } catch (const json::exception& e) {
    throw Error(ErrorCode::kInvalidArgument, fmt::format("model configuration is not JSON: {}", e.what()));
  }
  ServingConfig c;
  c.model_name = config.value("name", "");
  const std::string& m = c.model_name;
  try {
    if (config.contains("max_batch_size"))
      c.max_batch_size = static_cast<int>(to_int(config.at("max_batch_size"), m, "max_batch_size"));
    if (c.max_batch_size < 0) bad(m, fmt::format("max_batch_size is {}: expected >= 0", c.max_batch_size));
    if (config.contains("parameters")) {
      for (const auto& [key, v] : config.at("parameters").items()) {
        if (!v.is_object() || !v.contains("string_value") || !v.at("string_value").is_string())
          bad(m, fmt::format("parameter {} has no string_value", key));
        apply_parameter(c, key, v.at("string_value").get<std::string>());
      }
    }
    if (c.model_file.empty())
      bad(m,
          "no model file: expected parameters { key: \"model_file\" value: { string_value: \"model.onnx\" } } "
          "naming a .npz, .safetensors, .onnx, .keras or .h5 file in the version directory");
    if (c.model_file.find('/') != std::string::npos || c.model_file == "." || c.model_file == "..")
      bad(m, fmt::format("parameter model_file is '{}': expected a file name in the version directory, "
                         "without a path",
                         c.model_file));
    c.inputs = parse_tensors(config, "input", m);
    c.outputs = parse_tensors(config, "output", m);
    if (config.contains("sequence_batching") && config.at("sequence_batching").is_object()) {
      const json& s = config.at("sequence_batching");
      c.sequence.enabled = true;
      if (s.contains("state") && !s.at("state").empty())
        bad(m,
            "sequence_batching has a state section: lstmrt keeps each sequence's h and c itself; remove "
            "sequence_batching.state");
      c.sequence.slots = std::max(1, c.max_batch_size);
      c.sequence.oldest = s.contains("oldest");
      if (c.sequence.oldest) {
        const std::int64_t candidates = to_int(s.at("oldest").value("max_candidate_sequences", json(0)), m,
                                               "sequence_batching.oldest.max_candidate_sequences");
        if (candidates > 0) c.sequence.slots = static_cast<int>(candidates);
      }
      if (s.contains("max_sequence_idle_microseconds")) {
        const std::int64_t idle =
            to_int(s.at("max_sequence_idle_microseconds"), m, "sequence_batching.max_sequence_idle_microseconds");
        if (idle > 0) c.sequence.idle_microseconds = static_cast<std::uint64_t>(idle);
      }
    }
  } catch (const json::exception& e) {
    bad(m, fmt::format("malformed configuration: {}", e.what()));
  }
  return c;
}

}  // namespace lstmrt::serving
