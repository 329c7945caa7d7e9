// `lstmrt run` on a model file that is a chain of stages (Keras .keras / .weights.h5): the model
// fixes directions, output order, padding and merging, so only x, lengths and the backend come
// from the command line. Writes the model's first output as y and the last layer's final states
// as h_n (D, B, H_out), c_n (D, B, H).
#include <fmt/format.h>

#include "cli/commands.hpp"
#include "cli/run_files.hpp"
#include "common/check.hpp"
#include "lstmrt/import.hpp"

namespace lstmrt::cli {

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
  for (const auto& [flag, set] : {std::pair<const char*, bool>{"--h0/--c0", !o.h0.empty() || !o.c0.empty()},
                                  {"--reverse", o.reverse},
                                  {"--go-backwards", o.go_backwards},
                                  {"--padding", o.padding != "zero"}})
    if (set)
      detail::invalid("{} does not apply to --weights {}: a Keras model sets directions, output order and padding "
                      "itself",
                      flag, o.weights);
  const int I = model.stages.front().desc.input_size;
  Array x = load_npy(o.input);
  if (x.ndim() != 3 || x.shape[2] != I || x.shape[0] < 1 || x.shape[1] < 1 || x.shape[0] > (1 << 30) ||
      x.shape[1] > (1 << 30))
    detail::invalid("--input {} has shape {} but expected 3 dimensions {}input_size={}) for {}", o.input,
                    shape_string(x.shape), o.batch_first ? "(B, T, " : "(T, B, ", I, o.weights);
  const int T = static_cast<int>(x.shape[o.batch_first ? 1 : 0]), B = static_cast<int>(x.shape[o.batch_first ? 0 : 1]);
  const std::vector<float> xv = x.to_float32("--input " + o.input);
  x = Array{};  // the file's bytes are no longer needed
  std::vector<std::int32_t> lengths;
  if (!o.lengths.empty()) {
    const Array l = load_npy(o.lengths);
    if (l.shape != std::vector<std::int64_t>{B})
      detail::invalid("--lengths {} has shape {} but expected (B={},)", o.lengths, shape_string(l.shape), B);
    lengths = l.to_int32("--lengths " + o.lengths);
  }
  BackendOptions options;
  options.kind = backend_from_string(o.backend);
  options.fused_kernel = fused_kernel_from_string(o.fused_kernel);
  if (o.verbose) log << fmt::format("lstmrt: keras model {}: {} stages; T={} B={}\n", o.weights, model.stages.size(), T, B);
  check_host_memory(o, fmt::format("--input {} (T={}, B={}) with --weights {}", o.input, T, B, o.weights),
                    model_memory_needs(model, options, T, B));
  const ModelOutputs out = run_model(model, options, T, B, o.batch_first ? TensorLayout::kBatchMajor : TensorLayout::kTimeMajor,
                                     xv.data(), lengths.empty() ? nullptr : lengths.data());
  ArrayViewMap files;  // written from `out` itself: no copy of the outputs
  if (o.sequences || !o.state) files["y"] = ArrayView::of_float32(out.y_shape, out.y);
  if (o.state || !o.sequences) {
    files["h_n"] = ArrayView::of_float32(out.h_n_shape, out.h_n);
    files["c_n"] = ArrayView::of_float32(out.c_n_shape, out.c_n);
  }
  write_outputs(o, files, log);
  return 0;
}

}  // namespace lstmrt::cli
