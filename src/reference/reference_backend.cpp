// The reference backend: plain loops on the CPU, every feature, accumulation in double.
// It is the oracle the GPU backends are tested against, so it favours the obvious over the fast,
// and shares no arithmetic with the GPU code (kernels/ has its own gate math, tested against this).
#include <algorithm>
#include <cmath>
#include <vector>

#include "backend.hpp"
#include "common/check.hpp"
#include "common/elements.hpp"

namespace lstmrt {
namespace {

double softplus(double x) { return std::log1p(std::exp(-std::fabs(x))) + std::max(x, 0.0); }

// model.hpp's ActivationKind formulas in double, written independently of the kernels' float ones.
double activate(const Activation& a, double x) {
  const double alpha = a.alpha, beta = a.beta;
  switch (a.kind) {
    case ActivationKind::kSigmoid: return 1.0 / (1.0 + std::exp(-x));
    case ActivationKind::kTanh: return std::tanh(x);
    case ActivationKind::kRelu: return x > 0.0 ? x : 0.0;
    case ActivationKind::kAffine: return alpha * x + beta;
    case ActivationKind::kLeakyRelu: return x >= 0.0 ? x : alpha * x;
    case ActivationKind::kThresholdedRelu: return x > alpha ? x : 0.0;
    case ActivationKind::kScaledTanh: return alpha * std::tanh(beta * x);
    case ActivationKind::kHardSigmoid: return std::clamp(alpha * x + beta, 0.0, 1.0);
    case ActivationKind::kHardSigmoidKeras3: return std::clamp(x / 6.0 + 0.5, 0.0, 1.0);
    case ActivationKind::kElu: return x > 0.0 ? x : alpha * (std::exp(x) - 1.0);
    case ActivationKind::kSoftsign: return x / (1.0 + std::fabs(x));
    case ActivationKind::kSoftplus: return softplus(x);
    case ActivationKind::kGelu: return 0.5 * x * std::erfc(-x / std::sqrt(2.0));  // 1 + erf(v) = erfc(−v)
    case ActivationKind::kSilu: return x / (1.0 + std::exp(-x));
    case ActivationKind::kSelu: {
      constexpr double kAlpha = 1.6732632423543772848170429916717, kScale = 1.0507009873554804934193349852946;
      return kScale * (x > 0.0 ? x : kAlpha * std::expm1(x));
    }
    case ActivationKind::kCelu: return x >= 0.0 ? x : alpha * std::expm1(x / alpha);
    case ActivationKind::kExponential: return std::exp(x);
    case ActivationKind::kHardSilu: return x * std::clamp(x / 6.0 + 0.5, 0.0, 1.0);
    case ActivationKind::kHardTanh: return std::clamp(x, -1.0, 1.0);
    case ActivationKind::kHardShrink: return std::fabs(x) > alpha ? x : 0.0;
    case ActivationKind::kSoftShrink: return x > alpha ? x - alpha : (x < -alpha ? x + alpha : 0.0);
    case ActivationKind::kTanhShrink: return x - std::tanh(x);
    case ActivationKind::kLogSigmoid: return -softplus(-x);
    case ActivationKind::kMish: return x * std::tanh(softplus(x));
    case ActivationKind::kRelu6: return std::clamp(x, 0.0, 6.0);
    case ActivationKind::kSparsePlus: return x <= -1.0 ? 0.0 : (x < 1.0 ? 0.25 * (x + 1.0) * (x + 1.0) : x);
    case ActivationKind::kSparseSigmoid: return x <= -1.0 ? 0.0 : (x < 1.0 ? 0.5 * (x + 1.0) : 1.0);
    case ActivationKind::kSquareplus: return 0.5 * (x + std::sqrt(x * x + alpha));
  }
  detail::fail(ErrorCode::kInternal, "reference: activation kind {} not handled", static_cast<int>(a.kind));
}

// A (T, N, C) time-major sequence in double.
struct Sequence {
  int steps, rows, channels;
  std::vector<double> values;
  Sequence(int t, int n, int c) : steps(t), rows(n), channels(c), values(static_cast<std::size_t>(t) * n * c, 0.0) {}
  double* at(int t, int b) { return values.data() + (static_cast<std::size_t>(t) * rows + b) * channels; }
};

// Offset of element (t, b, 0) of a (T, N, C) / (N, T, C) tensor.
std::size_t sequence_offset(TensorLayout layout, int t, int b, int steps, int rows, int channels) {
  const std::size_t row_major_index = layout == TensorLayout::kTimeMajor ? static_cast<std::size_t>(t) * rows + b
                                                                         : static_cast<std::size_t>(b) * steps + t;
  return row_major_index * channels;
}

class ReferenceBackend final : public Backend {
 public:
  ReferenceBackend(const ModelDesc& desc, const Weights& weights, const BackendOptions& options)
      : Backend(desc, options), weights_(weights) {}

