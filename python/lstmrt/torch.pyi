# Type stubs for lstmrt.torch (docstrings in lstmrt/torch.py).
from typing import Any, Optional, Tuple, Union

import torch
from torch.nn.utils.rnn import PackedSequence

from . import LSTM as _RuntimeLSTM

HAS_CUSTOM_OP: bool

class LSTM(torch.nn.Module):
    runtime: _RuntimeLSTM
    input_size: int
    hidden_size: int
    num_layers: int
    bias: bool
    batch_first: bool
    bidirectional: bool
    proj_size: int
    def __init__(self, runtime: _RuntimeLSTM, *, input_size: int, hidden_size: int, num_layers: int, bias: bool,
                 batch_first: bool, bidirectional: bool, proj_size: int) -> None: ...
    @classmethod
    def from_module(cls, module: torch.nn.LSTM, *, backend: str = ..., dtype: str = ..., math: str = ...,
                    cudnn_algo: str = ..., fused_kernel: str = ..., device: Union[int, str, Any] = ...) -> LSTM: ...
    def forward(self, input: Union[torch.Tensor, PackedSequence],
                hx: Optional[Tuple[torch.Tensor, torch.Tensor]] = ...
                ) -> Tuple[Union[torch.Tensor, PackedSequence], Tuple[torch.Tensor, torch.Tensor]]: ...

def replace_lstm(model: torch.nn.Module, *, backend: str = ..., dtype: str = ..., math: str = ...,
                 cudnn_algo: str = ..., fused_kernel: str = ..., device: Union[int, str, Any] = ...) -> torch.nn.Module: ...
