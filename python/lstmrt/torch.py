"""lstmrt for PyTorch: a drop-in for ``torch.nn.LSTM`` inference.

    from lstmrt.torch import LSTM, replace_lstm
    fast = LSTM.from_module(lstm)          # forward(input, hx=None) -> (output, (h_n, c_n))
    model = replace_lstm(model)            # every nn.LSTM inside swapped for lstmrt

Inputs are exactly nn.LSTM's: (L, N, H_in) / (N, L, H_in) with batch_first / unbatched (L, H_in),
or a PackedSequence; ``hx`` = (h_0, c_0). Outputs are not differentiable (inference only).

Where the installed torch has ``torch.library.custom_op`` (torch >= 2.4), the forward is the
custom op ``lstmrt::lstm`` with a fake (meta) implementation, so ``torch.compile`` and
``torch.export`` trace through it; older torch runs it eagerly.
"""

from __future__ import annotations

import itertools
import weakref
from typing import Any, Dict, Optional, Tuple

import torch
from torch.nn.utils.rnn import PackedSequence

from . import _errors
from ._lstm import LSTM as _RuntimeLSTM

__all__ = ["LSTM", "replace_lstm", "HAS_CUSTOM_OP"]

# Live runtimes by id, for the custom op (its arguments are tensors and plain values only).
_RUNTIMES: "weakref.WeakValueDictionary[int, _RuntimeLSTM]" = weakref.WeakValueDictionary()
_IDS = itertools.count(1)

HAS_CUSTOM_OP = hasattr(torch, "library") and hasattr(torch.library, "custom_op") and \
    hasattr(torch.library, "register_fake")


def _run(x: torch.Tensor, h0: Optional[torch.Tensor], c0: Optional[torch.Tensor], lengths: Optional[torch.Tensor],
         runtime_id: int, batch_first: bool) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    runtime = _RUNTIMES.get(runtime_id)
    if runtime is None:
        raise _errors.InvalidArgumentError(f"lstmrt runtime {runtime_id} no longer exists")
    state = None if h0 is None else (h0, c0)
    out = runtime(x, lengths=lengths, initial_state=state, batch_first=batch_first)
    return out.y, out.h_n, out.c_n


if HAS_CUSTOM_OP:
    @torch.library.custom_op("lstmrt::lstm", mutates_args=())
    def _lstm_op(x: torch.Tensor, h0: Optional[torch.Tensor], c0: Optional[torch.Tensor],
                 lengths: Optional[torch.Tensor], runtime_id: int,
                 batch_first: bool) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return _run(x, h0, c0, lengths, runtime_id, batch_first)

    @_lstm_op.register_fake
    def _lstm_fake(x, h0, c0, lengths, runtime_id, batch_first):
        runtime = _RUNTIMES[runtime_id]
        d = runtime.desc
        T, N = (x.shape[1], x.shape[0]) if batch_first else (x.shape[0], x.shape[1])
        S = d.num_layers * d.num_directions
        y_shape = (N, T, d.num_directions * d.output_size) if batch_first else (T, N, d.num_directions * d.output_size)
        return (x.new_empty(y_shape), x.new_empty((S, N, d.output_size)), x.new_empty((S, N, d.hidden_size)))

    def _call(*args: Any) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return torch.ops.lstmrt.lstm(*args)
else:
    _call = _run


