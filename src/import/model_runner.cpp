// Runs an ImportedModel: each stage is one lstmrt Lstm over the previous stage's y, all in the
// request's layout with the same lengths (Keras passes a go_backwards layer's mask on unreversed,
// so the same lengths are exactly what the next layer sees). Host memory throughout.
#include <cmath>

#include "common/check.hpp"
#include "lstmrt/import.hpp"

namespace lstmrt {
namespace {

// Keras Masking: row n's step t is valid when any feature differs from the mask value; the valid
// steps must be a prefix of the row.
std::vector<std::int32_t> lengths_from_mask(const ImportedModel& model, int T, int N, int I, TensorLayout layout,
                                            const float* x) {
  std::vector<std::int32_t> lengths(N);
  for (int n = 0; n < N; ++n) {
    int length = 0;
    for (int t = 0; t < T; ++t) {
      const std::size_t row = layout == TensorLayout::kTimeMajor ? static_cast<std::size_t>(t) * N + n
                                                                  : static_cast<std::size_t>(n) * T + t;
      bool valid = false;
      for (int i = 0; i < I && !valid; ++i) valid = x[row * I + i] != model.mask_value;
      if (valid && length != t)
        throw Error(ErrorCode::kUnsupported,
                    fmt::format("{}: Masking: row {} has a valid step {} after padding at step {}: lstmrt takes "
                                "right-padded rows (a mask that is a prefix of each row)",
                                model.source, n, t, length));
      if (valid) length = t + 1;
    }
    lengths[n] = length;
  }
  return lengths;
}

float merge(MergeMode mode, float a, float b) {
  switch (mode) {
    case MergeMode::kSum: return a + b;
    case MergeMode::kAverage: return 0.5f * (a + b);
    case MergeMode::kMultiply: return a * b;
    case MergeMode::kConcat: break;
  }
  throw Error(ErrorCode::kInternal, "merge: concat is not elementwise");
}

// rows × (2·H) with halves [forward | reverse] -> rows × H merged, or unchanged for concat.
std::vector<float> merge_halves(MergeMode mode, const std::vector<float>& v, std::size_t rows, int H) {
  if (mode == MergeMode::kConcat) return v;
  std::vector<float> out(rows * H);
  for (std::size_t r = 0; r < rows; ++r)
    for (int h = 0; h < H; ++h) out[r * H + h] = merge(mode, v[r * 2 * H + h], v[r * 2 * H + H + h]);
  return out;
}

}  // namespace

ModelOutputs run_model(const ImportedModel& model, const BackendOptions& options, int seq_len, int batch,
                       TensorLayout layout, const float* x, const std::int32_t* lengths) {
  if (model.stages.empty()) detail::invalid("run_model: {} has no stages", model.source);
  if (seq_len < 1 || batch < 1 || !x) detail::invalid("run_model: T={} N={} x={}: expected T, N >= 1 and x", seq_len, batch, x ? "set" : "null");
  std::vector<std::int32_t> mask_lengths;
  if (model.masking) {
    if (lengths)
      detail::invalid("{}: the model's Masking layer sets the lengths from x: expected no separate lengths",
                      model.source);
    mask_lengths = lengths_from_mask(model, seq_len, batch, model.stages.front().desc.input_size, layout, x);
    lengths = mask_lengths.data();
  }
  const std::size_t steps = static_cast<std::size_t>(seq_len) * batch;
  std::vector<float> input(x, x + steps * model.stages.front().desc.input_size);
  ModelOutputs out;
  for (std::size_t s = 0; s < model.stages.size(); ++s) {
    const ImportedStage& stage = model.stages[s];
    const bool last = s + 1 == model.stages.size();
    const int D = stage.desc.num_directions(), H_out = stage.desc.output_size(), H = stage.desc.hidden_size;
    Lstm lstm = Lstm::create(stage.desc, stage.weights, options);
    std::vector<float> y(steps * D * H_out), h_n(static_cast<std::size_t>(D) * batch * H_out),
        c_n(static_cast<std::size_t>(D) * batch * H);
    ForwardRequest req;
    req.seq_len = seq_len;
    req.batch = batch;
    req.layout = layout;
    req.x = input.data();
    req.lengths = lengths;
    req.y = y.data();
    req.h_n = h_n.data();
    req.c_n = c_n.data();
    req.padding = stage.padding;
    req.reverse_order = stage.reverse_order;
    lstm.forward_host(req);
    input = merge_halves(D == 2 ? stage.merge : MergeMode::kConcat, y, steps, H_out);
    if (!last) continue;
    const std::int64_t C = stage.output_width(), T64 = seq_len, N64 = batch;
    if (model.return_sequences) {
      out.y = std::move(input);
      out.y_shape = layout == TensorLayout::kTimeMajor ? std::vector<std::int64_t>{T64, N64, C}
                                                        : std::vector<std::int64_t>{N64, T64, C};
    } else {
      // The last output: per direction the final h (the state after each row's last valid step
      // in processing order), [forward | reverse] merged like the sequence.
      std::vector<float> last_h(static_cast<std::size_t>(batch) * D * H_out);
      for (int n = 0; n < batch; ++n)
        for (int d = 0; d < D; ++d)
          for (int h = 0; h < H_out; ++h)
            last_h[(static_cast<std::size_t>(n) * D + d) * H_out + h] = h_n[(static_cast<std::size_t>(d) * batch + n) * H_out + h];
      out.y = merge_halves(D == 2 ? stage.merge : MergeMode::kConcat, last_h, batch, H_out);
      out.y_shape = {N64, C};
    }
    out.h_n = std::move(h_n);
    out.c_n = std::move(c_n);
    out.h_n_shape = {D, N64, H_out};
    out.c_n_shape = {D, N64, H};
  }
  return out;
}

}  // namespace lstmrt
