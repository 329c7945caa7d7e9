#!/usr/bin/env python3
"""Files that look like what torch.save writes, for lstmrt's format sniffing tests (test_cli_newcomer):
    torch_zip.pt     torch.save's zip format (PyTorch >= 1.6): ARCHIVE/data.pkl, ARCHIVE/data/0,
                     ARCHIVE/version — the layout torch writes; the pickle inside is a plain dict
                     (lstmrt only looks at the member names, it never unpickles)
    torch_legacy.pt  the legacy format: a pickle stream (protocol 2) at the start of the file
Standard library only: python3 tests/data/formats/make_fixtures.py
"""
import os
import pickle
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
state = {"weight_ih_l0": [[0.5, -0.25]], "weight_hh_l0": [[0.125]]}
with zipfile.ZipFile(os.path.join(HERE, "torch_zip.pt"), "w", zipfile.ZIP_STORED) as z:
    z.writestr("torch_zip/data.pkl", pickle.dumps(state, protocol=2))
    z.writestr("torch_zip/data/0", bytes(16))
    z.writestr("torch_zip/version", "3\n")
with open(os.path.join(HERE, "torch_legacy.pt"), "wb") as f:
    f.write(pickle.dumps(state, protocol=2))
print("wrote torch_zip.pt, torch_legacy.pt")
