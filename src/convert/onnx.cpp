// ONNX LSTM node weights <-> canonical weights, one layer, D directions.
// ONNX stacks the directions first and orders the gate blocks i o f c:
//   W (D, 4H, I_l), R (D, 4H, H), B (D, 8H) = [Wb (4H) | Rb (4H)], P (D, 3H) blocks i o f.
// Canonical blocks are i f g o (peepholes i f o). Canonical block k comes from ONNX block
// kFromOnnx[k]; ONNX block j comes from canonical block kToOnnx[j].
// ONNX has no projection: H_out = H.
#include <fmt/format.h>

#include "common/check.hpp"
#include "convert/convert_common.hpp"
#include "lstmrt/weights.hpp"

namespace lstmrt {
namespace {

constexpr std::array<int, 4> kFromOnnx = {0, 2, 3, 1};       // i<-i, f<-f(2), g<-c(3), o<-o(1)
constexpr std::array<int, 4> kToOnnx = {0, 3, 1, 2};         // i<-i, o<-o(3), f<-f(1), c<-g(2)
constexpr std::array<int, 3> kPeepholeFromOnnx = {0, 2, 1};  // i f o <- i o f
constexpr std::array<int, 3> kPeepholeToOnnx = {0, 2, 1};    // i o f <- i f o (the swap is its own inverse)

void check_sizes(int num_directions, int input_size, int hidden_size, const char* who) {
  if (num_directions != 1 && num_directions != 2)
    detail::invalid("{}: num_directions is {}, expected 1 or 2", who, num_directions);
  if (input_size < 1) detail::invalid("{}: input_size is {}, expected >= 1", who, input_size);
  if (hidden_size < 1) detail::invalid("{}: hidden_size is {}, expected >= 1", who, hidden_size);
}

}  // namespace

std::vector<LayerWeights> from_onnx(const OnnxLstmWeights& onnx, int num_directions, int input_size, int hidden_size) {
  check_sizes(num_directions, input_size, hidden_size, "from_onnx");
  const std::int64_t d_count = num_directions, i = input_size, h = hidden_size, h4 = 4 * h;
  detail::expect_shape(onnx.W, "W", {{d_count, h4, i}, {"D", "4H", "I"}});
  detail::expect_shape(onnx.R, "R", {{d_count, h4, h}, {"D", "4H", "H"}});
  if (onnx.B) detail::expect_shape(*onnx.B, "B", {{d_count, 2 * h4}, {"D", "8H"}});
  if (onnx.P) detail::expect_shape(*onnx.P, "P", {{d_count, 3 * h}, {"D", "3H"}});
  std::vector<LayerWeights> layer(num_directions);
  for (int d = 0; d < num_directions; ++d) {
    LayerWeights& w = layer[d];
    w.w_ih.resize(h4 * i);
    w.w_hh.resize(h4 * h);
    // Direction d's W block starts at d·4H·I; a gate block is H rows, i.e. H·I values.
    detail::reorder_blocks(onnx.W.data.data() + d * h4 * i, w.w_ih.data(), h * i, kFromOnnx);
    detail::reorder_blocks(onnx.R.data.data() + d * h4 * h, w.w_hh.data(), h * h, kFromOnnx);
    w.b_ih.assign(h4, 0.0f);  // absent B: zeros
    w.b_hh.assign(h4, 0.0f);
    if (onnx.B) {
      const float* b = onnx.B->data.data() + d * 2 * h4;  // [Wb (4H) | Rb (4H)]
      detail::reorder_blocks(b, w.b_ih.data(), h, kFromOnnx);
      detail::reorder_blocks(b + h4, w.b_hh.data(), h, kFromOnnx);
    }
    if (onnx.P) {
      w.peephole.resize(3 * h);
      detail::reorder_blocks(onnx.P->data.data() + d * 3 * h, w.peephole.data(), h, kPeepholeFromOnnx);
    }
  }
  return layer;
}

OnnxLstmWeights to_onnx(const std::vector<LayerWeights>& layer, int input_size, int hidden_size) {
  const int num_directions = static_cast<int>(layer.size());
  check_sizes(num_directions, input_size, hidden_size, "to_onnx");
  const std::int64_t d_count = num_directions, i = input_size, h = hidden_size, h4 = 4 * h;
  const bool peepholes = !layer[0].peephole.empty();
  for (int d = 0; d < num_directions; ++d) {
    const LayerWeights& w = layer[d];
    const std::string where = fmt::format("to_onnx: direction {}", d);
    if (!w.w_hr.empty())
      detail::invalid("{}: ONNX's LSTM has no projection, but w_hr holds {} values", where, w.w_hr.size());
    detail::expect_values(w.w_ih, h4 * i, where + " w_ih", fmt::format("(4H={}, I={})", h4, i));
    detail::expect_values(w.w_hh, h4 * h, where + " w_hh", fmt::format("(4H={}, H={})", h4, h));
    detail::expect_values(w.b_ih, h4, where + " b_ih", fmt::format("(4H={})", h4));
    detail::expect_values(w.b_hh, h4, where + " b_hh", fmt::format("(4H={})", h4));
    detail::expect_values(w.peephole, peepholes ? 3 * h : 0, where + " peephole",
                          peepholes ? fmt::format("(3H={}) as direction 0 has peepholes", 3 * h)
                                    : std::string("empty as direction 0 has no peepholes"));
  }
  OnnxLstmWeights onnx;
  onnx.W = Tensor{{d_count, h4, i}, std::vector<float>(d_count * h4 * i)};
  onnx.R = Tensor{{d_count, h4, h}, std::vector<float>(d_count * h4 * h)};
  Tensor b{{d_count, 2 * h4}, std::vector<float>(d_count * 2 * h4)};
  Tensor p{{d_count, 3 * h}, std::vector<float>(peepholes ? d_count * 3 * h : 0)};
  for (int d = 0; d < num_directions; ++d) {
    const LayerWeights& w = layer[d];
    detail::reorder_blocks(w.w_ih.data(), onnx.W.data.data() + d * h4 * i, h * i, kToOnnx);
    detail::reorder_blocks(w.w_hh.data(), onnx.R.data.data() + d * h4 * h, h * h, kToOnnx);
    detail::reorder_blocks(w.b_ih.data(), b.data.data() + d * 2 * h4, h, kToOnnx);
    detail::reorder_blocks(w.b_hh.data(), b.data.data() + d * 2 * h4 + h4, h, kToOnnx);
    if (peepholes) detail::reorder_blocks(w.peephole.data(), p.data.data() + d * 3 * h, h, kPeepholeToOnnx);
  }
  onnx.B = std::move(b);
  if (peepholes) onnx.P = std::move(p);
  return onnx;
}

}  // namespace lstmrt
