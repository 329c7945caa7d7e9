#!/usr/bin/python3
"""Golden data from torch.nn.LSTM for lstmrt's tests (tests/cpu/test_torch_golden.cpp).

Run with a Python that has torch and numpy (Debian's /usr/bin/python3 on the dev machine):
    /usr/bin/python3 tests/data/torch/gen_torch_golden.py
Writes, for every case CASE, into this directory:
    CASE.weights.npz   the nn.LSTM state_dict (names as PyTorch writes them, float32)
    CASE.x.npy         input, (T, N, I) or (N, T, I) when batch_first (float32)
    CASE.lengths.npy   per-row lengths (int64), only for variable-length cases
    CASE.h0.npy/.c0.npy initial state (L*D, N, H_out) / (L*D, N, H), only when given
    CASE.expected.npz  y, h_n, c_n as torch returns them (float32)
and cases.json describing each case (sizes and flags), which the C++ test cross-checks.
Fixed seeds: rerunning reproduces the same files.
"""
import json
import os

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))

# name, sizes and flags. Odd, distinct sizes so a transposed or mis-strided tensor cannot pass.
CASES = [
    dict(name="single", I=5, H=7, N=3, T=6),
    dict(name="stack2", I=4, H=6, N=2, T=5, L=2),
    dict(name="bidir", I=3, H=5, N=4, T=7, bidirectional=True),
    dict(name="proj", I=5, H=7, P=3, N=3, T=6),
    dict(name="stack_bidir_proj", I=5, H=6, P=4, N=3, T=5, L=2, bidirectional=True),
    dict(name="batch_first", I=6, H=5, N=3, T=4, L=2, batch_first=True),
    # lengths include 1 and T; rows deliberately not sorted (enforce_sorted=False)
    dict(name="lengths", I=5, H=7, N=4, T=6, lengths=[3, 6, 1, 4]),
    dict(name="lengths_stack_bidir_proj", I=4, H=6, P=3, N=5, T=7, L=2, bidirectional=True,
         lengths=[2, 7, 1, 5, 7]),
    dict(name="lengths_batch_first_bidir", I=3, H=5, N=3, T=5, bidirectional=True, batch_first=True,
         lengths=[5, 1, 3]),
    dict(name="initial_state", I=5, H=7, N=3, T=6, L=2, bidirectional=True, initial_state=True),
    dict(name="initial_state_proj_lengths", I=4, H=6, P=5, N=3, T=5, initial_state=True,
         lengths=[4, 1, 5]),
    dict(name="no_bias", I=5, H=7, N=3, T=6, bias=False),
]


def run_case(index, case):
    I, H, N, T = case["I"], case["H"], case["N"], case["T"]
    P = case.get("P", 0)
    L = case.get("L", 1)
    bidirectional = case.get("bidirectional", False)
    batch_first = case.get("batch_first", False)
    bias = case.get("bias", True)
    D = 2 if bidirectional else 1
    H_out = P if P else H

    torch.manual_seed(1000 + index)
    lstm = torch.nn.LSTM(I, H, num_layers=L, bias=bias, batch_first=batch_first,
                         bidirectional=bidirectional, proj_size=P)
    # Wider than PyTorch's default init (1/sqrt(H)) so gates leave their linear region.
    with torch.no_grad():
        for p in lstm.parameters():
            p.uniform_(-0.6, 0.6)
    x = torch.randn((N, T, I) if batch_first else (T, N, I))
    h0 = c0 = None
    if case.get("initial_state"):
        h0 = torch.randn(L * D, N, H_out) * 0.5
        c0 = torch.randn(L * D, N, H) * 0.5
    state = (h0, c0) if h0 is not None else None

    with torch.no_grad():
        if "lengths" in case:
            lengths = torch.tensor(case["lengths"], dtype=torch.int64)
            assert lengths.min() == 1 and lengths.max() == T
            packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=batch_first,
                                                             enforce_sorted=False)
            y_packed, (h_n, c_n) = lstm(packed, state)
            y, _ = torch.nn.utils.rnn.pad_packed_sequence(y_packed, batch_first=batch_first, total_length=T)
        else:
            y, (h_n, c_n) = lstm(x, state)

    prefix = os.path.join(HERE, case["name"])
    np.savez(prefix + ".weights.npz", **{k: v.detach().numpy().astype(np.float32)
                                         for k, v in lstm.state_dict().items()})
    np.save(prefix + ".x.npy", x.numpy().astype(np.float32))
    if "lengths" in case:
        np.save(prefix + ".lengths.npy", np.array(case["lengths"], dtype=np.int64))
    if h0 is not None:
        np.save(prefix + ".h0.npy", h0.numpy().astype(np.float32))
        np.save(prefix + ".c0.npy", c0.numpy().astype(np.float32))
    np.savez(prefix + ".expected.npz", y=y.numpy().astype(np.float32), h_n=h_n.numpy().astype(np.float32),
             c_n=c_n.numpy().astype(np.float32))
    return dict(name=case["name"], input_size=I, hidden_size=H, proj_size=P, num_layers=L,
                bidirectional=bidirectional, batch_first=batch_first, bias=bias, seq_len=T, batch=N,
                lengths="lengths" in case, initial_state=h0 is not None)


def main():
    manifest = [run_case(i, c) for i, c in enumerate(CASES)]
    with open(os.path.join(HERE, "cases.json"), "w") as f:
        json.dump({"generator": "gen_torch_golden.py", "torch": torch.__version__, "cases": manifest}, f, indent=1)
        f.write("\n")
    print(f"wrote {len(manifest)} cases to {HERE}")


if __name__ == "__main__":
    main()
