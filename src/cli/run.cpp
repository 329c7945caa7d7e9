// `lstmrt run`: an LSTM over .npy/.npz files. Every input is read and checked (file, dtype,
// shape, values) before anything runs, and OUT.npz is written atomically at the very end, so a
// failed command leaves no output file.
#include <CLI/CLI.hpp>

#include <limits>
#include <utility>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "cli/run_files.hpp"
#include "common/check.hpp"
#include "lstmrt/import.hpp"
#include "lstmrt/io.hpp"
#include "lstmrt/lstm.hpp"

namespace lstmrt::cli {
namespace {

// Runs `fn`; an lstmrt::Error it throws is rethrown with "OPTION " in front, keeping its code.
template <typename Fn>
auto for_option(const std::string& option, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const Error& e) {
    throw Error(e.code(), fmt::format("{} {}", option, e.what()));
  }
}

Array load_option_npy(const std::string& option, const std::string& path) {
  return for_option(option, [&] { return load_npy(path); });
}

// "(T, B, input_size=4)" etc.: the expected shape, with the known sizes filled in.
[[noreturn]] void bad_shape(const std::string& option, const std::string& path, const Array& a,
                            const std::string& expected) {
  detail::invalid("{} {} has shape {} but expected {}", option, path, shape_string(a.shape), expected);
}

int checked_dim(std::int64_t v, const std::string& what, const std::string& option, const std::string& path) {
  if (v < 1 || v > std::numeric_limits<int>::max())
    detail::invalid("{} {} has {} = {}: expected 1..{}", option, path, what, v, std::numeric_limits<int>::max());
  return static_cast<int>(v);
}

PaddingMode padding_from_string(const std::string& s) {
  if (s == "zero") return PaddingMode::kZero;
  if (s == "carry") return PaddingMode::kCarryLast;
  detail::invalid("--padding {}: expected zero or carry", s);
}

}  // namespace

CLI::App* add_run_command(CLI::App& app, RunOptions& o) {
  CLI::App* run = app.add_subcommand("run", "run an LSTM over .npy input, writing y, h_n, c_n to an .npz");
  run->add_option("--weights", o.weights,
                  "model file, recognised by its content: .npz of PyTorch, Keras or ONNX names; PyTorch "
                  ".safetensors; .onnx (a stack of LSTM nodes); Keras .keras, or .weights.h5 with its config.json")
      ->required();
  run->add_option("--input", o.inputs,
                  "x .npy, float32 or float16 (T, B, I), or (B, T, I) with --batch-first; a Keras model takes "
                  "(B, T, I) (Keras's layout; --time-major for (T, B, I)) and, with several inputs, --input repeated "
                  "in the order of model.inputs")
      ->required();
  run->add_option("--output", o.output,
                  "output .npz (float32): y, h_n, c_n; for a Keras Bidirectional with merge_mode=None y_fwd and y_bwd "
                  "instead of y; for a Keras model that is not one chain of layers (several inputs, initial states "
                  "from other layers, a graph) out0, out1, ... in the order of model.outputs. A regular file is "
                  "replaced atomically, a device or pipe (/dev/stdout) written directly, a symbolic link followed")
      ->required();
  run->add_flag("--batch-first", o.batch_first,
                "x and y are (B, T, ...) instead of (T, B, ...); implied by an ONNX model with layout=1 and the "
                "default for Keras models");
  run->add_flag("--time-major", o.time_major,
                "x and y are (T, B, ...): the default except for Keras models and ONNX layout=1 models");
  run->add_option("--lengths", o.lengths, "per-row lengths .npy, integers (B,), each in 0..T");
  run->add_option("--h0", o.h0,
                  "initial h .npy (layers*dirs, B, H_out); needs --c0. A Keras model whose LSTM takes initial_state "
                  "from model inputs: (dirs, B, H) feeding those inputs");
  run->add_option("--c0", o.c0, "initial c .npy (layers*dirs, B, H); needs --h0 (Keras models: as --h0)");
  run->add_option("--backend", o.backend, "reference | cudnn | fused | auto")
      ->check(CLI::IsMember({"reference", "cudnn", "fused", "auto"}))
      ->capture_default_str();
  run->add_option("--fused-kernel", o.fused_kernel,
                  "fused backend's kernels: auto | stepwise | persistent | cluster (a persistent choice that "
                  "cannot serve falls back to stepwise; -v prints what runs)")
      ->check(CLI::IsMember({"auto", "stepwise", "persistent", "cluster"}))
      ->capture_default_str();
  run->add_flag("--sequences", o.sequences, "write y (return_sequences); with neither flag, both are written");
  run->add_flag("--state", o.state, "write h_n and c_n (return_state)");
  run->add_option("--padding", o.padding, "padded y positions: zero, or carry (Keras: repeat the last output)")
      ->check(CLI::IsMember({"zero", "carry"}))
      ->capture_default_str();
  run->add_flag("--reverse", o.reverse, "run one-direction weights as a reverse layer (ONNX direction=reverse)");
  run->add_flag("--go-backwards", o.go_backwards,
                "Keras go_backwards: one reverse layer, y in processing (reversed) order");
  run->add_option("--memory-limit", o.memory_limit,
                  "refuse a run whose outputs and working memory need more host memory than this (e.g. 8G); "
                  "default: the memory available now");
  run->add_flag("-v,--verbose", o.verbose, "describe the model, shapes and backend on stderr");
  run->add_flag("-q,--quiet", o.quiet, "no summary line on stderr after a successful run");
  run->footer(kExitCodes);
  return run;
}

