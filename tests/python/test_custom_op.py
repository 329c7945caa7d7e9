"""lstmrt.torch's custom op (torch.library, torch >= 2.4): torch.compile and torch.export trace
through it on the CPU reference backend; the fake implementation gives the real shapes. Skipped on
older torch (Debian's 1.13), where lstmrt.torch runs eagerly."""
import pytest

torch = pytest.importorskip("torch")
import lstmrt.torch as lt  # noqa: E402

pytestmark = [pytest.mark.custom_op,
              pytest.mark.skipif(not lt.HAS_CUSTOM_OP, reason=f"torch {torch.__version__} has no torch.library.custom_op")]


def test_fake_implementation_matches_real_shapes():
    from torch._subclasses.fake_tensor import FakeTensorMode
    m = torch.nn.LSTM(3, 5, 2, bidirectional=True, proj_size=2, batch_first=True)
    fast = lt.LSTM.from_module(m)
    x = torch.randn(4, 6, 3)
    real = fast(x)
    with FakeTensorMode() as mode:
        fake = fast(mode.from_tensor(x))
    assert fake[0].shape == real[0].shape and fake[1][0].shape == real[1][0].shape and fake[1][1].shape == real[1][1].shape


def test_torch_compile_traces_through():
    m = torch.nn.LSTM(3, 4, 2).eval()
    fast = lt.LSTM.from_module(m)
    f = torch.compile(lambda x: fast(x)[0].relu(), fullgraph=True)
    x = torch.randn(5, 2, 3)
    with torch.no_grad():
        torch.testing.assert_close(f(x), m(x)[0].relu(), atol=1e-5, rtol=0)


def test_torch_export_traces_through():
    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = torch.nn.LSTM(3, 4, batch_first=True)
            self.head = torch.nn.Linear(4, 2)

        def forward(self, x):
            return self.head(self.lstm(x)[0])

    net = Net().eval()
    x = torch.randn(2, 6, 3)
    with torch.no_grad():
        want = net(x)
    lt.replace_lstm(net)
    exported = torch.export.export(net, (x,))
    assert any("lstmrt" in str(n.target) for n in exported.graph.nodes)
    torch.testing.assert_close(exported.module()(x), want, atol=1e-5, rtol=0)
