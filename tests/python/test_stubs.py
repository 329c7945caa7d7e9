"""The .pyi stubs describe the package as it is: every public name, every parameter of every
public function and method (names, order, kind), and every public name has a docstring."""
import ast
import inspect
import pathlib

import pytest

import lstmrt

PKG = pathlib.Path(lstmrt.__file__).parent


def stub_functions(path):
    """{qualified name: [(param, kind)]} for functions in a .pyi (self/cls dropped)."""
    tree = ast.parse(path.read_text())
    out = {}

    def params(fn):
        a = fn.args
        ps = [(p.arg, "positional") for p in a.posonlyargs + a.args]
        ps += [(p.arg, "keyword") for p in a.kwonlyargs]
        return [p for p in ps if p[0] not in ("self", "cls")]

    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            out[node.target.id] = None
        elif isinstance(node, ast.FunctionDef):
            out[node.name] = params(node)
        elif isinstance(node, ast.ClassDef):
            out[node.name] = None
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and not item.decorator_list or \
                        isinstance(item, ast.FunctionDef) and any(getattr(d, "id", "") == "classmethod" for d in item.decorator_list):
                    out[f"{node.name}.{item.name}"] = params(item)
    return out


def runtime_params(obj):
    kinds = {inspect.Parameter.POSITIONAL_ONLY: "positional", inspect.Parameter.POSITIONAL_OR_KEYWORD: "positional",
             inspect.Parameter.KEYWORD_ONLY: "keyword", inspect.Parameter.VAR_KEYWORD: "var"}
    sig = inspect.signature(obj)
    return [(n, kinds[p.kind]) for n, p in sig.parameters.items() if n not in ("self", "cls") and p.kind in kinds]


OPTIONS = [(n, "keyword") for n in ("backend", "dtype", "math", "cudnn_algo", "fused_kernel", "device")]


def check(module, stub):
    for name, params in stub_functions(stub).items():
        obj = module
        for part in name.split("."):
            obj = getattr(obj, part)
        assert obj.__doc__ or name.endswith("__init__") or not callable(obj), f"{name} has no docstring"
        if params is None:
            continue
        got = runtime_params(obj)
        if ("options", "var") in got:  # **options: the stub spells them out
            got = [p for p in got if p != ("options", "var")] + OPTIONS
        assert got == params, f"{name}: runtime {got} != stub {params}"
    public = {n for n in getattr(module, "__all__", [])}
    assert public <= set(stub_functions(stub)), public - set(stub_functions(stub))


def test_package_stub():
    check(lstmrt, PKG / "__init__.pyi")


def test_torch_stub():
    pytest.importorskip("torch")
    import lstmrt.torch
    check(lstmrt.torch, PKG / "torch.pyi")


def test_stubs_are_installed():
    assert (PKG / "py.typed").exists() and (PKG / "__init__.pyi").exists() and (PKG / "torch.pyi").exists()
