// Keras 3 model import: config.json (the model's to_json()) gives the layers and how a functional
// model wires them; model.weights.h5 holds each layer's variables:
//   layers/<group>/cell/vars/{0,1,2}                               LSTM: kernel, recurrent_kernel, bias
//   layers/<group>/{forward_layer,backward_layer}/cell/vars/{0,1,2} Bidirectional(LSTM)
// where <group> is the saving name: the layer class in snake case, _1, _2, ... in the order of
// model.layers (keras/src/saving/saving_lib.py), and layers/<group>/vars records the layer's
// config name where the writer stored one (checked). The result is an ImportedModel graph
// (include/lstmrt/import.hpp): one node per layer application.
#include <filesystem>
#include <map>
#include <set>

#include "common/check.hpp"
#include "formats/file_bytes.hpp"
#include "formats/file_format.hpp"
#include "formats/hdf5_file.hpp"
#include "formats/keras_layers.hpp"
#include "lstmrt/import.hpp"

namespace lstmrt {
namespace {

using formats_detail::FileFormat;
using formats_detail::Hdf5File;
using formats_detail::json;
using formats_detail::keras_bad;
using formats_detail::keras_unsupported;
using formats_detail::KerasTensor;

constexpr char kKerasFormats[] = "a Keras archive (.keras) or an HDF5 .weights.h5 file with its config";
constexpr std::uint64_t kMaxConfigBytes = 64u << 20;
constexpr std::uint64_t kMaxWeightsBytes = std::uint64_t{1} << 34;
constexpr int kMaxWidth = 1 << 24;

// Keras layers that are the identity at inference.
const std::set<std::string> kIdentityLayers = {"Dropout",       "SpatialDropout1D", "GaussianDropout",
                                               "GaussianNoise", "AlphaDropout",     "ActivityRegularization"};

struct ValueInfo {
  int rank = 3;  // 3: a sequence, 2: (N, width)
  int width = 0;
};

// An op layer of the mask computation Keras records for a Masking layer:
// Any(NotEqual(sequence, value), axis=-1).
struct MaskOp {
  ValueRef sequence;
  float value = 0.0f;
  bool reduced = false;  // Any applied: the (N, T) mask itself
};

// One application of a layer: its entry and the call's arguments.
struct Call {
  const json* entry = nullptr;
  std::string class_name, name, where;
  int node = 0;
  const json* args = nullptr;    // array
  const json* kwargs = nullptr;  // object or null
};

struct Builder {
  const Hdf5File& h5;
  std::string source;
  ImportedModel model;
  std::map<std::string, std::string> groups;  // layer name -> layers/<group>
  std::map<KerasTensor, ValueRef> values;     // Keras tensor -> graph value
  std::map<KerasTensor, MaskOp> mask_ops;     // tensors of the mask computation
  std::vector<ValueInfo> input_info;
  std::vector<std::vector<ValueInfo>> node_info;
  std::map<std::pair<int, int>, std::optional<MaskSource>> masks;  // (node, index) -> mask it carries

  ValueInfo info(const ValueRef& v) const {
    return v.node < 0 ? input_info.at(v.index) : node_info.at(v.node).at(v.index);
  }
  std::optional<MaskSource> mask_of(const ValueRef& v) const {
    const auto it = masks.find({v.node, v.index});
    return it == masks.end() ? std::nullopt : it->second;
  }

  // ---- weight groups: by class and order, as Keras saves them ----------------------------------
  void assign_groups(const json& layers) {
    std::map<std::string, int> used;
    for (const json& entry : layers) {
      if (!entry.is_object() || entry.value("module", "").rfind("keras.src.ops", 0) == 0) continue;  // not a Layer
      const std::string cls = entry.value("class_name", "");
      const std::string stem = formats_detail::snake_case(cls);
      const int k = used[stem]++;
      const std::string name = layer_name(entry);
      groups[name] = "layers/" + stem + (k == 0 ? "" : fmt::format("_{}", k));
    }
  }

