"""Model definitions that torchvision does not ship (shapes only; untrained)."""

from workloads.models.resnet_cifar import resnet20

__all__ = ["resnet20"]
