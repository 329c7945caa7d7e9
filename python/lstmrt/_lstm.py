"""lstmrt.LSTM, lstmrt.KerasModel, lstmrt.ModelDesc, lstmrt.Output and lstmrt.info()."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np

from . import _arrays, _errors, _lstmrt

Activation = Union[str, Tuple[str, float], Tuple[str, float, float]]
CellActivations = Tuple[Activation, Activation, Activation]


class Output(NamedTuple):
    """What a forward call returns. ``y`` is the whole top-layer sequence (T, N, D·H_out) — or
    (N, T, D·H_out) batch-first; ``h_n`` (L·D, N, H_out) and ``c_n`` (L·D, N, H) are the states
    after each row's last valid step. What was not asked for is None (and was never computed)."""

    y: Any
    h_n: Any
    c_n: Any


@dataclass(frozen=True)
class ModelDesc:
    """What LSTM to run (include/lstmrt/model.hpp).

    direction: "forward", "reverse" or "bidirectional". proj_size: 0 (none) or 0 < P < H.
    activations: None (sigmoid, tanh, tanh), one (gate, cell, hidden) triple for every direction,
    or one triple per direction; each entry an ONNX or Keras name ("sigmoid", "HardSigmoid",
    "hard_sigmoid" = Keras 3's, "relu", ...) or (name, alpha[, beta]). clip: ONNX clip (0 = none).
    peepholes: ONNX P. coupled_input_forget: ONNX input_forget=1.
    """

    input_size: int
    hidden_size: int
    num_layers: int = 1
    direction: str = "forward"
    proj_size: int = 0
    activations: Optional[Sequence[Any]] = None
    clip: float = 0.0
    peepholes: bool = False
    coupled_input_forget: bool = False

    def __post_init__(self) -> None:
        checked = _lstmrt.check_desc(**self._args())
        object.__setattr__(self, "activations", checked["activations"])

    def _args(self) -> Dict[str, Any]:
        return dict(input_size=self.input_size, hidden_size=self.hidden_size, num_layers=self.num_layers,
                    direction=self.direction, proj_size=self.proj_size, activations=self.activations,
                    clip=self.clip, peepholes=self.peepholes, coupled_input_forget=self.coupled_input_forget)

    @property
    def num_directions(self) -> int:
        return 2 if self.direction == "bidirectional" else 1

    @property
    def output_size(self) -> int:
        """H_out: proj_size when projecting, else hidden_size."""
        return self.proj_size or self.hidden_size

    @staticmethod
    def _from_dict(d: Mapping[str, Any]) -> "ModelDesc":
        return ModelDesc(**{k: d[k] for k in ("input_size", "hidden_size", "num_layers", "direction", "proj_size",
                                                "activations", "clip", "peepholes", "coupled_input_forget")})


def _options(backend: str = "auto", dtype: str = "float32", math: str = "strict", cudnn_algo: str = "auto",
             fused_kernel: str = "auto", device: Any = 0) -> Any:
    return _lstmrt.Options(backend=backend, dtype=dtype, math=math, cudnn_algo=cudnn_algo,
                           fused_kernel=fused_kernel, device=_device_ordinal(device))


def _device_ordinal(device: Any) -> int:
    """0, 1, ... from an int, "cuda", "cuda:1" or a torch.device."""
    if isinstance(device, bool):
        raise _errors.InvalidTypeError("device is a bool: expected a CUDA ordinal, 'cuda:N' or a torch.device")
    if isinstance(device, int):
        return device
    text = str(device)
    if text == "cuda":
        index = getattr(device, "index", None)
        return int(index or 0)
    if text.startswith("cuda:") and text[5:].isdigit():
        return int(text[5:])
    raise _errors.InvalidArgumentError(f"device {device!r}: expected a CUDA ordinal, 'cuda:N' or a torch.device")


_OPTION_NAMES = ("backend", "dtype", "math", "cudnn_algo", "fused_kernel", "device")


