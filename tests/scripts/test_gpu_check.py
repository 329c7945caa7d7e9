#!/usr/bin/env python3
"""`scripts/gpu-check run` against a fake device, on a machine without a GPU.

Each case builds a scratch repository around a copy of the script under test (its bench/ and tests/
are the real ones, linked) with a fake build tree: a CTestTestfile.cmake listing fake GPU tests with
the labels and properties gtest_discover_tests gives the real ones, fake test executables with
scripted outcomes (pass, fail, skip with a message, sleep), a fake `lstmrt info` printing the lines
src/cli/info.cpp's format strings make, fake lstmrt-bench / lstmrt-exchange-bench; on PATH a fake
nvidia-smi and a python3 that fakes torch (anything else goes to the real interpreter). The real
ctest runs the fake tests. The pytest stages run the real pytest (with gpu-check's plugin) on fake
test files with scripted outcomes: the Python stage after a fake cmake "built" a fake lstmrt package
(a fake python3 says whether nanobind is installed), the Triton stage through the real
scripts/test-triton in its packed mode on a fake carried pack (server and client). Each case
asserts the verdict, the exit status, that OUT holds at most 8 files with the expected names, and
what summary.txt says; two cases kill the run mid-stage. Time bounds are read off each stage's own
measured seconds, not the harness's wall clock, so that a loaded machine cannot fail a case.

    python3 tests/scripts/test_gpu_check.py [--script PATH] [-k NAME_PART] [-j CASES_AT_A_TIME]

--script (or GPU_CHECK_SCRIPT) runs the same cases against another version of the script, e.g.
`git show 3ce9352:scripts/gpu-check > /tmp/old-gpu-check`.
"""
import argparse
import concurrent.futures
import io
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tarfile
import tempfile
import time
import unittest
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPT = Path(os.environ.get("GPU_CHECK_SCRIPT", REPO / "scripts" / "gpu-check"))
OUT_NAMES = {"summary.txt", "gpu-check.log", "details.tar.gz"}
MAX_OUT_FILES = 8  # what the device call brings back

# The fake build's GPU tests: executable -> test names (ctest labels gpu and the executable's name,
# as tests/gpu/CMakeLists.txt gives them). Serial ones get RUN_SERIAL. test_bench_gpu is in no named
# stage: the `rest` stage must pick it up.
SUITES = {
    "test_smoke": ["GpuSmoke.DeviceQueryMatchesQuerySystem", "GpuSmoke.CellMathProbeMatchesHostInstantiation"],
    "test_upload_lengths": ["GpuUploadLengths.ZeroRowsIsANoOp"],
    "test_cudnn_vs_reference": ["CudnnVsReference.RandomConfigurations"],
    "test_cudnn_transforms": ["CudnnTransforms.ReverseRowsMatchesHostMap"],
    "test_cudnn_behaviour": ["CudnnBehaviour.SmallHRefusesUnequalLengths",
                             "CudnnBehaviour.PersistDynamicNeedsReserveForItsBatch", "CudnnBehaviour.BadDeviceOrdinal"],
    "test_cudnn_gpu_checks": ["CudnnGpuChecks.PaddedOutputsAreZero"],
    "test_fused_backend": ["FusedGpu.VsReferenceRandomGridEveryPrecision", "FusedGpu.WorkspaceErrors"],
    "test_persistent": ["PersistentGpu.VsReferenceRandomGrid", "PersistentGpu.ForcedTimeoutReportsInsteadOfHanging"],
    "test_onnx_node_tests_gpu": ["Lstm/OnnxNodeTestsGpu.GraphImporterOnGpuBackends/test_lstm_defaults"],
    "test_bench_gpu": ["BenchGpu.CeilingsArePlausible"],
}
SERIAL = {"PersistentGpu.ForcedTimeoutReportsInsteadOfHanging", "BenchGpu.CeilingsArePlausible"}
ALL_TESTS = [t for names in SUITES.values() for t in names]
NO_GPU_SKIP = "no usable GPU: cudaGetDeviceCount: cudaErrorNoDevice (no CUDA-capable device is detected)"
CUDNN_REFUSAL = "cuDNN refuses persist_static_small_h for this model/shape here: backend cudnn cannot serve it"


def info_lines(gpu):
    """`lstmrt info` as src/cli/info.cpp prints it: its format strings, filled with H200 values."""
    source = (REPO / "src" / "cli" / "info.cpp").read_text()
    formats = re.findall(r'out << fmt::format\("((?:[^"\\]|\\.)*)\\n"', source)
    values = {
        "lstmrt ": ["0.0.0"],
        "backends built in: ": ["reference, cudnn, fused"],
        "backends usable here: ": ["reference, cudnn, fused" if gpu else "reference"],
        "GPUs: none": ["cudaGetDeviceCount: cudaErrorNoDevice (no CUDA-capable device is detected)"],
        "GPU {}: ": [0, "NVIDIA H200", 9, 0, 139.8, 132],
        "CUDA runtime: ": ["13.0"],
        "CUDA driver: ": ["13.0" if gpu else "none (no NVIDIA driver loaded)"],
        "cuDNN: ": ["9.19.0 (/usr/local/lib/python3.12/site-packages/nvidia/cudnn/lib/libcudnn.so.9, built for CUDA 13.0)"],
        "cuBLAS: ": ["13.1.0 (/usr/local/lib/python3.12/site-packages/nvidia/cublas/lib/libcublas.so.13)"],
        "GPU module: ": ["/work/main/build-device/lib/liblstmrt_gpu.so"],
    }
    lines = []
    for f in formats:
        key = next((k for k in values if f.startswith(k)), None)
        if key is None:
            raise AssertionError(f"src/cli/info.cpp prints a line this fake does not know: {f!r}")
        if (key == "GPUs: none" and gpu) or (key == "GPU {}: " and not gpu):
            continue
        args = iter(values[key])
        lines.append(re.sub(r"\{(:[^}]*)?\}", lambda m: format(next(args), (m.group(1) or ":")[1:]), f))
    return lines