  std::string group(const std::string& name, const std::string& where) const {
    const auto it = groups.find(name);
    if (it == groups.end() || !h5.has_group(it->second))
      keras_bad("{}: no weights for it in {} (expected group {})", where, h5.source(),
                it == groups.end() ? std::string("?") : it->second);
    const auto recorded = h5.string_attribute(it->second + "/vars", "name");
    if (recorded && *recorded != name)
      keras_bad("{}: weights group {} in {} belongs to layer '{}': the file does not match the config", where,
                it->second, h5.source(), *recorded);
    return it->second;
  }

  static std::string layer_name(const json& entry) {
    if (entry.contains("config") && entry["config"].is_object() && entry["config"].contains("name") &&
        entry["config"]["name"].is_string())
      return entry["config"]["name"].get<std::string>();
    return entry.value("name", "");
  }

  // ---- values ------------------------------------------------------------------------------------
  // Every tensor `arg` refers to (at any depth) exists already.
  bool ready(const json& arg) const {
    if (arg.is_object() && arg.value("class_name", "") == "__keras_tensor__") {
      const auto t = formats_detail::tensor_reference(arg, source);
      return values.count(*t) || mask_ops.count(*t);
    }
    if (arg.is_array() || arg.is_object())
      for (const json& item : arg)
        if (!ready(item)) return false;
    return true;
  }

  ValueRef value(const KerasTensor& t, const std::string& where) const {
    const auto it = values.find(t);
    if (it == values.end()) {
      if (mask_ops.count(t)) keras_unsupported("{}: takes the mask tensor {} as data", where, t.label());
      keras_bad("{}: refers to tensor {}, which no earlier layer produces", where, t.label());
    }
    return it->second;
  }

  ValueRef sequence_arg(const json& arg, const std::string& where) const {
    const auto t = formats_detail::tensor_reference(arg, where);
    if (!t) keras_bad("{}: its input is {}: expected a tensor", where, arg.dump().substr(0, 80));
    const ValueRef v = value(*t, where);
    const ValueInfo i = info(v);
    if (i.rank != 3)
      keras_unsupported("{}: its input {} is rank {} ({}), not a sequence (batch, steps, features)", where, t->label(),
                        i.rank, i.rank == 2 ? "a last output or a state" : "?");
    return v;
  }

  int add_node(ImportedNode node, std::vector<ValueInfo> outputs) {
    model.nodes.push_back(std::move(node));
    node_info.push_back(std::move(outputs));
    return static_cast<int>(model.nodes.size()) - 1;
  }

  void bind_outputs(const Call& c, int node, int count) {
    for (int k = 0; k < count; ++k) values[KerasTensor{c.name, c.node, k}] = ValueRef{node, k};
  }

  // The mask an LSTM call uses: the recorded `mask` argument (null: none); else, as Keras's
  // Layer.__call__ fills `mask` only for a call with ONE tensor argument, the mask its input
  // carries when there is no other tensor argument, and none when initial_state tensors are passed
  // too (Keras 3 then runs the layer unmasked).
  std::optional<MaskSource> call_mask(const Call& c, const ValueRef& input, bool other_tensors) const {
    if (c.kwargs && c.kwargs->is_object() && c.kwargs->contains("mask")) {
      const json& m = (*c.kwargs)["mask"];
      if (m.is_null()) return std::nullopt;
      const auto t = formats_detail::tensor_reference(m, c.where);
      if (!t) keras_unsupported("{}: its mask argument is {}: expected a Masking layer's mask", c.where, m.dump());
      const auto op = mask_ops.find(*t);
      if (op == mask_ops.end() || !op->second.reduced)
        keras_unsupported("{}: its mask {} is not a Masking layer's (any(x != mask_value) over features)", c.where,
                          t->label());
      return MaskSource{op->second.sequence, op->second.value};
    }
    if (other_tensors) return std::nullopt;
    return mask_of(input);
  }

