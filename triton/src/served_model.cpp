#include "served_model.hpp"

#include <fmt/format.h>

#include "lstmrt/error.hpp"
#include "triton_types.hpp"

namespace lstmrt::serving {
namespace {

[[noreturn]] void bad(const ServingConfig& c, const std::string& what) {
  throw Error(ErrorCode::kInvalidArgument, fmt::format("model '{}': {}", c.model_name, what));
}

std::string dims_string(const std::vector<std::int64_t>& dims) {
  std::string s = "[";
  for (std::size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + "]";
}

// `expected` holds the sizes after the batch dimension (-1 = any). With max_batch_size 0 the
// config's dims carry the batch dimension in front.
void check_dims(const ServingConfig& c, const TensorConfig& t, const std::vector<std::int64_t>& expected,
                const std::string& meaning) {
  std::vector<std::int64_t> want = expected;
  if (!c.batching()) want.insert(want.begin(), -1);
  bool ok = t.dims.size() == want.size();
  for (std::size_t i = 0; ok && i < want.size(); ++i) ok = t.dims[i] == -1 || want[i] == -1 || t.dims[i] == want[i];
  for (std::size_t i = 0; ok && i < want.size(); ++i) ok = want[i] != -1 || t.dims[i] == -1 || t.dims[i] > 0;
  if (!ok)
    bad(c, fmt::format("tensor '{}' has dims {}: expected {} ({}{}; -1 = any)", t.name, dims_string(t.dims),
                       dims_string(want), meaning,
                       c.batching() ? ", batch dimension left out as max_batch_size > 0"
                                    : ", batch dimension included as max_batch_size is 0"));
}

void check_type(const ServingConfig& c, const TensorConfig& t, DataType expected) {
  if (t.type != expected)
    bad(c, fmt::format("tensor '{}' is {}: expected TYPE_{} (parameter dtype {})", t.name, t.type_name,
                       triton_name(expected), lstmrt::to_string(c.options.data_type)));
}

}  // namespace

StageGeometry stage_geometry(const ImportedStage& stage, int input_width) {
  StageGeometry g;
  const ModelDesc& d = stage.desc;
  g.input_width = input_width;
  g.directions = d.num_directions();
  g.state_rows = d.num_layers * g.directions;
  g.hidden = d.hidden_size;
  g.hidden_out = d.output_size();
  g.y_width = g.directions * g.hidden_out;
  g.output_width = stage.output_width();
  g.merges = g.directions == 2 && stage.merge != MergeMode::kConcat;
  return g;
}

ServedModel load_served_model(const std::string& path) {
  ServedModel s;
  if (is_keras_model_file(path)) {
    s.model = chain_of(load_keras_model(path));
  } else {
    LoadedWeights w = load_weights(path);
    ImportedStage stage;
    stage.name = w.format;
    stage.desc = w.desc;
    stage.weights = std::move(w.weights);
    s.model.format = w.format;
    s.model.source = path;
    s.model.stages.push_back(std::move(stage));
  }
  if (s.model.stages.empty()) throw Error(ErrorCode::kIoError, fmt::format("{}: the model has no LSTM layers", path));
  int width = s.model.stages.front().desc.input_size;
  for (const ImportedStage& stage : s.model.stages) {
    if (stage.desc.input_size != width)
      throw Error(ErrorCode::kIoError, fmt::format("{}: stage '{}' takes input width {} but receives {}", path,
                                                   stage.name, stage.desc.input_size, width));
    s.stages.push_back(stage_geometry(stage, width));
    width = s.stages.back().output_width;
  }
  return s;
}

std::string ServedModel::describe() const {
  std::string out = fmt::format("{} ({}): {} stage(s), {}{}", model.source, model.format, stages.size(),
                                model.return_sequences ? "return_sequences" : "last output only",
                                model.masking ? fmt::format(", masking value {}", model.mask_value) : "");
  for (const ImportedStage& st : model.stages) out += fmt::format("; {}: {}", st.name, lstmrt::describe(st.desc));
  return out;
}

void check_tensors(const ServingConfig& c, const ServedModel& s) {
  const DataType data = c.options.data_type;
  const StageGeometry& first = s.stages.front();
  const StageGeometry& last = s.last();
  for (const auto& [name, t] : c.inputs) {
    if (name == "x") {
      check_type(c, t, data);
      check_dims(c, t, {-1, s.input_size()}, fmt::format("T steps of input_size {}", s.input_size()));
    } else if (name == "lengths") {
      if (t.type != DataType::kInt32 && t.type != DataType::kInt64)
        bad(c, fmt::format("tensor 'lengths' is {}: expected TYPE_INT32 or TYPE_INT64", t.type_name));
      // Batched: dims [1] (the client sends (B, 1); with reshape { shape: [ ] } the backend sees
      // (B)). Unbatched: dims [N] or [-1]. Either way one length per row.
      const bool one = t.dims.size() == 1 && (c.batching() ? t.dims[0] == 1 : (t.dims[0] == -1 || t.dims[0] > 0));
      if (!one)
        bad(c, fmt::format("tensor 'lengths' has dims {}: expected {} (one length per batch row)", dims_string(t.dims),
                           c.batching() ? "[1] (with reshape: { shape: [ ] })" : "[-1]"));
    } else if (name == "h0" || name == "c0") {
      if (s.stages.size() != 1)
        bad(c, fmt::format("input '{}': the model has {} stages; initial states are taken by one-stage models only",
                           name, s.stages.size()));
      check_type(c, t, data);
      const int width = name == "h0" ? first.hidden_out : first.hidden;
      check_dims(c, t, {first.state_rows, width}, fmt::format("L·D = {} rows of {}", first.state_rows, width));
    } else {
      bad(c, fmt::format("unknown input '{}': expected x, lengths, h0 or c0", name));
    }
  }
  if (!c.input("x")) bad(c, "no input 'x': expected input { name: \"x\" ... } holding (T, input_size) per row");
  for (const auto& [name, t] : c.outputs) {
    if (name == "y") {
      check_type(c, t, data);
      if (s.model.return_sequences)
        check_dims(c, t, {-1, s.output_width()}, fmt::format("T steps of width {}", s.output_width()));
      else
        check_dims(c, t, {s.output_width()},
                   fmt::format("the last output, width {} (the model does not return sequences)", s.output_width()));
    } else if (name == "h_n" || name == "c_n") {
      check_type(c, t, data);
      const int width = name == "h_n" ? last.hidden_out : last.hidden;
      check_dims(c, t, {last.state_rows, width}, fmt::format("L·D = {} rows of {}", last.state_rows, width));
    } else {
      bad(c, fmt::format("unknown output '{}': expected y, h_n or c_n", name));
    }
  }
  if (c.outputs.empty()) bad(c, "no outputs: expected at least one of y, h_n, c_n");
  // A sequence served request by request equals the whole sequence only when no step depends on
  // later steps.
  if (c.sequence.enabled)
    for (const ImportedStage& st : s.model.stages)
      if (st.desc.direction != Direction::kForward)
        bad(c, fmt::format("sequence_batching: stage '{}' is {}: a sequence served request by request needs "
                           "forward-only layers (a reverse direction depends on steps not yet sent)",
                           st.name, lstmrt::to_string(st.desc.direction)));
}

}  // namespace lstmrt::serving