def _check_option_names(options: Mapping[str, Any]) -> None:
    unknown = sorted(set(options) - set(_OPTION_NAMES))
    if unknown:
        raise _errors.InvalidTypeError(f"unknown option(s) {', '.join(unknown)}: expected {', '.join(_OPTION_NAMES)}")


def _initial_state(initial_state: Any) -> Tuple[Any, Any]:
    if initial_state is None:
        return None, None
    if not isinstance(initial_state, (tuple, list)) or len(initial_state) != 2:
        raise _errors.InvalidTypeError("initial_state: expected (h0, c0)")
    return initial_state[0], initial_state[1]


class LSTM:
    """An LSTM (stacked, bidirectional, projected; every ONNX cell option) on one backend.

    Construct with ``LSTM(desc, weights, **options)``, or :meth:`from_torch`, :meth:`load`,
    :meth:`from_keras`. Options: ``backend`` ("auto", "reference", "cudnn", "fused"), ``dtype``
    ("float32", "float16", "bfloat16": storage on the GPU), ``math`` ("strict", "tf32"),
    ``cudnn_algo`` ("auto", "standard", "persist_static", "persist_static_small_h",
    "persist_dynamic"), ``fused_kernel`` ("auto", "stepwise", "persistent", "cluster") and
    ``device`` (CUDA ordinal, "cuda:N" or a torch.device).

    ``weights`` is either one dict per layer and direction (index layer·D + direction) holding
    ``w_ih`` (4H, I_l), ``w_hh`` (4H, H_out), optional ``b_ih``/``b_hh`` (4H), ``w_hr`` (P, H)
    when projecting and ``peephole`` (3H) with peepholes — PyTorch's layout, gates i f g o — or a
    mapping of named arrays in PyTorch (state_dict), Keras or ONNX naming (see
    include/lstmrt/io.hpp), whose sizes must match ``desc``.
    """

    def __init__(self, desc: ModelDesc, weights: Union[Sequence[Mapping[str, Any]], Mapping[str, Any]], *,
                 batch_first: bool = False, **options: Any):
        _check_option_names(options)
        if not isinstance(desc, ModelDesc):
            raise _errors.InvalidTypeError(f"desc is a {type(desc).__name__}: expected lstmrt.ModelDesc")
        if isinstance(weights, Mapping):
            named = {k: _host_weight(k, v) for k, v in weights.items()}
            model = _lstmrt.Model.create_named(**desc._args(), arrays=named, options=_options(**options))
        elif isinstance(weights, Sequence) and not isinstance(weights, (str, bytes)):
            slots = []
            for i, slot in enumerate(weights):
                if not isinstance(slot, Mapping):
                    raise _errors.InvalidTypeError(f"weights[{i}] is a {type(slot).__name__}: expected a dict")
                slots.append({k: _host_weight(f"weights[{i}] '{k}'", v) for k, v in slot.items()})
            model = _lstmrt.Model.create(**desc._args(), weights=slots, options=_options(**options))
        else:
            raise _errors.InvalidTypeError(
                f"weights is a {type(weights).__name__}: expected a list of per-layer dicts or a mapping of arrays")
        self._init(model, batch_first)

    def _init(self, model: Any, batch_first: bool) -> None:
        self._model = model
        fixed = model.fixed_batch_major
        self._batch_first = bool(batch_first) if fixed is None else fixed
        self.desc: ModelDesc = ModelDesc._from_dict(model.desc)

    @classmethod
    def _wrap(cls, model: Any, batch_first: bool) -> "LSTM":
        self = cls.__new__(cls)
        self._init(model, batch_first)
        return self

    # ---- constructors ---------------------------------------------------------------------------------
    @classmethod
    def from_torch(cls, module: Any, **options: Any) -> "LSTM":
        """From a ``torch.nn.LSTM`` (any num_layers, bidirectional, proj_size, bias); its
        ``batch_first`` becomes the default layout. The weights are copied once."""
        _check_option_names(options)
        import torch
        if not isinstance(module, torch.nn.LSTM):
            raise _errors.InvalidTypeError(f"module is a {type(module).__name__}: expected torch.nn.LSTM")
        arrays = {k: v.detach().to("cpu", torch.float32).contiguous().numpy() for k, v in module.state_dict().items()}
        source = (f"torch.nn.LSTM({module.input_size}, {module.hidden_size}, num_layers={module.num_layers}, "
                  f"bidirectional={module.bidirectional}, proj_size={module.proj_size}, bias={module.bias})")
        model = _lstmrt.Model.from_named_arrays(arrays, None, source, _options(**options))
        return cls._wrap(model, module.batch_first)

    @classmethod
    def load(cls, path: Union[str, "os.PathLike[str]"], prefix: Optional[str] = None, **options: Any) -> "LSTM":
        """From an ``.onnx`` model, a ``.safetensors`` state_dict or an ``.npz`` (PyTorch, Keras or
        ONNX naming); ``prefix`` picks one submodule's tensors (e.g. "encoder.lstm"). A Keras file
        holding one plain layer loads too (Keras layout: batch-first); other Keras models:
        :meth:`from_keras`."""
        _check_option_names(options)
        path = os.fspath(path)
        try:
            model = _lstmrt.Model.load(path, prefix, _options(**options))
        except _errors.UnsupportedError as e:
            if path.endswith((".keras", ".h5")):
                raise _errors.UnsupportedError(f"{e} (from Python: lstmrt.LSTM.from_keras)") from None
            raise
        return cls._wrap(model, model.format == "keras")

    @classmethod
    def from_keras(cls, layer_or_path: Any, config: Optional[str] = None, **options: Any) -> "KerasModel":
        """A Keras 3 model: a ``.keras`` archive, a ``.weights.h5`` (with ``config`` or
        NAME.config.json beside it), a built ``keras.Model``, or a built LSTM / Bidirectional
        layer. Returns a :class:`KerasModel` (Keras's batch-first layout by default)."""
        return KerasModel(layer_or_path, config=config, **options)

    # ---- running ---------------------------------------------------------------------------------------
    def __call__(self, x: Any, lengths: Any = None, initial_state: Any = None, batch_first: Optional[bool] = None,
                 return_sequences: bool = True, return_state: bool = True, padding: str = "zero",
                 stream: Any = None, reverse_order: str = "original", mask: Any = None) -> Output:
        """Runs the model over ``x`` — (T, N, I), or (N, T, I) when batch-first (``batch_first=None``:
        the model's default) — and returns ``Output(y, h_n, c_n)`` in x's framework and device.

        lengths: (N,) host integers in [0, T] (right-padded rows); initial_state: (h0, c0) with
        h0 (L·D, N, H_out) and c0 (L·D, N, H), zeros when None; padding: "zero" or "carry" (Keras's
        repeat-last at padded steps); reverse_order: "original" or "processing" (Keras go_backwards)
        for a reverse model; mask: (N, T) host booleans (or 0/1 integers), True where step t of row b
        is valid, any pattern (front padding as Keras's pad_sequences makes it, gaps, empty rows):
        Keras's semantics (a masked step carries h and c; its output follows ``padding``), exclusive
        with ``lengths``; stream: an int handle or an object with ``__cuda_stream__`` (device
        arrays; default: the framework's current stream). Host arrays serve the reference backend,
        device arrays the GPU backends. The GIL is released while it runs.

        First calls are slow on the GPU backends. The first call for a new (T, N) sizes the
        object's device workspace and, with fused_kernel="auto" (fused) or cudnn_algo="auto"
        (cudnn), times the candidate kernels or algorithms once, synchronising the device. The
        fused backend's first call of each request kind (shape, layout, lengths or mask, initial
        state, outputs asked for) builds its plan and queries cuBLASLt's heuristic; on a stream
        other than the legacy default one it also captures the call and instantiates a CUDA
        graph, which later calls replay when their buffers have the same addresses (other
        addresses: captured again and the graph updated).

        Calls on one GPU-backed object from several threads run one at a time (a lock). Calls on
        different streams that overlap on the GPU would share the object's workspace: use one
        LSTM per stream (and per thread, for concurrency). Reference-backend calls run
        concurrently.
        """
        if batch_first is None:
            batch_first = self._batch_first
        elif self._model.fixed_batch_major is not None and bool(batch_first) != self._model.fixed_batch_major:
            raise _errors.InvalidArgumentError(
                f"batch_first={batch_first}: {self._model.source} fixes the layout "
                f"({'batch' if self._model.fixed_batch_major else 'time'}-major)")
        if not return_sequences and not return_state:
            raise _errors.InvalidArgumentError("return_sequences and return_state are both False: nothing to compute")
        fw = _arrays.framework(x)
        dev = _arrays.device_of(x, fw)
        on_device = self._model.on_device
        if _arrays.is_device(dev) != on_device or (on_device and dev[1] != self._model.device):
            where = f"cuda:{self._model.device}" if on_device else "cpu"
            raise _errors.DeviceMismatchError(
                f"x is on {_arrays.describe_device(dev)}: backend {self._model.backend} computes on {where}")
        handle = _arrays.stream_handle(stream)
        if on_device and handle is None:
            handle = _arrays.current_stream(fw, x, dev)
        shape = tuple(int(s) for s in x.shape)
        if len(shape) != 3:
            layout = "(N, T, I)" if batch_first else "(T, N, I)"
            raise _errors.InvalidArgumentError(f"x has shape {shape}: expected 3 dimensions {layout}")
        T, N = (shape[1], shape[0]) if batch_first else (shape[0], shape[1])
        d = self.desc
        S, C = d.num_layers * d.num_directions, d.num_directions * d.output_size
        dtype = self._model.dtype if on_device else "float32"

        h0, c0 = _initial_state(initial_state)
        torch_stream = _TorchStreamGuard(fw, handle, dev) if fw == "torch" and on_device else None
        args = dict(
            x=_arrays.export("x", x, fw, handle),
            lengths=None if lengths is None else _arrays.lengths_array(lengths),
            mask=None if mask is None else _arrays.mask_array(mask),
            h0=None if h0 is None else _arrays.export("initial_state h0", h0, _arrays.framework(h0), handle),
            c0=None if c0 is None else _arrays.export("initial_state c0", c0, _arrays.framework(c0), handle),
        )
        outs: List[Any] = [None, None, None]
        wanted = [(0, (N, T, C) if batch_first else (T, N, C))] if return_sequences else []
        if return_state:
            wanted += [(1, (S, N, d.output_size)), (2, (S, N, d.hidden_size))]
        handed: Dict[str, Any] = {"y": None, "h_n": None, "c_n": None}
        for index, out_shape in wanted:
            out, buf = _arrays.empty(fw, x, out_shape, dtype, dev, handle)
            outs[index] = out
            handed[("y", "h_n", "c_n")[index]] = buf
        if torch_stream:
            torch_stream.before([x, h0, c0] + outs)
        self._model.forward(**args, **handed, batch_major=bool(batch_first), padding=padding,
                            reverse_order=reverse_order, stream=handle or 0)
        if torch_stream:
            torch_stream.after([x, h0, c0] + outs)
        return Output(*(None if o is None else _arrays.finish(o) for o in outs))

    forward = __call__

    def execution_plan(self, seq_len: int, batch: int) -> str:
        """What runs for T = seq_len, N = batch: one line per layer (fused: which kernel variant and
        why); other backends name themselves. Enqueues no work and does not synchronise, but the
        fused backend queries the device (kernel occupancy), so it needs the GPU."""
        return self._model.execution_plan(seq_len, batch)

    def workspace_size(self, seq_len: int, batch: int) -> int:
        """Device scratch bytes a forward of T × N needs (0 for the reference backend)."""
        return self._model.workspace_size(seq_len, batch)

    # ---- what it is ---------------------------------------------------------------------------------------
    @property
    def backend(self) -> str:
        """The backend that runs: "reference", "cudnn" or "fused" ("auto" resolved)."""
        return self._model.backend

    @property
    def device(self) -> str:
        """Where inputs and outputs live: "cpu" or "cuda:N"."""
        return f"cuda:{self._model.device}" if self._model.on_device else "cpu"

    @property
    def dtype(self) -> str:
        """Storage type of arrays on the GPU; host arrays are float32."""
        return self._model.dtype

    @property
    def batch_first(self) -> bool:
        """The default layout of x and y."""
        return self._batch_first

    def __repr__(self) -> str:
        d = self.desc
        return (f"lstmrt.LSTM(input_size={d.input_size}, hidden_size={d.hidden_size}, num_layers={d.num_layers}, "
                f"direction={d.direction!r}, proj_size={d.proj_size}, backend={self.backend!r}, "
                f"device={self.device!r}, batch_first={self._batch_first})")


