// `lstmrt run` on a Keras model file (.keras / .weights.h5): the model fixes directions, output
// order, padding, merging and its wiring, so only the inputs, lengths and the backend come from
// the command line. Inputs are Keras's layout, (B, T, F) — (T, B, F) with --time-major — one
// --input per model input in model.inputs order; --h0/--c0 may feed the inputs that one LSTM takes
// as its initial_state. A chain of layers writes its first output as y (y_fwd and y_bwd for a
// Bidirectional with merge_mode=None) and its last layer's final states as h_n (D, B, H_out), c_n
// (D, B, H); any other model writes out0, out1, ... in the order of model.outputs.
#include <fmt/format.h>

#include "cli/commands.hpp"
#include "cli/run_files.hpp"
#include "common/check.hpp"
#include "lstmrt/import.hpp"
#include "lstmrt/io.hpp"
#include "lstmrt/keras_run.hpp"

namespace lstmrt::cli {
namespace {

std::string layout_text(TensorLayout layout) {
  return layout == TensorLayout::kBatchMajor ? "(B, T, F) batch-major, Keras's layout (--time-major for (T, B, F))"
                                             : "(T, B, F) time-major (--time-major)";
}

std::string expected_shape(const ModelInput& in, TensorLayout layout) {
  if (in.rank == 2) return fmt::format("(B, {})", in.width);
  return layout == TensorLayout::kBatchMajor ? fmt::format("(B, T, {})", in.width)
                                             : fmt::format("(T, B, {})", in.width);
}

// The LSTM node whose initial_state comes from model inputs only, for --h0/--c0.
const ImportedNode& state_node(const ImportedModel& model, const std::string& weights) {
  const ImportedNode* found = nullptr;
  for (const ImportedNode& n : model.nodes) {
    if (n.kind != NodeKind::kLstm || n.initial_state.empty()) continue;
    bool from_inputs = true;
    for (const ValueRef& v : n.initial_state) from_inputs = from_inputs && v.node < 0;
    if (!from_inputs) continue;
    if (found)
      detail::invalid(
          "--h0/--c0: layers '{}' and '{}' of {} both take initial states from model inputs: give every "
          "input with --input instead",
          found->name, n.name, weights);
    found = &n;
  }
  if (!found)
    detail::invalid(
        "--h0/--c0: no LSTM of {} takes its initial_state from model inputs (its initial states, if any, "
        "come from other layers)",
        weights);
  return *found;
}

void describe_model(const ImportedModel& m, TensorLayout layout, const BackendOptions& options, std::ostream& log) {
  log << fmt::format("lstmrt: keras model {}: {} input(s), {} layer(s), {} output(s), {}; layout {}; backend {}\n",
                     m.source, m.inputs.size(), m.nodes.size(), m.outputs.size(),
                     m.is_chain() ? "a chain (writes y, h_n, c_n)" : "a graph (writes out0, out1, ...)",
                     layout_text(layout), to_string(options.kind));
  for (std::size_t k = 0; k < m.inputs.size(); ++k)
    log << fmt::format("lstmrt:   input {} '{}': {}\n", k, m.inputs[k].name, expected_shape(m.inputs[k], layout));
  for (const ImportedNode& n : m.nodes)
    if (n.kind == NodeKind::kLstm)
      log << fmt::format("lstmrt:   layer '{}': {}{}{}{}\n", n.name, describe(n.desc), n.mask ? "; masked" : "",
                         n.initial_state.empty() ? "" : "; initial state from the graph",
                         n.return_sequences ? "" : "; last output");
}

}  // namespace

int run_imported_model(const RunOptions& o, std::ostream& log) {
  std::string config;  // the Keras config beside a .weights.h5 is an input too
  try {
    config = keras_config_path(o.weights);
  } catch (const Error& e) {
    throw Error(e.code(), fmt::format("--weights {}", e.what()));
  }
  check_output_path(o, {{"the Keras config of --weights", config}});
  ImportedModel model;
  try {
    model = load_keras_model(o.weights, Hdf5Reader::kChildProcess);  // a libhdf5 fault cannot crash the CLI
  } catch (const Error& e) {
    throw Error(e.code(), fmt::format("--weights {}", e.what()));
  }
  for (const auto& [flag, set] : {std::pair<const char*, bool>{"--reverse", o.reverse},
                                  {"--go-backwards", o.go_backwards},
                                  {"--padding", o.padding != "zero"}})
    if (set)
      detail::invalid(
          "{} does not apply to --weights {}: a Keras model sets directions, output order and padding "
          "itself",
          flag, o.weights);
  if (o.batch_first && o.time_major) detail::invalid("--batch-first and --time-major contradict each other");
  const TensorLayout layout = o.time_major ? TensorLayout::kTimeMajor : TensorLayout::kBatchMajor;
  const bool chain = model.is_chain();
  if (!chain && (o.sequences || o.state))
    detail::invalid(
        "--sequences/--state select y or h_n, c_n of a chain of layers; --weights {} is a graph whose "
        "outputs are all written as out0, out1, ...",
        o.weights);

  // Which model inputs --h0/--c0 feed (per direction: h, c), the rest come from --input in order.
  if (o.h0.empty() != o.c0.empty())
    detail::invalid("{} is given without {}: expected both initial states or neither", o.h0.empty() ? "--c0" : "--h0",
                    o.h0.empty() ? "--h0" : "--c0");
  std::vector<Array> arrays(model.inputs.size());
  std::vector<std::string> files(model.inputs.size());
  std::vector<bool> fed(model.inputs.size(), false);
  if (!o.h0.empty()) {
    const ImportedNode& n = state_node(model, o.weights);
    const int D = n.desc.num_directions(), H = n.desc.hidden_size;
    const Array h = load_npy(o.h0), c = load_npy(o.c0);
    for (const auto& [flag, a, path] :
         {std::tuple<const char*, const Array&, const std::string&>{"--h0", h, o.h0}, {"--c0", c, o.c0}})
      if (a.ndim() != 3 || a.shape[0] != D || a.shape[2] != H || a.shape[1] < 1)
        detail::invalid("{} {} has shape {} but expected (directions={}, B, H={}) for layer '{}' of {}", flag, path,
                        shape_string(a.shape), D, H, n.name, o.weights);
    const std::int64_t B = h.shape[1];
    if (c.shape[1] != B) detail::invalid("--c0 {} has batch {} but --h0 {} has {}", o.c0, c.shape[1], o.h0, B);
    const std::vector<float> hv = h.to_float32("--h0 " + o.h0), cv = c.to_float32("--c0 " + o.c0);
    for (int d = 0; d < D; ++d)
      for (int which = 0; which < 2; ++which) {
        const int input = n.initial_state[2 * d + which].index;
        const std::vector<float>& all = which == 0 ? hv : cv;
        const auto first = all.begin() + static_cast<std::ptrdiff_t>(d * B * H);
        arrays[input] = Array::from_float32({B, H}, std::vector<float>(first, first + B * H));
        files[input] = which == 0 ? "--h0 " + o.h0 : "--c0 " + o.c0;
        fed[input] = true;
      }
  }
  std::size_t wanted = 0;
  for (bool f : fed) wanted += f ? 0 : 1;
  if (o.inputs.size() != wanted) {
    std::string names;
    for (std::size_t k = 0; k < model.inputs.size(); ++k)
      if (!fed[k])
        names += fmt::format("{}'{}' {}", names.empty() ? "" : ", ", model.inputs[k].name,
                             expected_shape(model.inputs[k], layout));
    detail::invalid("--input is given {} time(s) but --weights {} takes {} input(s){}: {}", o.inputs.size(), o.weights,
                    wanted, o.h0.empty() ? "" : " besides --h0/--c0", names);
  }
  std::size_t next = 0;
  for (std::size_t k = 0; k < model.inputs.size(); ++k) {
    if (fed[k]) continue;
    files[k] = "--input " + o.inputs[next];
    arrays[k] = load_npy(o.inputs[next++]);
  }
  std::vector<std::vector<float>> values(model.inputs.size());
  std::vector<HostTensorView> views(model.inputs.size());
  for (std::size_t k = 0; k < model.inputs.size(); ++k) {
    const ModelInput& in = model.inputs[k];
    const Array& a = arrays[k];
    if (a.ndim() != in.rank || a.shape.back() != in.width)
      detail::invalid("{} has shape {} but expected {} for input {} '{}' of {} (layout {})", files[k],
                      shape_string(a.shape), expected_shape(in, layout), k, in.name, o.weights, layout_text(layout));
    values[k] = a.to_float32(files[k]);
    views[k] = {a.shape, values[k].data()};
  }
  std::vector<std::int32_t> lengths;
  if (!o.lengths.empty()) {
    const Array l = load_npy(o.lengths);
    const std::int64_t B = views[0].shape[layout == TensorLayout::kBatchMajor || views[0].shape.size() == 2 ? 0 : 1];
    if (l.shape != std::vector<std::int64_t>{B})
      detail::invalid("--lengths {} has shape {} but expected (B={},)", o.lengths, shape_string(l.shape), B);
    lengths = l.to_int32("--lengths " + o.lengths);
  }
  BackendOptions options;
  options.kind = backend_from_string(o.backend);
  options.fused_kernel = fused_kernel_from_string(o.fused_kernel);
  if (o.verbose) describe_model(model, layout, options, log);
  // T and B from the first sequence input (the others are checked against them by run_model).
  int T = 1, B = static_cast<int>(views[0].shape[0]);
  for (const HostTensorView& v : views)
    if (v.shape.size() == 3) {
      const bool batch_major = layout == TensorLayout::kBatchMajor;
      T = static_cast<int>(v.shape[batch_major ? 1 : 0]);
      B = static_cast<int>(v.shape[batch_major ? 0 : 1]);
      break;
    }
  check_host_memory(o, fmt::format("--input {} (T={}, B={}) with --weights {}", o.inputs.front(), T, B, o.weights),
                    model_memory_needs(model, options, T, B));
  const ModelOutputs out = run_model(model, options, layout, views, lengths.empty() ? nullptr : lengths.data());

  ArrayViewMap written;  // written from `out` itself: no copy of the outputs
  auto add = [&](const std::string& name, const HostTensor& t) {
    written[name] = ArrayView::of_float32(t.shape, t.values);
  };
  if (chain) {
    const ImportedNode& last = model.nodes[model.last_lstm()];
    const bool split = last.desc.num_directions() == 2 && last.merge == MergeMode::kNone;
    if (o.sequences || !o.state) {
      if (split) {
        add("y_fwd", out.outputs.at(0));
        add("y_bwd", out.outputs.at(1));
      } else {
        add("y", out.outputs.at(0));
      }
    }
    if (o.state || !o.sequences) add("h_n", out.h_n), add("c_n", out.c_n);
  } else {
    for (std::size_t k = 0; k < out.outputs.size(); ++k) add(fmt::format("out{}", k), out.outputs[k]);
  }
  write_outputs(o, written, log);
  return 0;
}

}  // namespace lstmrt::cli
