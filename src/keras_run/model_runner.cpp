// Runs an ImportedModel (include/lstmrt/import.hpp) on the host: its nodes in order, each LSTM
// node one lstmrt Lstm over its input sequence with the node's mask, initial state, padding and
// output order; values kept in the request's layout. Keras's conventions for what a layer returns:
// the sequence (merged, or split for merge_mode None) or its last output — the output at the
// last processing step, which with zero_output_for_mask is zero for a row whose last step is
// masked — then the final states per direction.
#include <algorithm>

#include "common/check.hpp"
#include "lstmrt/keras_run.hpp"

namespace lstmrt {
namespace {

// A value of the graph: a sequence (rank 3, T steps, in the run's layout) or (N, width).
struct Value {
  int rank = 3, steps = 0, width = 0;
  std::vector<float> data;
};

struct Run {
  const ImportedModel& model;
  const BackendOptions& options;
  TensorLayout layout;
  int batch = 0;
  std::vector<Value> inputs;
  std::vector<std::vector<Value>> nodes;
  std::vector<std::uint8_t> chain_mask;  // (N, T) from `lengths` (chain models), else empty

  const Value& value(const ValueRef& v) const { return v.node < 0 ? inputs.at(v.index) : nodes.at(v.node).at(v.index); }

  // Row-major offset of step t of row b in a (T, N, ·) / (N, T, ·) sequence, in vectors.
  std::size_t vector_index(int t, int b, int steps) const {
    return layout == TensorLayout::kTimeMajor ? static_cast<std::size_t>(t) * batch + b
                                              : static_cast<std::size_t>(b) * steps + t;
  }

  // Keras's mask any(x[b, t, :] != value): (N, T) bytes.
  std::vector<std::uint8_t> mask_bytes(const MaskSource& m, int steps, const std::string& where) const {
    const Value& x = value(m.sequence);
    if (x.rank != 3 || x.steps != steps)
      detail::invalid("{}: its mask comes from a sequence of {} steps, its input has {}", where, x.steps, steps);
    std::vector<std::uint8_t> mask(static_cast<std::size_t>(batch) * steps, 0);
    for (int b = 0; b < batch; ++b)
      for (int t = 0; t < steps; ++t) {
        const float* v = x.data.data() + vector_index(t, b, steps) * x.width;
        bool valid = false;
        for (int f = 0; f < x.width && !valid; ++f) valid = v[f] != m.value;
        mask[static_cast<std::size_t>(b) * steps + t] = valid;
      }
    return mask;
  }

  Value masking(const ImportedNode& n) const {
    Value out = value(n.inputs[0]);
    for (int b = 0; b < batch; ++b)
      for (int t = 0; t < out.steps; ++t) {
        float* v = out.data.data() + vector_index(t, b, out.steps) * out.width;
        bool valid = false;
        for (int f = 0; f < out.width && !valid; ++f) valid = v[f] != n.mask_value;
        if (!valid) std::fill(v, v + out.width, 0.0f);  // Keras: inputs · mask
      }
    return out;
  }

  Value concatenate(const ImportedNode& n) const {
    Value out;
    out.rank = value(n.inputs[0]).rank;
    out.steps = value(n.inputs[0]).steps;
    for (const ValueRef& r : n.inputs) {
      if (value(r).steps != out.steps)
        detail::invalid("{}: concatenates sequences of {} and {} steps", n.name, out.steps, value(r).steps);
      out.width += value(r).width;
    }
    const std::size_t vectors = out.rank == 3 ? static_cast<std::size_t>(out.steps) * batch : batch;
    out.data.resize(vectors * out.width);
    int at = 0;
    for (const ValueRef& r : n.inputs) {
      const Value& part = value(r);
      for (std::size_t v = 0; v < vectors; ++v)
        std::copy_n(part.data.data() + v * part.width, part.width, out.data.data() + v * out.width + at);
      at += part.width;
    }
    return out;
  }

  // rows × (2·H) with halves [forward | reverse] → rows × H merged elementwise.
  static std::vector<float> merged(MergeMode mode, const std::vector<float>& v, std::size_t rows, int H) {
    std::vector<float> out(rows * H);
    for (std::size_t r = 0; r < rows; ++r)
      for (int h = 0; h < H; ++h) {
        const float a = v[r * 2 * H + h], b = v[r * 2 * H + H + h];
        out[r * H + h] = mode == MergeMode::kSum ? a + b : mode == MergeMode::kAverage ? 0.5f * (a + b) : a * b;
      }
    return out;
  }
  // rows × (2·H) → the half `d` (rows × H).
  static std::vector<float> half(const std::vector<float>& v, std::size_t rows, int H, int d) {
    std::vector<float> out(rows * H);
    for (std::size_t r = 0; r < rows; ++r) std::copy_n(v.data() + r * 2 * H + d * H, H, out.data() + r * H);
    return out;
  }

