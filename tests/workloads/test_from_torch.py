"""from_torch: every modelled op is found, named, sized exactly as torch runs it, and counted once."""

from __future__ import annotations

import math
import warnings

import pytest
import torch
from torch import nn

from workloads import ArchsimInputError, LayerKind
from workloads.torch_trace import UnmodelledOpWarning, from_torch


def _observed_outputs(model: nn.Module, x: torch.Tensor) -> dict[str, tuple[int, ...]]:
    """Output shape of every Conv/Linear module, seen by our own forward hooks (independent of from_torch)."""
    seen: dict[str, tuple[int, ...]] = {}
    def record(name: str):
        def hook(_mod: nn.Module, _args: tuple, out: torch.Tensor) -> None:
            seen.setdefault(name, tuple(out.shape))
        return hook

    handles = [m.register_forward_hook(record(n))
               for n, m in model.named_modules() if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        model(x)
    for h in handles:
        h.remove()
    return seen


class Mixed(nn.Module):
    """Grouped, depthwise (multiplier 2, non-square kernel and stride), dilated, 'same' with an even
    kernel, 'valid', Conv1d, a Linear on a 3-D input and two attention-style matmuls."""

    def __init__(self) -> None:
        super().__init__()
        self.grouped = nn.Conv2d(8, 12, 3, stride=2, padding=1, groups=4)
        self.depthwise = nn.Conv2d(12, 24, (3, 5), stride=(1, 2), padding=(1, 2), groups=12)
        self.dilated = nn.Conv2d(24, 16, 3, dilation=(2, 3), padding=2)
        self.same = nn.Conv2d(16, 16, 4, padding="same")
        self.valid = nn.Conv2d(16, 8, (2, 3), padding="valid", bias=False)
        self.conv1d = nn.Conv1d(8, 6, 5, stride=3, padding=2)
        self.fc = nn.Linear(6, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.valid(self.same(self.dilated(self.depthwise(self.grouped(x)))))
        y = self.conv1d(x.flatten(2))                     # (B, 6, L)
        t = self.fc(y.transpose(1, 2))                    # (B, L, 10): Linear on a 3-D input
        scores = torch.matmul(t, t.transpose(1, 2))       # (B, L, L)
        return torch.bmm(scores, t)                       # (B, L, 10)


def _conv_macs(out_shape: tuple[int, ...], conv: nn.Module) -> int:
    """MACs by hand: every output element sums (in_channels / groups) x kernel area products."""
    return math.prod(out_shape) * (conv.in_channels // conv.groups) * math.prod(conv.kernel_size)


@pytest.mark.filterwarnings("ignore:Using padding='same'")
def test_mixed_model_shapes_and_macs_match_torch():
    torch.manual_seed(0)
    model = Mixed()
    x = torch.randn(2, 8, 37, 23)  # odd, non-square input
    observed = _observed_outputs(model, x)
    net = from_torch(model, x)

    assert [layer.name for layer in net] == ["grouped", "depthwise", "dilated", "same", "valid", "conv1d", "fc",
                                             "matmul0", "matmul1"]
    assert net.batch == 2 and net.input_shape == (2, 8, 37, 23)
    for name in ("grouped", "depthwise", "dilated", "same", "valid"):
        layer, module = net[name], getattr(model, name)
        assert layer.output_shape == observed[name]
        assert layer.macs == _conv_macs(observed[name], module)
        assert layer.weights == module.weight.numel()
        assert layer.bias == (module.bias is not None)
    assert net["depthwise"].is_depthwise and net["depthwise"].groups == 12
    assert (net["depthwise"].stride_h, net["depthwise"].stride_w) == (1, 2)
    assert (net["dilated"].dilation_h, net["dilated"].dilation_w) == (2, 3)
    # PyTorch puts the odd extra pixel of 'same' padding at the bottom/right: total 3 -> 1 + 2.
    same = net["same"]
    assert (same.pad_top, same.pad_bottom, same.pad_left, same.pad_right) == (1, 2, 1, 2)

    c1 = net["conv1d"]
    b, cout, length = observed["conv1d"]
    assert (c1.batch, c1.out_channels, c1.out_h, c1.out_w) == (b, cout, 1, length)
    assert c1.macs == b * cout * length * 8 * 5

    fc = net["fc"]
    assert fc.kind is LayerKind.LINEAR and (fc.batch, fc.in_h, fc.in_channels, fc.out_channels) == (2, length, 6, 10)
    assert observed["fc"] == (2, length, 10) and fc.macs == 2 * length * 6 * 10

    scores, mix = net["matmul0"], net["matmul1"]
    assert scores.kind is LayerKind.MATMUL and (scores.batch, scores.in_h, scores.in_channels, scores.out_channels) \
        == (2, length, 10, length)
    assert (mix.batch, mix.in_h, mix.in_channels, mix.out_channels) == (2, length, length, 10)
    assert scores.macs == 2 * length * 10 * length and mix.macs == 2 * length * length * 10
    assert net.macs == sum(layer.macs for layer in net)


def test_hand_counted_small_network():
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 10 * 10, 5))
    net = from_torch(model, torch.randn(1, 3, 10, 10), name="tiny")
    assert net.name == "tiny" and [layer.name for layer in net] == ["0", "3"]
    assert net["0"].macs == 8 * 10 * 10 * 27 == 21_600
    assert net["3"].macs == 800 * 5
    assert net.params == sum(p.numel() for p in model.parameters()) == 8 * 27 + 8 + 800 * 5 + 5


def test_param_accounting_extra_params_and_tied_weights():
    class Lm(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.emb = nn.Embedding(50, 16)
            self.norm = nn.LayerNorm(16)
            self.proj = nn.Parameter(torch.randn(16, 16))   # used as x @ W: a linear layer
            self.head = nn.Linear(16, 50, bias=False)
            self.head.weight = self.emb.weight               # tied to the embedding

        def forward(self, ids: torch.Tensor) -> torch.Tensor:
            h = self.norm(self.emb(ids)) @ self.proj
            return self.head(h)

    model = Lm()
    net = from_torch(model, torch.randint(0, 50, (3, 7)))
    assert net.params == sum(p.numel() for p in model.parameters())
    assert net.extra_params == 2 * 16  # LayerNorm only: the tied embedding is counted by the head
    proj = net["matmul"]  # named after the op it came from
    assert proj.kind is LayerKind.LINEAR and (proj.batch, proj.in_h, proj.in_channels, proj.out_channels) == (3, 7, 16, 16)
    assert net["head"].macs == 3 * 7 * 16 * 50


def test_module_called_twice_and_shared_weights_are_stated():
    class Twice(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(4, 4, 3, padding=1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.conv(torch.relu(self.conv(x)))

    model = Twice()
    net = from_torch(model, torch.randn(1, 4, 6, 6))
    assert [layer.name for layer in net] == ["conv", "conv#2"]
    shared = sum(p.numel() for p in model.parameters())
    assert net.params == 2 * shared and f"{shared:,} parameter elements" in net.notes


def test_einsum_forms():
    class Attn(nn.Module):
        def forward(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
            a = torch.einsum("bhid,bhjd->bhij", q, k)
            b = torch.einsum("...id,...jd->...ij", q, k)
            return a + b + torch.einsum("ij,jk", q[0, 0], k[0, 0].T).sum()

    q, k = torch.randn(2, 3, 5, 4), torch.randn(2, 3, 6, 4)
    net = from_torch(Attn(), (q, k))
    dims = [(l.batch, l.in_h, l.in_channels, l.out_channels) for l in net]
    assert dims == [(6, 5, 4, 6), (6, 5, 4, 6), (1, 5, 4, 6)]


def test_unsupported_ops_give_one_warning_and_are_recorded():
    class Deconv(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.enc = nn.Conv2d(3, 8, 3, stride=2, padding=1)
            self.up1 = nn.ConvTranspose2d(8, 8, 2, stride=2)
            self.up2 = nn.ConvTranspose2d(8, 3, 1)
            self.vol = nn.Conv3d(1, 1, 1)
            self.rnn = nn.LSTM(8, 4, batch_first=True)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.vol(self.up2(self.up1(self.enc(x))).unsqueeze(1))
            return self.rnn(y.reshape(1, -1, 8))[0]

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        net = from_torch(Deconv(), torch.randn(1, 3, 8, 8))
    ours = [w for w in caught if issubclass(w.category, UnmodelledOpWarning)]
    assert len(ours) == 1
    message = str(ours[0].message)
    assert "conv_transpose2d x2" in message and "lstm x1" in message and "conv3d x1" in message
    assert "up1" in message and "rnn" in message
    assert net.skipped_ops == {"conv_transpose2d": 2, "conv3d": 1, "lstm": 1}
    assert [layer.name for layer in net] == ["enc"]


def test_module_without_supported_layers_is_an_input_error():
    with pytest.raises(ArchsimInputError, match="no Conv1d/Conv2d/Linear/matmul ran in forward"):
        from_torch(nn.Sequential(nn.ReLU(), nn.BatchNorm2d(3)), torch.randn(1, 3, 4, 4))


def test_bad_inputs_are_input_errors():
    with pytest.raises(ArchsimInputError, match="nn.Module"):
        from_torch("resnet18", torch.randn(1, 3, 8, 8))  # type: ignore[arg-type]
    with pytest.raises(ArchsimInputError, match="at least one tensor"):
        from_torch(nn.Linear(2, 2), (3,))
    with pytest.raises(ArchsimInputError, match="failed"):
        from_torch(nn.Conv2d(3, 4, 3), torch.randn(1, 5, 8, 8))  # wrong channel count


def test_eval_mode_no_grad_and_training_flags_restored():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Dropout(0.5), nn.Flatten(), nn.Linear(4 * 36, 2))
    model.train()
    model[2].eval()  # a deliberately mixed state must survive
    before = model[1].running_mean.clone()
    net = from_torch(model, torch.randn(4, 3, 8, 8))
    assert model.training and model[1].training and not model[2].training
    assert torch.equal(model[1].running_mean, before)  # ran in eval mode: BN statistics untouched
    assert net.batch == 4 and net["4"].batch == 4


def test_meta_device_trace_equals_cpu_trace():
    from workloads.models import resnet20

    cpu = from_torch(resnet20(), torch.randn(1, 3, 32, 32))
    with torch.device("meta"):
        meta_model = resnet20()
    meta = from_torch(meta_model, torch.empty(1, 3, 32, 32, device="meta"))
    assert cpu.layers == meta.layers and cpu.params == meta.params


def test_scaled_dot_product_attention_is_two_matmuls():
    class Sdpa(nn.Module):
        def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
            return nn.functional.scaled_dot_product_attention(q, k, v, is_causal=False)

    q, k, v = torch.randn(2, 4, 9, 16), torch.randn(2, 4, 11, 16), torch.randn(2, 4, 11, 24)
    net = from_torch(Sdpa(), (q, k, v))
    assert [layer.name for layer in net] == ["scores", "context"]
    assert (net["scores"].batch, net["scores"].in_h, net["scores"].in_channels, net["scores"].out_channels) \
        == (8, 9, 16, 11)
    assert (net["context"].batch, net["context"].in_h, net["context"].in_channels, net["context"].out_channels) \
        == (8, 9, 11, 24)
    assert net.macs == 8 * 9 * 11 * (16 + 24)


def test_multi_head_attention_is_decomposed():
    layer = nn.TransformerEncoderLayer(32, 4, 64, batch_first=True)
    net = from_torch(layer, torch.randn(2, 10, 32))
    assert [l.name for l in net] == ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.scores",
                                     "self_attn.context", "self_attn.out_proj", "linear1", "linear2"]
    assert not net.skipped_ops
    assert net.params == sum(p.numel() for p in layer.parameters())
    scores = net["self_attn.scores"]
    assert (scores.batch, scores.in_h, scores.in_channels, scores.out_channels) == (2 * 4, 10, 8, 10)
    # projections 4 x (20 rows x 32 x 32), attention 2 x (8 x 10 x 10 x 8), feed-forward 2 x (20 x 32 x 64)
    assert net.macs == 4 * 20 * 32 * 32 + 2 * 8 * 10 * 10 * 8 + 2 * 20 * 32 * 64

    cross = nn.MultiheadAttention(16, 2, kdim=8, vdim=12)  # separate projection weights, seq-first
    q, k, v = torch.randn(5, 3, 16), torch.randn(7, 3, 8), torch.randn(7, 3, 12)
    net = from_torch(cross, (q, k, v))
    assert [(l.in_h, l.in_channels) for l in net if l.name.endswith("_proj")] == [(5, 16), (7, 8), (7, 12), (5, 16)]
    assert net.params == sum(p.numel() for p in cross.parameters())


def test_vision_transformer_matches_torchvision_figures():
    import torchvision

    with torch.device("meta"):
        vit = torchvision.models.vit_b_16(weights=None)
    net = from_torch(vit, torch.empty(1, 3, 224, 224, device="meta"))
    assert net.params == 86_567_656  # torchvision's published count
    assert net.macs == pytest.approx(17.56e9, rel=0.01)  # torchvision: 17.56 GFLOPS (MACs)


def test_package_attribute_is_the_function_even_after_the_submodule_was_imported():
    # a submodule named like the function used to shadow it: `from workloads import from_torch` returned a module
    import importlib

    import workloads

    importlib.import_module("workloads.torch_trace")
    importlib.import_module("workloads.zoo")
    from workloads import from_torch as exported

    assert callable(exported) and exported is from_torch and workloads.from_torch is from_torch
