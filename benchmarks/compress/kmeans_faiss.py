"""Masked k-means vs faiss k-means on identical data.

Why the comparison is like for like: faiss subsamples to ``max_points_per_centroid * k`` points
(256 x k by default) and our k-means uses every point, so faiss is told to use every point too;
both get the same data, k, iteration count and thread count, and both time init + iterations.
Our k-means stops early when assignments stop changing; on the random data used here that does
not happen within 20 iterations (``iterations_run`` is reported to show it).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from compress.kmeans import kmeans
from compress.nm import nm_mask


@dataclass(frozen=True)
class KMeansCase:
    """One problem size. The default is ResNet-50's layer4 3x3 conv (512x512x3x3 = 2.36M weights)
    cut into d=16 subvectors, the largest single layer MVQ clusters in ResNet-50."""

    name: str = "resnet50 layer4 3x3 (2.36M weights)"
    n: int = 147_456
    d: int = 16
    k: int = 256
    iterations: int = 20
    seed: int = 0


def faiss_available() -> bool:
    try:
        import faiss  # noqa: F401
    except ImportError:
        return False
    return True


def _data(case: KMeansCase) -> torch.Tensor:
    # Student-t(3)-like heavy tails (normal / sqrt(chi2/3)), as trained conv weights have
    gen = torch.Generator().manual_seed(case.seed)
    z = torch.randn(case.n, case.d, generator=gen)
    chi2 = torch.randn(3, case.n, case.d, generator=gen).pow(2).sum(0)
    return (z / torch.sqrt(chi2 / 3)).contiguous()


def time_ours(x: torch.Tensor, case: KMeansCase, masked: bool, repeats: int = 1) -> tuple[float, dict]:
    mask = nm_mask(x, 1, 4) if masked else None
    best, info = float("inf"), {}
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        res = kmeans(x, case.k, mask=mask, iterations=case.iterations, seed=case.seed)
        if time.perf_counter() - t0 < best:
            best = time.perf_counter() - t0
            info = {"cpu_seconds": time.process_time() - c0, "iterations_run": res.iterations_run,
                    "inertia": res.inertia}
    return best, info


def time_faiss(x: torch.Tensor, case: KMeansCase, threads: int, repeats: int = 1) -> tuple[float, dict]:
    import faiss

    faiss.omp_set_num_threads(threads)
    data = np.ascontiguousarray(x.numpy(), dtype=np.float32)
    best, info = float("inf"), {}
    for _ in range(repeats):
        km = faiss.Kmeans(case.d, case.k, niter=case.iterations, seed=case.seed, verbose=False,
                          max_points_per_centroid=case.n // case.k + 1, min_points_per_centroid=1)
        t0, c0 = time.perf_counter(), time.process_time()
        km.train(data)
        if time.perf_counter() - t0 < best:
            best = time.perf_counter() - t0
            info = {"cpu_seconds": time.process_time() - c0, "iterations_run": case.iterations,
                    "inertia": float(km.obj[-1]) if len(km.obj) else float("nan")}
    return best, info


def run_case(case: KMeansCase, threads: int, repeats: int = 1) -> list[dict]:
    """Rows: faiss (if installed), ours plain, ours masked 1:4 — same data, same thread count.
    ``seconds`` is the best wall time of ``repeats`` runs (the least disturbed by other jobs) and
    ``cpu_seconds`` the process CPU time of that run (all threads)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        x = _data(case)
        rows = []
        base = {"case": case.name, "n": case.n, "d": case.d, "k": case.k, "iterations": case.iterations,
                "threads": threads}
        faiss_seconds = None
        if faiss_available():
            faiss_seconds, info = time_faiss(x, case, threads, repeats)
            rows.append({**base, "impl": "faiss-cpu Kmeans (all points)", "seconds": faiss_seconds, **info})
        for masked in (False, True):
            seconds, info = time_ours(x, case, masked, repeats)
            rows.append({**base, "impl": f"compress.kmeans {'masked 1:4' if masked else 'plain'}", "seconds": seconds,
                         **info})
        faiss_cpu = rows[0]["cpu_seconds"] if faiss_seconds else None
        for row in rows:
            row["ratio_vs_faiss"] = row["seconds"] / faiss_seconds if faiss_seconds else float("nan")
            row["cpu_ratio_vs_faiss"] = row["cpu_seconds"] / faiss_cpu if faiss_cpu else float("nan")
        return rows
    finally:
        torch.set_num_threads(previous)
