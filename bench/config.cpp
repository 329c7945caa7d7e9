// lstmrt-bench configuration: numerics, shapes, sweeps, JSON configs and presets.
#include "config.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/check.hpp"
#include "common/elements.hpp"
#include "presets_json.hpp"  // generated from bench/presets.json: kPresetsJson

namespace lstmrt::bench {
namespace {

using nlohmann::json;

// The user-facing names of the numerics a shape can run in.
struct NamedNumerics {
  const char* name;
  Numerics numerics;
};
constexpr NamedNumerics kNamedNumerics[] = {{"fp32", {DataType::kFloat32, MathMode::kStrict}},
                                            {"tf32", {DataType::kFloat32, MathMode::kTF32}},
                                            {"fp16", {DataType::kFloat16, MathMode::kStrict}},
                                            {"bf16", {DataType::kBFloat16, MathMode::kStrict}}};

int parse_positive(const std::string& where, const std::string& text, int minimum) {
  errno = 0;
  char* end = nullptr;
  const long value = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno == ERANGE || value < minimum || value > 1 << 30)
    detail::invalid("{}: expected an integer >= {}, got \"{}\"", where, minimum, text);
  return static_cast<int>(value);
}

// A JSON scalar as the string a flag would carry; integers only for the numeric fields.
std::string scalar_text(const json& v, const std::string& where, const std::string& field) {
  if (field == "precision") {
    if (!v.is_string())
      detail::invalid("{}: expected a precision name (fp32, tf32, fp16, bf16), got {}", where, v.dump());
    return v.get<std::string>();
  }
  if (!v.is_number_integer()) detail::invalid("{}: expected an integer, got {}", where, v.dump());
  return std::to_string(v.get<long long>());
}

Sweep sweep_from_json(const json& object, const std::string& where) {
  if (!object.is_object()) detail::invalid("{}: expected an object of fields, got {}", where, object.dump());
  Sweep sweep;
  for (const auto& [field, value] : object.items()) {
    if (std::find(sweep_fields().begin(), sweep_fields().end(), field) == sweep_fields().end())
      detail::invalid("{}: unknown field '{}': expected one of {}", where, field, fmt::join(sweep_fields(), ", "));
    const std::string field_where = fmt::format("{}.{}", where, field);
    std::vector<std::string>& values = sweep[field];
    if (value.is_array()) {
      if (value.empty()) detail::invalid("{}: empty list: expected at least one value", field_where);
      for (std::size_t i = 0; i < value.size(); ++i)
        values.push_back(scalar_text(value[i], fmt::format("{}[{}]", field_where, i), field));
    } else {
      values.push_back(scalar_text(value, field_where, field));
    }
  }
  return sweep;
}

std::vector<Shape> shapes_from_sweeps(const json& root, const std::string& origin) {
  if (!root.is_object() || !root.contains("sweeps"))
    detail::invalid("{}: expected an object with a \"sweeps\" list", origin);
  const json& sweeps = root.at("sweeps");
  if (!sweeps.is_array() || sweeps.empty())
    detail::invalid("{}: sweeps: expected a non-empty list of sweeps, got {}", origin, sweeps.dump());
  for (const auto& [key, value] : root.items()) {
    if (key != "sweeps" && key != "description" && key.rfind('_', 0) != 0)
      detail::invalid("{}: unknown key '{}': expected sweeps (and optionally description)", origin, key);
  }
  std::vector<Shape> shapes;
  for (std::size_t i = 0; i < sweeps.size(); ++i) {
    const std::string where = fmt::format("{}: sweeps[{}]", origin, i);
    append_unique(shapes, expand(sweep_from_json(sweeps[i], where), where));
  }
  return shapes;
}

const json& presets_root() {
  static const json root = json::parse(kPresetsJson).at("presets");
  return root;
}

}  // namespace

bool operator==(const Numerics& a, const Numerics& b) { return a.type == b.type && a.math == b.math; }
bool operator!=(const Numerics& a, const Numerics& b) { return !(a == b); }
bool operator<(const Numerics& a, const Numerics& b) { return a.type != b.type ? a.type < b.type : a.math < b.math; }

Numerics numerics_from_string(const std::string& name) {
  for (const NamedNumerics& n : kNamedNumerics)
    if (name == n.name) return n.numerics;
  detail::invalid("unknown precision '{}': expected fp32, tf32, fp16 or bf16", name);
}