  std::string name() const override { return "reference"; }
  MemorySpace memory_space() const override { return MemorySpace::kHost; }
  void check_request(const ForwardRequest&) const override {}  // serves every valid request

  // forward's peak: a layer's input Sequence, and its output Sequence unless it is the top layer
  // (which writes y itself), plus the lengths.
  std::size_t host_workspace_size(int seq_len, int batch) const override {
    const ModelDesc& m = desc();
    const std::size_t C = static_cast<std::size_t>(m.num_directions()) * m.output_size();
    std::size_t widest = 0;  // doubles per (t, b) held at once
    for (int l = 0; l < m.num_layers; ++l)
      widest = std::max<std::size_t>(widest, (l == 0 ? m.input_size : C) + (l + 1 < m.num_layers ? C : 0));
    return static_cast<std::size_t>(seq_len) * batch * widest * sizeof(double) + batch * sizeof(int);
  }

  void forward(const ForwardRequest& req, cudaStream_t) override {
    const ModelDesc& m = desc();
    const int T = req.seq_len, N = req.batch, D = m.num_directions();
    std::vector<int> lengths(N, T);
    if (req.lengths) std::copy(req.lengths, req.lengths + N, lengths.begin());

    Sequence layer_input(T, N, m.input_size);
    const float* x = static_cast<const float*>(req.x);
    for (int t = 0; t < T; ++t)
      for (int b = 0; b < N; ++b) {
        const float* src = x + sequence_offset(req.layout, t, b, T, N, m.input_size);
        std::copy(src, src + m.input_size, layer_input.at(t, b));
      }

    const int C = D * m.output_size();
    for (int l = 0; l + 1 < m.num_layers; ++l) {
      Sequence layer_output(T, N, C);
      LayerOutput out;
      out.sequence = &layer_output;
      for (int d = 0; d < D; ++d) run_direction(req, lengths, l, d, layer_input, out);
      layer_input = std::move(layer_output);
    }
    // The top layer writes y itself (zeros first: padded positions stay zero unless carried).
    LayerOutput top;
    if (req.y) {
      top = LayerOutput{
          nullptr, static_cast<float*>(req.y), req.layout, req.reverse_order == ReverseOutputOrder::kProcessing, T, N,
          C};
      std::fill(top.y, top.y + static_cast<std::size_t>(T) * N * C, 0.0f);
    }
    for (int d = 0; d < D; ++d) run_direction(req, lengths, m.num_layers - 1, d, layer_input, top);
  }

 private:
  // Where a layer's outputs go: the next layer's input Sequence (double); for the top layer the
  // caller's y (float, in the request's layout; y[k] is step T−1−k in processing order when
  // `flip`), or nowhere when y is not asked for.
  struct LayerOutput {
    Sequence* sequence = nullptr;
    float* y = nullptr;
    TensorLayout layout = TensorLayout::kTimeMajor;
    bool flip = false;
    int steps = 0, rows = 0, channels = 0;
    void put(int t, int b, int channel, const std::vector<double>& h) const {
      if (sequence)
        std::copy(h.begin(), h.end(), sequence->at(t, b) + channel);
      else if (y)
        std::copy(h.begin(), h.end(),
                  y + sequence_offset(layout, flip ? steps - 1 - t : t, b, steps, rows, channels) + channel);
    }
  };