  // ---- layers ------------------------------------------------------------------------------------
  void add_input(const Call& c) {
    const json& config = c.entry->at("config");
    const json* shape = nullptr;
    for (const char* key : {"batch_shape", "batch_input_shape"})
      if (config.contains(key)) shape = &config[key];
    if (!shape || !shape->is_array() || (shape->size() != 2 && shape->size() != 3) ||
        !shape->back().is_number_integer() || shape->back().get<std::int64_t>() < 1 ||
        shape->back().get<std::int64_t>() > kMaxWidth)
      keras_unsupported(
          "{}: batch_shape is {}: lstmrt takes (batch, steps, features) sequences and (batch, features) "
          "inputs such as initial states",
          c.where, shape ? shape->dump() : "absent");
    ModelInput in;
    in.name = c.name;
    in.rank = static_cast<int>(shape->size());
    in.width = shape->back().get<int>();
    model.inputs.push_back(in);
    input_info.push_back({in.rank, in.width});
    values[KerasTensor{c.name, 0, 0}] = ValueRef{-1, static_cast<int>(model.inputs.size()) - 1};
  }

  void add_mask_op(const Call& c) {
    if (!c.args || c.args->empty()) keras_bad("{}: no arguments", c.where);
    const auto t = formats_detail::tensor_reference((*c.args)[0], c.where);
    if (!t) keras_bad("{}: its first argument is not a tensor", c.where);
    MaskOp op;
    if (c.class_name == "NotEqual") {
      if (c.args->size() < 2 || !(*c.args)[1].is_number())
        keras_unsupported("{}: a not_equal that is not Masking's (x != mask_value)", c.where);
      op.sequence = value(*t, c.where);
      op.value = (*c.args)[1].get<float>();
    } else {  // Any over the last axis of a NotEqual
      const auto in = mask_ops.find(*t);
      const json& cfg = c.entry->at("config");
      const json axis = cfg.value("axis", json(nullptr));
      if (in == mask_ops.end() || in->second.reduced || !axis.is_number_integer() || axis.get<int>() != -1 ||
          cfg.value("keepdims", false))
        keras_unsupported("{}: an any() that is not Masking's mask (over the last axis of x != mask_value)", c.where);
      op = in->second;
      op.reduced = true;
    }
    mask_ops[KerasTensor{c.name, c.node, 0}] = op;
  }

  void add_masking(const Call& c) {
    const ValueRef in = sequence_arg((*c.args)[0], c.where);
    const json& v = c.entry->at("config").value("mask_value", json(0.0));
    if (!v.is_number()) keras_bad("{}: mask_value is {}: expected a number", c.where, v.dump());
    ImportedNode node;
    node.kind = NodeKind::kMasking;
    node.name = c.name;
    node.inputs = {in};
    node.mask_value = v.get<float>();
    const int id = add_node(std::move(node), {info(in)});
    masks[{id, 0}] = MaskSource{in, model.nodes[id].mask_value};
    bind_outputs(c, id, 1);
  }

  void add_identity(const Call& c) {
    const auto t = formats_detail::tensor_reference((*c.args)[0], c.where);
    if (!t) keras_bad("{}: its input is not a tensor", c.where);
    const ValueRef in = value(*t, c.where);
    ImportedNode node;
    node.kind = NodeKind::kIdentity;
    node.name = c.name;
    node.inputs = {in};
    const int id = add_node(std::move(node), {info(in)});
    masks[{id, 0}] = mask_of(in);
    bind_outputs(c, id, 1);
  }

  void add_concatenate(const Call& c) {
    const json& list = (*c.args)[0];
    if (!list.is_array() || list.empty()) keras_bad("{}: expected a list of tensors to concatenate", c.where);
    ImportedNode node;
    node.kind = NodeKind::kConcatenate;
    node.name = c.name;
    ValueInfo out{0, 0};
    for (const json& arg : list) {
      const auto t = formats_detail::tensor_reference(arg, c.where);
      if (!t) keras_bad("{}: a part is not a tensor", c.where);
      const ValueRef v = value(*t, c.where);
      const ValueInfo i = info(v);
      if (out.rank != 0 && i.rank != out.rank)
        keras_unsupported("{}: concatenates tensors of rank {} and {}", c.where, out.rank, i.rank);
      if (mask_of(v))
        keras_unsupported("{}: concatenates the masked sequence {}: lstmrt concatenates unmasked values only", c.where,
                          t->label());
      out.rank = i.rank;
      out.width += i.width;
      node.inputs.push_back(v);
    }
    const int axis = formats_detail::int_field(c.entry->at("config"), "axis", -1, c.where);
    if (axis != -1 && axis != out.rank - 1)
      keras_unsupported("{}: axis {}: lstmrt concatenates along the last (feature) axis", c.where, axis);
    const int id = add_node(std::move(node), {out});
    bind_outputs(c, id, 1);
  }