def _host_weight(name: str, v: Any) -> Any:
    fw = _arrays.framework(v)
    if fw == "torch":
        import torch
        v = v.detach()
        if v.device.type != "cpu":
            raise _errors.DeviceMismatchError(f"{name} is on {v.device}: weights are read from host arrays")
        if v.dtype != torch.float32:
            raise _errors.InvalidTypeError(f"{name} has dtype {v.dtype}: expected torch.float32")
        return v.contiguous().numpy()
    if fw == "numpy":
        return np.ascontiguousarray(v)
    return np.from_dlpack(v) if hasattr(np, "from_dlpack") else np.asarray(v)


class _TorchStreamGuard:
    """torch device arrays on a stream other than torch's current one: the stream first waits for
    torch's work (outputs were allocated there), and every tensor is marked as used on it so the
    caching allocator does not reuse its memory before lstmrt is done."""

    def __init__(self, fw: str, handle: Optional[int], dev: Tuple[int, int]):
        import torch
        self.current = torch.cuda.current_stream(dev[1])
        self.other = None
        if handle is not None and handle != self.current.cuda_stream:
            self.other = torch.cuda.ExternalStream(handle, device=torch.device("cuda", dev[1]))

    def before(self, tensors: Sequence[Any]) -> None:
        if self.other is not None:
            self.other.wait_stream(self.current)

    def after(self, tensors: Sequence[Any]) -> None:
        if self.other is None:
            return
        import torch
        for t in tensors:
            if isinstance(t, torch.Tensor) and t.is_cuda:
                t.record_stream(self.other)


