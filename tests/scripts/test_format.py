#!/usr/bin/env python3
"""scripts/format and scripts/check-format on a scratch repository (copies of both scripts and the
root .clang-format, a few small sources): which files are listed (tracked and untracked, not test
data, vendored code, ignored build trees or other extensions), that --check names a mis-indented
file and rewrites nothing, that format restores it and a second run changes nothing, and that a
clang-format of another major version or a missing one is refused with exit 2.

    python3 tests/scripts/test_format.py [-v]
"""
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import unittest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

FORMATTED = """#include <vector>

namespace demo {

int sum(const std::vector<int>& v) {
  int s = 0;
  for (int x : v) s += x;
  return s;
}

}  // namespace demo
"""
KERNEL = """__global__ void scale(float* x, int n) {
  const int k = blockIdx.x * blockDim.x + threadIdx.x;
  if (k < n) x[k] *= 2.0f;
}
"""
UNFORMATTED = "int  f( int a ){return a;}\n"


def run(args, cwd, env=None):
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, env={**os.environ, **(env or {})})


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


class Format(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="lstmrt-format-")
        self.addCleanup(shutil.rmtree, self.dir)
        for name in ("scripts/format", "scripts/check-format", ".clang-format", ".gitignore"):
            os.makedirs(os.path.dirname(os.path.join(self.dir, name)), exist_ok=True)
            shutil.copy2(os.path.join(REPO, name), os.path.join(self.dir, name))
        write(self.path("src/a.cpp"), FORMATTED)
        write(self.path("kernels/k.cu"), KERNEL)
        # Not ours to format: committed test data, vendored code, another extension, a build tree.
        write(self.path("tests/data/case.cpp"), UNFORMATTED)
        write(self.path("src/third_party/lib.hpp"), UNFORMATTED)
        write(self.path("bench/presets.hpp.in"), UNFORMATTED)
        write(self.path("build/gen/out.cpp"), UNFORMATTED)
        write(self.path("docs/outside.cpp"), UNFORMATTED)  # not under a source directory
        self.assertEqual(run(["git", "init", "-q"], self.dir).returncode, 0)
        self.assertEqual(run(["git", "add", "."], self.dir).returncode, 0)

    def path(self, name):
        return os.path.join(self.dir, name)

    def read(self, name):
        with open(self.path(name)) as f:
            return f.read()

    def check(self, env=None):
        return run([self.path("scripts/check-format")], self.dir, env)

    def test_lists_project_sources_only(self):
        write(self.path("tests/cpu/untracked.hpp"), FORMATTED)  # untracked, not ignored: listed
        out = run([self.path("scripts/format"), "--list"], self.dir)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stdout.split(), ["kernels/k.cu", "src/a.cpp", "tests/cpu/untracked.hpp"])

    def test_check_names_a_misindented_file_and_format_fixes_it(self):
        clean = self.check()
        self.assertEqual(clean.returncode, 0, clean.stderr)
        bad = FORMATTED.replace("  int s = 0;", "     int s = 0;")
        write(self.path("src/a.cpp"), bad)
        write(self.path("kernels/extra.cuh"), UNFORMATTED)  # untracked: checked too
        result = self.check()
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn("src/a.cpp", result.stderr)
        self.assertIn("kernels/extra.cuh", result.stderr)
        self.assertNotIn("k.cu", result.stderr)
        self.assertNotIn("tests/data", result.stderr)
        self.assertIn("scripts/format", result.stderr)  # the hint
        self.assertEqual(self.read("src/a.cpp"), bad, "--check rewrote a file")

        fixed = run([self.path("scripts/format")], self.dir)
        self.assertEqual(fixed.returncode, 0, fixed.stderr)
        self.assertIn("2 of 3 files reformatted", fixed.stdout)
        self.assertEqual(self.read("src/a.cpp"), FORMATTED)
        self.assertNotEqual(self.read("kernels/extra.cuh"), UNFORMATTED)
        self.assertEqual(self.read("tests/data/case.cpp"), UNFORMATTED, "test data was formatted")
        self.assertEqual(self.read("src/third_party/lib.hpp"), UNFORMATTED, "vendored code was formatted")
        self.assertEqual(self.read("build/gen/out.cpp"), UNFORMATTED, "a build tree was formatted")
        self.assertEqual(self.check().returncode, 0)

        before = {n: os.stat(self.path(n)).st_mtime_ns for n in ("src/a.cpp", "kernels/extra.cuh", "kernels/k.cu")}
        again = run([self.path("scripts/format")], self.dir)
        self.assertEqual(again.returncode, 0, again.stderr)
        self.assertIn("0 of 3 files reformatted", again.stdout)
        self.assertEqual(before, {n: os.stat(self.path(n)).st_mtime_ns for n in before}, "a second run rewrote files")

    def test_named_files_only(self):
        write(self.path("kernels/k.cu"), KERNEL.replace("  if", "if"))
        only_a = run([self.path("scripts/check-format"), "src/a.cpp"], self.dir)
        self.assertEqual(only_a.returncode, 0, only_a.stderr)
        only_k = run([self.path("scripts/check-format"), "kernels/k.cu"], self.dir)
        self.assertEqual(only_k.returncode, 1, only_k.stderr)
        self.assertIn("kernels/k.cu", only_k.stderr)
        outside = run([self.path("scripts/check-format"), os.path.join(REPO, "README.md")], self.dir)
        self.assertEqual(outside.returncode, 2)
        self.assertIn("not inside the repository", outside.stderr)
        missing = run([self.path("scripts/check-format"), "src/nope.cpp"], self.dir)
        self.assertEqual(missing.returncode, 2)
        self.assertIn("src/nope.cpp: no such file", missing.stderr)

    def test_other_major_version_is_refused(self):
        fake = self.path("fake/clang-format")
        write(fake, "#!/bin/sh\necho 'Debian clang-format version 15.0.7'\n")
        os.chmod(fake, os.stat(fake).st_mode | stat.S_IXUSR)
        write(self.path("src/a.cpp"), UNFORMATTED)
        for command in (["scripts/check-format"], ["scripts/format"]):
            result = run([self.path(command[0])], self.dir, {"CLANG_FORMAT": fake})
            self.assertEqual(result.returncode, 2, result.stderr)
            self.assertIn("15.0.7", result.stderr)
            self.assertIn("formatted with clang-format 14", result.stderr)
        self.assertEqual(self.read("src/a.cpp"), UNFORMATTED)

    def test_broken_config_is_one_clear_error(self):
        with open(self.path(".clang-format"), "a") as f:
            f.write("NoSuchOption: true\n")
        result = self.check()
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertIn(".clang-format is not valid", result.stderr)
        self.assertEqual(len(result.stderr.strip().splitlines()), 1, result.stderr)

    def test_missing_clang_format(self):
        result = self.check({"CLANG_FORMAT": self.path("no/clang-format")})
        self.assertEqual(result.returncode, 2)
        self.assertIn("clang-format not found", result.stderr)


if __name__ == "__main__":
    unittest.main()