  // initial_state: kwargs["initial_state"], or the second positional argument.
  std::vector<ValueRef> initial_state(const Call& c, int expected, int H, const std::string& layer) const {
    const json* list = nullptr;
    if (c.kwargs && c.kwargs->is_object() && c.kwargs->contains("initial_state") &&
        !(*c.kwargs)["initial_state"].is_null())
      list = &(*c.kwargs)["initial_state"];
    else if (c.args->size() > 1 && !(*c.args)[1].is_null())
      list = &(*c.args)[1];
    if (!list) return {};
    if (!list->is_array() || static_cast<int>(list->size()) != expected)
      keras_unsupported("{}: initial_state has {} tensors: a {} takes {} (h and c{})", c.where,
                        list->is_array() ? list->size() : 1, layer, expected, expected == 4 ? " per direction" : "");
    std::vector<ValueRef> out;
    for (const json& arg : *list) {
      const auto t = formats_detail::tensor_reference(arg, c.where);
      if (!t) keras_bad("{}: an initial state is not a tensor", c.where);
      const ValueRef v = value(*t, c.where);
      const ValueInfo i = info(v);
      if (i.rank != 2 || i.width != H)
        keras_unsupported("{}: initial state {} is {}: expected (batch, units={})", c.where, t->label(),
                          i.rank == 3 ? "a sequence" : fmt::format("(batch, {})", i.width), H);
      out.push_back(v);
    }
    return out;
  }

  void add_lstm(const Call& c, bool bidirectional) {
    if (!c.args || c.args->empty()) keras_bad("{}: no input", c.where);
    const ValueRef in = sequence_arg((*c.args)[0], c.where);
    const int width = info(in).width;
    const json& config = c.entry->at("config");
    ImportedNode node;
    node.kind = NodeKind::kLstm;
    node.name = c.name;
    node.inputs = {in};
    node.desc.input_size = width;
    formats_detail::LstmConfig fwd;
    if (!bidirectional) {
      fwd = formats_detail::lstm_config(*c.entry, c.where);
      node.desc.direction = fwd.go_backwards ? Direction::kReverse : Direction::kForward;
      node.desc.set_activations(fwd.activations);
      node.reverse_order = fwd.go_backwards ? ReverseOutputOrder::kProcessing : ReverseOutputOrder::kOriginal;
      node.weights.layers.push_back(
          formats_detail::direction_weights(h5, group(c.name, c.where) + "/cell", width, fwd, c.where));
    } else {
      if (!config.contains("layer")) keras_bad("{}: a Bidirectional without its layer", c.where);
      fwd = formats_detail::lstm_config(config["layer"], c.where + " forward layer");
      formats_detail::LstmConfig bwd = fwd;
      if (config.contains("backward_layer") && !config["backward_layer"].is_null())
        bwd = formats_detail::lstm_config(config["backward_layer"], c.where + " backward layer");
      else
        bwd.go_backwards = !fwd.go_backwards;
      if (fwd.go_backwards || !bwd.go_backwards)
        keras_unsupported(
            "{}: a forward layer with go_backwards=True (or a backward one without): lstmrt runs "
            "Bidirectional as forward + reverse halves",
            c.where);
      if (fwd.units != bwd.units || fwd.use_bias != bwd.use_bias || fwd.return_sequences != bwd.return_sequences ||
          fwd.return_state != bwd.return_state)
        keras_unsupported("{}: forward and backward layers differ in units, use_bias, return_sequences or return_state",
                          c.where);
      node.desc.direction = Direction::kBidirectional;
      node.desc.activations = {fwd.activations, bwd.activations};
      node.merge = formats_detail::merge_mode(config, c.where);
      const std::string g = group(c.name, c.where);
      node.weights.layers.push_back(
          formats_detail::direction_weights(h5, g + "/forward_layer/cell", width, fwd, c.where + " forward"));
      node.weights.layers.push_back(
          formats_detail::direction_weights(h5, g + "/backward_layer/cell", width, bwd, c.where + " backward"));
    }
    node.desc.hidden_size = fwd.units;
    // Bidirectional records the zero_output_for_mask it forces (= return_sequences) on both halves.
    node.padding = fwd.zero_output_for_mask ? PaddingMode::kZero : PaddingMode::kCarryLast;
    node.return_sequences = fwd.return_sequences;
    node.return_state = fwd.return_state;
    const int D = node.desc.num_directions();
    node.initial_state = initial_state(c, 2 * D, fwd.units, bidirectional ? "Bidirectional(LSTM)" : "LSTM");
    node.mask = call_mask(c, in, !node.initial_state.empty());
    validate(node.desc, node.weights);
    std::vector<ValueInfo> outputs;
    const int out_rank = node.return_sequences ? 3 : 2;
    if (node.merge == MergeMode::kNone && D == 2)
      outputs = {{out_rank, fwd.units}, {out_rank, fwd.units}};
    else
      outputs = {{out_rank, node.output_width()}};
    if (node.return_state)
      for (int d = 0; d < D; ++d) outputs.push_back({2, fwd.units}), outputs.push_back({2, fwd.units});
    const std::optional<MaskSource> passed = node.return_sequences ? node.mask : std::nullopt;
    const int count = static_cast<int>(outputs.size());
    const int id = add_node(std::move(node), std::move(outputs));
    for (int k = 0; k < (model.nodes[id].merge == MergeMode::kNone && D == 2 ? 2 : 1); ++k) masks[{id, k}] = passed;
    bind_outputs(c, id, count);
  }