std::string to_string(const Numerics& n) {
  for (const NamedNumerics& named : kNamedNumerics)
    if (named.numerics == n) return named.name;
  // Not one of the four (TF32 math on 16-bit data): the type and the mode.
  return fmt::format("{}+{}", lstmrt::to_string(n.type), n.math == MathMode::kTF32 ? "tf32" : "strict");
}

// fp32 strict differs from the double reference by accumulation order only; TF32 rounds every
// product's inputs to 10 mantissa bits; fp16/bf16 also store x, h, c and y in 16 bits (bf16 has
// 8 mantissa bits: 4e-3 relative per rounding, compounded across steps).
Tolerance tolerance(const Numerics& n) {
  switch (n.type) {
    case DataType::kFloat32: return n.math == MathMode::kTF32 ? Tolerance{1e-2, 1e-2} : Tolerance{2e-4, 2e-4};
    case DataType::kFloat16: return {1e-2, 1e-2};
    case DataType::kBFloat16: return {5e-2, 5e-2};
    default: break;
  }
  detail::invalid("bench tolerance: data type {}: expected float32, float16 or bfloat16", lstmrt::to_string(n.type));
}

bool operator==(const Shape& a, const Shape& b) {
  return a.batch == b.batch && a.steps == b.steps && a.input == b.input && a.hidden == b.hidden && a.proj == b.proj &&
         a.layers == b.layers && a.directions == b.directions && a.numerics == b.numerics;
}

std::string describe(const Shape& s) {
  return fmt::format("N={} T={} I={} H={} P={} L={} D={} {}", s.batch, s.steps, s.input, s.hidden, s.proj, s.layers,
                     s.directions, to_string(s.numerics));
}

ModelDesc model_desc(const Shape& s) {
  ModelDesc desc;
  desc.input_size = s.input;
  desc.hidden_size = s.hidden;
  desc.proj_size = s.proj;
  desc.num_layers = s.layers;
  desc.direction = s.directions == 2 ? Direction::kBidirectional : Direction::kForward;
  return desc;
}

void validate(const Shape& s) {
  if (s.batch < 1) detail::invalid("batch is {}: expected >= 1", s.batch);
  if (s.steps < 1) detail::invalid("steps is {}: expected >= 1", s.steps);
  if (s.directions != 1 && s.directions != 2) detail::invalid("directions is {}: expected 1 or 2", s.directions);
  lstmrt::validate(model_desc(s));
}

const std::vector<std::string>& sweep_fields() {
  static const std::vector<std::string> fields = {"batch", "steps",  "input",      "hidden",
                                                  "proj",  "layers", "directions", "precision"};
  return fields;
}

std::vector<Shape> expand(const Sweep& sweep, const std::string& where) {
  for (const auto& [field, values] : sweep) {
    if (std::find(sweep_fields().begin(), sweep_fields().end(), field) == sweep_fields().end())
      detail::invalid("{}: unknown field '{}': expected one of {}", where, field, fmt::join(sweep_fields(), ", "));
    if (values.empty()) detail::invalid("{}.{}: no values: expected at least one", where, field);
  }
  for (const char* required : {"batch", "steps", "hidden"})
    if (!sweep.count(required)) detail::invalid("{}: missing field '{}'", where, required);

  // Parse every field's values once; defaults for the optional ones. input = 0 means "= hidden".
  std::map<std::string, std::vector<int>> ints;
  for (const std::string& field : sweep_fields()) {
    if (field == "precision") continue;
    const auto it = sweep.find(field);
    if (it == sweep.end()) {
      ints[field] = {field == "layers" || field == "directions" ? 1 : 0};
      continue;
    }
    const int minimum = field == "proj" ? 0 : 1;
    for (std::size_t i = 0; i < it->second.size(); ++i) {
      const std::string item_where =
          it->second.size() == 1 ? fmt::format("{}.{}", where, field) : fmt::format("{}.{}[{}]", where, field, i);
      ints[field].push_back(parse_positive(item_where, it->second[i], minimum));
    }
  }
  std::vector<Numerics> numerics;
  if (const auto it = sweep.find("precision"); it != sweep.end()) {
    for (std::size_t i = 0; i < it->second.size(); ++i) {
      try {
        numerics.push_back(numerics_from_string(it->second[i]));
      } catch (const Error& e) {
        detail::invalid("{}.precision{}: {}", where, it->second.size() == 1 ? "" : fmt::format("[{}]", i), e.what());
      }
    }
  } else {
    numerics = {Numerics{}};
  }

  // Cartesian product, the last field varying fastest (sweep_fields() order).
  std::vector<Shape> shapes;
  for (int layers : ints["layers"])
    for (int directions : ints["directions"])
      for (int proj : ints["proj"])
        for (int hidden : ints["hidden"])
          for (int input : ints["input"])
            for (int steps : ints["steps"])
              for (int batch : ints["batch"])
                for (const Numerics& n : numerics) {
                  Shape s{batch, steps, input == 0 ? hidden : input, hidden, proj, layers, directions, n};
                  try {
                    validate(s);
                  } catch (const Error& e) {
                    detail::invalid("{}: shape {}: {}", where, describe(s), e.what());
                  }
                  append_unique(shapes, {s});
                }
  return shapes;
}

