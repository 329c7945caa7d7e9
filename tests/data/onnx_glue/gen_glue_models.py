#!/usr/bin/env python3
"""Random stacks of ONNX LSTM nodes joined by random "glue" ops, with the outputs of the onnx
package's reference evaluator (onnx.reference), for tests/cpu/test_import_onnx_glue.cpp.

    python3 -m pip install onnx numpy && python3 tests/data/onnx_glue/gen_glue_models.py

Each case CASE writes CASE.onnx, CASE.x.npy (the graph input) and CASE.expected.npz (the graph's
outputs as onnx.reference computes them: Y of the top node when it has one, in ONNX's layout, and
its Y_h, Y_c), and an entry in cases.json:
    glue           the template that joins the nodes (below)
    must_accept    the join is one lstmrt promises to read (PyTorch's and equivalent forms)
    join_is_exact  the glue, run alone by onnx.reference on a random Y, equals lstmrt's join
                   (Y -> (T, N, D*H), directions as channel blocks): when false, lstmrt must refuse
    x_batch_major  x is (N, T, I) (layout=1 nodes, or a batch_first Transpose before the first node)
    layout, directions, hidden, layers, encoder (the top node has no Y output)
onnx.reference ignores activations, clip and sequence_lens, so the nodes use the defaults and the
graphs take no lengths. Fixed seed: rerunning writes the same files.
"""
import json
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

HERE = os.path.dirname(os.path.abspath(__file__))
OPSET = 14
RNG = np.random.default_rng(20240612)


class Glue:
    """Emits nodes that turn value `y` (an LSTM Y) into the next node's X."""

    def __init__(self, prefix):
        self.nodes, self.inits, self.prefix, self.count = [], [], prefix, 0

    def name(self, what):
        self.count += 1
        return f"{self.prefix}_{what}_{self.count}"

    def const(self, values):
        n = self.name("c")
        self.inits.append(numpy_helper.from_array(np.array(values, dtype=np.int64), n))
        return n

    def op(self, op_type, inputs, **attrs):
        out = self.name(op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=self.name(op_type), **attrs))
        return out

    def transpose(self, v, perm):
        return self.op("Transpose", [v], perm=perm)

    def reshape(self, v, shape):
        return self.op("Reshape", [v, self.const(shape)])

    def shape_dims(self, v, indices):  # Gather(Shape(v), indices), 1-D
        return self.op("Gather", [self.op("Shape", [v]), self.const(indices)], axis=0)


# Templates: name -> (applies(D, layout), must_accept, build(glue, y, D, H) -> x).
def t_torch(g, y, D, H):  # PyTorch: Transpose(0,2,1,3) + Reshape([0,0,-1])
    return g.reshape(g.transpose(y, [0, 2, 1, 3]), [0, 0, -1])


def t_dynamic_shape(g, y, D, H):  # the target computed: Concat(Shape(t)[0:2], [-1])
    t = g.transpose(y, [0, 2, 1, 3])
    s = g.op("Slice", [g.op("Shape", [t]), g.const([0]), g.const([2])])
    return g.op("Reshape", [t, g.op("Concat", [s, g.const([-1])], axis=0)])


def t_literal_width(g, y, D, H):  # Reshape([0, 0, D*H])
    return g.reshape(g.transpose(y, [0, 2, 1, 3]), [0, 0, D * H])


def t_squeeze(g, y, D, H):  # D = 1: Squeeze(axes=[1])
    return g.op("Squeeze", [y, g.const([1])])


def t_reshape_d1(g, y, D, H):  # D = 1: Reshape([0, -1, H]) merges the size-1 D into N
    return g.reshape(y, [0, -1, H])


def t_noops(g, y, D, H):  # identities and an Unsqueeze/Squeeze pair around the torch join
    t = g.op("Identity", [g.transpose(y, [0, 2, 1, 3])])
    t = g.op("Squeeze", [g.op("Unsqueeze", [t, g.const([0])]), g.const([0])])
    return g.op("Identity", [g.reshape(t, [0, 0, -1])])


def t_two_transposes(g, y, D, H):  # (2,0,1,3) then (1,0,2,3): together (0,2,1,3)
    return g.reshape(g.transpose(g.transpose(y, [2, 0, 1, 3]), [1, 0, 2, 3]), [0, 0, -1])


