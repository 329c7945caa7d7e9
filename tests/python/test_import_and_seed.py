"""`import lstmrt` needs no GPU, driver or cuDNN: nothing CUDA is mapped until a GPU backend or
info() asks; libraries that cannot be loaded are named (with where lstmrt looked) in info() and in
the error. The README's Python seed example runs as written."""
import os
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def run_python(code, **env):
    e = dict(os.environ)
    e.update(env)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=e, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_import_and_reference_forward_map_no_cuda_library():
    out = run_python(
        "import lstmrt, numpy as np\n"
        "m = lstmrt.LSTM(lstmrt.ModelDesc(2, 3), [dict(w_ih=np.ones((12, 2), 'f4'), w_hh=np.ones((12, 3), 'f4'))])\n"
        "m(np.ones((4, 1, 2), 'f4'))\n"
        "maps = open('/proc/self/maps').read()\n"
        "print([n for n in ('libcudnn', 'libcublas', 'libcudart', 'liblstmrt_gpu') if n in maps])\n")
    assert out.strip() == "[]"


def test_missing_gpu_libraries_are_named_in_info_and_errors():
    out = run_python(
        "import lstmrt, numpy as np\n"
        "i = lstmrt.info()\n"
        "print(i['gpu_libraries_status']); print(i['cudnn_version'])\n",
        LSTMRT_GPU_LIBRARY_PATH="/nonexistent/lib")
    status, version = out.strip().splitlines()
    assert status == "cuDNN 9 (libcudnn.so.9) not found; looked in LSTMRT_GPU_LIBRARY_PATH=/nonexistent/lib"
    assert version == "0"


def test_pip_layout_beside_the_package_is_searched(tmp_path):
    # site-packages/nvidia/cudnn/lib etc. as the nvidia-* wheels lay them out, found through the
    # package roots lstmrt registers at import (sys.path entries).
    import lstmrt
    info = lstmrt.info()
    if info["gpu_libraries_status"] != "ok":
        pytest.skip(f"no cuDNN/cuBLAS here: {info['gpu_libraries_status']}")
    real = pathlib.Path(info["cudnn_path"]).resolve().parent
    cublas = pathlib.Path(info["cublas_path"]).resolve()
    site = tmp_path / "site"
    (site / "nvidia/cudnn/lib").mkdir(parents=True)
    (site / "nvidia/cublas/lib").mkdir(parents=True)
    for f in real.glob("libcudnn*.so.9"):
        (site / "nvidia/cudnn/lib" / f.name).symlink_to(f)
    for f in cublas.parent.glob("libcublas*.so.*"):
        if not (site / "nvidia/cublas/lib" / f.name).exists():
            (site / "nvidia/cublas/lib" / f.name).symlink_to(f.resolve())
    out = run_python("import sys; sys.path.append(%r)\nimport lstmrt\ni = lstmrt.info()\n"
                     "print(i['gpu_libraries_status']); print(i['cudnn_path'])" % str(site))
    status, path = out.strip().splitlines()
    assert status == "ok"
    # ours, or a real nvidia-cudnn package in an earlier package root: a pip layout, not the system's
    assert path == str(site / "nvidia/cudnn/lib/libcudnn.so.9") or path.endswith("site-packages/nvidia/cudnn/lib/libcudnn.so.9")


def test_libraries_torch_loaded_are_reused():
    # A CUDA build of torch loads cuDNN / cuBLAS into the process: lstmrt binds to those copies.
    out = run_python(
        "import torch, lstmrt\n"
        "maps = [l.split()[-1] for l in open('/proc/self/maps') if l.rstrip().endswith(('libcudnn.so.9', '.so.13'))]\n"
        "cudnn = [m for m in maps if m.endswith('libcudnn.so.9')]\n"
        "if not cudnn: print('SKIP'); raise SystemExit\n"
        "i = lstmrt.info()\n"
        "import os; print(os.path.realpath(i['cudnn_path']) == os.path.realpath(cudnn[0]), i['gpu_libraries_status'])\n")
    if out.strip() == "SKIP":
        pytest.skip("torch did not load cuDNN at import (a CPU build, or lazy loading)")
    assert out.strip() == "True ok", out


def readme_seed_command():
    text = (ROOT / "README.md").read_text()
    m = re.search(r"^\s*python3 -c \"(import lstmrt;.*?)\"\s*$", text, re.M | re.S)
    assert m, "README has no `python3 -c \"import lstmrt; ...\"` seed example"
    return m.group(1)


def test_readme_seed_example_runs_as_written():
    out = run_python(readme_seed_command())
    # The seed (src/cli/demo.cpp): hand-computed in tests/cpu/test_seed_demo.cpp.
    assert "-0.0198954" in out and "-0.0124319" in out and "-0.0221022" in out, out