class LSTM(torch.nn.Module):
    """``torch.nn.LSTM``'s inference forward on an lstmrt backend. Build it with
    :meth:`from_module`; it keeps the source module's attributes (input_size, hidden_size,
    num_layers, bias, batch_first, bidirectional, proj_size) and holds its own copy of the weights
    (moving it with ``.to()`` does not move them: choose ``backend``/``device`` at creation)."""

    def __init__(self, runtime: _RuntimeLSTM, *, input_size: int, hidden_size: int, num_layers: int, bias: bool,
                 batch_first: bool, bidirectional: bool, proj_size: int):
        super().__init__()
        self.runtime = runtime
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.bidirectional, self.proj_size = bias, batch_first, bidirectional, proj_size
        self._runtime_id = next(_IDS)
        _RUNTIMES[self._runtime_id] = runtime

    @classmethod
    def from_module(cls, module: torch.nn.LSTM, **options: Any) -> "LSTM":
        """A drop-in for ``module`` (a torch.nn.LSTM). Options as lstmrt.LSTM's; ``backend``
        defaults to "reference" for a module on the CPU and "auto" for one on a GPU (whose
        ``device`` becomes the default)."""
        if not isinstance(module, torch.nn.LSTM):
            raise _errors.InvalidTypeError(f"module is a {type(module).__name__}: expected torch.nn.LSTM")
        param = next(module.parameters(), None)
        on_gpu = param is not None and param.is_cuda
        options.setdefault("backend", "auto" if on_gpu else "reference")
        if on_gpu:
            options.setdefault("device", param.device.index or 0)
        runtime = _RuntimeLSTM.from_torch(module, **options)
        return cls(runtime, input_size=module.input_size, hidden_size=module.hidden_size,
                   num_layers=module.num_layers, bias=module.bias, batch_first=module.batch_first,
                   bidirectional=module.bidirectional, proj_size=module.proj_size)

    def extra_repr(self) -> str:
        return (f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, bias={self.bias}, "
                f"batch_first={self.batch_first}, bidirectional={self.bidirectional}, proj_size={self.proj_size}, "
                f"backend={self.runtime.backend!r}, device={self.runtime.device!r}")

    def forward(self, input: Any, hx: Optional[Tuple[torch.Tensor, torch.Tensor]] = None) -> Any:
        """As torch.nn.LSTM.forward: ``(output, (h_n, c_n))``; output is a PackedSequence when
        input is one."""
        if isinstance(input, PackedSequence):
            return self._forward_packed(input, hx)
        if not isinstance(input, torch.Tensor):
            raise _errors.InvalidTypeError(f"input is a {type(input).__name__}: expected a Tensor or PackedSequence")
        unbatched = input.dim() == 2
        if input.dim() not in (2, 3):
            raise _errors.InvalidArgumentError(
                f"input has {input.dim()} dimensions: expected 3 (batched) or 2 (unbatched)")
        x = input.unsqueeze(1 if not self.batch_first else 0) if unbatched else input
        h0, c0 = self._state(hx, unbatched)
        y, h_n, c_n = _call(x, h0, c0, None, self._runtime_id, self.batch_first)
        if unbatched:
            y = y.squeeze(1 if not self.batch_first else 0)
            h_n, c_n = h_n.squeeze(1), c_n.squeeze(1)
        return y, (h_n, c_n)

    def _state(self, hx: Any, unbatched: bool) -> Tuple[Optional[torch.Tensor], Optional[torch.Tensor]]:
        if hx is None:
            return None, None
        if not isinstance(hx, (tuple, list)) or len(hx) != 2:
            raise _errors.InvalidTypeError("hx: expected a tuple (h_0, c_0)")
        h0, c0 = hx
        if unbatched:
            if h0.dim() != 2 or c0.dim() != 2:
                raise _errors.InvalidArgumentError(
                    f"hx for unbatched input: expected 2-D h_0 and c_0, got {h0.dim()}-D and {c0.dim()}-D")
            h0, c0 = h0.unsqueeze(1), c0.unsqueeze(1)
        return h0, c0

    def _forward_packed(self, packed: PackedSequence, hx: Any) -> Any:
        # Run padded (time-major, rows in the caller's order) with per-row lengths, then pack y
        # back with the input's own batch_sizes and permutation, as nn.LSTM does.
        padded, lengths = torch.nn.utils.rnn.pad_packed_sequence(packed, batch_first=False)
        h0, c0 = self._state(hx, False)
        y, h_n, c_n = _call(padded, h0, c0, lengths.to(torch.int32), self._runtime_id, False)
        batch_sizes = packed.batch_sizes
        order = packed.sorted_indices
        if order is not None:
            y = y.index_select(1, order.to(y.device))
        steps = torch.arange(y.shape[1], device=batch_sizes.device)
        valid = steps.unsqueeze(0) < batch_sizes.unsqueeze(1)  # (T, N) in packed (sorted) order
        data = y[: batch_sizes.numel()][valid.to(y.device)]
        return PackedSequence(data, batch_sizes, packed.sorted_indices, packed.unsorted_indices), (h_n, c_n)


def replace_lstm(model: torch.nn.Module, **options: Any) -> torch.nn.Module:
    """Swaps every torch.nn.LSTM inside ``model`` (in place) for :class:`LSTM`; returns ``model``,
    or the new module when ``model`` itself is an nn.LSTM. Options as LSTM.from_module's."""
    if isinstance(model, torch.nn.LSTM):
        return LSTM.from_module(model, **options)
    if not isinstance(model, torch.nn.Module):
        raise _errors.InvalidTypeError(f"model is a {type(model).__name__}: expected a torch.nn.Module")
    replacements: Dict[Tuple[torch.nn.Module, str], torch.nn.Module] = {}
    for parent in model.modules():
        for name, child in parent.named_children():
            if isinstance(child, torch.nn.LSTM):
                replacements[(parent, name)] = LSTM.from_module(child, **options)
    for (parent, name), new in replacements.items():
        setattr(parent, name, new)
    return model