class KerasModel:
    """A Keras 3 model lstmrt runs: LSTM / Bidirectional(LSTM) layers wired as Keras allows —
    Masking (any mask pattern), Concatenate, Dropout-like no-ops, several inputs and outputs,
    initial_state from model inputs or from other layers' states (encoder–decoders), shared layers,
    Bidirectional merge_mode=None. Host arrays (numpy, torch CPU, jax CPU) in Keras's batch-first
    layout (N, T, F) by default.

    ``model.predict(inputs)`` returns what Keras's ``model(inputs)`` returns: one array for a model
    with one output, else a list in ``model.outputs`` order. ``model(x, ...)`` on a chain (one
    sequence input through a path of layers, whose outputs are its last LSTM's) returns
    ``Output(y, h_n, c_n)``: ``y`` the model's first output, ``h_n``/``c_n`` the last LSTM's final
    states (D, N, H); on any other model (several inputs, a graph, merge_mode=None) it returns the
    list in ``model.outputs`` order, like ``predict``."""

    def __init__(self, layer_or_path: Any, config: Optional[str] = None, **options: Any):
        _check_option_names(options)
        self._options = _options(**options)
        if isinstance(layer_or_path, (str, os.PathLike)):
            self._chain = _lstmrt.KerasChain.load(os.fspath(layer_or_path), config)
        else:
            if config is not None:
                raise _errors.InvalidArgumentError("config applies to a .weights.h5 path, not a Keras object")
            with tempfile.TemporaryDirectory(prefix="lstmrt-keras-") as tmp:
                path = os.path.join(tmp, "model.keras")
                _save_keras(layer_or_path, path)
                self._chain = _lstmrt.KerasChain.load(path, None)
        self.stages: List[Dict[str, Any]] = self._chain.stages

    @property
    def return_sequences(self) -> bool:
        """The last LSTM layer's return_sequences."""
        return self._chain.return_sequences

    @property
    def is_chain(self) -> bool:
        """One sequence input through a path of layers whose outputs are the last LSTM's own, one
        sequence output among them (``model(x)`` returns ``Output``)."""
        return self._chain.is_chain and not any(s["merge_mode"] == "none" for s in self.stages)

    @property
    def input_names(self) -> List[str]:
        """The model's inputs, in ``model.inputs`` order."""
        return list(self._chain.input_names)

    @property
    def num_outputs(self) -> int:
        """How many tensors the Keras model returns (``model.outputs``)."""
        return self._chain.num_outputs

    def predict(self, inputs: Any, batch_first: Optional[bool] = None) -> Any:
        """Runs the model on its inputs — one array, or a list in ``model.inputs`` order (sequences
        (N, T, F), or (T, N, F) with ``batch_first=False``; other inputs, e.g. initial states, (N, F))
        — and returns one array for a one-output model, else a list in ``model.outputs`` order, in
        the first input's framework."""
        listed = isinstance(inputs, (list, tuple))
        outs = self._run_all(list(inputs) if listed else [inputs], batch_first)
        return outs[0] if len(outs) == 1 else outs

    def __call__(self, x: Any, lengths: Any = None, initial_state: Any = None, batch_first: Optional[bool] = None,
                 return_sequences: bool = True, return_state: bool = True, padding: Optional[str] = None,
                 stream: Any = None) -> Any:
        """Runs the model on host arrays. ``batch_first=None`` is Keras's layout (N, T, F). With a
        Masking layer the mask comes from x (any pattern). ``padding`` is the model's own (None).

        A chain returns ``Output(y, h_n, c_n)`` (``lengths``: right padding without a Masking
        layer). Any other model returns the list of its outputs in ``model.outputs`` order; ``x``
        is then its first input, or a list of all its inputs in ``model.inputs`` order, and
        ``initial_state`` ((h0, c0), or h, c per direction) feeds the inputs after x."""
        if padding is not None:
            raise _errors.UnsupportedError("KerasModel: padding is the model's own (zero_output_for_mask); pass None")
        _arrays.stream_handle(stream)
        if not self.is_chain:
            if lengths is not None:
                raise _errors.InvalidArgumentError(
                    f"lengths: {self._chain.source} is not one chain of layers; masks come from its Masking layers")
            if not return_sequences or not return_state:
                raise _errors.InvalidArgumentError(
                    "return_sequences / return_state apply to chains: this model returns its model.outputs")
            inputs = list(x) if isinstance(x, (list, tuple)) else [x]
            if initial_state is not None:
                inputs += list(initial_state)
            return self._run_all(inputs, batch_first)
        if initial_state is not None:
            raise _errors.InvalidArgumentError(
                f"initial_state: {self._chain.source} takes one input, x (its layers' initial states are its own)")
        if not return_sequences and not return_state:
            raise _errors.InvalidArgumentError("return_sequences and return_state are both False: nothing to compute")
        fw = self._host_framework("x", x)
        batch_major = True if batch_first is None else bool(batch_first)
        y, h_n, c_n = self._chain.run(_arrays.export("x", x, fw, None),
                                      None if lengths is None else _arrays.lengths_array(lengths),
                                      batch_major, self._options)
        y, h_n, c_n = (_in_framework(a, fw) for a in (y, h_n, c_n))
        return Output(y if return_sequences else None, h_n if return_state else None, c_n if return_state else None)

    def _host_framework(self, name: str, a: Any) -> str:
        fw = _arrays.framework(a)
        dev = _arrays.device_of(a, fw)
        if dev[0] != _arrays._CPU:
            raise _errors.DeviceMismatchError(
                f"{name} is on {_arrays.describe_device(dev)}: Keras models run on host arrays")
        return fw

    def _run_all(self, inputs: List[Any], batch_first: Optional[bool]) -> List[Any]:
        names = self.input_names
        if len(inputs) != len(names):
            raise _errors.InvalidArgumentError(
                f"{self._chain.source} takes {len(names)} input(s) in model.inputs order ({', '.join(names)}), "
                f"got {len(inputs)}")
        exported, fws = [], []
        for k, a in enumerate(inputs):
            label = f"inputs[{k}] ({names[k]})"
            fw = self._host_framework(label, a)
            fws.append(fw)
            exported.append(_arrays.export(label, a, fw, None))
        batch_major = True if batch_first is None else bool(batch_first)
        outs = self._chain.run_all(exported, batch_major, self._options)
        return [_in_framework(o, fws[0]) for o in outs]

    def __repr__(self) -> str:
        names = ", ".join(s["name"] for s in self.stages)
        return f"lstmrt.KerasModel({self._chain.source!r}, layers=[{names}])"