int run_command(const RunOptions& o, std::ostream& log) {
  if (for_option("--weights", [&] { return is_keras_model_file(o.weights); }))
    return run_imported_model(o, log);  // a chain or graph of layers
  check_output_path(o);
  if (o.inputs.size() != 1)
    detail::invalid("--input is given {} times: --weights {} takes one input (several are for Keras models)",
                    o.inputs.size(), o.weights);
  if (o.batch_first && o.time_major) detail::invalid("--batch-first and --time-major contradict each other");
  const std::string& input = o.inputs.front();
  LoadedWeights loaded = for_option("--weights", [&] { return load_weights(o.weights); });
  ModelDesc desc = loaded.desc;
  // An ONNX model with layout=1 fixes x as batch-major: its --input is (B, T, I), flag or not.
  if (o.time_major && loaded.input_layout == TensorLayout::kBatchMajor)
    detail::invalid("--time-major: --weights {} is an ONNX model with layout=1, whose x is (B, T, I)", o.weights);
  const bool batch_first = o.batch_first || loaded.input_layout == TensorLayout::kBatchMajor;
  if (o.reverse || o.go_backwards) {
    const char* flag = o.go_backwards ? "--go-backwards" : "--reverse";
    if (desc.direction != Direction::kForward)
      detail::invalid("{} needs one-direction weights but --weights {} is {}", flag, o.weights,
                      to_string(desc.direction));
    if (o.go_backwards && desc.num_layers != 1)
      detail::invalid(
          "--go-backwards needs a one-layer model (Keras go_backwards is per layer) but --weights {} has {} "
          "layers",
          o.weights, desc.num_layers);
    desc.direction = Direction::kReverse;
  }
  const int L = desc.num_layers, D = desc.num_directions(), H = desc.hidden_size, H_out = desc.output_size();

  // x: (T, B, I) or (B, T, I).
  Array x = load_option_npy("--input", input);
  const std::string x_layout = batch_first ? "(B, T, " : "(T, B, ";
  if (x.ndim() != 3 || x.shape[2] != desc.input_size)
    bad_shape("--input", input, x,
              fmt::format("3 dimensions {}input_size={}) for the weights in {}", x_layout, desc.input_size, o.weights));
  const int T = checked_dim(x.shape[batch_first ? 1 : 0], "T (steps)", "--input", input);
  const int B = checked_dim(x.shape[batch_first ? 0 : 1], "B (batch)", "--input", input);
  const std::vector<float> x_values = x.to_float32("--input " + input);
  const std::vector<std::int64_t> x_shape = x.shape;
  x = Array{};  // the file's bytes are no longer needed

  std::vector<std::int32_t> lengths;
  if (!o.lengths.empty()) {
    const Array l = load_option_npy("--lengths", o.lengths);
    if (l.shape != std::vector<std::int64_t>{B}) bad_shape("--lengths", o.lengths, l, fmt::format("(B={},)", B));
    lengths = l.to_int32("--lengths " + o.lengths);
    for (int b = 0; b < B; ++b)
      if (lengths[b] < 0 || lengths[b] > T)
        detail::invalid("--lengths {} has value {} at index {}: expected 0..T={}", o.lengths, lengths[b], b, T);
  }

  std::vector<float> h0, c0;
  if (o.h0.empty() != o.c0.empty())
    detail::invalid("{} is given without {}: expected both initial states or neither", o.h0.empty() ? "--c0" : "--h0",
                    o.h0.empty() ? "--h0" : "--c0");
  if (!o.h0.empty()) {
    const Array h = load_option_npy("--h0", o.h0), c = load_option_npy("--c0", o.c0);
    if (h.shape != std::vector<std::int64_t>{L * D, B, H_out})
      bad_shape("--h0", o.h0, h, fmt::format("(layers*dirs={}, B={}, H_out={})", L * D, B, H_out));
    if (c.shape != std::vector<std::int64_t>{L * D, B, H})
      bad_shape("--c0", o.c0, c, fmt::format("(layers*dirs={}, B={}, H={})", L * D, B, H));
    h0 = h.to_float32("--h0 " + o.h0);
    c0 = c.to_float32("--c0 " + o.c0);
  }

  BackendOptions options;
  options.kind = backend_from_string(o.backend);
  options.fused_kernel = fused_kernel_from_string(o.fused_kernel);
  Lstm lstm = for_option("--backend " + o.backend + ":", [&] { return Lstm::create(desc, loaded.weights, options); });
  const bool want_y = o.sequences || !o.state, want_state = o.state || !o.sequences;
  const std::int64_t T64 = T, B64 = B, C = static_cast<std::int64_t>(D) * H_out;
  const std::vector<std::int64_t> y_shape =
      batch_first ? std::vector<std::int64_t>{B64, T64, C} : std::vector<std::int64_t>{T64, B64, C};
  const std::vector<std::int64_t> h_shape{L * D, B64, H_out}, c_shape{L * D, B64, H};
  if (o.verbose)
    log << fmt::format(
        "lstmrt: {} weights, {}; backend {}; T={} B={}; layout {}\nlstmrt: --input {} {} read as {}; "
        "writes{}{}\nlstmrt: {}\n",
        loaded.format, describe(desc), lstm.backend_name(), T, B,
        !batch_first    ? "(T, B, I) time-major"
        : o.batch_first ? "(B, T, I) batch-first (--batch-first)"
                        : "(B, T, I) batch-first (the ONNX model's layout=1)",
        input, shape_string(x_shape),
        batch_first ? fmt::format("(B={}, T={}, I={})", B, T, desc.input_size)
                    : fmt::format("(T={}, B={}, I={})", T, B, desc.input_size),
        want_y ? fmt::format(" y {}", shape_string(y_shape)) : "",
        want_state ? fmt::format(" h_n {} c_n {}", shape_string(h_shape), shape_string(c_shape)) : "",
        lstm.execution_plan(T, B));
  check_host_memory(o, fmt::format("--input {} (T={}, B={}) with --weights {}", input, T, B, o.weights),
                    {{fmt::format("y {}", shape_string(y_shape)), want_y ? float32_bytes(y_shape) : 0},
                     {"h_n and c_n", want_state ? float32_bytes(h_shape) + float32_bytes(c_shape) : 0},
                     {fmt::format("{} backend working memory", lstm.backend_name()), lstm.host_workspace_size(T, B)}});

  std::vector<float> y, h_n, c_n;
  ForwardRequest req;
  req.seq_len = T;
  req.batch = B;
  req.layout = batch_first ? TensorLayout::kBatchMajor : TensorLayout::kTimeMajor;
  req.x = x_values.data();
  req.lengths = lengths.empty() ? nullptr : lengths.data();
  req.h0 = h0.empty() ? nullptr : h0.data();
  req.c0 = c0.empty() ? nullptr : c0.data();
  req.padding = padding_from_string(o.padding);
  req.reverse_order = o.go_backwards ? ReverseOutputOrder::kProcessing : ReverseOutputOrder::kOriginal;
  if (want_y) y.resize(T64 * B64 * C), req.y = y.data();
  if (want_state)
    h_n.resize(L * D * B64 * H_out), c_n.resize(L * D * B64 * H), req.h_n = h_n.data(), req.c_n = c_n.data();
  for_option("--backend " + lstm.backend_name() + ":", [&] { lstm.forward_host(req); });

  ArrayViewMap out;  // written from y, h_n, c_n themselves: no copy of the outputs
  if (want_y) out["y"] = ArrayView::of_float32(y_shape, y);
  if (want_state) {
    out["h_n"] = ArrayView::of_float32(h_shape, h_n);
    out["c_n"] = ArrayView::of_float32(c_shape, c_n);
  }
  write_outputs(o, out, log);
  return 0;
}

}  // namespace lstmrt::cli