  void add_call(const Call& c) {
    const std::string& cls = c.class_name;
    const std::string module = c.entry->value("module", "");
    if (cls == "InputLayer") return add_input(c);
    if (module.rfind("keras.src.ops", 0) == 0 && (cls == "NotEqual" || cls == "Any")) return add_mask_op(c);
    if (cls == "Masking") return add_masking(c);
    if (cls == "LSTM") return add_lstm(c, false);
    if (cls == "Bidirectional") return add_lstm(c, true);
    if (cls == "Concatenate") return add_concatenate(c);
    if (kIdentityLayers.count(cls)) return add_identity(c);
    keras_unsupported(
        "{}: lstmrt runs InputLayer, Masking, LSTM, Bidirectional(LSTM), Concatenate and Dropout-like "
        "layers; cut the model at its LSTM outputs (keras.Model(model.inputs, lstm.output)) and apply "
        "other layers outside",
        c.where);
  }
};

std::vector<KerasTensor> references(const json& list, const std::string& where) {
  std::vector<KerasTensor> out;
  if (list.is_array() && !list.empty() && list[0].is_string()) {  // one tensor: a flat [layer, node, index]
    out.push_back(formats_detail::layer_reference(list, where));
    return out;
  }
  if (!list.is_array())
    keras_unsupported("{}: inputs or outputs given as {}: expected a list", where, list.dump().substr(0, 60));
  for (const json& item : list) out.push_back(formats_detail::layer_reference(item, where));
  return out;
}

std::string entry_where(const std::string& source, const json& entry) {
  return fmt::format("{}: layer '{}' ({})", source, Builder::layer_name(entry), entry.value("class_name", "?"));
}

// A Functional model: every layer's every application, in an order where each call's tensors
// exist (config order is such an order; calls that refer ahead are retried after the others).
// One entry of config["layers"] as a Call (its class, name and where errors point); refuses an
// entry that is not a layer with a config object.
Call layer_call(const Builder& b, const json& entry) {
  if (!entry.is_object() || !entry.contains("config") || !entry["config"].is_object())
    keras_bad("{}: a layer entry without a config object", b.source);
  Call c;
  c.entry = &entry;
  c.class_name = entry.value("class_name", "");
  c.name = Builder::layer_name(entry);
  c.where = entry_where(b.source, entry);
  return c;
}

void build_functional(Builder& b, const json& config) {
  const json& layers = config["layers"];
  std::vector<Call> pending;
  for (const json& entry : layers) {
    Call c = layer_call(b, entry);
    if (c.class_name == "InputLayer") {
      b.add_call(c);
      continue;
    }
    if (!entry.contains("inbound_nodes") || !entry["inbound_nodes"].is_array())
      keras_bad("{}: no inbound_nodes list", c.where);
    if (entry["inbound_nodes"].empty()) keras_unsupported("{}: never called in the model", c.where);
    int index = 0;
    for (const json& call : entry["inbound_nodes"]) {
      Call k = c;
      k.node = index++;
      if (index > 1) k.where += fmt::format(" call {}", k.node);
      if (!call.is_object() || !call.contains("args") || !call["args"].is_array())
        keras_bad("{}: an inbound node without an args list", k.where);
      k.args = &call["args"];
      k.kwargs = call.contains("kwargs") ? &call["kwargs"] : nullptr;
      pending.push_back(k);
    }
  }
  while (!pending.empty()) {
    std::vector<Call> later;
    for (const Call& c : pending) {
      if (b.ready(*c.args) && (!c.kwargs || b.ready(*c.kwargs)))
        b.add_call(c);
      else
        later.push_back(c);  // refers to a tensor of a call not built yet
    }
    if (later.size() == pending.size()) b.add_call(later.front());  // no progress: report the first
    pending = std::move(later);
  }
  for (const KerasTensor& t : references(config.value("input_layers", json::array()), b.source)) {
    const ValueRef v = b.value(t, b.source + ": model input");
    if (v.node >= 0) keras_unsupported("{}: model input {} is not an InputLayer", b.source, t.label());
  }
  // model.inputs order: the input_layers list, which may differ from the config's layer order.
  std::vector<ModelInput> ordered;
  std::vector<ValueInfo> ordered_info;
  std::vector<int> position(b.model.inputs.size(), -1);
  for (const KerasTensor& t : references(config.value("input_layers", json::array()), b.source)) {
    const int k = b.value(t, b.source).index;
    position[k] = static_cast<int>(ordered.size());
    ordered.push_back(b.model.inputs[k]);
    ordered_info.push_back(b.input_info[k]);
  }
  for (int p : position)
    if (p < 0) keras_unsupported("{}: an InputLayer that is not among the model's inputs", b.source);
  auto remap = [&](ValueRef& v) {
    if (v.node < 0) v.index = position[v.index];
  };
  for (ImportedNode& n : b.model.nodes) {
    for (ValueRef& v : n.inputs) remap(v);
    for (ValueRef& v : n.initial_state) remap(v);
    if (n.mask) remap(n.mask->sequence);
  }
  b.model.inputs = std::move(ordered);
  b.input_info = std::move(ordered_info);
  for (const KerasTensor& t : references(config.value("output_layers", json::array()), b.source)) {
    ValueRef v = b.value(t, b.source + ": model output");
    remap(v);
    b.model.outputs.push_back(v);
  }
}

// A Sequential model: each layer applied to the previous one's output, masks propagated as Keras
// propagates them.
void build_sequential(Builder& b, const json& config) {
  json previous = nullptr;  // the tensor reference the next layer takes
  std::string previous_name;
  for (const json& entry : config["layers"]) {
    Call c = layer_call(b, entry);
    if (c.name.empty()) keras_bad("{}: a layer without a name", c.where);
    if (previous.is_null() && c.class_name != "InputLayer") {  // no InputLayer entry: the layer's build_config
      json input = {{"module", "keras.layers"}, {"class_name", "InputLayer"}, {"config", {{"name", "input"}}}};
      if (entry.contains("build_config") && entry["build_config"].is_object() &&
          entry["build_config"].contains("input_shape"))
        input["config"]["batch_shape"] = entry["build_config"]["input_shape"];
      else
        keras_bad("{}: the input feature count is not in the config", c.where);
      Call in{&input, "InputLayer", "input", c.where};
      b.add_call(in);
      previous = json{{"class_name", "__keras_tensor__"}, {"config", {{"keras_history", {"input", 0, 0}}}}};
    }
    if (c.class_name == "InputLayer") {
      b.add_call(c);
    } else {
      json args = json::array({previous});
      c.args = &args;
      b.add_call(c);
    }
    previous = json{{"class_name", "__keras_tensor__"}, {"config", {{"keras_history", {c.name, 0, 0}}}}};
    previous_name = c.name;
  }
  if (previous.is_null()) keras_bad("{}: no layers", b.source);
  const ValueRef last = b.value(KerasTensor{previous_name, 0, 0}, b.source);
  const int count = last.node < 0 ? 1 : b.model.nodes[last.node].output_count();
  // Sequential returns the last layer's outputs as its call does: all of them (a list) or the one.
  for (int k = 0; k < count; ++k) b.model.outputs.push_back(ValueRef{last.node, k});
}

ImportedModel build(const json& root, const Hdf5File& h5, const std::string& source) {
  if (!root.is_object() || !root.contains("config") || !root["config"].is_object() ||
      !root["config"].contains("layers") || !root["config"]["layers"].is_array())
    keras_bad("{}: the config is not a Keras model (no config.layers list)", source);
  const std::string model_class = root.value("class_name", "");
  if (model_class != "Sequential" && model_class != "Functional" && model_class != "Model")
    keras_unsupported("{}: a {} model: expected Sequential or Functional", source, model_class);
  if (!h5.has_group("layers")) keras_bad("{}: no 'layers' group: not a Keras 3 weights file", h5.source());
  Builder b{h5, source, ImportedModel{}};
  b.model.format = "keras";
  b.model.source = source;
  b.assign_groups(root["config"]["layers"]);
  if (model_class == "Sequential")
    build_sequential(b, root["config"]);
  else
    build_functional(b, root["config"]);
  bool any_lstm = false;
  for (const ImportedNode& n : b.model.nodes) any_lstm = any_lstm || n.kind == NodeKind::kLstm;
  if (!any_lstm) keras_bad("{}: no LSTM or Bidirectional layer", source);
  if (b.model.outputs.empty()) keras_bad("{}: the model has no outputs", source);
  return b.model;
}

json parse_config(const std::uint8_t* data, std::size_t size, const std::string& source) {
  json root = json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) keras_bad("{}: not valid JSON", source);
  return root;
}

ImportedModel build_checked(const json& root, const Hdf5File& h5, const std::string& source) {
  try {
    return build(root, h5, source);
  } catch (const json::exception& e) {  // a field of the wrong JSON type (e.g. via .at())
    keras_bad("{}: unexpected config structure: {}", source, e.what());
  }
}

}  // namespace