def t_product_shape(g, y, D, H):  # target [T, N, D*H] from Y's own dims with Mul
    t = g.transpose(y, [0, 2, 1, 3])
    width = g.op("Mul", [g.shape_dims(y, [1]), g.shape_dims(y, [3])])
    target = g.op("Concat", [g.shape_dims(y, [0]), g.shape_dims(y, [2]), width], axis=0)
    return g.op("Reshape", [t, target])


def t_batch_major(g, y, D, H):  # layout=1: Y (N, T, D, H) reshaped to (N, T, D*H)
    return g.reshape(y, [0, 0, -1])


def t_batch_major_squeeze(g, y, D, H):  # layout=1, D = 1: Squeeze(axes=[2])
    return g.op("Squeeze", [y, g.const([2])])


def t_literal_sizes(g, y, D, H, T=None, N=None):  # Reshape([T, N, -1]): right for this T, N only
    return g.reshape(g.transpose(y, [0, 2, 1, 3]), [T, N, -1])


def t_direct_reshape(g, y, D, H):  # (T, 2, N, H) straight to (T, N, 2H): directions mixed with batch
    target = g.op("Concat", [g.shape_dims(y, [0]), g.shape_dims(y, [2]), g.const([-1])], axis=0)
    return g.op("Reshape", [y, target])


def t_interleaved(g, y, D, H):  # (T, N, H, D) merged: the directions interleaved per unit
    return g.reshape(g.transpose(y, [0, 2, 3, 1]), [0, 0, -1])


def t_time_batch_swapped(g, y, D, H):  # (N, T, D*H) into a time-major node: batch becomes time
    return g.reshape(g.transpose(y, [2, 0, 1, 3]), [0, 0, -1])


def t_batch_major_interleaved(g, y, D, H):  # layout=1: (N, T, H, D) merged
    return g.reshape(g.transpose(y, [0, 1, 3, 2]), [0, 0, -1])


TEMPLATES = {
    "torch": (lambda D, L: L == 0, True, t_torch),
    "dynamic_shape": (lambda D, L: L == 0, True, t_dynamic_shape),
    "literal_width": (lambda D, L: L == 0, True, t_literal_width),
    "squeeze": (lambda D, L: L == 0 and D == 1, True, t_squeeze),
    "reshape_d1": (lambda D, L: L == 0 and D == 1, True, t_reshape_d1),
    "noops": (lambda D, L: L == 0, True, t_noops),
    "two_transposes": (lambda D, L: L == 0, True, t_two_transposes),
    "product_shape": (lambda D, L: L == 0, True, t_product_shape),
    "batch_major": (lambda D, L: L == 1, True, t_batch_major),
    "batch_major_squeeze": (lambda D, L: L == 1 and D == 1, True, t_batch_major_squeeze),
    "literal_sizes": (lambda D, L: L == 0, False, t_literal_sizes),
    "direct_reshape": (lambda D, L: L == 0 and D == 2, False, t_direct_reshape),
    "interleaved": (lambda D, L: L == 0 and D == 2, False, t_interleaved),
    "time_batch_swapped": (lambda D, L: L == 0, False, t_time_batch_swapped),
    "batch_major_interleaved": (lambda D, L: L == 1 and D == 2, False, t_batch_major_interleaved),
}


def lstmrt_join(y, layout):
    """What lstmrt feeds the next layer: (T, N, D*H) from Y (T, D, N, H); (N, T, D*H) from (N, T, D, H)."""
    if layout == 0:
        T, D, N, H = y.shape
        return y.transpose(0, 2, 1, 3).reshape(T, N, D * H)
    N, T, D, H = y.shape
    return y.reshape(N, T, D * H)