  std::vector<Value> lstm(const ImportedNode& n) const {
    const Value& x = value(n.inputs[0]);
    const int T = x.steps, N = batch, D = n.desc.num_directions(), Ho = n.desc.output_size(), H = n.desc.hidden_size;
    std::vector<std::uint8_t> mask;
    if (n.mask)
      mask = mask_bytes(*n.mask, T, n.name);
    else if (!chain_mask.empty())
      mask = chain_mask;
    std::vector<float> h0, c0;
    if (!n.initial_state.empty()) {  // Keras order: h, c per direction
      h0.resize(static_cast<std::size_t>(D) * N * Ho);
      c0.resize(static_cast<std::size_t>(D) * N * H);
      for (int d = 0; d < D; ++d) {
        const Value& h = value(n.initial_state[2 * d]);
        const Value& c = value(n.initial_state[2 * d + 1]);
        std::copy(h.data.begin(), h.data.end(), h0.begin() + static_cast<std::size_t>(d) * N * Ho);
        std::copy(c.data.begin(), c.data.end(), c0.begin() + static_cast<std::size_t>(d) * N * H);
      }
    }
    const std::size_t steps = static_cast<std::size_t>(T) * N;
    std::vector<float> y(steps * D * Ho), h_n(static_cast<std::size_t>(D) * N * Ho),
        c_n(static_cast<std::size_t>(D) * N * H);
    ForwardRequest req;
    req.seq_len = T;
    req.batch = N;
    req.layout = layout;
    req.x = x.data.data();
    req.mask = mask.empty() ? nullptr : mask.data();
    req.h0 = h0.empty() ? nullptr : h0.data();
    req.c0 = c0.empty() ? nullptr : c0.data();
    req.y = y.data();
    req.h_n = h_n.data();
    req.c_n = c_n.data();
    req.padding = n.padding;
    req.reverse_order = n.reverse_order;
    Lstm lstm = Lstm::create(n.desc, n.weights, options);
    lstm.forward_host(req);

    // The output: the sequence, or each direction's output at its last processing step (the
    // forward half's at T−1; a reverse half's at 0 in original order, at T−1 in processing order).
    std::vector<float> out = std::move(y);
    std::size_t rows = steps;
    if (!n.return_sequences) {
      std::vector<float> last(static_cast<std::size_t>(N) * D * Ho);
      for (int b = 0; b < N; ++b)
        for (int d = 0; d < D; ++d) {
          const bool at_start = n.desc.is_reverse_slot(d) && n.reverse_order == ReverseOutputOrder::kOriginal;
          const float* src = out.data() + vector_index(at_start ? 0 : T - 1, b, T) * D * Ho + d * Ho;
          std::copy_n(src, Ho, last.data() + (static_cast<std::size_t>(b) * D + d) * Ho);
        }
      out = std::move(last);
      rows = N;
    }
    const int rank = n.return_sequences ? 3 : 2, out_steps = n.return_sequences ? T : 0;
    std::vector<Value> outputs;
    if (D == 2 && n.merge == MergeMode::kNone) {
      for (int d = 0; d < 2; ++d) outputs.push_back({rank, out_steps, Ho, half(out, rows, Ho, d)});
    } else if (D == 2 && n.merge != MergeMode::kConcat) {
      outputs.push_back({rank, out_steps, Ho, merged(n.merge, out, rows, Ho)});
    } else {
      outputs.push_back({rank, out_steps, D * Ho, std::move(out)});
    }
    for (int d = 0; d < D; ++d) {  // the final states, which later outputs and chains read
      outputs.push_back({2, 0, Ho,
                         std::vector<float>(h_n.begin() + static_cast<std::size_t>(d) * N * Ho,
                                            h_n.begin() + static_cast<std::size_t>(d + 1) * N * Ho)});
      outputs.push_back({2, 0, H,
                         std::vector<float>(c_n.begin() + static_cast<std::size_t>(d) * N * H,
                                            c_n.begin() + static_cast<std::size_t>(d + 1) * N * H)});
    }
    return outputs;
  }