int ImportedNode::output_count() const {
  if (kind != NodeKind::kLstm) return 1;
  const int D = desc.num_directions();
  return (merge == MergeMode::kNone && D == 2 ? 2 : 1) + (return_state ? 2 * D : 0);
}

int ImportedNode::output_width() const {
  const int d = desc.num_directions();
  return (d == 2 && merge != MergeMode::kConcat) ? desc.output_size() : d * desc.output_size();
}

int ImportedModel::last_lstm() const {
  for (int k = static_cast<int>(nodes.size()) - 1; k >= 0; --k)
    if (nodes[k].kind == NodeKind::kLstm) return k;
  return -1;
}

bool ImportedModel::is_chain() const {
  if (inputs.size() != 1 || inputs[0].rank != 3 || nodes.empty()) return false;
  ValueRef previous{-1, 0};
  for (std::size_t k = 0; k < nodes.size(); ++k) {
    const ImportedNode& n = nodes[k];
    if (n.kind == NodeKind::kConcatenate || n.inputs.size() != 1 || !(n.inputs[0] == previous) ||
        !n.initial_state.empty())
      return false;
    if (n.kind == NodeKind::kLstm && k + 1 < nodes.size() && !n.return_sequences) return false;
    previous = ValueRef{static_cast<int>(k), 0};
  }
  const int last = static_cast<int>(nodes.size()) - 1;
  if (nodes[last].kind != NodeKind::kLstm || outputs.empty()) return false;
  for (std::size_t k = 0; k < outputs.size(); ++k)
    if (!(outputs[k] == ValueRef{last, static_cast<int>(k)})) return false;
  return true;
}