def write_exe(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def fake_gtest(outcomes):
    """A gtest binary as ctest runs a discovered test: `exe --gtest_filter=NAME`; outcome per name."""
    cases = []
    for name, (kind, arg) in outcomes.items():
        if kind == "pass":
            body = 'ok'
        elif kind == "fail":
            body = 'echo "fake_test.cpp:12: Failure"; echo "Expected equality of these values: 1 and 2"; ' \
                   'echo "[  FAILED  ] $name (1 ms)"; echo "[  FAILED  ] 1 test, listed below:"; exit 1'
        elif kind == "skip":
            body = f'echo "fake_test.cpp:27: Skipped"; echo {shell_quote(arg)}; echo "[  SKIPPED ] $name (0 ms)"; ' \
                   'echo "[  PASSED  ] 0 tests."; echo "[  SKIPPED ] 1 test, listed below:"; exit 0'
        elif kind == "sleep":
            body = f'sleep {arg}; ok'
        else:
            raise ValueError(kind)
        cases.append(f"  {shell_quote(name)}) {body} ;;")
    return f"""#!/usr/bin/env bash
name=""
for a in "$@"; do case "$a" in --gtest_filter=*) name="${{a#--gtest_filter=}}" ;; esac; done
echo "Running main() from fake_gtest"; echo "Note: Google Test filter = $name"; echo "[ RUN      ] $name"
ok() {{ echo "[       OK ] $name (1 ms)"; echo "[  PASSED  ] 1 test."; exit 0; }}
case "$name" in
{chr(10).join(cases)}
  *) echo "fake_gtest: no test $name"; exit 1 ;;
esac
"""


def shell_quote(s):
    return "'" + str(s).replace("'", "'\\''") + "'"


# lstmrt-bench's CSV columns (bench/tests/check_quick.cmake holds the list) and one row's values after
# source, backend and variant.
CSV_HEADER = re.search(r'set\(expected "([^"]+)"\)', (REPO / "bench" / "tests" / "check_quick.cmake").read_text()).group(1)
CSV_ROW = "1,50,256,256,0,1,1,fp32,ok,1e-06,50,10,0.5,0.45,0.55,10,0.1,1,0.05,1,0.1,0.2,1,cuda_event,NVIDIA H200,,"

FAKE_BENCH = r"""#!/usr/bin/env bash
# lstmrt-bench: writes every file it is asked for, prints a line, exits with the preset's status.
CSV_HEADER='@CSV_HEADER@'
CSV_ROW='@CSV_ROW@'
echo "${LD_LIBRARY_PATH:-}" >@RECORD@/bench.ld_library_path
csv="" json="" tcsv="" preset="" from=""
while [ $# -gt 0 ]; do
  case "$1" in
    --csv) csv="$2"; shift ;; --json) json="$2"; shift ;; --targets-csv) tcsv="$2"; shift ;;
    --preset) preset="$2"; shift ;; --targets-from) from="$2"; shift ;;
  esac
  shift
done
[ -n "$csv" ] && printf '%s\n%s\n' "$CSV_HEADER" "lstmrt,fused,stepwise,$CSV_ROW" >"$csv"
[ -n "$json" ] && printf '{"gpu_status": "ok", "rows": []}\n' >"$json"
[ -n "$tcsv" ] && printf 'target,verdict\ncluster,met\n' >"$tcsv"
if [ -n "$from" ]; then echo "persistent targets: 1 met, 0 missed, 0 owed (from $from)"; exit 0; fi
echo "lstmrt-bench (fake): preset $preset"
case "$preset" in @RC_CASES@ esac
exit 0
"""

FAKE_EXCHANGE = """#!/usr/bin/env bash
csv=""; while [ $# -gt 0 ]; do [ "$1" = --csv ] && csv="$2"; shift; done
[ -n "$csv" ] && printf 'variant,hidden,status,us_per_step\\ngrid,256,ok,1.5\\n' >"$csv"
echo "grid H=256 ok 1.5 us/step"
"""

FAKE_NVIDIA_SMI = """#!/usr/bin/env bash
case "$*" in
  -L) echo "GPU 0: NVIDIA H200 (UUID: GPU-00000000-0000-0000-0000-000000000000)" ;;
  --query-gpu=*) echo "NVIDIA H200, 580.159.03, 143771 MiB" ;;
  *) echo "| NVIDIA-SMI 580.159.03   Driver Version: 580.159.03   CUDA Version: 13.0 |" ;;
esac
"""

# python3 on PATH: torch (probes and bench/torch_compare.py) is faked, matplotlib absent (plots are
# drawn on a build machine), nanobind present or not as the case says (its headers' folder is the
# case's own), everything else is real (an interpreter with pytest).
FAKE_PYTHON = """#!/usr/bin/env bash
[ "${{1:-}}" = -c ] && [[ "${{2:-}}" == *matplotlib* ]] && exit 1
if [ "${{1:-}}" = -m ] && [ "${{2:-}}" = nanobind ]; then
  {nanobind}
fi
if [ "${{1:-}}" = -c ] && [[ "${{2:-}}" == *sysconfig* ]]; then echo {include}; exit 0; fi
if [ "${{1:-}}" = -c ] && [[ "${{2:-}}" == *torch* ]]; then
  [[ "$2" == *__version__* ]] && echo "2.11.0+fake"
  exit 0
fi
if [[ "${{1:-}}" == *torch_compare.py ]]; then
  echo "${{LD_LIBRARY_PATH:-}}" >{record}/torch.ld_library_path
  csv=""; while [ $# -gt 0 ]; do [ "$1" = --csv ] && csv="$2"; shift; done
  [ -n "$csv" ] && printf '%s\\n%s\\n' '{header}' 'torch,torch.nn.LSTM,plain,{row}' >"$csv"
  echo "torch_compare (fake): torch.nn.LSTM rows written"
  exit 0
fi
exec {real} "$@"
"""


# cmake as build_python_extension calls it: configuring python/prebuilt records its arguments;
# `--build DIR` "builds" after @SECONDS@ s: DIR/python/lstmrt, a package whose gpu_available() says
# what this case's lstmrt info says (or whose import fails, @BROKEN@, as an extension missing a
# library would). Anything else goes to the real cmake.
FAKE_CMAKE = r"""#!/usr/bin/env bash
if [ "$1" = -S ] && [[ "$2" == */python/prebuilt ]]; then
  echo "$*" >@RECORD@/cmake-configure.args
  mkdir -p "$4"
  exit 0
fi
if [ "$1" = --build ] && [[ "$2" == */python-extension ]]; then
  echo "[1/2] Building CXX object python/CMakeFiles/_lstmrt.dir/src/bindings.cpp.o"
  sleep @SECONDS@
  mkdir -p "$2/python/lstmrt"
  cat >"$2/python/lstmrt/__init__.py" <<'PY'
@BROKEN@
def gpu_available():
    return @GPU@


def info():
    return {"gpu_status": "@STATUS@"}
PY
  echo "[2/2] Linking CXX shared module python/lstmrt/_lstmrt.cpython-312-x86_64-linux-gnu.so"
  exit 0
fi
exec @REAL@ "$@"
"""

# The Python suite's fake: conftest.py as the real one skips `gpu` tests where lstmrt sees no GPU.
FAKE_CONFTEST = """import os

import lstmrt
import pytest

open(os.path.join(os.environ["FAKE_DEVICE_CASE"], "pytest.ld_library_path"), "w").write(os.environ.get("LD_LIBRARY_PATH", ""))


def pytest_collection_modifyitems(config, items):
    if not lstmrt.gpu_available():
        for item in items:
            if "gpu" in item.keywords:
                item.add_marker(pytest.mark.skip(reason="no usable GPU: " + lstmrt.info()["gpu_status"]))
"""
# File -> test names (what the stage's `-m "gpu or custom_op"` selects, test_cpu.py's aside).
PY_TESTS = {
    "test_gpu.py": ["test_torch_cuda_tensors[cudnn]", "test_torch_cuda_tensors[fused]", "test_torch_compile_on_cuda"],
    "test_custom_op.py": ["test_torch_compile_traces_through"],
}
PY_SELECTED = sum(len(v) for v in PY_TESTS.values()) + 1  # + test_keras_live.py, skipped whole (expected)
TRITON_TESTS = ["test_gpu_instances_load_on_their_device", "test_gpu_stateless_requests_match_the_reference[gpu_fused]",
                "test_gpu_bounded_load"]
KERAS_SKIP = "could not import 'keras': No module named 'keras'"
LIBRARY_MISSING = "libsz.so.2: cannot open shared object file: No such file or directory"


def fake_pytest_file(names, outcomes, header):
    """A pytest file holding the tests `names` ("f" or "f[param]": one function per f) whose bodies
    do what `outcomes` says for each name: pass, fail, skip (message), sleep (seconds), or error (its
    set-up raises, as a fixture that cannot start a server would)."""
    bodies = {"pass": "pass", "fail": "assert 1 == 2, 'planted failure'", "skip": "pytest.skip({arg!r})",
              "sleep": "time.sleep({arg})", "error": "pass"}
    functions = {}
    for n in names:
        base, _, param = n.partition("[")
        functions.setdefault(base, []).append(param.rstrip("]"))
    setup_errors = [n for n in names if outcomes.get(n, ("pass",))[0] == "error"]
    lines = ["import os", "import time", "", "import pytest", "", header, "",
             "@pytest.fixture(autouse=True)", "def _planted_setup(request):",
             f"    if request.node.name in {setup_errors!r}:",
             "        raise RuntimeError('planted: the server did not start')", ""]
    for base, params in functions.items():
        if params == [""]:
            lines += [f"def {base}():", "    p = ''"]
        else:
            lines += [f"@pytest.mark.parametrize('p', {params!r})", f"def {base}(p):"]
        for prm in params:
            kind, arg = outcomes.get(f"{base}[{prm}]" if prm else base, ("pass", None))
            lines += [f"    if p == {prm!r}:", "        " + bodies[kind].format(arg=arg)]
        lines.append("")
    return "\n".join(lines) + "\n"


# The Triton GPU tests' fake (triton/tests/server/test_gpu_instances.py, run by the real
# scripts/test-triton packed): it imports the carried client, raises at collection when a GPU was
# promised (TEST_TRITON_REQUIRE_GPU=1) and lstmrt info lists no GPU backend, writes the server log
# and the load test's JSON where test-triton collects them; with `server` it starts a "server" in
# a process group of its own and leaves it running.
TRITON_HEADER = """import subprocess
import tritonclient  # noqa: F401 (carried: the pack's site/)

WORK = os.environ["LSTMRT_TRITON_WORK"]
usable = "cudnn" in subprocess.run([os.environ["LSTMRT_CLI"], "info"], capture_output=True, text=True).stdout.split(
    "backends usable here:")[1].splitlines()[0]
if not usable:
    if os.environ.get("TEST_TRITON_REQUIRE_GPU") == "1":
        raise RuntimeError("TEST_TRITON_REQUIRE_GPU=1 but `lstmrt info` lists no usable GPU backend")
    pytestmark = pytest.mark.skip(reason="no usable GPU here: KIND_GPU instances are checked on a GPU machine")
open(os.path.join(WORK, "tritonserver-gpu.log"), "w").write("lstmrt: instance 'gpu_fused_0_0': backend fused on GPU 0\\n")
open(os.path.join(WORK, "gpu-load-test.json"), "w").write('{"requests": 3200, "p50_ms": 0.4}\\n')
if os.environ.get("FAKE_TRITON_SERVER"):
    subprocess.Popen(["sleep", "300"], start_new_session=False, preexec_fn=os.setpgrp)
"""


class FakeDevice:
    """A scratch repository with a fake build, fake tools on PATH and an OUT folder."""

    def __init__(self, root, outcomes=None, gpu=True, nvidia_smi=True, bench_rc=None, elf=None, bundle=False,
                 nanobind=True, build_seconds=0, client=True, server=False, broken_extension=False):
        self.root = Path(root)
        self.repo = self.root / "repo"
        (self.repo / "scripts").mkdir(parents=True)
        shutil.copy(SCRIPT, self.repo / "scripts" / "gpu-check")
        for linked in ("scripts/test-triton", "scripts/gpu_check_pytest.py", "bench", "src", "python", "pyproject.toml"):
            (self.repo / linked).symlink_to(REPO / linked)
        (self.repo / "tests").mkdir()
        for entry in (REPO / "tests").iterdir():
            if entry.name != "python":
                (self.repo / "tests" / entry.name).symlink_to(entry)
        self.out = self.root / "out"
        self.bin = self.root / "bin"
        self.bin.mkdir()
        self.server = server
        if nvidia_smi:
            write_exe(self.bin / "nvidia-smi", FAKE_NVIDIA_SMI)
        include = self.root / "python-include"
        include.mkdir()
        (include / "Python.h").write_text("/* the fake Python's headers */\n")
        nanobind_answer = 'echo 2.9.2; exit 0' if nanobind else \
            'echo "/opt/torch/.venv/bin/python3: No module named nanobind" >&2; exit 1'
        write_exe(self.bin / "python3", FAKE_PYTHON.format(real=shell_quote(PYTEST_PYTHON), header=CSV_HEADER, row=CSV_ROW,
                                                               record=shell_quote(self.root), nanobind=nanobind_answer,
                                                               include=shell_quote(include)))
        status = "ok" if gpu else "no NVIDIA driver: libcuda.so.1 could not be loaded"
        write_exe(self.bin / "cmake", FAKE_CMAKE.replace("@RECORD@", shell_quote(self.root))
                  .replace("@SECONDS@", str(build_seconds))
                  .replace("@BROKEN@", f"raise ImportError({LIBRARY_MISSING!r})" if broken_extension else "").replace("@GPU@", str(gpu)).replace("@STATUS@", status)
                  .replace("@REAL@", shell_quote(shutil.which("cmake") or "cmake")))
        outcomes_all = dict(outcomes or {})
        tests_python = self.repo / "tests" / "python"
        tests_python.mkdir()
        (tests_python / "conftest.py").write_text(FAKE_CONFTEST)
        (tests_python / "test_gpu.py").write_text(
            fake_pytest_file(PY_TESTS["test_gpu.py"], outcomes_all, "pytestmark = pytest.mark.gpu"))
        (tests_python / "test_custom_op.py").write_text(
            fake_pytest_file(PY_TESTS["test_custom_op.py"], outcomes_all, "pytestmark = pytest.mark.custom_op"))
        (tests_python / "test_cpu.py").write_text(fake_pytest_file(["test_cpu_only"], {}, ""))
        (tests_python / "test_keras_live.py").write_text(
            f"import pytest\n\npytest.skip({KERAS_SKIP!r}, allow_module_level=True)\n")
        server_tests = self.repo / "triton" / "tests" / "server"
        server_tests.mkdir(parents=True)
        (server_tests / "test_gpu_instances.py").write_text(fake_pytest_file(TRITON_TESTS, outcomes_all, TRITON_HEADER))
        # A bundle's tree is built where prepare recorded it, then moved away: run must unpack it
        # and link the recorded path to the repository again.
        self.recorded = self.root / "recorded-root"
        build = (self.recorded if bundle else self.repo) / "build-device"
        self.build = build
        outcomes = dict(outcomes or {})
        default = ("pass", None) if gpu else ("skip", NO_GPU_SKIP)
        lines = []
        for exe, names in SUITES.items():
            path = build / "tests" / "gpu" / exe
            if elf and exe == elf[0]:
                path.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(elf[1], path)
            else:
                write_exe(path, fake_gtest({n: outcomes.get(n, default) for n in names}))
            for n in names:
                props = f"WORKING_DIRECTORY {build}/tests/gpu SKIP_REGULAR_EXPRESSION [==[\\[  SKIPPED \\]]==]"
                props += f" LABELS [==[gpu;{exe}]==]" + (" RUN_SERIAL TRUE" if n in SERIAL else "")
                lines.append(f"add_test([=[{n}]=] {path} [==[--gtest_filter={n}]==] --gtest_also_run_disabled_tests)")
                lines.append(f"set_tests_properties([=[{n}]=] PROPERTIES {props})")
        build.mkdir(parents=True, exist_ok=True)
        (build / "CTestTestfile.cmake").write_text("\n".join(lines) + "\n")
        if not bundle:
            (build / "build.ninja").write_text("# a tree built here\n")
        write_exe(build / "src" / "cli" / "lstmrt",
                  "#!/usr/bin/env bash\n[ \"$1\" = info ] || exit 2\ncat <<'EOF'\n" + "\n".join(info_lines(gpu)) + "\nEOF\n")
        rc_cases = " ".join(f"{p}) exit {rc} ;;" for p, rc in (bench_rc or {}).items())
        write_exe(build / "bench" / "lstmrt-bench", FAKE_BENCH.replace("@RC_CASES@", rc_cases)
                  .replace("@CSV_HEADER@", CSV_HEADER).replace("@CSV_ROW@", CSV_ROW)
                  .replace("@RECORD@", shell_quote(self.root)))
        write_exe(build / "bench" / "lstmrt-exchange-bench", FAKE_EXCHANGE)
        (build / "triton" / "backends" / "lstmrt").mkdir(parents=True)
        (build / "lib").mkdir()
        (build / "lib" / "liblstmrt_gpu.so").write_text("the GPU module\n")
        # What prepare carries beside the tree: the prebuilt core and the Triton pack.
        self.carried = self.root / "carried"
        prebuilt = self.carried / "prebuilt"
        (prebuilt / "include" / "fmt").mkdir(parents=True)
        (prebuilt / "link.txt").write_text("../lib/libfmt.so.9\n-ldl\n")
        server_bin = self.carried / "triton" / "server" / "pytriton" / "tritonserver" / "bin"
        server_bin.mkdir(parents=True)
        write_exe(server_bin / "tritonserver", "#!/bin/sh\necho 'fake tritonserver'\n")
        site = self.carried / "triton" / "site"
        site.mkdir()
        if client:
            (site / "tritonclient").mkdir()
            (site / "tritonclient" / "__init__.py").write_text("")
        if bundle:
            self._pack(bundle)
        else:
            (self.repo / ".device-carry").mkdir()
            for d in ("prebuilt", "triton"):
                shutil.move(str(self.carried / d), str(self.repo / ".device-carry" / d))

    def _pack(self, bundle):
        """.device-carry/ as prepare leaves it: bundle.tar.xz (build tree, lib/, manifest) + manifest."""
        carry = self.repo / ".device-carry"
        carry.mkdir()
        manifest = f"recorded_root={self.recorded}\nbuild_dir=build-device\ngit_rev=fake\nelf_files=1\n"
        (carry / "manifest.txt").write_text(manifest)
        with tarfile.open(carry / "bundle.tar.xz", "w:xz") as t:
            t.add(self.build, arcname="./build-device")
            for lib in bundle.get("libs", []):
                t.add(lib, arcname=f"./lib/{Path(lib).name}")
            for d in ("prebuilt", "triton"):
                t.add(self.carried / d, arcname=f"./{d}")
            info = tarfile.TarInfo("./manifest.txt")
            info.size = len(manifest)
            t.addfile(info, io.BytesIO(manifest.encode()))
        shutil.rmtree(self.recorded)
        if bundle.get("broken_xz"):
            write_exe(self.bin / "xz", "#!/bin/sh\necho 'xz: fake: cannot decompress' >&2\nexit 1\n")

    def env(self, **extra):
        env = dict(os.environ)
        env["PATH"] = f"{self.bin}:{env.get('PATH', '/usr/bin:/bin')}"
        env["OUT"] = str(self.out)
        env["TMPDIR"] = str(self.root)  # the run's work folder too (a killed run cannot remove it)
        for k in [k for k in env if k.startswith(("GPU_CHECK_", "PYTEST_", "TEST_TRITON_"))]:
            del env[k]
        env["FAKE_DEVICE_CASE"] = str(self.root)  # marks every process of this case's run
        if self.server:
            env["FAKE_TRITON_SERVER"] = "1"
        env.update({k: str(v) for k, v in extra.items()})
        return env

    def command(self):
        return [str(self.repo / "scripts" / "gpu-check"), "run"]

    def run(self, timeout=240, **extra):
        p = subprocess.run(self.command(), env=self.env(**extra), cwd=self.repo, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=timeout)
        return p.returncode, p.stdout

    def start(self, **extra):
        return subprocess.Popen(self.command(), env=self.env(**extra), cwd=self.repo, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True)

    def recorded_library_path(self, program):
        """LD_LIBRARY_PATH as the fake `program` (torch or bench) last saw it."""
        return (self.root / f"{program}.ld_library_path").read_text().strip()

    def summary(self):
        path = self.out / "summary.txt"
        return path.read_text() if path.exists() else ""


def case_processes(root):
    """The processes of one case's run: every one whose environment carries its FAKE_DEVICE_CASE
    (what a run starts inherits it, whatever its session or process group)."""
    marker = f"FAKE_DEVICE_CASE={root}".encode()
    pids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit() and int(d.name) != os.getpid():
            try:
                if marker in (d / "environ").read_bytes().split(b"\0"):
                    pids.append(int(d.name))
            except OSError:
                continue
    return pids


def kill_case(root):
    """Ends every process of a case's run (after a case that killed the run itself)."""
    for pid in case_processes(root):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def python_with_pytest():
    """An interpreter that has pytest: this one, else Debian's (python3-pytest, scripts/setup)."""
    for candidate in (sys.executable, "/usr/bin/python3"):
        if candidate and subprocess.run([candidate, "-c", "import pytest"], capture_output=True).returncode == 0:
            return candidate
    raise AssertionError("the pytest stages' fakes need pytest: install python3-pytest (scripts/setup does)")


PYTEST_PYTHON = None


class GpuCheckOnFakeDevice(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        global PYTEST_PYTHON
        PYTEST_PYTHON = python_with_pytest()
        # A real ELF test executable that needs a shared library: with the library carried it runs
        # and passes; without, ldd reports it and running it fails.
        cls.tmp = tempfile.TemporaryDirectory(prefix="gpu-check-fake-")
        d = Path(cls.tmp.name)
        cxx = os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++")
        (d / "dep.cpp").write_text('extern "C" const char* gpu_check_fake_dep() { return "[       OK ]"; }\n')
        (d / "main.cpp").write_text(
            '#include <cstdio>\n#include <cstring>\nextern "C" const char* gpu_check_fake_dep();\n'
            'int main(int argc, char** argv) { const char* n = argc > 1 ? std::strchr(argv[1], \'=\') + 1 : "?";\n'
            '  std::printf("[ RUN      ] %s\\n%s %s (1 ms)\\n[  PASSED  ] 1 test.\\n", n, gpu_check_fake_dep(), n); }\n')
        subprocess.run([cxx, "-shared", "-fPIC", "-o", d / "libgpu_check_fake_dep.so", d / "dep.cpp"], check=True)
        subprocess.run([cxx, "-o", d / "needs_lib", d / "main.cpp", f"-L{d}", "-lgpu_check_fake_dep"], check=True)
        cls.needs_lib = d / "needs_lib"
        cls.fake_lib = d / "libgpu_check_fake_dep.so"

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def device(self, **kw):
        root = tempfile.mkdtemp(prefix="case-", dir=self.tmp.name)
        return FakeDevice(root, **kw)

    def assert_out(self, dev, rc, log):
        files = sorted(os.listdir(dev.out)) if dev.out.exists() else []
        self.assertLessEqual(len(files), MAX_OUT_FILES, f"OUT holds {files}")
        self.assertEqual(set(files), OUT_NAMES, f"OUT holds {files}\n{log[-3000:]}")
        for f in files:
            self.assertTrue((dev.out / f).is_file(), f"{f} is not a plain file")
        with tarfile.open(dev.out / "details.tar.gz") as t:
            names = t.getnames()
        self.assertTrue(any(n.endswith("gpu-smoke.log") for n in names), names)
        summary = dev.summary()
        self.assertIn(f"exit      : {rc}", summary)
        return summary

    def assert_verdict(self, dev, want_rc, want_verdict, **env):
        rc, log = dev.run(**env)
        summary = dev.summary()
        verdict = re.search(r"(?m)^verdict *: .*$", summary)
        self.assertEqual(rc, want_rc, f"exit status {rc}, expected {want_rc} ({verdict.group(0) if verdict else 'no verdict'})"
                                      f"\n{summary or log[-3000:]}")
        self.assertRegex(summary, rf"(?m)^verdict   : {want_verdict}")
        self.assert_out(dev, rc, log)
        return summary, log

    def stage_row(self, summary, stage):
        m = re.search(rf"(?m)^{re.escape(stage)} +(.*)$", summary)
        self.assertIsNotNone(m, f"no row for stage {stage}:\n{summary}")
        return m.group(1)

    def test_all_pass_on_a_gpu(self):
        dev = self.device()
        summary, log = self.assert_verdict(dev, 0, "PASS")
        self.assertIn("cuDNN     : 9.19.0", summary)
        self.assertIn("cuBLAS    : 13.1.0", summary)
        self.assertIn("GPU 0: NVIDIA H200, compute capability 9.0", summary)
        self.assertRegex(self.stage_row(summary, "gpu-smoke"), r"^ok +\S+ s +3 +0 +0 +0 +0 +3")
        self.assertRegex(self.stage_row(summary, "gpu-cudnn"), r"^ok +\S+ s +6 +0 +0 +0 +0 +6")
        self.assertRegex(self.stage_row(summary, "gpu-rest"), r"^ok +\S+ s +1 +0 +0 +0 +0 +1")
        for stage in ("perf-persistent", "bench-quick", "torch-compare"):
            self.assertRegex(self.stage_row(summary, stage), r"^ok ")
        self.assertIn("targets   : persistent targets: 1 met", summary)
        # lstmrt's libraries for lstmrt's programs only: torch keeps the environment it was given.
        self.assertEqual(dev.recorded_library_path("torch"), os.environ.get("LD_LIBRARY_PATH", ""))
        lstmrt_path = re.search(r"(?m)^lstmrt's library path: (\S+)$", log).group(1)
        self.assertTrue(dev.recorded_library_path("bench").startswith(lstmrt_path), dev.recorded_library_path("bench"))
        order = [m.group(1) for m in re.finditer(r"(?m)^((?:gpu|perf|bench|torch|python|triton)-\S+) ", summary)]
        self.assertEqual(order[:6], ["gpu-smoke", "gpu-cudnn", "gpu-fused", "gpu-persistent", "gpu-onnx", "gpu-rest"])
        self.assertEqual(order[6:], ["perf-persistent", "python-gpu", "triton-gpu", "bench-quick", "torch-compare"])
        # The Python stage: built against the carried core for this python3, then the gpu and
        # custom-op tests (test_cpu.py's deselected), test_keras_live.py skipped whole as expected.
        self.assertRegex(self.stage_row(summary, "python-gpu"), rf"^ok +\S+ s +4 +0 +0 +1 +0 +{PY_SELECTED} +4 passed")
        self.assertRegex(summary, r"built     : \(python-gpu\) python extension: built for Python 3\.\d+\.\d+ with "
                                  r"nanobind 2\.9\.2 in \d+ s \(cap 25 s\)")
        self.assertIn("expected skips (python-gpu, on tests/gpu/expected-skips.txt): tests/python/test_keras_live.py", summary)
        configure = (dev.root / "cmake-configure.args").read_text()
        self.assertIn(f"-DLSTMRT_PREBUILT={dev.repo}/.device-carry/prebuilt", configure)
        self.assertIn("-DLSTMRT_GPU_MODULE=", configure)
        self.assertIn(f"-DPython_EXECUTABLE={dev.bin}/python3", configure)
        # The Triton stage: test-triton's packed mode with a GPU required, its results archived.
        self.assertRegex(self.stage_row(summary, "triton-gpu"), rf"^ok +\S+ s +{len(TRITON_TESTS)} +0 +0 +0 +0 +{len(TRITON_TESTS)} ")
        with tarfile.open(dev.out / "details.tar.gz") as t:
            names = t.getnames()
            record = t.extractfile("./triton-gpu.pytest").read().decode()
        for f in ("report.txt", "gpu-load-test.json", "tritonserver-gpu.log"):
            self.assertIn(f"./triton-gpu/triton/{f}", names)
        self.assertIn("triton/tests/server/test_gpu_instances.py::test_gpu_bounded_load", record)

    def test_one_test_fails(self):
        dev = self.device(outcomes={"FusedGpu.WorkspaceErrors": ("fail", None)})
        summary, _ = self.assert_verdict(dev, 1, "FAIL")
        self.assertRegex(self.stage_row(summary, "gpu-fused"), r"^FAILED +\S+ s +1 +1 ")
        self.assertIn("failed (gpu-fused): FusedGpu.WorkspaceErrors", summary)
        self.assertRegex(self.stage_row(summary, "gpu-persistent"), r"^ok ")  # the rest still ran
        self.assertRegex(self.stage_row(summary, "torch-compare"), r"^ok ")

    def test_expected_skip_is_reported_apart(self):
        dev = self.device(outcomes={"CudnnBehaviour.SmallHRefusesUnequalLengths": ("skip", CUDNN_REFUSAL)})
        summary, _ = self.assert_verdict(dev, 0, "PASS")
        self.assertRegex(self.stage_row(summary, "gpu-cudnn"), r"^ok +\S+ s +5 +0 +0 +1 +0 +6")
        self.assertIn("expected skips (gpu-cudnn, on tests/gpu/expected-skips.txt): CudnnBehaviour.SmallHRefusesUnequalLengths",
                      summary)

    def test_listed_test_skipping_for_another_reason_is_unexpected(self):
        dev = self.device(outcomes={"CudnnBehaviour.SmallHRefusesUnequalLengths": ("skip", NO_GPU_SKIP)})
        summary, _ = self.assert_verdict(dev, 1, "FAIL")
        self.assertIn("unexpected skips (gpu-cudnn): CudnnBehaviour.SmallHRefusesUnequalLengths", summary)

    def test_unexpected_skip_fails(self):
        dev = self.device(outcomes={"PersistentGpu.VsReferenceRandomGrid": ("skip", "not implemented here")})
        summary, _ = self.assert_verdict(dev, 1, "FAIL")
        self.assertRegex(self.stage_row(summary, "gpu-persistent"), r"^FAILED +\S+ s +1 +0 +1 +0 +0 +2")
        self.assertIn("skipped although lstmrt sees a GPU", summary)

    def test_stage_over_its_cap_is_incomplete_and_names_what_did_not_run(self):
        dev = self.device(outcomes={"PersistentGpu.VsReferenceRandomGrid": ("sleep", 60)})
        summary, _ = self.assert_verdict(dev, 4, "INCOMPLETE", GPU_CHECK_CAP_gpu_persistent=5)
        row = self.stage_row(summary, "gpu-persistent")
        self.assertRegex(row, r"^TIMED OUT +\d+/5 s +\d+ +0 +0 +0 +[12] +2")
        # The stage's own measured time (the harness's clock would count a loaded machine's delays
        # in the other stages): stopped at its cap plus timeout's grace, far from the 60 s sleep.
        self.assertLessEqual(int(re.match(r"TIMED OUT +(\d+)/", row).group(1)), 5 + 10 + 5, "the cap did not stop the stage")
        self.assertRegex(summary, r"not run \(gpu-persistent\): [^\n]*PersistentGpu.VsReferenceRandomGrid "
                                  r"\(running when the cap hit\)")
        self.assertRegex(self.stage_row(summary, "gpu-onnx"), r"^ok ")  # later stages still ran
        self.assertRegex(self.stage_row(summary, "perf-persistent"), r"^ok ")

    def test_budget_cuts_caps_and_reports_stages_not_run(self):
        dev = self.device(outcomes={"GpuSmoke.DeviceQueryMatchesQuerySystem": ("sleep", 200)})
        budget, smoke_cap = 30, 150  # the stage's own cap would outlast the budget
        t0 = time.monotonic()
        summary, _ = self.assert_verdict(dev, 4, "INCOMPLETE", GPU_CHECK_BUDGET=budget, GPU_CHECK_CAP_gpu_smoke=smoke_cap)
        self.assertLess(time.monotonic() - t0, budget + 10, "the budget did not bound the run")
        self.assertRegex(self.stage_row(summary, "python-gpu"), r"^not run .*budget is spent")
        cap = int(re.search(r"^TIMED OUT +\d+/(\d+) s", self.stage_row(summary, "gpu-smoke")).group(1))
        self.assertLessEqual(cap, budget - 5, "the stage's cap was not cut to what is left of the budget")
        self.assertRegex(self.stage_row(summary, "torch-compare"), r"^not run .*budget is spent")

    def test_missing_library_fails_its_tests_and_the_rest_still_run(self):
        dev = self.device(elf=("test_onnx_node_tests_gpu", self.needs_lib))
        summary, _ = self.assert_verdict(dev, 1, "FAIL")
        self.assertRegex(summary, r"libraries : MISSING for 1 file\(s\):\n +tests/gpu/test_onnx_node_tests_gpu: "
                                  r"libgpu_check_fake_dep.so => not found")
        self.assertRegex(self.stage_row(summary, "gpu-onnx"), r"^FAILED +\S+ s +0 +1 ")
        for stage in ("gpu-smoke", "gpu-cudnn", "gpu-rest", "perf-persistent", "torch-compare"):
            self.assertRegex(self.stage_row(summary, stage), r"^ok ")

    def test_bundle_unpacks_without_xz_and_carried_library_is_used(self):
        dev = self.device(elf=("test_onnx_node_tests_gpu", self.needs_lib),
                          bundle={"libs": [self.fake_lib], "broken_xz": True})
        summary, log = self.assert_verdict(dev, 0, "PASS")
        self.assertIn("tarfile (no working xz here)", log)
        self.assertIn(f"paths: linked {dev.recorded}", log)
        self.assertIn("carried libraries used (not on this machine): libgpu_check_fake_dep.so", log)
        self.assertRegex(self.stage_row(summary, "gpu-onnx"), r"^ok +\S+ s +1 +0 ")
        self.assertIn("libraries : every ELF file of the build resolves every library", summary)
        self.assertIn(str(dev.repo / ".device-carry" / "lib-needed"), dev.recorded_library_path("bench"))
        self.assertNotIn("lib-needed", dev.recorded_library_path("torch"))
        self.assertRegex(self.stage_row(summary, "python-gpu"), r"^ok ")  # prebuilt/ and triton/ from the bundle
        # The Python tests: the carried libraries this machine lacks, no cuDNN/cuBLAS folder.
        python_path = dev.recorded_library_path("pytest").split(":")
        self.assertEqual(python_path[0], str(dev.repo / ".device-carry" / "lib-needed"))
        self.assertNotIn("/usr/local/cuda", ":".join(python_path[:1]))
        self.assertEqual(":".join(python_path[1:]), os.environ.get("LD_LIBRARY_PATH", ""))
        self.assertRegex(self.stage_row(summary, "triton-gpu"), r"^ok ")

    def test_benchmark_failure_fails(self):
        dev = self.device(bench_rc={"persistent": 1})
        summary, _ = self.assert_verdict(dev, 1, "FAIL")
        self.assertRegex(self.stage_row(summary, "perf-persistent"), r"^FAILED \(rc 1\)")
        self.assertRegex(self.stage_row(summary, "bench-quick"), r"^ok ")

    def test_no_gpu_anywhere(self):
        dev = self.device(gpu=False, nvidia_smi=False)
        summary, _ = self.assert_verdict(dev, 3, "NO GPU")
        self.assertIn("GPUs: none (cudaGetDeviceCount: cudaErrorNoDevice", summary)
        self.assertRegex(self.stage_row(summary, "gpu-cudnn"), r"^ok +\S+ s +0 +0 +6 +0 +0 +6")
        # gpu tests skip (no GPU), the custom-op test runs (CPU), keras's file skips as expected;
        # Triton's GPU tests skip: a GPU is required only where lstmrt sees one.
        self.assertRegex(self.stage_row(summary, "python-gpu"), rf"^ok +\S+ s +1 +0 +3 +1 +0 +{PY_SELECTED} ")
        self.assertRegex(self.stage_row(summary, "triton-gpu"), rf"^ok +\S+ s +0 +0 +{len(TRITON_TESTS)} +0 +0 ")

    def test_gpu_present_but_lstmrt_sees_none_fails(self):
        dev = self.device(gpu=False, nvidia_smi=True)
        summary, _ = self.assert_verdict(dev, 1, "FAIL")
        self.assertIn("nvidia-smi lists 1 GPU(s) but lstmrt sees none", summary)

    def test_python_test_fails(self):
        dev = self.device(outcomes={"test_torch_cuda_tensors[fused]": ("fail", None)})
        summary, _ = self.assert_verdict(dev, 1, "FAIL")
        self.assertRegex(self.stage_row(summary, "python-gpu"), rf"^FAILED +\S+ s +3 +1 +0 +1 +0 +{PY_SELECTED} ")
        self.assertIn("failed (python-gpu): tests/python/test_gpu.py::test_torch_cuda_tensors[fused] "
                      "(failed: AssertionError: planted failure", summary)
        for stage in ("triton-gpu", "bench-quick", "torch-compare"):  # the rest still ran
            self.assertRegex(self.stage_row(summary, stage), r"^ok ")

    def test_python_dependency_missing_skips_are_unexpected(self):
        why = "could not import 'cupy': No module named 'cupy'"
        dev = self.device(outcomes={"test_torch_compile_on_cuda": ("skip", why)})
        summary, _ = self.assert_verdict(dev, 1, "FAIL")
        self.assertRegex(self.stage_row(summary, "python-gpu"), rf"^FAILED +\S+ s +3 +0 +1 +1 +0 +{PY_SELECTED} ")
        self.assertIn(f"unexpected skips (python-gpu): tests/python/test_gpu.py::test_torch_compile_on_cuda ({why})", summary)

    def test_nanobind_missing_fails_the_python_stage_alone(self):
        dev = self.device(nanobind=False)
        summary, _ = self.assert_verdict(dev, 1, "FAIL")
        self.assertRegex(self.stage_row(summary, "python-gpu"), r"^FAILED +\S+ s +0 +0 +0 +0 +0 +0 ")
        self.assertRegex(summary, r"fail +: python-gpu: pytest selected no tests \(exit 1\): python extension: nanobind "
                                  r"is not installed for \S+/python3 \(/opt/torch/.venv/bin/python3: No module named nanobind\)")
        self.assertRegex(self.stage_row(summary, "triton-gpu"), r"^ok ")

    def test_extension_that_cannot_be_imported_fails(self):
        dev = self.device(broken_extension=True)
        summary, _ = self.assert_verdict(dev, 1, "FAIL")
        self.assertRegex(self.stage_row(summary, "python-gpu"), r"^FAILED +\S+ s +0 +0 +0 +0 +0 +0 +ImportError: libsz")
        self.assertIn(f"fail      : python-gpu: pytest selected no tests (exit 4): ImportError: {LIBRARY_MISSING}", summary)
        self.assertRegex(self.stage_row(summary, "triton-gpu"), r"^ok ")

    def test_python_build_over_its_own_cap_is_incomplete(self):
        dev = self.device(build_seconds=60)
        summary, _ = self.assert_verdict(dev, 4, "INCOMPLETE", GPU_CHECK_CAP_python_build=3)
        row = self.stage_row(summary, "python-gpu")
        self.assertRegex(row, r"^TIMED OUT +(\d+)/65 s ")
        self.assertLessEqual(int(re.match(r"TIMED OUT +(\d+)/", row).group(1)), 3 + 5 + 5, "the build's cap did not stop it")
        self.assertRegex(summary, r"not done +: python-gpu: a cap was reached \(python extension: its cap 3 s reached while "
                                  r"building\) with 0 of 0 tests unfinished")
        self.assertRegex(self.stage_row(summary, "triton-gpu"), r"^ok ")

    def test_python_test_over_the_stage_cap_is_named(self):
        dev = self.device(outcomes={"test_torch_compile_on_cuda": ("sleep", 60)})
        summary, _ = self.assert_verdict(dev, 4, "INCOMPLETE", GPU_CHECK_CAP_python_gpu=12)
        row = self.stage_row(summary, "python-gpu")
        self.assertRegex(row, rf"^TIMED OUT +\d+/12 s +\d +0 +0 +1 +[1-3] +{PY_SELECTED} ")
        self.assertLessEqual(int(re.match(r"TIMED OUT +(\d+)/", row).group(1)), 12 + 10 + 5)
        self.assertIn("not run (python-gpu): tests/python/test_gpu.py::test_torch_compile_on_cuda (running when the cap hit)",
                      summary)
        self.assertRegex(self.stage_row(summary, "triton-gpu"), r"^ok ")
        self.assertEqual(case_processes(dev.root), [], "the stage's processes outlived the run")

    def test_triton_test_fails(self):
        dev = self.device(outcomes={"test_gpu_bounded_load": ("fail", None)})
        summary, _ = self.assert_verdict(dev, 1, "FAIL")
        self.assertRegex(self.stage_row(summary, "triton-gpu"), rf"^FAILED +\S+ s +2 +1 +0 +0 +0 +{len(TRITON_TESTS)} ")
        self.assertIn("failed (triton-gpu): triton/tests/server/test_gpu_instances.py::test_gpu_bounded_load", summary)
        self.assertRegex(self.stage_row(summary, "bench-quick"), r"^ok ")

    def test_triton_setup_error_fails(self):
        dev = self.device(outcomes={"test_gpu_instances_load_on_their_device": ("error", None)})
        summary, _ = self.assert_verdict(dev, 1, "FAIL")
        self.assertRegex(self.stage_row(summary, "triton-gpu"), rf"^FAILED +\S+ s +2 +1 +0 +0 +0 +{len(TRITON_TESTS)} ")
        self.assertIn("failed (triton-gpu): triton/tests/server/test_gpu_instances.py::test_gpu_instances_load_on_their_device "
                      "(error: RuntimeError: planted: the server did not start)", summary)

    def test_triton_client_missing_fails_at_collection(self):
        dev = self.device(client=False)
        summary, _ = self.assert_verdict(dev, 1, "FAIL")
        self.assertRegex(self.stage_row(summary, "triton-gpu"), r"^FAILED +\S+ s +0 +1 +0 +0 +0 +1 ")
        self.assertIn("failed (triton-gpu): triton/tests/server/test_gpu_instances.py (collection error: "
                      "ModuleNotFoundError: No module named 'tritonclient'", summary)

    def test_gpu_promised_to_triton_but_lstmrt_sees_none_fails(self):
        dev = self.device(gpu=False, nvidia_smi=True)
        summary, _ = self.assert_verdict(dev, 1, "FAIL")
        # lstmrt sees no GPU: Triton's GPU tests skip rather than err; the verdict fails on the facts.
        self.assertRegex(self.stage_row(summary, "triton-gpu"), rf"^ok +\S+ s +0 +0 +{len(TRITON_TESTS)} ")

    def test_stage_leftover_server_is_ended(self):
        dev = self.device(server=True)
        summary, log = self.assert_verdict(dev, 0, "PASS")
        with tarfile.open(dev.out / "details.tar.gz") as t:
            stage_log = t.extractfile("./triton-gpu.log").read().decode()
        self.assertRegex(stage_log, r"triton-gpu: ended 1 process\(es\) the stage left running: \d+:sleep 300")
        self.assertEqual(case_processes(dev.root), [], "the stage's server outlived the run")

    def wait_for_stage(self, dev, proc, stage, limit=120):
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if f"RUNNING stage {stage}" in dev.summary():
                return
            if proc.poll() is not None:
                self.fail(f"the run ended (rc {proc.returncode}) before stage {stage}:\n{proc.stdout.read()[-3000:]}")
            time.sleep(0.2)
        self.fail(f"stage {stage} never started:\n{dev.summary()}")

    def interrupt(self, dev, stage, send):
        """Starts the run, waits until `stage` runs, then `send(pid)`; returns the exit status."""
        proc = dev.start()
        self.addCleanup(kill_case, dev.root)  # after the test's own checks on what is left
        self.addCleanup(proc.stdout.close)
        self.wait_for_stage(dev, proc, stage)
        time.sleep(1)
        send(proc.pid)
        return proc.pid, proc.wait(timeout=30)

    def test_summary_survives_a_kill_mid_run(self):
        dev = self.device(outcomes={"FusedGpu.WorkspaceErrors": ("sleep", 60)})
        # The device call's time limit: SIGKILL, nothing can be written after it.
        self.interrupt(dev, "gpu-fused", lambda pid: os.killpg(pid, signal.SIGKILL))
        files = os.listdir(dev.out)
        self.assertLessEqual(len(files), MAX_OUT_FILES)
        self.assertIn("summary.txt", files)
        self.assertTrue(set(files) <= OUT_NAMES | {".summary.txt.tmp", ".details.tar.gz.tmp"}, files)
        summary = dev.summary()
        self.assertIn("state     : RUNNING stage gpu-fused", summary)
        self.assertRegex(summary, r"(?m)^verdict   : INCOMPLETE")
        self.assertIn("exit      : none yet (stage gpu-fused running", summary)
        self.assertRegex(self.stage_row(summary, "gpu-cudnn"), r"^ok +\S+ s +6 ")  # what was done is there

    def test_sigterm_mid_run_writes_the_summary_and_stops(self):
        dev = self.device(outcomes={"PersistentGpu.VsReferenceRandomGrid": ("sleep", 60)})
        pid, rc = self.interrupt(dev, "gpu-persistent", lambda pid: os.kill(pid, signal.SIGTERM))
        summary = self.assert_out(dev, 4, "")
        self.assertEqual(rc, 4)
        self.assertIn("state     : KILLED by SIGTERM during gpu-persistent", summary)
        self.assertIn("gpu-persistent: stopped by SIGTERM", summary)
        deadline = time.monotonic() + 15  # timeout(1) ends the stage's process group within its -k
        while case_processes(dev.root) and time.monotonic() < deadline:
            time.sleep(0.2)
        left = []
        for p in case_processes(dev.root):
            try:
                left.append((p, Path(f"/proc/{p}/cmdline").read_bytes().replace(b"\0", b" ")[:120]))
            except OSError:
                pass
        self.assertEqual(left, [], "the stage's processes outlived the run")


def run_cases(pattern, jobs):
    """Runs the cases whose names contain `pattern`, `jobs` at a time (each waits on its own run of
    the script, mostly asleep); prints one line per case and every failure. Returns the failures."""
    loader = unittest.TestLoader()
    names = [n for n in loader.getTestCaseNames(GpuCheckOnFakeDevice) if pattern in n]
    GpuCheckOnFakeDevice.setUpClass()
    try:
        def one(name):
            case, result, t0 = GpuCheckOnFakeDevice(name), unittest.TestResult(), time.monotonic()
            case.run(result)
            return name, result, time.monotonic() - t0
        with concurrent.futures.ThreadPoolExecutor(max(1, jobs)) as pool:
            outcomes = list(pool.map(one, names))
    finally:
        GpuCheckOnFakeDevice.tearDownClass()
    failures = 0
    for name, result, seconds in outcomes:
        print(f"{name} ... {'ok' if result.wasSuccessful() else 'FAIL'} ({seconds:.1f} s)")
        for _, trace in result.failures + result.errors:
            print(trace)
        failures += not result.wasSuccessful()
    print(f"{len(outcomes) - failures} of {len(outcomes)} cases passed against {SCRIPT}")
    return failures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--script", help="the gpu-check to test (default: this repository's)")
    parser.add_argument("-k", default="", help="only the cases whose name contains this")
    parser.add_argument("-j", type=int, default=4, help="cases at a time (default 4)")
    args = parser.parse_args()
    if args.script:
        SCRIPT = Path(args.script).resolve()
    sys.exit(1 if run_cases(args.k, args.j) else 0)