  // One layer, one direction, every row: fills this direction's channel block of `out` and, when
  // asked, the final state of slot l·D + d.
  void run_direction(const ForwardRequest& req, const std::vector<int>& lengths, int l, int d, Sequence& in,
                     const LayerOutput& out) const {
    const ModelDesc& m = desc();
    const int T = req.seq_len, N = req.batch, H = m.hidden_size, H_out = m.output_size();
    const int state_slot = l * m.num_directions() + d;
    const bool reverse = m.is_reverse_slot(d);
    const LayerWeights& w = weights_.at(m, l, d);
    for (int b = 0; b < N; ++b) {
      const std::size_t h_offset = (static_cast<std::size_t>(state_slot) * N + b) * H_out;
      const std::size_t c_offset = (static_cast<std::size_t>(state_slot) * N + b) * H;
      std::vector<double> h(H_out, 0.0), c(H, 0.0);
      if (req.h0) {
        const float* h0 = static_cast<const float*>(req.h0) + h_offset;
        const float* c0 = static_cast<const float*>(req.c0) + c_offset;
        std::copy(h0, h0 + H_out, h.begin());
        std::copy(c0, c0 + H, c.begin());
      }
      if (req.mask) {
        // Keras's loop: every step in processing order (t = T−1..0 for reverse); a masked step keeps
        // h and c and outputs zeros, or with carry-over the most recent output (h, once a valid
        // step has produced one; zeros before).
        const std::uint8_t* row = req.mask + static_cast<std::size_t>(b) * T;
        bool seen = false;
        for (int s = 0; s < T; ++s) {
          const int t = reverse ? T - 1 - s : s;
          if (row[t]) {
            step(w, m.activations[d], m.layer_input_size(l), in.at(t, b), h, c);
            seen = true;
          }
          if (row[t] || (req.padding == PaddingMode::kCarryLast && seen)) out.put(t, b, d * H_out, h);
        }
      } else {
        const int len = lengths[b];
        // Forward runs t = 0..len−1; reverse starts at the row's own last valid step, len−1..0.
        for (int s = 0; s < len; ++s) {
          const int t = reverse ? len - 1 - s : s;
          step(w, m.activations[d], m.layer_input_size(l), in.at(t, b), h, c);
          out.put(t, b, d * H_out, h);
        }
        // Padded positions t >= len hold zeros (already) unless carrying over. In processing
        // order the forward pass meets the padding after its last valid step (repeat h there); the
        // reverse pass meets it first, before any output exists (zeros, as Keras).
        if (req.padding == PaddingMode::kCarryLast && !reverse && len > 0)
          for (int t = len; t < T; ++t) out.put(t, b, d * H_out, h);
      }
      if (req.h_n) std::copy(h.begin(), h.end(), static_cast<float*>(req.h_n) + h_offset);
      if (req.c_n) std::copy(c.begin(), c.end(), static_cast<float*>(req.c_n) + c_offset);
    }
  }

  // One step of one row: h (H_out) and c (H) are updated in place from input x (I_l values).
  void step(const LayerWeights& w, const CellActivations& act, int input_width, const double* x, std::vector<double>& h,
            std::vector<double>& c) const {
    const ModelDesc& m = desc();
    const int H = m.hidden_size, H_out = m.output_size();
    std::vector<double> z(4 * H);
    for (int r = 0; r < 4 * H; ++r) {
      double sum = static_cast<double>(w.b_ih[r]) + w.b_hh[r];
      const float* w_ih_row = w.w_ih.data() + static_cast<std::size_t>(r) * input_width;
      for (int k = 0; k < input_width; ++k) sum += w_ih_row[k] * x[k];
      const float* w_hh_row = w.w_hh.data() + static_cast<std::size_t>(r) * H_out;
      for (int k = 0; k < H_out; ++k) sum += w_hh_row[k] * h[k];
      z[r] = sum;
    }
    const double clip = m.clip;
    auto clipped = [clip](double v) { return clip > 0.0 ? std::clamp(v, -clip, clip) : v; };
    auto peephole = [&](int block, int j, double cell) {  // peephole vector blocks: i f o
      return m.peepholes ? static_cast<double>(w.peephole[block * H + j]) * cell : 0.0;
    };
    std::vector<double> hidden(H);
    for (int j = 0; j < H; ++j) {
      const double c_prev = c[j];
      const double i = activate(act.gate, clipped(z[j] + peephole(0, j, c_prev)));
      const double f =
          m.coupled_input_forget ? 1.0 - i : activate(act.gate, clipped(z[H + j] + peephole(1, j, c_prev)));
      const double g = activate(act.cell, clipped(z[2 * H + j]));
      const double c_new = f * c_prev + i * g;
      const double o = activate(act.gate, clipped(z[3 * H + j] + peephole(2, j, c_new)));
      c[j] = c_new;
      hidden[j] = o * activate(act.hidden, clipped(c_new));
    }
    if (m.proj_size == 0) {
      std::copy(hidden.begin(), hidden.end(), h.begin());
      return;
    }
    for (int p = 0; p < H_out; ++p) {
      double sum = 0.0;
      const float* w_hr_row = w.w_hr.data() + static_cast<std::size_t>(p) * H;
      for (int j = 0; j < H; ++j) sum += w_hr_row[j] * hidden[j];
      h[p] = sum;
    }
  }

  // y in the request's layout; a reverse model asked for processing order (Keras go_backwards)
  // gets its time axis flipped: y[k] = output at input step T−1−k.
  Weights weights_;
};

}  // namespace

std::unique_ptr<Backend> make_reference_backend(const ModelDesc& desc, const Weights& weights,
                                                const BackendOptions& options) {
  detail::require_storage_type(options.data_type, "backend reference: data type");
  if (options.data_type != DataType::kFloat32)
    detail::unsupported("backend reference computes float32 data only, not {}", to_string(options.data_type));
  return std::make_unique<ReferenceBackend>(desc, weights, options);
}

}  // namespace lstmrt
