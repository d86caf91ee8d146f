"""Built-in networks: untrained torchvision models (and a CIFAR ResNet-20) traced into `Network`s.

Only shapes matter to a simulator, so the zoo builds each model on PyTorch's ``meta`` device (no
memory, no weight init, no arithmetic) and traces it with `from_torch`: ResNet-50 takes well under
a second. The batch-1 network per (name, input size) is cached; other batches are derived with
`Network.with_batch`, which scales every layer's batch (valid because every zoo model carries
the batch in the leading dimension of every op).

Models and defaults (input 3 x H x W):

=================  ===========  ==========================================================
name               input        source
=================  ===========  ==========================================================
resnet18/34/50     224 x 224    torchvision, ``weights=None``
vgg16              224 x 224    torchvision
alexnet            224 x 224    torchvision
mobilenet_v2       224 x 224    torchvision
efficientnet_b0    224 x 224    torchvision
resnet20           32 x 32      `workloads.models.resnet_cifar` (CIFAR-10, option-A shortcuts)
ssdlite320         320 x 320    torchvision ``ssdlite320_mobilenet_v3_large``: backbone + head
deeplabv3_resnet50 520 x 520    torchvision, ``aux_loss=False``, 21 classes
=================  ===========  ==========================================================

SSDlite is traced as backbone + head only: its full forward first resizes every image to 320x320
(so an input size would be ignored) and ends in box decoding + NMS whose shapes depend on the
data and which run no conv/linear/matmul; the MACs are identical either way at 320x320.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
from torch import nn

from workloads.errors import ArchsimInputError
from workloads.torch_trace import from_torch
from workloads.network import Network

__all__ = ["list_networks", "describe_networks", "build_model", "get_network", "parse_input_size", "ZooEntry"]


@dataclass(frozen=True)
class ZooEntry:
    """How to build one zoo model and what input it expects."""

    name: str
    description: str
    build: Callable[[], nn.Module]
    input_size: tuple[int, int]
    #: Smallest H and W accepted: the backbone's total downsampling (32 for the ImageNet
    #: classifiers and the SSDlite backbone, 8 for DeepLabV3's dilated ResNet, 4 for ResNet-20),
    #: or the smallest size torch accepts where that is larger (AlexNet: 63). Smaller inputs would
    #: collapse the last feature maps below one pixel per stride step.
    min_input_size: int
    notes: str = ""


def _torchvision(name: str) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        import torchvision

        return getattr(torchvision.models, name)(weights=None)
    return build


class SSDBackboneHead(nn.Module):
    """SSD without its resize transform and its data-dependent postprocess (see module docstring)."""

    def __init__(self, ssd: nn.Module) -> None:
        super().__init__()
        self.backbone = ssd.backbone
        self.head = ssd.head

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        features = list(self.backbone(images).values())
        return self.head(features)


def _ssdlite() -> nn.Module:
    from torchvision.models.detection import ssdlite320_mobilenet_v3_large

    return SSDBackboneHead(ssdlite320_mobilenet_v3_large(weights=None, weights_backbone=None))


def _deeplab() -> nn.Module:
    from torchvision.models.segmentation import deeplabv3_resnet50

    return deeplabv3_resnet50(weights=None, weights_backbone=None, aux_loss=False)


def _resnet20() -> nn.Module:
    from workloads.models.resnet_cifar import resnet20

    return resnet20()


_IMAGENET = "ImageNet classifier (torchvision, untrained)"
_ENTRIES: tuple[ZooEntry, ...] = (
    ZooEntry("resnet18", f"ResNet-18, {_IMAGENET}", _torchvision("resnet18"), (224, 224), 32),
    ZooEntry("resnet34", f"ResNet-34, {_IMAGENET}", _torchvision("resnet34"), (224, 224), 32),
    ZooEntry("resnet50", f"ResNet-50, {_IMAGENET}", _torchvision("resnet50"), (224, 224), 32),
    ZooEntry("vgg16", f"VGG-16, {_IMAGENET}", _torchvision("vgg16"), (224, 224), 32),
    ZooEntry("alexnet", f"AlexNet, {_IMAGENET}", _torchvision("alexnet"), (224, 224), 63),
    ZooEntry("mobilenet_v2", f"MobileNetV2 (depthwise), {_IMAGENET}", _torchvision("mobilenet_v2"), (224, 224), 32),
    ZooEntry("efficientnet_b0", f"EfficientNet-B0 (depthwise, squeeze-excite), {_IMAGENET}",
             _torchvision("efficientnet_b0"), (224, 224), 32),
    ZooEntry("resnet20", "ResNet-20 for CIFAR-10 (16/32/64 channels, option-A shortcuts)", _resnet20, (32, 32), 4),
    ZooEntry("ssdlite320", "SSDlite320 MobileNetV3-Large detector (backbone + head)", _ssdlite, (320, 320), 32,
             notes="traced backbone + head only: the full forward resizes inputs to 320x320 and its box "
                   "decoding/NMS postprocess is data dependent and runs no conv/linear/matmul"),
    ZooEntry("deeplabv3_resnet50", "DeepLabV3 ResNet-50 segmentation (21 classes, no aux head)", _deeplab,
             (520, 520), 8, notes="segmentation at the torchvision reference size 520x520 unless --input-size "
                                  "says otherwise; the final bilinear upsampling has no MACs modelled"),
)
_ZOO: dict[str, ZooEntry] = {e.name: e for e in _ENTRIES}


def list_networks() -> list[str]:
    """Names accepted by `get_network` and `build_model`."""
    return list(_ZOO)


def describe_networks() -> dict[str, str]:
    """Name -> one-line description with the default input size."""
    return {e.name: f"{e.description}; input 3x{e.input_size[0]}x{e.input_size[1]}" for e in _ENTRIES}


def _entry(name: str) -> ZooEntry:
    try:
        return _ZOO[name]
    except (KeyError, TypeError):
        raise ArchsimInputError(f"unknown network {name!r}; known networks: {', '.join(_ZOO)}") from None


def parse_input_size(value: int | str | Sequence[int] | None, default: tuple[int, int]) -> tuple[int, int]:
    """Normalise ``224``, ``"224"``, ``"224x160"`` or ``(224, 160)`` to ``(H, W)``; None -> default."""
    if value is None:
        return default
    try:
        if isinstance(value, str):
            parts = [p for p in re.split(r"[x, ]+", value.strip().lower()) if p]
            dims = tuple(int(p) for p in parts)
        elif isinstance(value, int) and not isinstance(value, bool):
            dims = (value,)
        else:
            dims = tuple(int(v) for v in value)
            if any(isinstance(v, bool) or int(v) != v for v in value):
                raise ValueError
    except (TypeError, ValueError):
        raise ArchsimInputError(f"--input-size must be one size or H W (positive integers), got {value!r}") from None
    if len(dims) == 1:
        dims = (dims[0], dims[0])
    if len(dims) != 2 or min(dims) < 1:
        raise ArchsimInputError(f"--input-size must be one size or H W (positive integers), got {value!r}")
    return dims  # type: ignore[return-value]


#: Seed of the untrained weights and the example input when the caller gives none: a zoo model is
#: the same model on every call, so `archsim compress` is reproducible (issue 13.13).
DEFAULT_MODEL_SEED = 0


def build_model(name: str, seed: int = DEFAULT_MODEL_SEED) -> tuple[nn.Module, torch.Tensor]:
    """The untrained model that `get_network` traces, and a random example input of its default size.

    The weight init and the example input are drawn from torch's RNG seeded with ``seed`` inside
    `torch.random.fork_rng`, so the same seed gives the same tensors and the caller's global RNG
    state is untouched. For ``ssdlite320`` this is the backbone + head module (see the module docstring).
    """
    entry = _entry(name)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        model = entry.build()
        example = torch.randn(1, 3, *entry.input_size)
    return model, example


@functools.lru_cache(maxsize=64)
def _traced(name: str, input_size: tuple[int, int]) -> Network:
    entry = _ZOO[name]
    with torch.device("meta"):
        model = entry.build()
    example = torch.empty(1, 3, *input_size, device="meta")
    try:
        net = from_torch(model, example, name=name)
    except ArchsimInputError as err:
        raise ArchsimInputError(f"--input-size {input_size[0]}x{input_size[1]} does not work for {name}: {err}") from err
    notes = "; ".join(n for n in (entry.notes, f"input {input_size[0]}x{input_size[1]}", net.notes) if n)
    return Network(name=net.name, layers=net.layers, input_shape=net.input_shape, batch=net.batch,
                   extra_params=net.extra_params, notes=notes, skipped_ops=net.skipped_ops)


def get_network(name: str, batch: int = 1, input_size: int | str | Sequence[int] | None = None) -> Network:
    """The layer table of zoo model ``name`` for a given batch and input size (default: the model's own).

    Raises `ArchsimInputError` for an unknown name, a non-positive batch, or an input size that is
    not positive or smaller than the network's ``min_input_size``.
    """
    entry = _entry(name)
    size = parse_input_size(input_size, entry.input_size)
    if min(size) < entry.min_input_size:
        raise ArchsimInputError(
            f"--input-size {size[0]}x{size[1]} is too small for {name}: it needs at least "
            f"{entry.min_input_size}x{entry.min_input_size}, default "
            f"{entry.input_size[0]}x{entry.input_size[1]}")
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise ArchsimInputError(f"--batch must be a positive integer, got {batch!r}")
    net = _traced(name, size)
    return net if batch == 1 else net.with_batch(batch)