def _in_framework(a: Any, fw: str) -> Any:
    """A host numpy result as the caller's framework's array (None stays None)."""
    if a is None or fw == "numpy":
        return a
    if fw == "torch":
        import torch
        return torch.from_numpy(a)
    if fw == "jax":
        import jax.numpy as jnp
        return jnp.asarray(a)
    return a


def _save_keras(obj: Any, path: str) -> None:
    """A built keras.Model, or a built LSTM / Bidirectional layer wrapped in a Sequential, saved as
    a .keras archive for the C++ importer."""
    if type(obj).__module__.split(".", 1)[0] not in ("keras", "tf_keras", "tensorflow"):
        raise _errors.InvalidTypeError(
            f"{type(obj).__name__}: expected a .keras / .weights.h5 path, a keras.Model or a Keras LSTM layer")
    import keras
    if isinstance(obj, keras.Model):
        obj.save(path)
        return
    if not isinstance(obj, keras.layers.Layer):
        raise _errors.InvalidTypeError(
            f"{type(obj).__name__}: expected a .keras / .weights.h5 path, a keras.Model or a Keras LSTM layer")
    if not obj.built:
        raise _errors.InvalidArgumentError(f"Keras layer {obj.name} is not built: call it once or build it first")
    cell = getattr(getattr(obj, "forward_layer", obj), "cell", None)
    kernel = getattr(cell, "kernel", None)
    if kernel is None:
        raise _errors.UnsupportedError(f"Keras layer {obj.name} ({type(obj).__name__}): expected LSTM or Bidirectional")
    model = keras.Sequential([keras.Input(shape=(None, int(kernel.shape[0]))), obj])
    model.save(path)


def info() -> Dict[str, Any]:
    """This build and machine: version, backends built and usable, GPUs (or why none: e.g. no
    NVIDIA driver), CUDA runtime/driver, cuDNN and cuBLAS versions and the files loaded — or
    which library could not be loaded and where lstmrt looked (``gpu_libraries_status``). Loads
    the GPU libraries to report on them."""
    return _lstmrt.info()


def gpu_available() -> bool:
    """A GPU and an NVIDIA driver are present (loads nothing but the driver)."""
    return _lstmrt.gpu_available()
