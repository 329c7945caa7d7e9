// lstmrt — model description: what LSTM to run (sizes, directions, activations, cell options).
//
// Notation used throughout lstmrt's headers:
//   T steps, N batch rows, I input size, H hidden size, P projection size (0 = none),
//   H_out = P if P > 0 else H, D directions (1 or 2), L layers.
//   Gate blocks are ordered i f g o (input, forget, cell candidate, output) as in PyTorch/cuDNN.
//
// Cell equations (one step, one direction; ⊙ is elementwise):
//   z = W_ih·x_t + b_ih + W_hh·h_{t-1} + b_hh                         (4H values, blocks i f g o)
//   i = gate(clip(z_i + p_i⊙c_{t-1}))
//   f = 1 − i                              if coupled_input_forget
//     = gate(clip(z_f + p_f⊙c_{t-1}))      otherwise
//   g = cell(clip(z_g))
//   c_t = f⊙c_{t-1} + i⊙g
//   o = gate(clip(z_o + p_o⊙c_t))          (the output peephole sees the NEW cell state, as ONNX)
//   h_t = o⊙hidden(clip(c_t))              then h_t = W_hr·h_t when P > 0 (h is H_out wide)
// clip(v) clamps to [−clip, clip] when clip > 0 (ONNX "clip": applied to the input of every
// activation; the stored cell state itself is not clipped) and is the identity when clip == 0.
// Peephole terms are present only when peepholes is true.
#pragma once

#include <array>
#include <limits>
#include <string>
#include <string_view>

namespace lstmrt {

enum class Direction { kForward, kReverse, kBidirectional };

// Every activation an LSTM gate or cell can use: ONNX's LSTM set, and every elementwise activation
// Keras 3 offers by name. Parameters are alpha / beta; each comment gives the formula and, where a
// source format has one, the default that format's name implies (from_onnx / from_keras apply them;
// the factories below take the value explicitly where the formats disagree).
enum class ActivationKind {
  kSigmoid,            // 1 / (1 + e^-x)
  kTanh,               // tanh(x)
  kRelu,               // max(0, x)
  kAffine,             // alpha·x + beta                (ONNX Affine defaults 1, 0; Keras "linear" = Affine(1, 0))
  kLeakyRelu,          // x if x >= 0 else alpha·x      (ONNX LeakyRelu alpha 0.01; Keras leaky_relu 0.2)
  kThresholdedRelu,    // x if x > alpha else 0         (ONNX alpha 1)
  kScaledTanh,         // alpha·tanh(beta·x)            (ONNX defaults 1, 1)
  kHardSigmoid,        // clamp(alpha·x + beta, 0, 1)   ONNX / Keras 2 (defaults 0.2, 0.5)
  kHardSigmoidKeras3,  // clamp(x/6 + 1/2, 0, 1)        Keras 3's "hard_sigmoid" (no parameters)
  kElu,                // x if x > 0 else alpha·(e^x − 1)   (alpha 1 in both formats)
  kSoftsign,           // x / (1 + |x|)
  kSoftplus,           // log(1 + e^x)
  // Keras 3's other elementwise activations (keras.activations; names in from_keras):
  kGelu,           // x·Φ(x) = x/2·(1 + erf(x/√2))  exact form ("gelu": approximate=False)
  kSilu,           // x·σ(x)                          ("silu", "swish")
  kSelu,           // λ·(x if x > 0 else α·(e^x − 1)), α = 1.6732632423543772, λ = 1.0507009873554805
  kCelu,           // x if x >= 0 else alpha·(e^(x/alpha) − 1)  (alpha 1; alpha > 0)
  kExponential,    // e^x
  kHardSilu,       // x·clamp(x/6 + 1/2, 0, 1)        ("hard_silu", "hard_swish")
  kHardTanh,       // clamp(x, −1, 1)
  kHardShrink,     // x if |x| > alpha else 0          (alpha = Keras threshold, 0.5)
  kSoftShrink,     // x − alpha if x > alpha, x + alpha if x < −alpha, else 0  (alpha 0.5)
  kTanhShrink,     // x − tanh(x)
  kLogSigmoid,     // log σ(x) = −log(1 + e^−x)
  kMish,           // x·tanh(log(1 + e^x))
  kRelu6,          // clamp(x, 0, 6)
  kSparsePlus,     // 0 if x <= −1, (x + 1)²/4 if x < 1, else x
  kSparseSigmoid,  // 0 if x <= −1, (x + 1)/2 if x < 1, else 1
  kSquareplus,     // (x + √(x² + alpha)) / 2         (alpha = Keras b, 4; alpha >= 0)
};

struct Activation {
  ActivationKind kind = ActivationKind::kSigmoid;
  float alpha = 0.0f;
  float beta = 0.0f;

