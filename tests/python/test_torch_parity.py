"""lstmrt.torch.LSTM.from_module(m) against m (torch.nn.LSTM) on the CPU reference backend: random
models with every nn.LSTM feature (layers, bidirectional, proj_size, bias=False, batch_first),
batched / unbatched / PackedSequence input, with and without hx; within 1e-5."""
import itertools
import random

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import lstmrt  # noqa: E402
import lstmrt.torch  # noqa: E402

TOL = 1e-5


def random_lstm(seed, **fixed):
    r = random.Random(seed)
    H = r.randint(1, 9)
    cfg = dict(input_size=r.randint(1, 7), hidden_size=H, num_layers=r.randint(1, 3),
               bidirectional=r.random() < 0.5, bias=r.random() < 0.7, batch_first=r.random() < 0.5,
               proj_size=r.randint(1, H - 1) if H > 1 and r.random() < 0.4 else 0)
    cfg.update(fixed)
    torch.manual_seed(seed)
    m = torch.nn.LSTM(**cfg)
    with torch.no_grad():  # larger than the default init, so that every gate saturates somewhere
        for p in m.parameters():
            p.uniform_(-0.8, 0.8)
    return m.eval(), cfg


def close(a, b):
    assert a.shape == b.shape, (a.shape, b.shape)
    assert torch.isfinite(a).all()
    err = (a - b).abs().max().item() if a.numel() else 0.0
    assert err <= TOL, err


@pytest.mark.parametrize("seed", range(24))
def test_random_models_match_nn_lstm(seed):
    m, cfg = random_lstm(seed)
    fast = lstmrt.torch.LSTM.from_module(m)
    r = random.Random(1000 + seed)
    T, N = r.randint(1, 9), r.randint(1, 5)
    D, L = 2 if cfg["bidirectional"] else 1, cfg["num_layers"]
    H_out = cfg["proj_size"] or cfg["hidden_size"]
    shape = (N, T, cfg["input_size"]) if cfg["batch_first"] else (T, N, cfg["input_size"])
    x = torch.randn(*shape) * 2
    for hx in (None, (torch.randn(L * D, N, H_out), torch.randn(L * D, N, cfg["hidden_size"]))):
        with torch.no_grad():
            want, (wh, wc) = m(x, hx)
        got, (gh, gc) = fast(x, hx)
        close(got, want)
        close(gh, wh)
        close(gc, wc)


@pytest.mark.parametrize("seed", range(6))
def test_unbatched_input(seed):
    m, cfg = random_lstm(50 + seed)
    fast = lstmrt.torch.LSTM.from_module(m)
    D = 2 if cfg["bidirectional"] else 1
    H_out = cfg["proj_size"] or cfg["hidden_size"]
    x = torch.randn(6, cfg["input_size"])
    hx = (torch.randn(cfg["num_layers"] * D, H_out), torch.randn(cfg["num_layers"] * D, cfg["hidden_size"]))
    for state in (None, hx):
        with torch.no_grad():
            want, (wh, wc) = m(x, state)
        got, (gh, gc) = fast(x, state)
        close(got, want), close(gh, wh), close(gc, wc)


@pytest.mark.parametrize("seed,enforce_sorted", list(itertools.product(range(8), (False, True))))
def test_packed_sequence(seed, enforce_sorted):
    m, cfg = random_lstm(100 + seed, batch_first=False)
    fast = lstmrt.torch.LSTM.from_module(m)
    r = random.Random(seed)
    N = r.randint(1, 6)
    lengths = sorted((r.randint(1, 8) for _ in range(N)), reverse=True) if enforce_sorted else \
        [r.randint(1, 8) for _ in range(N)]
    T = max(lengths)
    x = torch.randn(T, N, cfg["input_size"])
    packed = torch.nn.utils.rnn.pack_padded_sequence(x, torch.tensor(lengths), enforce_sorted=enforce_sorted)
    D = 2 if cfg["bidirectional"] else 1
    H_out = cfg["proj_size"] or cfg["hidden_size"]
    hx = (torch.randn(cfg["num_layers"] * D, N, H_out), torch.randn(cfg["num_layers"] * D, N, cfg["hidden_size"]))
    for state in (None, hx):
        with torch.no_grad():
            want, (wh, wc) = m(packed, state)
        got, (gh, gc) = fast(packed, state)
        assert isinstance(got, torch.nn.utils.rnn.PackedSequence)
        assert torch.equal(got.batch_sizes, want.batch_sizes)
        for a, b in ((got.sorted_indices, want.sorted_indices), (got.unsorted_indices, want.unsorted_indices)):
            assert (a is None and b is None) or torch.equal(a, b)
        close(got.data, want.data)
        close(gh, wh)
        close(gc, wc)


def test_runtime_api_matches_too():
    m, cfg = random_lstm(7, num_layers=2, bidirectional=True, proj_size=3, hidden_size=5, batch_first=True)
    lstm = lstmrt.LSTM.from_torch(m)
    assert lstm.batch_first and lstm.backend == "reference" and lstm.device == "cpu"
    x = torch.randn(4, 6, cfg["input_size"])
    with torch.no_grad():
        want, (wh, wc) = m(x)
    out = lstm(x)
    close(out.y, want), close(out.h_n, wh), close(out.c_n, wc)
    # numpy in, numpy out; the same numbers
    out_np = lstm(x.numpy())
    assert isinstance(out_np.y, np.ndarray)
    np.testing.assert_allclose(out_np.y, want.numpy(), atol=TOL, rtol=0)


def test_replace_lstm_swaps_every_nn_lstm():
    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = torch.nn.LSTM(4, 6, 2, batch_first=True)
            self.inner = torch.nn.Sequential(torch.nn.Linear(6, 6), torch.nn.ReLU())
            self.decoder = torch.nn.ModuleDict({"rnn": torch.nn.LSTM(6, 3, bidirectional=True, batch_first=True)})
            self.head = torch.nn.Linear(6, 2)

        def forward(self, x):
            y, _ = self.encoder(x)
            y, _ = self.decoder["rnn"](self.inner(y))
            return self.head(y)

    torch.manual_seed(3)
    net = Net().eval()
    x = torch.randn(3, 7, 4)
    with torch.no_grad():
        want = net(x)
    same = lstmrt.torch.replace_lstm(net)
    assert same is net
    assert isinstance(net.encoder, lstmrt.torch.LSTM) and isinstance(net.decoder["rnn"], lstmrt.torch.LSTM)
    assert not any(isinstance(mod, torch.nn.LSTM) for mod in net.modules())
    with torch.no_grad():
        close(net(x), want)
    single = torch.nn.LSTM(2, 3)
    assert isinstance(lstmrt.torch.replace_lstm(single), lstmrt.torch.LSTM)


def test_from_module_refuses_other_modules():
    with pytest.raises(lstmrt.InvalidTypeError, match="expected torch.nn.LSTM"):
        lstmrt.torch.LSTM.from_module(torch.nn.GRU(2, 3))
    with pytest.raises(TypeError):
        lstmrt.LSTM.from_torch(torch.nn.Linear(2, 3))