int ImportedStage::output_width() const {
  const int d = desc.num_directions();
  return (d == 2 && merge != MergeMode::kConcat) ? desc.output_size() : d * desc.output_size();
}

ImportedChain chain_of(const ImportedModel& model) {
  if (!model.is_chain())
    keras_unsupported(
        "{}: not one chain of layers (several inputs, initial states from the graph, or a graph): run "
        "it with run_model",
        model.source);
  ImportedChain chain;
  chain.format = model.format;
  chain.source = model.source;
  std::optional<MaskSource> mask;
  for (std::size_t k = 0; k < model.nodes.size(); ++k) {
    const ImportedNode& n = model.nodes[k];
    if (n.kind == NodeKind::kMasking) {
      if (k != 0) keras_unsupported("{}: layer '{}': a Masking layer after the first layer", model.source, n.name);
      chain.masking = true;
      chain.mask_value = n.mask_value;
      mask = MaskSource{ValueRef{-1, 0}, n.mask_value};
    }
    if (n.kind != NodeKind::kLstm) continue;
    const bool same_mask = n.mask.has_value() == mask.has_value() &&
                           (!mask || (n.mask->sequence == mask->sequence && n.mask->value == mask->value));
    if (!same_mask)
      keras_unsupported("{}: layer '{}' takes a mask other than the leading Masking layer's", model.source, n.name);
    if (n.desc.num_directions() == 2 && n.merge == MergeMode::kNone)
      keras_unsupported("{}: layer '{}': Bidirectional with merge_mode=None has two outputs, not one stage's",
                        model.source, n.name);
    ImportedStage s;
    s.name = n.name;
    s.desc = n.desc;
    s.weights = n.weights;
    s.reverse_order = n.reverse_order;
    s.padding = n.padding;
    s.merge = n.merge;
    chain.stages.push_back(std::move(s));
    chain.return_sequences = n.return_sequences;
  }
  return chain;
}

