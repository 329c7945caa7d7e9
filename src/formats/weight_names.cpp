// LSTM weights from named arrays (an .npz's or a .safetensors file's): names following PyTorch,
// Keras or ONNX conventions, the scheme detected from the names and converted to the canonical
// layout by the converters. No file is read here (load_weights.cpp reads them).
#include <regex>
#include <set>

#include <fmt/format.h>

#include "common/check.hpp"
#include "formats/npy_format.hpp"
#include "lstmrt/io.hpp"

namespace lstmrt {
namespace {

using formats_detail::io_error;

constexpr char kSchemes[] =
    "PyTorch state_dict names (weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0, optional weight_hr_l0 and "
    "_reverse, behind at most one common prefix such as 'lstm.'), Keras names (kernel, recurrent_kernel, bias; or "
    "layer0/kernel ...; or layer0/forward/kernel + layer0/backward/kernel ...) or ONNX names (W, R, B, P; or "
    "layer0/W ...)";

// Group 1: the common prefix; group 2: the state_dict name proper.
const std::regex kPytorchName(R"(^(.*?)((weight|bias)_(ih|hh|hr)_l[0-9]+(_reverse)?)$)");
// Group 1: "layer{k}/" (group 2: k); group 3: "forward/" or "backward/"; group 5: tensor.
const std::regex kKerasName(R"(^(layer([0-9]+)/)?((forward|backward)/)?(kernel|recurrent_kernel|bias)$)");
// Group 2: layer index; group 3: tensor.
const std::regex kOnnxName(R"(^(layer([0-9]+)/)?(W|R|B|P)$)");

std::string list_names(const std::vector<std::string>& names) {
  constexpr std::size_t kShown = 12;
  std::string out;
  for (std::size_t i = 0; i < names.size() && i < kShown; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > kShown) out += fmt::format(" and {} more", names.size() - kShown);
  return out;
}

Tensor tensor_of(const ArrayMap& arrays, const std::string& key, const std::string& source) {
  const Array& a = arrays.at(key);
  return Tensor{a.shape, a.to_float32(fmt::format("{} array '{}'", source, key))};
}

const Array* find(const ArrayMap& arrays, const std::string& key) {
  const auto it = arrays.find(key);
  return it == arrays.end() ? nullptr : &it->second;
}

const Array& require(const ArrayMap& arrays, const std::string& key, const std::string& source,
                     const std::string& scheme) {
  const Array* a = find(arrays, key);
  if (!a) io_error("{}: {} weights without '{}'", source, scheme, key);
  return *a;
}

Tensor required_tensor(const ArrayMap& arrays, const std::string& key, const std::string& source,
                       const std::string& scheme) {
  require(arrays, key, source, scheme);
  return tensor_of(arrays, key, source);
}

std::int64_t dim(const Array& a, std::size_t rank, std::size_t index, const std::string& key,
                 const std::string& source) {
  if (a.ndim() != rank)
    detail::invalid("{} array '{}' has shape {}: expected {} dimensions", source, key, shape_string(a.shape), rank);
  return a.shape[index];
}

int narrow(std::int64_t v, const std::string& what, const std::string& source) {
  if (v < 1 || v > (1 << 30)) detail::invalid("{}: {} is {}: expected 1..{}", source, what, v, 1 << 30);
  return static_cast<int>(v);
}

// Layer indices must be 0..L-1 with no gaps.
int layer_count(const std::set<int>& layers, const std::string& source) {
  int expected = 0;
  for (int l : layers)
    if (l != expected++)
      io_error("{}: layer indices {}: expected layer0..layer{} without gaps", source, fmt::join(layers, ", "),
               layers.size() - 1);
  return static_cast<int>(layers.size());
}

LoadedWeights load_pytorch(const ArrayMap& arrays, const std::string& prefix, const std::string& source) {
  if (!prefix.empty() && prefix.back() != '.')
    io_error("{}: PyTorch names share the prefix '{}': expected none or one ending in '.' (e.g. 'lstm.')", source,
             prefix);
  TensorMap state_dict;
  for (const auto& [key, array] : arrays) state_dict.emplace(key.substr(prefix.size()), tensor_of(arrays, key, source));
  LoadedWeights out;
  out.format = "pytorch";
  out.desc = pytorch_desc(state_dict);
  out.weights = from_pytorch(out.desc, state_dict);
  return out;
}

LoadedWeights load_keras(const ArrayMap& arrays, const std::set<int>& layers, bool bidirectional,
                         const std::string& source) {
  const bool layered = !layers.empty();
  LoadedWeights out;
  out.format = "keras";
  ModelDesc& desc = out.desc;
  desc.num_layers = layered ? layer_count(layers, source) : 1;
  desc.direction = bidirectional ? Direction::kBidirectional : Direction::kForward;
  auto key = [&](int l, int d, const char* tensor) {
    std::string name = layered ? fmt::format("layer{}/", l) : "";
    if (bidirectional) name += d == 0 ? "forward/" : "backward/";
    return name + tensor;
  };
  const std::string first_kernel = key(0, 0, "kernel"), first_recurrent = key(0, 0, "recurrent_kernel");
  desc.input_size = narrow(dim(require(arrays, first_kernel, source, "Keras"), 2, 0, first_kernel, source),
                           "input size (" + first_kernel + " rows)", source);
  desc.hidden_size = narrow(dim(require(arrays, first_recurrent, source, "Keras"), 2, 0, first_recurrent, source),
                            "hidden size (" + first_recurrent + " rows)", source);
  for (int l = 0; l < desc.num_layers; ++l) {
    for (int d = 0; d < desc.num_directions(); ++d) {
      KerasLstmWeights k;
      k.kernel = required_tensor(arrays, key(l, d, "kernel"), source, "Keras");
      k.recurrent_kernel = required_tensor(arrays, key(l, d, "recurrent_kernel"), source, "Keras");
      if (find(arrays, key(l, d, "bias"))) k.bias = tensor_of(arrays, key(l, d, "bias"), source);
      out.weights.layers.push_back(from_keras(k, desc.layer_input_size(l), desc.hidden_size));
    }
  }
  return out;
}

LoadedWeights load_onnx(const ArrayMap& arrays, const std::set<int>& layers, const std::string& source) {
  const bool layered = !layers.empty();
  LoadedWeights out;
  out.format = "onnx";
  ModelDesc& desc = out.desc;
  desc.num_layers = layered ? layer_count(layers, source) : 1;
  auto key = [&](int l, const char* tensor) {
    return layered ? fmt::format("layer{}/{}", l, tensor) : std::string(tensor);
  };
  const Array& w0 = require(arrays, key(0, "W"), source, "ONNX");
  const Array& r0 = require(arrays, key(0, "R"), source, "ONNX");
  const std::int64_t dirs = dim(w0, 3, 0, key(0, "W"), source);
  if (dirs != 1 && dirs != 2)
    detail::invalid("{} array '{}' has shape {}: expected num_directions 1 or 2 in its first dimension", source,
                    key(0, "W"), shape_string(w0.shape));
  desc.direction = dirs == 2 ? Direction::kBidirectional : Direction::kForward;
  desc.input_size = narrow(dim(w0, 3, 2, key(0, "W"), source), "input size (" + key(0, "W") + " dim 2)", source);
  desc.hidden_size = narrow(dim(r0, 3, 2, key(0, "R"), source), "hidden size (" + key(0, "R") + " dim 2)", source);
  desc.peepholes = find(arrays, key(0, "P")) != nullptr;
  for (int l = 0; l < desc.num_layers; ++l) {
    OnnxLstmWeights onnx;
    onnx.W = required_tensor(arrays, key(l, "W"), source, "ONNX");
    onnx.R = required_tensor(arrays, key(l, "R"), source, "ONNX");
    if (find(arrays, key(l, "B"))) onnx.B = tensor_of(arrays, key(l, "B"), source);
    if ((find(arrays, key(l, "P")) != nullptr) != desc.peepholes)
      io_error("{}: '{}' is {} but '{}' is {}: expected peepholes (P) for every layer or none", source, key(0, "P"),
               desc.peepholes ? "present" : "absent", key(l, "P"), desc.peepholes ? "absent" : "present");
    if (desc.peepholes) onnx.P = tensor_of(arrays, key(l, "P"), source);
    for (LayerWeights& w : from_onnx(onnx, desc.num_directions(), desc.layer_input_size(l), desc.hidden_size))
      out.weights.layers.push_back(std::move(w));
  }
  return out;
}

// GRU and plain RNN weights use the same names with 3 or 1 gate blocks where an LSTM has 4: the
// recurrent matrix of each scheme tells them apart before the LSTM converters misread them.
// `rows_axis` / `cols_axis` pick its gate-blocked axis and its hidden-size axis.
void refuse_other_cell(const ArrayMap& arrays, const std::string& source, const std::string& scheme) {
  for (const auto& [key, a] : arrays) {
    std::size_t gates_axis = 0, hidden_axis = 0;
    std::string tensor;
    if (scheme == "pytorch" && key.size() >= 12 && key.compare(key.size() - 12, 12, "weight_hh_l0") == 0) {
      if (arrays.count(key.substr(0, key.size() - 12) + "weight_hr_l0")) return;  // projected: an LSTM
      gates_axis = 0, hidden_axis = 1, tensor = "weight_hh_l0 (G·H, H)";
    } else if (scheme == "keras" && key.size() >= 16 && key.compare(key.size() - 16, 16, "recurrent_kernel") == 0) {
      gates_axis = 1, hidden_axis = 0, tensor = "recurrent_kernel (H, G·H)";
    } else if (scheme == "onnx" && (key == "R" || key == "layer0/R")) {
      gates_axis = 1, hidden_axis = 2, tensor = "R (D, G·H, H)";
    } else {
      continue;
    }
    if (a.ndim() <= std::max(gates_axis, hidden_axis) || a.shape[hidden_axis] < 1) return;
    const std::int64_t h = a.shape[hidden_axis], gates = a.shape[gates_axis] / h;
    if (a.shape[gates_axis] % h != 0 || (gates != 3 && gates != 1)) return;
    io_error(
        "{}: '{}' has shape {}, {} gate block{} of H={} as in {}: {} weights, not an LSTM's (4 blocks: i, f, g, o); "
        "lstmrt runs LSTM layers only",
        source, key, shape_string(a.shape), gates, gates == 1 ? "" : "s", h, tensor,
        gates == 3 ? (scheme == "keras"  ? "Keras GRU"
                      : scheme == "onnx" ? "ONNX GRU"
                                         : "PyTorch nn.GRU")
                   : (scheme == "keras"  ? "Keras SimpleRNN"
                      : scheme == "onnx" ? "ONNX RNN"
                                         : "PyTorch nn.RNN"));
  }
}

LoadedWeights detect_and_convert(const ArrayMap& arrays, const std::string& source) {
  if (arrays.empty()) io_error("{}: holds no arrays: expected LSTM weights named as {}", source, kSchemes);
  std::vector<std::string> pytorch, keras, onnx, unknown;
  std::set<std::string> prefixes;
  std::set<int> keras_layers, onnx_layers;
  std::set<std::string> keras_forms;  // how a kernel is named: "kernel", "layer{k}/forward/kernel", ...
  // The k of "layer{k}/...": at most 6 digits (as PyTorch's _l{k}), so it converts to an int.
  auto layer_of = [&](const std::ssub_match& digits, const std::string& key) {
    if (digits.length() > 6)
      io_error("{}: array '{}': layer number {} is out of range (at most 6 digits)", source, key, digits.str());
    return std::stoi(digits.str());
  };
  for (const auto& entry : arrays) {
    const std::string& key = entry.first;
    std::smatch m;
    if (std::regex_match(key, m, kKerasName)) {
      keras.push_back(key);
      if (m[2].matched) keras_layers.insert(layer_of(m[2], key));
      keras_forms.insert(
          fmt::format("{}{}kernel", m[1].matched ? "layer{k}/" : "", m[3].matched ? "forward|backward/" : ""));
    } else if (std::regex_match(key, m, kOnnxName)) {
      onnx.push_back(key);
      if (m[2].matched)
        onnx_layers.insert(layer_of(m[2], key));
      else
        onnx_layers.insert(-1);
    } else if (std::regex_match(key, m, kPytorchName)) {
      pytorch.push_back(key);
      prefixes.insert(m[1].str());
    } else {
      unknown.push_back(key);
    }
  }
  if (!unknown.empty())
    io_error("{}: unrecognised weight names {}: expected {}", source, list_names(unknown), kSchemes);
  const int schemes = !pytorch.empty() + !keras.empty() + !onnx.empty();
  if (schemes > 1)
    io_error("{}: mixes naming schemes ({}{}{}): expected one of {}", source,
             pytorch.empty() ? "" : "PyTorch: " + list_names(pytorch) + "; ",
             keras.empty() ? "" : "Keras: " + list_names(keras) + "; ", onnx.empty() ? "" : "ONNX: " + list_names(onnx),
             kSchemes);
  if (!pytorch.empty()) {
    if (prefixes.size() > 1)
      io_error("{}: PyTorch names behind different prefixes ('{}'): expected one common prefix", source,
               fmt::join(prefixes, "', '"));
    refuse_other_cell(arrays, source, "pytorch");
    return load_pytorch(arrays, *prefixes.begin(), source);
  }
  if (!keras.empty()) {
    if (keras_forms.size() > 1)
      io_error("{}: Keras names mix the forms {}: expected one form for every tensor", source,
               list_names({keras_forms.begin(), keras_forms.end()}));
    refuse_other_cell(arrays, source, "keras");
    return load_keras(arrays, keras_layers, keras_forms.begin()->find("forward|backward/") != std::string::npos,
                      source);
  }
  if (onnx_layers.count(-1) && onnx_layers.size() > 1)
    io_error("{}: ONNX names mix W/R/B/P with layer{{k}}/W...: expected one form", source);
  onnx_layers.erase(-1);
  refuse_other_cell(arrays, source, "onnx");
  return load_onnx(arrays, onnx_layers, source);
}

}  // namespace

LoadedWeights weights_from_arrays(const ArrayMap& arrays, const std::string& source) {
  LoadedWeights out;
  try {
    out = detect_and_convert(arrays, source);
    validate(out.desc, out.weights);
  } catch (const Error& e) {
    const std::string message = e.what();
    if (message.rfind(source, 0) == 0) throw;  // already names the file
    throw Error(e.code(), fmt::format("{}: {}", source, message));
  }
  return out;
}

}  // namespace lstmrt