  HostTensor tensor(const Value& v, std::string name) const {
    HostTensor t;
    t.name = std::move(name);
    const std::int64_t N = batch, T = v.steps, C = v.width;
    t.shape = v.rank == 2                          ? std::vector<std::int64_t>{N, C}
              : layout == TensorLayout::kTimeMajor ? std::vector<std::int64_t>{T, N, C}
                                                   : std::vector<std::int64_t>{N, T, C};
    t.values = v.data;
    return t;
  }
};

std::string input_shape(const ModelInput& in, TensorLayout layout) {
  if (in.rank == 2) return fmt::format("(batch, {})", in.width);
  return layout == TensorLayout::kTimeMajor ? fmt::format("(steps, batch, {})", in.width)
                                            : fmt::format("(batch, steps, {})", in.width);
}

}  // namespace

ModelOutputs run_model(const ImportedModel& model, const BackendOptions& options, TensorLayout layout,
                       const std::vector<HostTensorView>& inputs, const std::int32_t* lengths) {
  if (model.nodes.empty() || model.outputs.empty())
    detail::invalid("run_model: {} has no nodes or outputs", model.source);
  if (inputs.size() != model.inputs.size())
    detail::invalid("run_model: {} takes {} input(s) (model.inputs order), got {}", model.source, model.inputs.size(),
                    inputs.size());
  Run run{model, options, layout};
  const bool time_major = layout == TensorLayout::kTimeMajor;
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    const ModelInput& want = model.inputs[k];
    const HostTensorView& got = inputs[k];
    const std::vector<std::int64_t>& s = got.shape;
    const bool shape_ok = static_cast<int>(s.size()) == want.rank && s.back() == want.width &&
                          std::all_of(s.begin(), s.end(), [](std::int64_t v) { return v >= 1 && v <= (1 << 30); });
    if (!shape_ok || !got.values)
      detail::invalid("input {} ('{}') of {} has shape {}: expected {}", k, want.name, model.source, shape_string(s),
                      input_shape(want, layout));
    const int N = static_cast<int>(want.rank == 2 || !time_major ? s[0] : s[1]);
    if (run.batch != 0 && N != run.batch)
      detail::invalid("input {} ('{}') of {} has batch {} but input 0 has {}: expected one batch size", k, want.name,
                      model.source, N, run.batch);
    run.batch = N;
    Value v;
    v.rank = want.rank;
    v.width = want.width;
    v.steps = want.rank == 3 ? static_cast<int>(time_major ? s[0] : s[1]) : 0;
    std::size_t count = 1;
    for (std::int64_t d : s) count *= static_cast<std::size_t>(d);
    v.data.assign(got.values, got.values + count);
    run.inputs.push_back(std::move(v));
  }
  if (lengths) {
    bool masking = false;
    for (const ImportedNode& n : model.nodes) masking = masking || n.kind == NodeKind::kMasking || n.mask;
    if (!model.is_chain() || masking)
      detail::invalid("{}: lengths apply to a chain of layers without a Masking layer; this model's {}", model.source,
                      masking ? "Masking layer sets the mask" : "inputs and wiring leave them ambiguous");
    const int T = run.inputs[0].steps;
    run.chain_mask.assign(static_cast<std::size_t>(run.batch) * T, 0);
    for (int b = 0; b < run.batch; ++b) {
      if (lengths[b] < 0 || lengths[b] > T) detail::invalid("lengths[{}] is {}: expected 0..{}", b, lengths[b], T);
      std::fill_n(run.chain_mask.begin() + static_cast<std::size_t>(b) * T, lengths[b], 1);
    }
  }
  for (const ImportedNode& n : model.nodes) {
    switch (n.kind) {
      case NodeKind::kLstm: run.nodes.push_back(run.lstm(n)); break;
      case NodeKind::kMasking: run.nodes.push_back({run.masking(n)}); break;
      case NodeKind::kConcatenate: run.nodes.push_back({run.concatenate(n)}); break;
      case NodeKind::kIdentity: run.nodes.push_back({run.value(n.inputs[0])}); break;
    }
  }
  ModelOutputs out;
  for (const ValueRef& r : model.outputs) {
    std::string name = r.node < 0 ? model.inputs.at(r.index).name : model.nodes.at(r.node).name;
    if (r.node >= 0 && r.index > 0) name += fmt::format(":{}", r.index);
    // An LSTM node without return_state still computes its states (the runner keeps them after
    // its outputs); model outputs only name the ones Keras returns.
    out.outputs.push_back(run.tensor(run.value(r), std::move(name)));
  }
  if (model.is_chain()) {
    const int last = model.last_lstm();
    const ImportedNode& n = model.nodes[last];
    const int D = n.desc.num_directions(), first_state = n.merge == MergeMode::kNone && D == 2 ? 2 : 1;
    HostTensor& h = out.h_n;
    HostTensor& c = out.c_n;
    h.name = "h_n", c.name = "c_n";
    h.shape = {D, run.batch, n.desc.output_size()};
    c.shape = {D, run.batch, n.desc.hidden_size};
    for (int d = 0; d < D; ++d) {
      const std::vector<float>& hd = run.nodes[last][first_state + 2 * d].data;
      const std::vector<float>& cd = run.nodes[last][first_state + 2 * d + 1].data;
      h.values.insert(h.values.end(), hd.begin(), hd.end());
      c.values.insert(c.values.end(), cd.begin(), cd.end());
    }
  }
  return out;
}

}  // namespace lstmrt
