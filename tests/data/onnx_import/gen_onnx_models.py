#!/usr/bin/python3
"""ONNX models exported by PyTorch (torch.onnx.export, torch 1.13) with torch's own outputs, for
lstmrt's tests (tests/cpu/test_import_onnx.cpp).

    /usr/bin/python3 tests/data/onnx_import/gen_onnx_models.py
Writes, for every case CASE:
    CASE.onnx           the exported model (opset 14): LSTM nodes plus the layout ops around them
    CASE.x.npy          input (T, N, I), or (N, T, I) when batch_first (float32)
    CASE.h0.npy/c0.npy  initial state, when the model takes it as graph inputs
    CASE.expected.npz   y, h_n, c_n as torch returns them (float32)
and bad_*.onnx: exported models edited with the onnx package into what the importer must reject
(an op outside its set, a non-zero constant initial state, a missing W, a broken stack).
layout=1 models are made from these by tests/cpu/test_import_onnx_layout.cpp.
Fixed seeds: rerunning reproduces the same files.
"""
import os

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))


class Wrap(torch.nn.Module):
    def __init__(self, lstm, with_state):
        super().__init__()
        self.lstm, self.with_state = lstm, with_state

    def forward(self, x, h0=None, c0=None):
        y, (h, c) = self.lstm(x, (h0, c0)) if self.with_state else self.lstm(x)
        return y, h, c


CASES = [
    dict(name="torch_stack_bidir", I=4, H=5, N=3, T=6, L=2, bidirectional=True),
    dict(name="torch_batch_first_state", I=3, H=4, N=2, T=5, L=2, batch_first=True, initial_state=True),
    dict(name="torch_single", I=5, H=3, N=4, T=3),
]


def main():
    for index, case in enumerate(CASES):
        torch.manual_seed(4000 + index)
        I, H, N, T, L = case["I"], case["H"], case["N"], case["T"], case.get("L", 1)
        bf, bidir = case.get("batch_first", False), case.get("bidirectional", False)
        lstm = torch.nn.LSTM(I, H, num_layers=L, batch_first=bf, bidirectional=bidir)
        with torch.no_grad():
            for p in lstm.parameters():
                p.uniform_(-0.6, 0.6)
        state = case.get("initial_state", False)
        model = Wrap(lstm, state).eval()
        x = torch.empty((N, T, I) if bf else (T, N, I)).uniform_(-1, 1)
        D = 2 if bidir else 1
        args = (x,)
        names = ["x"]
        if state:
            h0 = torch.empty(L * D, N, H).uniform_(-1, 1)
            c0 = torch.empty(L * D, N, H).uniform_(-1, 1)
            args = (x, h0, c0)
            names = ["x", "h0", "c0"]
            np.save(os.path.join(HERE, case["name"] + ".h0.npy"), h0.numpy())
            np.save(os.path.join(HERE, case["name"] + ".c0.npy"), c0.numpy())
        with torch.no_grad():
            y, h, c = model(*args)
        path = os.path.join(HERE, case["name"] + ".onnx")
        torch.onnx.export(model, args, path, input_names=names, output_names=["y", "h_n", "c_n"], opset_version=14)
        np.save(os.path.join(HERE, case["name"] + ".x.npy"), x.numpy())
        np.savez(os.path.join(HERE, case["name"] + ".expected.npz"), y=y.numpy(), h_n=h.numpy(), c_n=c.numpy())
        print("wrote", case["name"])


def write_bad_models():
    import onnx
    from onnx import helper, numpy_helper

    def edit(source, target, change):
        m = onnx.load(os.path.join(HERE, source + ".onnx"))
        change(m.graph)
        onnx.save(m, os.path.join(HERE, target + ".onnx"))

    def add_relu(g):
        y = g.output[0].name
        for n in g.node:
            for i, o in enumerate(n.output):
                if o == y:
                    n.output[i] = "pre_relu"
        g.node.append(helper.make_node("Relu", ["pre_relu"], [y], name="relu_after_lstm"))

    def nonzero_state(g):
        lstm = next(n for n in g.node if n.op_type == "LSTM")
        g.initializer.append(numpy_helper.from_array(np.full((1, 4, 3), 0.5, np.float32), "h0_const"))
        lstm.input[5] = "h0_const"

    def missing_w(g):
        lstm = next(n for n in g.node if n.op_type == "LSTM")
        keep = [t for t in g.initializer if t.name != lstm.input[1]]
        del g.initializer[:]
        g.initializer.extend(keep)

    def broken_chain(g):
        lstms = [n for n in g.node if n.op_type == "LSTM"]
        lstms[1].input[0] = "x"

    edit("torch_single", "bad_unsupported_op", add_relu)
    edit("torch_single", "bad_nonzero_state", nonzero_state)
    edit("torch_single", "bad_missing_w", missing_w)
    edit("torch_stack_bidir", "bad_broken_chain", broken_chain)


if __name__ == "__main__":
    main()
    write_bad_models()
