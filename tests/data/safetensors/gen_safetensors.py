#!/usr/bin/python3
"""safetensors files of nn.LSTM state_dicts, with torch's own outputs, for lstmrt's tests
(tests/cpu/test_import_safetensors.cpp).

Run with a Python that has torch and numpy (Debian's /usr/bin/python3 on the dev machine):
    /usr/bin/python3 tests/data/safetensors/gen_safetensors.py
torch 1.13 has no safetensors module, so write_safetensors() writes the format itself, as
safetensors.torch.save_file does: an 8-byte little-endian header length, the JSON header
{"__metadata__": {...}, NAME: {"dtype", "shape", "data_offsets": [begin, end]}}, padded with
spaces to a multiple of 8, then the tensors' bytes back to back in the header's order.
Writes, for every case CASE:
    CASE.safetensors   the state_dict, stored in the case's dtype
    CASE.x.npy         input (T, N, I), or (N, T, I) when batch_first (float32)
    CASE.expected.npz  y, h_n, c_n from torch, computed with the stored (rounded) weights
Fixed seeds: rerunning reproduces the same files.
"""
import json
import os
import struct

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))

DTYPES = {"F32": (torch.float32, 4), "F16": (torch.float16, 2), "BF16": (torch.bfloat16, 2),
          "F64": (torch.float64, 8)}

CASES = [
    # A wrapper module: names carry the "lstm." prefix, as model.state_dict() writes them.
    dict(name="stack_bidir_f32", I=5, H=6, N=3, T=4, L=2, bidirectional=True, dtype="F32", prefix="lstm."),
    dict(name="proj_f16", I=4, H=8, P=3, N=2, T=5, dtype="F16"),
    dict(name="stack_bf16", I=3, H=5, N=4, T=6, L=2, dtype="BF16"),
    dict(name="batch_first_f64", I=3, H=4, N=2, T=3, batch_first=True, dtype="F64"),
]


def write_safetensors(path, tensors, metadata):
    header = {"__metadata__": metadata}
    chunks, offset = [], 0
    for name, t in tensors.items():
        raw = t.contiguous().view(torch.uint8).numpy().tobytes() if t.dtype == torch.bfloat16 \
            else t.contiguous().numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()
        dtype = next(k for k, (td, _) in DTYPES.items() if td == t.dtype)
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in chunks:
            f.write(raw)


def run_case(index, case):
    I, H, N, T = case["I"], case["H"], case["N"], case["T"]
    P, L = case.get("P", 0), case.get("L", 1)
    batch_first = case.get("batch_first", False)
    torch.manual_seed(2000 + index)
    lstm = torch.nn.LSTM(I, H, num_layers=L, batch_first=batch_first,
                         bidirectional=case.get("bidirectional", False), proj_size=P)
    store_dtype = DTYPES[case["dtype"]][0]
    with torch.no_grad():
        for p in lstm.parameters():
            p.uniform_(-0.6, 0.6)
            p.copy_(p.to(store_dtype).to(torch.float32))  # torch computes with the stored values
    prefix = case.get("prefix", "")
    tensors = {prefix + k: v.detach().to(store_dtype) for k, v in lstm.state_dict().items()}
    write_safetensors(os.path.join(HERE, case["name"] + ".safetensors"), tensors, {"format": "pt"})

    shape = (N, T, I) if batch_first else (T, N, I)
    x = torch.empty(shape).uniform_(-1.0, 1.0)
    with torch.no_grad():
        y, (h_n, c_n) = lstm(x)
    np.save(os.path.join(HERE, case["name"] + ".x.npy"), x.numpy().astype(np.float32))
    np.savez(os.path.join(HERE, case["name"] + ".expected.npz"), y=y.numpy(), h_n=h_n.numpy(), c_n=c_n.numpy())


def main():
    for index, case in enumerate(CASES):
        run_case(index, case)
        print("wrote", case["name"])


if __name__ == "__main__":
    main()
