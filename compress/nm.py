"""N:M masks: keep the N most important of every M consecutive weights of a subvector.

Groups are M consecutive coordinates *inside* each d-dim subvector (so M must divide d); with the
``input_channel`` layout they run along the reduction axis (mvq.md §1.3). The importance score is
pluggable: a name from `IMPORTANCE_SCORES`, a callable ``f(subvectors) -> scores`` of the same
shape, or a precomputed score tensor. Exactly N positions per group are kept, ties broken by
`torch.topk` (deterministic for a given input).
"""

from __future__ import annotations

from typing import Callable, Union

import torch

from workloads.errors import ArchsimInputError


def magnitude(subvectors: torch.Tensor) -> torch.Tensor:
    """|w| — the standard criterion, and the "important = large-magnitude" framing of mvq.md §1.3 [I]."""
    return subvectors.abs()


#: Named importance scores (higher = keep). Add entries to make a new name available to configs.
IMPORTANCE_SCORES: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {"magnitude": magnitude}

ImportanceArg = Union[str, Callable[[torch.Tensor], torch.Tensor], torch.Tensor]


def importance_scores(subvectors: torch.Tensor, importance: ImportanceArg = "magnitude") -> torch.Tensor:
    """Scores for every coordinate of ``subvectors`` (same shape)."""
    if isinstance(importance, torch.Tensor):
        scores = importance
    elif isinstance(importance, str):
        if importance not in IMPORTANCE_SCORES:
            raise ArchsimInputError(f"importance must be one of {', '.join(IMPORTANCE_SCORES)} or a callable, "
                                    f"got {importance!r}")
        scores = IMPORTANCE_SCORES[importance](subvectors)
    elif callable(importance):
        scores = importance(subvectors)
    else:
        raise ArchsimInputError(f"importance must be a score name, a callable or a tensor, got {type(importance).__name__}")
    if not isinstance(scores, torch.Tensor) or scores.shape != subvectors.shape:
        got = tuple(scores.shape) if isinstance(scores, torch.Tensor) else type(scores).__name__
        raise ArchsimInputError(f"importance scores must have the subvectors' shape {tuple(subvectors.shape)}, got {got}")
    return scores


def nm_mask(subvectors: torch.Tensor, n: int, m: int, importance: ImportanceArg = "magnitude") -> torch.Tensor:
    """Bool mask ``[n_sub, d]`` with exactly ``n`` True in every group of ``m`` consecutive coordinates."""
    if subvectors.dim() != 2:
        raise ArchsimInputError(f"nm_mask expects subvectors of shape [n_sub, d], got {tuple(subvectors.shape)}")
    if not (isinstance(n, int) and isinstance(m, int) and 1 <= n < m):
        raise ArchsimInputError(f"N:M pruning needs 1 <= N < M, got N={n}, M={m}")
    n_sub, d = subvectors.shape
    if d % m:
        raise ArchsimInputError(f"M={m} must divide the subvector size d={d} (N:M groups lie inside each subvector)")
    scores = importance_scores(subvectors, importance).reshape(n_sub, d // m, m)
    keep = scores.topk(n, dim=-1).indices
    mask = torch.zeros(scores.shape, dtype=torch.bool, device=subvectors.device)
    mask.scatter_(-1, keep, True)
    return mask.reshape(n_sub, d)
