"""Permuted-diagonal (PermDNN) weight structure: numpy core (`structure`), torch layers
(`modules`, imported lazily so numpy-only users do not pay for torch) and the digits experiment
(`experiment`, ``python -m compress.permdiag.experiment``)."""

from compress.permdiag.structure import (
    PermDiagStorage,
    Projection,
    check_block_size,
    expand,
    nonzero_positions,
    pd_matvec,
    project,
    random_perms,
    row_for_column,
)

__all__ = ["PermDiagStorage", "Projection", "check_block_size", "expand", "nonzero_positions", "pd_matvec",
           "project", "random_perms", "row_for_column", "PermDiagLinear", "PermDiagConv2d"]


def __getattr__(name: str):
    if name in ("PermDiagLinear", "PermDiagConv2d"):
        from compress.permdiag import modules
        return getattr(modules, name)
    raise AttributeError(name)