void append_unique(std::vector<Shape>& shapes, const std::vector<Shape>& more) {
  for (const Shape& s : more)
    if (std::find(shapes.begin(), shapes.end(), s) == shapes.end()) shapes.push_back(s);
}

std::vector<std::string> split_list(const std::string& flag, const std::string& value) {
  std::vector<std::string> items;
  std::stringstream stream(value);
  std::string item;
  while (std::getline(stream, item, ',')) {
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (item.empty())
      detail::invalid("{} \"{}\": empty item: expected a comma-separated list like 1,8,64", flag, value);
    items.push_back(item);
  }
  if (items.empty() || value.back() == ',')
    detail::invalid("{} \"{}\": empty item: expected a comma-separated list like 1,8,64", flag, value);
  return items;
}

std::vector<Shape> parse_config(const std::string& json_text, const std::string& origin) {
  json root;
  try {
    root = json::parse(json_text);
  } catch (const json::parse_error& e) {
    detail::invalid("{}: not valid JSON: {}", origin, e.what());
  }
  return shapes_from_sweeps(root, origin);
}

std::vector<Shape> load_config_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) detail::fail(ErrorCode::kIoError, "cannot read config file '{}'", path);
  std::stringstream text;
  text << in.rdbuf();
  return parse_config(text.str(), path);
}

bool operator==(const BackendChoice& a, const BackendChoice& b) {
  return a.kind == b.kind && (a.kind != BackendKind::kFused || a.fused_kernel == b.fused_kernel);
}

BackendChoice backend_choice_from_string(const std::string& name) {
  constexpr const char* kValid =
      "expected reference, cudnn, fused, fused:auto, fused:stepwise, fused:persistent or fused:cluster";
  const std::size_t colon = name.find(':');
  const std::string kind_name = name.substr(0, colon);
  BackendKind kind;
  try {
    kind = backend_from_string(kind_name);
  } catch (const Error&) {
    detail::invalid("unknown backend '{}': {}", name, kValid);
  }
  if (kind == BackendKind::kAuto) detail::invalid("auto is not a backend to time: {}", kValid);
  if (colon == std::string::npos) return {kind};
  if (kind != BackendKind::kFused)
    detail::invalid("backend '{}': only fused takes a kernel variant after ':': {}", name, kValid);
  try {
    return {kind, fused_kernel_from_string(name.substr(colon + 1))};
  } catch (const Error&) {
    detail::invalid("unknown fused kernel variant in '{}': {}", name, kValid);
  }
}

std::string to_string(const BackendChoice& c) {
  if (c.kind != BackendKind::kFused) return lstmrt::to_string(c.kind);
  return "fused:" + lstmrt::to_string(c.fused_kernel);
}

std::vector<PresetInfo> preset_list() {
  std::vector<PresetInfo> list;
  for (const auto& [name, preset] : presets_root().items())
    list.push_back({name, preset.value("description", std::string())});
  return list;
}

std::vector<Shape> preset_shapes(const std::string& name) {
  if (!presets_root().contains(name)) {
    std::vector<std::string> names;
    for (const PresetInfo& p : preset_list()) names.push_back(p.name);
    detail::invalid("unknown preset '{}': expected one of {}", name, fmt::join(names, ", "));
  }
  return shapes_from_sweeps(presets_root().at(name), "preset " + name);
}

}  // namespace lstmrt::bench