def join_is_exact(template, D, H, T, N, layout):
    g = Glue("probe")
    shape = [T, D, N, H] if layout == 0 else [N, T, D, H]
    kwargs = {"T": T, "N": N} if template is t_literal_sizes else {}
    x = template(g, "Y", D, H, **kwargs)
    graph = helper.make_graph(g.nodes, "probe", [helper.make_tensor_value_info("Y", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info(x, TensorProto.FLOAT, None)], g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    y = RNG.standard_normal(shape).astype(np.float32)
    try:
        got = ReferenceEvaluator(model).run(None, {"Y": y})[0]
    except Exception:
        return False
    want = lstmrt_join(y, layout)
    return got.shape == want.shape and bool(np.array_equal(got, want))


def make_case(index, template_name):
    applies, must_accept, template = TEMPLATES[template_name]
    # Both direction counts in turn where the template allows them; its layout.
    prefer = 2 if (index // len(TEMPLATES)) % 2 == 0 else 1
    D, layout = next((d, l) for d in (prefer, 3 - prefer) for l in (0, 1) if applies(d, l))
    H, I, L = int(RNG.integers(2, 6)), int(RNG.integers(2, 5)), int(RNG.integers(2, 4))
    T, N = int(RNG.integers(2, 6)), int(RNG.integers(1, 4))
    encoder = bool(RNG.random() < 0.3)
    # A batch_first Transpose before the first node (layout 0 only): x is then (N, T, I).
    batch_first_x = layout == 0 and bool(RNG.random() < 0.3)
    x_batch_major = layout == 1 or batch_first_x
    name = f"glue_{index:02d}_{template_name}"
    direction = "bidirectional" if D == 2 else "forward"
    nodes, inits, outputs = [], [], []
    x_shape = [N, T, I] if x_batch_major else [T, N, I]
    current = "x"
    if batch_first_x:
        nodes.append(helper.make_node("Transpose", ["x"], ["x_time_major"], name="x_to_time_major", perm=[1, 0, 2]))
        current = "x_time_major"
    width = I
    for l in range(L):
        scale = 0.6
        W = RNG.uniform(-scale, scale, (D, 4 * H, width)).astype(np.float32)
        R = RNG.uniform(-scale, scale, (D, 4 * H, H)).astype(np.float32)
        B = RNG.uniform(-scale, scale, (D, 8 * H)).astype(np.float32)
        for tensor, label in ((W, "W"), (R, "R"), (B, "B")):
            inits.append(numpy_helper.from_array(tensor, f"{label}{l}"))
        top = l == L - 1
        y = "" if (top and encoder) else f"Y{l}"
        nodes.append(helper.make_node("LSTM", [current, f"W{l}", f"R{l}", f"B{l}"], [y, f"Y_h{l}", f"Y_c{l}"],
                                      name=f"lstm{l}", hidden_size=H, direction=direction, layout=layout))
        if top:
            if y:
                outputs.append(y)
            outputs += [f"Y_h{l}", f"Y_c{l}"]
        else:
            g = Glue(f"glue{l}")
            kwargs = {"T": T, "N": N} if template is t_literal_sizes else {}
            current = template(g, y, D, H, **kwargs)
            nodes += g.nodes
            inits += g.inits
        width = D * H
    graph = helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
                              [helper.make_tensor_value_info(o, TensorProto.FLOAT, [None] * (3 if "_" in o else 4))
                               for o in outputs], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    x = RNG.uniform(-1, 1, x_shape).astype(np.float32)
    results = ReferenceEvaluator(model).run(None, {"x": x})
    expected = {}
    for o, v in zip(outputs, results):
        expected["y" if o.startswith("Y") and not o.startswith("Y_") else o.split("Y_")[1][0]] = v
    onnx.save(model, os.path.join(HERE, name + ".onnx"))
    np.save(os.path.join(HERE, name + ".x.npy"), x)
    # y: the top node's Y in ONNX's layout; h, c: its Y_h, Y_c.
    np.savez(os.path.join(HERE, name + ".expected.npz"), **expected)
    return dict(name=name, glue=template_name, must_accept=must_accept,
                join_is_exact=join_is_exact(template, D, H, T, N, layout), x_batch_major=x_batch_major,
                layout=layout, directions=D, hidden=H, layers=L, steps=T, batch=N, encoder=encoder)


def main():
    for old in os.listdir(HERE):
        if old.startswith("glue_"):
            os.remove(os.path.join(HERE, old))
    names = list(TEMPLATES)
    cases = []
    for index in range(36):
        cases.append(make_case(index, names[index % len(names)]))
    with open(os.path.join(HERE, "cases.json"), "w") as f:
        json.dump(cases, f, indent=1)
    print(f"wrote {len(cases)} cases; exact joins: {sum(c['join_is_exact'] for c in cases)}")


if __name__ == "__main__":
    main()
