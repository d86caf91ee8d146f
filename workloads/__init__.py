"""Layer tables of real networks in one small representation (see `workloads.layer`)."""

from workloads.errors import ArchsimInputError
from workloads.layer import GemmShape, Layer, LayerKind, Precision, conv2d, linear, matmul
from workloads.network import Network

__all__ = ["ArchsimInputError", "GemmShape", "Layer", "LayerKind", "Network", "Precision", "conv2d", "linear", "matmul",
           "get_network", "list_networks", "from_torch"]


def __getattr__(name: str):
    # torch-dependent parts load lazily so `import workloads` stays fast for pure-data users.
    if name in ("get_network", "list_networks"):
        from workloads import zoo
        return getattr(zoo, name)
    if name == "from_torch":
        from workloads.torch_trace import from_torch
        return from_torch
    raise AttributeError(name)