  static Activation sigmoid() { return {ActivationKind::kSigmoid}; }
  static Activation tanh() { return {ActivationKind::kTanh}; }
  static Activation relu() { return {ActivationKind::kRelu}; }
  static Activation affine(float alpha = 1.0f, float beta = 0.0f) { return {ActivationKind::kAffine, alpha, beta}; }
  // No default: ONNX's LeakyRelu (0.01) and Keras's leaky_relu (0.2) disagree.
  static Activation leaky_relu(float alpha) { return {ActivationKind::kLeakyRelu, alpha}; }
  static Activation thresholded_relu(float alpha = 1.0f) { return {ActivationKind::kThresholdedRelu, alpha}; }
  static Activation scaled_tanh(float alpha = 1.0f, float beta = 1.0f) {
    return {ActivationKind::kScaledTanh, alpha, beta};
  }
  static Activation hard_sigmoid(float alpha = 0.2f, float beta = 0.5f) {
    return {ActivationKind::kHardSigmoid, alpha, beta};
  }
  static Activation hard_sigmoid_keras3() { return {ActivationKind::kHardSigmoidKeras3}; }
  static Activation elu(float alpha = 1.0f) { return {ActivationKind::kElu, alpha}; }
  static Activation softsign() { return {ActivationKind::kSoftsign}; }
  static Activation softplus() { return {ActivationKind::kSoftplus}; }
  static Activation gelu() { return {ActivationKind::kGelu}; }
  static Activation silu() { return {ActivationKind::kSilu}; }
  static Activation selu() { return {ActivationKind::kSelu}; }
  static Activation celu(float alpha = 1.0f) { return {ActivationKind::kCelu, alpha}; }
  static Activation exponential() { return {ActivationKind::kExponential}; }
  static Activation hard_silu() { return {ActivationKind::kHardSilu}; }
  static Activation hard_tanh() { return {ActivationKind::kHardTanh}; }
  static Activation hard_shrink(float threshold = 0.5f) { return {ActivationKind::kHardShrink, threshold}; }
  static Activation soft_shrink(float threshold = 0.5f) { return {ActivationKind::kSoftShrink, threshold}; }
  static Activation tanh_shrink() { return {ActivationKind::kTanhShrink}; }
  static Activation log_sigmoid() { return {ActivationKind::kLogSigmoid}; }
  static Activation mish() { return {ActivationKind::kMish}; }
  static Activation relu6() { return {ActivationKind::kRelu6}; }
  static Activation sparse_plus() { return {ActivationKind::kSparsePlus}; }
  static Activation sparse_sigmoid() { return {ActivationKind::kSparseSigmoid}; }
  static Activation squareplus(float b = 4.0f) { return {ActivationKind::kSquareplus, b}; }

  // An ONNX LSTM activation name (Sigmoid, Tanh, Relu, Affine, LeakyRelu, ThresholdedRelu,
  // ScaledTanh, HardSigmoid, Elu, Softsign, Softplus; case as the spec spells it), alpha/beta
  // defaulting (kDefault) to that ONNX operator's. Throws Error(kInvalidArgument) naming the name.
  static Activation from_onnx(std::string_view name, float alpha = kDefault, float beta = kDefault);
  // A Keras 3 activation name as a layer config stores it ("leaky_relu", "hard_sigmoid" (Keras 3's
  // x/6 + 1/2), "linear", "gelu", "swish", ...), with Keras's defaults. Keras activations that are
  // not elementwise (softmax, log_softmax, sparsemax, glu: they mix the units) or need arguments a
  // name cannot carry (threshold) throw Error(kUnsupported) saying so; unknown names
  // Error(kInvalidArgument) listing the known ones.
  static Activation from_keras(std::string_view name);
  // Either format's name (the two name sets are disjoint: ONNX's are capitalised), each with its
  // own format's defaults; alpha/beta apply to ONNX names only (a Keras name with them is
  // Error(kInvalidArgument): Keras activations by name take none).
  static Activation from_name(std::string_view name, float alpha = kDefault, float beta = kDefault);
  static constexpr float kDefault = std::numeric_limits<float>::quiet_NaN();
};

bool operator==(const Activation& a, const Activation& b);
inline bool operator!=(const Activation& a, const Activation& b) { return !(a == b); }
std::string to_string(const Activation& a);  // e.g. "sigmoid", "hard_sigmoid(alpha=0.2, beta=0.5)"

// The three activation slots of one direction, named as in ONNX's f, g, h.
struct CellActivations {
  Activation gate = Activation::sigmoid();  // ONNX f, Keras recurrent_activation: i, f, o
  Activation cell = Activation::tanh();     // ONNX g, Keras activation: the candidate g
  Activation hidden = Activation::tanh();   // ONNX h, Keras activation: applied to c for h
  bool is_default() const;
};

struct ModelDesc {
  int input_size = 0;   // I
  int hidden_size = 0;  // H
  int proj_size = 0;    // P; 0 = no projection, else 0 < P < H (PyTorch's rule)
  int num_layers = 1;   // L
  Direction direction = Direction::kForward;
  // activations[d] serves direction slot d: slot 0 is the only direction of a forward or reverse
  // model and the forward half of a bidirectional one; slot 1 is the reverse half.
  std::array<CellActivations, 2> activations{};
  float clip = 0.0f;                  // ONNX clip; 0 = none, else > 0
  bool peepholes = false;             // ONNX P: weights carry a (3H) peephole vector per direction
  bool coupled_input_forget = false;  // ONNX input_forget=1: f = 1 − i

  int num_directions() const { return direction == Direction::kBidirectional ? 2 : 1; }
  int output_size() const { return proj_size > 0 ? proj_size : hidden_size; }  // H_out
  // Width of layer `layer`'s input: I for layer 0, D·H_out above it.
  int layer_input_size(int layer) const { return layer == 0 ? input_size : num_directions() * output_size(); }
  // Is direction slot d of this model run backwards in time?
  bool is_reverse_slot(int d) const {
    return direction == Direction::kReverse || (direction == Direction::kBidirectional && d == 1);
  }
  void set_activations(const CellActivations& a) { activations = {a, a}; }
  // True when any feature beyond PyTorch's nn.LSTM is used (peepholes, clip, coupled gate,
  // non-default activations): what cuDNN cannot serve.
  bool uses_extended_cell() const;
};

// Throws Error(kInvalidArgument) naming the first bad field and what it expected.
void validate(const ModelDesc& desc);
std::string to_string(Direction d);
std::string describe(const ModelDesc& desc);  // one line, for logs and `lstmrt run -v`

}  // namespace lstmrt