bool is_keras_model_file(const std::string& path) {
  const FileFormat f = formats_detail::detect_format(path);
  return f == FileFormat::kKeras || f == FileFormat::kHdf5;
}

ImportedModel load_keras_model(const std::string& weights_h5, const std::string& config_json, Hdf5Reader reader) {
  formats_detail::choose_reader(weights_h5, {FileFormat::kHdf5}, "an HDF5 file (Keras .weights.h5)",
                                "Keras weights file");
  const std::vector<std::uint8_t> config = formats_detail::read_file_bytes(config_json, kMaxConfigBytes);
  const Hdf5File h5 = Hdf5File::open_path(weights_h5, reader);
  return build_checked(parse_config(config.data(), config.size(), config_json), h5, weights_h5);
}

ImportedModel load_keras_model(const std::string& path, Hdf5Reader reader) {
  const std::string config_json = keras_config_path(path);
  if (config_json.empty()) {  // a .keras archive
    const std::vector<std::uint8_t> config = formats_detail::read_zip_member(path, "config.json", kMaxConfigBytes);
    const std::vector<std::uint8_t> weights =
        formats_detail::read_zip_member(path, "model.weights.h5", kMaxWeightsBytes);
    const Hdf5File h5 = Hdf5File::open_image(weights, path + " member model.weights.h5", reader);
    return build_checked(parse_config(config.data(), config.size(), path + " member config.json"), h5, path);
  }
  return load_keras_model(path, config_json, reader);
}

std::string keras_config_path(const std::string& weights_h5) {
  const std::string& path = weights_h5;
  // An HDF5 file is a .weights.h5, its config beside it; a zip (or unrecognised content named
  // .keras, whose archive reader says what is wrong with it) a .keras archive holding its config.
  if (formats_detail::choose_reader(path, {FileFormat::kKeras, FileFormat::kHdf5}, kKerasFormats, "Keras model file") ==
      FileFormat::kKeras)
    return "";
  // m.weights.h5 -> m.config.json, else config.json in the same folder.
  std::string stem = formats_detail::ends_with(path, ".h5") ? path.substr(0, path.size() - 3) : path;
  if (formats_detail::ends_with(stem, ".weights")) stem.resize(stem.size() - 8);
  std::string config = stem + ".config.json";
  if (!std::filesystem::exists(config)) {
    const std::string dir = std::filesystem::path(path).parent_path().string();
    config = (dir.empty() ? std::string(".") : dir) + "/config.json";
    if (!std::filesystem::exists(config))
      keras_bad("{}: its Keras config was not found: expected {} or {} (model.to_json())", path, stem + ".config.json",
                config);
  }
  return config;
}

}  // namespace lstmrt
