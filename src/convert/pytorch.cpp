// PyTorch nn.LSTM state_dict <-> canonical weights. PyTorch's layout is the canonical one (gates
// i f g o, w_ih (4H, I_l), w_hh (4H, H_out), w_hr (P, H)), so conversion is naming and checking:
//   weight_ih_l{k}[_reverse], weight_hh_l{k}[_reverse], bias_ih_l{k}[_reverse],
//   bias_hh_l{k}[_reverse], weight_hr_l{k}[_reverse]
// with an optional common prefix ("lstm." when the LSTM sits inside a bigger module).
#include <algorithm>
#include <regex>
#include <set>

#include <fmt/format.h>

#include "common/check.hpp"
#include "convert/convert_common.hpp"
#include "lstmrt/weights.hpp"

namespace lstmrt {
namespace {

enum class Kind { kWeightIh, kWeightHh, kBiasIh, kBiasHh, kWeightHr };
constexpr const char* kKindNames[] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr"};
constexpr const char* kFirstTensor = "weight_ih_l0";

std::string tensor_name(Kind kind, int layer, int dir) {
  return fmt::format("{}_l{}{}", kKindNames[static_cast<int>(kind)], layer, dir == 1 ? "_reverse" : "");
}

struct Entry {
  Kind kind;
  int layer;
  int dir;  // 0 forward, 1 reverse
  const std::string* key;
  const Tensor* tensor;
};

// The state_dict split by name: the common prefix and every tensor's (kind, layer, direction).
struct ParsedStateDict {
  std::string prefix;
  std::vector<Entry> entries;
  const Entry* find(Kind kind, int layer, int dir) const {
    for (const Entry& e : entries)
      if (e.kind == kind && e.layer == layer && e.dir == dir) return &e;
    return nullptr;
  }
  bool has(Kind kind) const {
    return std::any_of(entries.begin(), entries.end(), [kind](const Entry& e) { return e.kind == kind; });
  }
};

ParsedStateDict parse(const TensorMap& state_dict) {
  ParsedStateDict parsed;
  std::set<std::string> prefixes;
  for (const auto& [key, tensor] : state_dict) {
    const std::size_t n = std::char_traits<char>::length(kFirstTensor);
    if (key.size() >= n && key.compare(key.size() - n, n, kFirstTensor) == 0)
      prefixes.insert(key.substr(0, key.size() - n));
  }
  if (prefixes.empty()) {
    std::vector<std::string> keys;
    for (const auto& kv : state_dict) keys.push_back(kv.first);
    detail::invalid("state_dict has no {} tensor (optionally behind a prefix such as 'lstm.'): found [{}]",
                    kFirstTensor, fmt::join(keys, ", "));
  }
  if (prefixes.size() > 1)
    detail::invalid("state_dict holds {} under several prefixes ['{}']: expected the tensors of one nn.LSTM",
                    kFirstTensor, fmt::join(prefixes, "', '"));
  parsed.prefix = *prefixes.begin();
  static const std::regex kName("(weight_ih|weight_hh|bias_ih|bias_hh|weight_hr)_l([0-9]+)(_reverse)?");
  for (const auto& [key, tensor] : state_dict) {
    std::smatch m;
    const bool prefixed = key.compare(0, parsed.prefix.size(), parsed.prefix) == 0;
    const std::string rest = prefixed ? key.substr(parsed.prefix.size()) : key;
    if (!prefixed || !std::regex_match(rest, m, kName) || m[2].length() > 6)
      detail::invalid(
          "unexpected tensor '{}' in an nn.LSTM state_dict: expected names {}weight_ih_l{{k}}[_reverse], "
          "weight_hh_l{{k}}, bias_ih_l{{k}}, bias_hh_l{{k}}, weight_hr_l{{k}}",
          key, parsed.prefix);
    const auto kind_index =
        std::find(std::begin(kKindNames), std::end(kKindNames), m[1].str()) - std::begin(kKindNames);
    parsed.entries.push_back(
        {static_cast<Kind>(kind_index), std::stoi(m[2].str()), m[3].matched ? 1 : 0, &key, &tensor});
  }
  return parsed;
}

// The shape PyTorch gives tensor `kind` of layer `layer` for `desc`, with labelled dimensions.
detail::ExpectedShape expected_shape(const ModelDesc& desc, Kind kind, int layer) {
  const std::int64_t h4 = 4LL * desc.hidden_size;
  switch (kind) {
    case Kind::kWeightIh: return {{h4, desc.layer_input_size(layer)}, {"4H", layer == 0 ? "I" : "D·H_out"}};
    case Kind::kWeightHh: return {{h4, desc.output_size()}, {"4H", "H_out"}};
    case Kind::kBiasIh:
    case Kind::kBiasHh: return {{h4}, {"4H"}};
    case Kind::kWeightHr: return {{desc.proj_size, desc.hidden_size}, {"P", "H"}};
  }
  detail::fail(ErrorCode::kInternal, "pytorch: tensor kind {} not handled", static_cast<int>(kind));
}

// Every tensor of `parsed` belongs to `desc`, every required one is there, every shape matches.
// Biases are all present or all absent (nn.LSTM(bias=False)).
void check_state_dict(const ModelDesc& desc, const ParsedStateDict& parsed) {
  const int dirs = desc.num_directions();
  for (const Entry& e : parsed.entries) {
    if (e.layer >= desc.num_layers || e.dir >= dirs || (e.kind == Kind::kWeightHr && desc.proj_size == 0))
      detail::invalid("unexpected tensor '{}' for {}", *e.key, describe(desc));
  }
  const bool has_bias = parsed.has(Kind::kBiasIh) || parsed.has(Kind::kBiasHh);
  for (int l = 0; l < desc.num_layers; ++l) {
    for (int d = 0; d < dirs; ++d) {
      for (Kind kind : {Kind::kWeightIh, Kind::kWeightHh, Kind::kBiasIh, Kind::kBiasHh, Kind::kWeightHr}) {
        const bool is_bias = kind == Kind::kBiasIh || kind == Kind::kBiasHh;
        const bool required = is_bias ? has_bias : kind != Kind::kWeightHr || desc.proj_size > 0;
        const detail::ExpectedShape expected = expected_shape(desc, kind, l);
        const Entry* e = parsed.find(kind, l, d);
        if (!e) {
          if (!required) continue;
          detail::invalid("missing tensor '{}{}': expected shape {}{}", parsed.prefix, tensor_name(kind, l, d),
                          expected.to_string(), is_bias ? " (other biases are present, so bias=True)" : "");
        }
        detail::expect_shape(*e->tensor, *e->key, expected);
      }
    }
  }
}

// nn.LSTM has none of the extended cell features: refuse a description that uses one.
void check_expressible(const ModelDesc& desc, const char* who) {
  if (desc.peepholes) detail::invalid("{}: PyTorch's nn.LSTM has no peepholes (the model asks for them)", who);
  if (desc.clip != 0.0f)
    detail::invalid("{}: PyTorch's nn.LSTM has no clip (the model asks for clip={})", who, desc.clip);
  if (desc.coupled_input_forget)
    detail::invalid("{}: PyTorch's nn.LSTM has no coupled input-forget gate (the model asks for it)", who);
  for (int d = 0; d < desc.num_directions(); ++d) {
    const CellActivations& a = desc.activations[d];
    if (!a.is_default())
      detail::invalid("{}: PyTorch's nn.LSTM uses sigmoid/tanh/tanh only (activations[{}] is ({}, {}, {}))", who, d,
                      to_string(a.gate), to_string(a.cell), to_string(a.hidden));
  }
}

}  // namespace

ModelDesc pytorch_desc(const TensorMap& state_dict) {
  const ParsedStateDict parsed = parse(state_dict);
  const Entry* first = parsed.find(Kind::kWeightIh, 0, 0);
  const Tensor& w_ih = *first->tensor;
  if (w_ih.shape.size() != 2 || w_ih.shape[0] % 4 != 0 || w_ih.shape[0] == 0 || w_ih.shape[1] == 0)
    detail::invalid("{} has shape {}, expected (4H, I): 2-D with a positive multiple of 4 rows", *first->key,
                    shape_string(w_ih.shape));
  ModelDesc desc;
  desc.hidden_size = static_cast<int>(w_ih.shape[0] / 4);
  desc.input_size = static_cast<int>(w_ih.shape[1]);
  int max_layer = 0;
  bool reverse = false;
  for (const Entry& e : parsed.entries) max_layer = std::max(max_layer, e.layer), reverse = reverse || e.dir == 1;
  desc.num_layers = max_layer + 1;
  desc.direction = reverse ? Direction::kBidirectional : Direction::kForward;
  if (const Entry* hr = parsed.find(Kind::kWeightHr, 0, 0)) {
    if (hr->tensor->shape.size() != 2)
      detail::invalid("{} has shape {}, expected (P, H={})", *hr->key, shape_string(hr->tensor->shape),
                      desc.hidden_size);
    desc.proj_size = static_cast<int>(hr->tensor->shape[0]);
  }
  validate(desc);
  check_state_dict(desc, parsed);
  return desc;
}

Weights from_pytorch(const ModelDesc& desc, const TensorMap& state_dict) {
  check_expressible(desc, "from_pytorch");
  validate(desc);
  const ParsedStateDict parsed = parse(state_dict);
  check_state_dict(desc, parsed);
  Weights weights;
  const std::size_t h4 = 4 * static_cast<std::size_t>(desc.hidden_size);
  for (int l = 0; l < desc.num_layers; ++l) {
    for (int d = 0; d < desc.num_directions(); ++d) {
      LayerWeights w;
      auto take = [&](Kind kind, std::vector<float>& dst) {
        if (const Entry* e = parsed.find(kind, l, d)) dst = e->tensor->data;
      };
      take(Kind::kWeightIh, w.w_ih);
      take(Kind::kWeightHh, w.w_hh);
      take(Kind::kWeightHr, w.w_hr);
      w.b_ih.assign(h4, 0.0f);  // bias=False: zeros
      w.b_hh.assign(h4, 0.0f);
      take(Kind::kBiasIh, w.b_ih);
      take(Kind::kBiasHh, w.b_hh);
      weights.layers.push_back(std::move(w));
    }
  }
  return weights;
}

TensorMap to_pytorch(const ModelDesc& desc, const Weights& weights) {
  check_expressible(desc, "to_pytorch");
  validate(desc, weights);
  TensorMap state_dict;
  for (int l = 0; l < desc.num_layers; ++l) {
    for (int d = 0; d < desc.num_directions(); ++d) {
      const LayerWeights& w = weights.at(desc, l, d);
      auto put = [&](Kind kind, const std::vector<float>& values) {
        state_dict[tensor_name(kind, l, d)] = Tensor{expected_shape(desc, kind, l).dims, values};
      };
      put(Kind::kWeightIh, w.w_ih);
      put(Kind::kWeightHh, w.w_hh);
      put(Kind::kBiasIh, w.b_ih);
      put(Kind::kBiasHh, w.b_hh);
      if (desc.proj_size > 0) put(Kind::kWeightHr, w.w_hr);
    }
  }
  return state_dict;
}

}  // namespace lstmrt
