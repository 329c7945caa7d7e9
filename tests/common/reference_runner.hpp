// Test helper: run any model on host data through a backend and collect y, h_n, c_n, with every
// output buffer poisoned first (an unwritten element fails all_close).
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "common/compare.hpp"
#include "common/random_mask.hpp"
#include "lstmrt/lstmrt.hpp"

namespace lstmrt::test {

struct HostInputs {
  int seq_len = 0, batch = 0;
  TensorLayout layout = TensorLayout::kTimeMajor;
  std::vector<float> x;
  std::optional<std::vector<std::int32_t>> lengths;
  std::optional<std::vector<std::uint8_t>> mask;  // (N, T), ForwardRequest::mask
  std::optional<std::vector<float>> h0, c0;
};

struct HostOutputs {
  std::vector<float> y, h_n, c_n;
};

struct Wanted {
  bool sequences = true;
  bool state = true;
};

inline std::size_t y_count(const ModelDesc& m, int T, int N) {
  return static_cast<std::size_t>(T) * N * m.num_directions() * m.output_size();
}
inline std::size_t h_count(const ModelDesc& m, int N) {
  return static_cast<std::size_t>(m.num_layers) * m.num_directions() * N * m.output_size();
}
inline std::size_t c_count(const ModelDesc& m, int N) {
  return static_cast<std::size_t>(m.num_layers) * m.num_directions() * N * m.hidden_size;
}

// Random inputs (and, when asked, random lengths in [0, T] and random initial state).
inline HostInputs random_inputs(const ModelDesc& m, int T, int N, std::mt19937_64& rng, bool with_lengths,
                                bool with_state, TensorLayout layout = TensorLayout::kTimeMajor) {
  HostInputs in;
  in.seq_len = T;
  in.batch = N;
  in.layout = layout;
  in.x = random_vector(static_cast<std::size_t>(T) * N * m.input_size, rng);
  if (with_lengths) {
    std::uniform_int_distribution<int> len(0, T);
    in.lengths = std::vector<std::int32_t>(N);
    for (auto& l : *in.lengths) l = len(rng);
  }
  if (with_state) {
    in.h0 = random_vector(h_count(m, N), rng);
    in.c0 = random_vector(c_count(m, N), rng);
  }
  return in;
}

// A request over `in` whose wanted outputs point into `out`, freshly poisoned.
inline ForwardRequest make_request(const ModelDesc& m, const HostInputs& in, HostOutputs& out, Wanted wanted = {},
                                   PaddingMode padding = PaddingMode::kZero,
                                   ReverseOutputOrder order = ReverseOutputOrder::kOriginal) {
  ForwardRequest req;
  req.seq_len = in.seq_len;
  req.batch = in.batch;
  req.layout = in.layout;
  req.x = in.x.data();
  req.lengths = in.lengths ? in.lengths->data() : nullptr;
  req.mask = in.mask ? in.mask->data() : nullptr;
  req.h0 = in.h0 ? in.h0->data() : nullptr;
  req.c0 = in.c0 ? in.c0->data() : nullptr;
  req.padding = padding;
  req.reverse_order = order;
  if (wanted.sequences) {
    out.y = poisoned(y_count(m, in.seq_len, in.batch));
    req.y = out.y.data();
  }
  if (wanted.state) {
    out.h_n = poisoned(h_count(m, in.batch));
    out.c_n = poisoned(c_count(m, in.batch));
    req.h_n = out.h_n.data();
    req.c_n = out.c_n.data();
  }
  return req;
}

inline HostOutputs run_host(Lstm& lstm, const HostInputs& in, Wanted wanted = {},
                            PaddingMode padding = PaddingMode::kZero,
                            ReverseOutputOrder order = ReverseOutputOrder::kOriginal) {
  HostOutputs out;
  lstm.forward_host(make_request(lstm.desc(), in, out, wanted, padding, order));
  return out;
}

// y, h_n and c_n of `got` against `want` (outputs not requested are empty on both sides); on
// failure names the first output that differs and its worst element.
inline ::testing::AssertionResult outputs_close(const HostOutputs& want, const HostOutputs& got, double atol,
                                                double rtol, const std::string& what) {
  const struct {
    const char* name;
    const std::vector<float>& want;
    const std::vector<float>& got;
  } outputs[] = {{"y", want.y, got.y}, {"h_n", want.h_n, got.h_n}, {"c_n", want.c_n, got.c_n}};
  for (const auto& o : outputs) {
    ::testing::AssertionResult r = all_close(o.want, o.got, atol, rtol, std::string(o.name) + ": " + what);
    if (!r) return r;
  }
  return ::testing::AssertionSuccess();
}

inline Lstm reference_lstm(const ModelDesc& m, const Weights& w) {
  return Lstm::create(m, w, BackendOptions{BackendKind::kReference});
}

}  // namespace lstmrt::test
