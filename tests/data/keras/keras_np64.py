"""Keras 3's LSTM semantics in float64 NumPy: an implementation independent of Keras (and of
lstmrt) that the golden-data generators (gen_keras_golden.py, ../keras_import/gen_keras_models.py)
check Keras's own outputs against on every case, so the golden files record Keras's documented
behaviour and not an accident of one backend.

Follows Keras's generic RNN loop (keras/src/backend/tensorflow/rnn.py, the while_loop path, which the
TensorFlow backend runs on a CPU): at a masked step the states h, c keep their values and the output
is zeros (zero_output_for_mask) or the previous output, which starts as zeros; go_backwards runs the
reversed sequence with the reversed mask and returns outputs in processing order; the last output is
outputs[-1]. Bidirectional runs a forward and a go_backwards copy, flips the backward sequence back
to input order (return_sequences) and forces zero_output_for_mask = return_sequences on both.
Arrays are batch-major as Keras takes them: x (N, T, F), mask (N, T) bool, states (N, H).
"""
import math

import numpy as np

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _softplus(x):
    return np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0.0)


def _hard_sigmoid(x):
    return np.clip(x / 6.0 + 0.5, 0.0, 1.0)


_erf = np.vectorize(math.erf)

# keras.activations by name, with Keras 3's defaults (keras/src/activations/activations.py).
ACTIVATIONS = {
    "sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x)),
    "tanh": np.tanh,
    "relu": lambda x: np.maximum(x, 0.0),
    "linear": lambda x: x,
    "leaky_relu": lambda x: np.where(x >= 0, x, 0.2 * x),  # negative_slope=0.2
    "hard_sigmoid": _hard_sigmoid,  # relu6(x + 3) / 6
    "elu": lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0.0))),
    "softsign": lambda x: x / (1.0 + np.abs(x)),
    "softplus": _softplus,
    "gelu": lambda x: 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0))),  # approximate=False
    "silu": lambda x: x / (1.0 + np.exp(-x)),
    "swish": lambda x: x / (1.0 + np.exp(-x)),
    "selu": lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(np.minimum(x, 0.0))),
    "celu": lambda x: np.where(x >= 0, x, np.expm1(np.minimum(x, 0.0))),  # alpha=1
    "exponential": np.exp,
    "hard_silu": lambda x: x * _hard_sigmoid(x),
    "hard_swish": lambda x: x * _hard_sigmoid(x),
    "hard_tanh": lambda x: np.clip(x, -1.0, 1.0),
    "hard_shrink": lambda x: np.where(np.abs(x) > 0.5, x, 0.0),
    "soft_shrink": lambda x: np.where(x > 0.5, x - 0.5, np.where(x < -0.5, x + 0.5, 0.0)),
    "tanh_shrink": lambda x: x - np.tanh(x),
    "log_sigmoid": lambda x: -_softplus(-x),
    "mish": lambda x: x * np.tanh(_softplus(x)),
    "relu6": lambda x: np.clip(x, 0.0, 6.0),
    "sparse_plus": lambda x: np.where(x <= -1, 0.0, np.where(x < 1, 0.25 * (x + 1) ** 2, x)),
    "sparse_sigmoid": lambda x: np.where(x <= -1, 0.0, np.where(x >= 1, 1.0, 0.5 * (x + 1))),
    "squareplus": lambda x: 0.5 * (x + np.sqrt(x * x + 4.0)),  # b=4
}


def lstm(x, weights, activation="tanh", recurrent_activation="sigmoid", mask=None, initial_state=None,
         go_backwards=False, zero_output_for_mask=False, return_sequences=False):
    """One keras.layers.LSTM. weights: [kernel (F, 4H), recurrent_kernel (H, 4H)] + [bias (4H)],
    gates i f c o. Returns (output, h, c): output (N, T, H) in processing order, or (N, H)."""
    kernel, recurrent = np.float64(weights[0]), np.float64(weights[1])
    bias = np.float64(weights[2]) if len(weights) > 2 else np.zeros(kernel.shape[1])
    act, ract = ACTIVATIONS[activation], ACTIVATIONS[recurrent_activation]
    x = np.float64(x)
    N, T, _ = x.shape
    H = recurrent.shape[0]
    h = np.zeros((N, H)) if initial_state is None else np.float64(initial_state[0])
    c = np.zeros((N, H)) if initial_state is None else np.float64(initial_state[1])
    steps = range(T - 1, -1, -1) if go_backwards else range(T)
    prev = np.zeros((N, H))
    outputs = []
    for t in steps:
        z = x[:, t] @ kernel + h @ recurrent + bias
        i, f, g, o = (z[:, k * H:(k + 1) * H] for k in range(4))
        c_new = ract(f) * c + ract(i) * act(g)
        h_new = ract(o) * act(c_new)
        if mask is None:
            h, c, out = h_new, c_new, h_new
        else:
            m = np.asarray(mask)[:, t][:, None].astype(bool)
            h, c = np.where(m, h_new, h), np.where(m, c_new, c)
            out = np.where(m, h_new, 0.0 if zero_output_for_mask else prev)
        prev = out
        outputs.append(out)
    seq = np.stack(outputs, axis=1)
    return (seq if return_sequences else seq[:, -1]), h, c


def bidirectional(x, forward_weights, backward_weights, merge_mode="concat", return_sequences=False,
                  return_state=False, mask=None, initial_state=None, activation="tanh",
                  recurrent_activation="sigmoid"):
    """keras.layers.Bidirectional(LSTM): Keras's list of outputs (output or [fwd, bwd] for
    merge_mode None, then fwd h, fwd c, bwd h, bwd c with return_state)."""
    fs = None if initial_state is None else initial_state[:2]
    bs = None if initial_state is None else initial_state[2:]
    common = dict(activation=activation, recurrent_activation=recurrent_activation, mask=mask,
                  zero_output_for_mask=return_sequences, return_sequences=return_sequences)
    yf, hf, cf = lstm(x, forward_weights, initial_state=fs, **common)
    yb, hb, cb = lstm(x, backward_weights, initial_state=bs, go_backwards=True, **common)
    if return_sequences:
        yb = yb[:, ::-1]
    merged = {"concat": lambda: [np.concatenate([yf, yb], axis=-1)], "sum": lambda: [yf + yb],
              "ave": lambda: [0.5 * (yf + yb)], "mul": lambda: [yf * yb], None: lambda: [yf, yb]}[merge_mode]()
    return merged + ([hf, cf, hb, cb] if return_state else [])


def masking(x, mask_value=0.0):
    """keras.layers.Masking: (output, mask)."""
    mask = np.any(np.asarray(x) != mask_value, axis=-1)
    return np.float64(x) * mask[..., None], mask
