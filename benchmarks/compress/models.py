"""Whole-model MVQ on CPU (and CUDA): wall time and peak memory.

Each model runs in a fresh ``python -m benchmarks.compress.models`` subprocess so that its peak
resident set size (``ru_maxrss``) is its own and not that of an earlier, larger run. The weights
are torchvision's (untrained) initialisation: clustering time does not depend on trained values
except through early convergence, which 20 iterations on these layers do not reach.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import torch

from compress.config import CompressionConfig

#: The MVQ configuration the issue asks to time: 1:4, d=16, k=256, 20 iterations, PQF clamp off.
MVQ_CONFIG = dict(method="mvq", n=1, m=4, d=16, k=256, iterations=20)


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def measure(model_name: str, threads: int, device: str) -> dict:
    """Build the model, compress it with MVQ, return times and peak memory (runs in-process).

    ``threads`` 0 = archsim's own choice (`archsim.threads.choose_threads`: free cores of this process), what
    `archsim compress` does by default; the row records the count actually used."""
    import torchvision

    from archsim.threads import choose_threads, set_threads

    rule = "auto" if threads == 0 else "fixed"
    threads = choose_threads() if threads == 0 else threads
    set_threads(threads)
    torch.manual_seed(0)
    model = getattr(torchvision.models, model_name)(weights=None).eval()
    rss_model = _rss_mib()
    from compress.model import compress_model

    config = CompressionConfig(**MVQ_CONFIG, device=device)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    t0, c0 = time.perf_counter(), time.process_time()
    cm = compress_model(model, config, torch.zeros(1, 3, 224, 224), progress=False)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    seconds, cpu_seconds = time.perf_counter() - t0, time.process_time() - c0
    bits = cm.storage_bits()
    row = {"model": model_name, "device": device, "threads": threads, "thread_rule": rule, "seconds": seconds,
           "cpu_seconds": cpu_seconds,
           "layers": len(cm.layers), "params": cm.n_params, "ratio": 32 * cm.n_params / bits["total"],
           "peak_rss_mib": _rss_mib(), "rss_after_model_mib": rss_model}
    if device.startswith("cuda"):
        row["peak_cuda_mib"] = torch.cuda.max_memory_allocated() / 2**20
    return row


def run_subprocess(model_name: str, threads: int, device: str = "cpu", timeout: float = 900) -> dict:
    """`measure` in a fresh interpreter (own peak RSS). A fixed thread count also goes to the child's
    OpenMP/BLAS environment (`archsim.threads.thread_env`), so no library starts a pool of its own size."""
    from archsim.threads import thread_env

    cmd = [sys.executable, "-m", "benchmarks.compress.models", model_name, "--threads", str(threads),
           "--device", device]
    env = thread_env(threads) if threads > 0 else None
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False, env=env)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.compress.models")
    parser.add_argument("model", choices=["resnet18", "resnet50"])
    parser.add_argument("--threads", type=int, default=2, help="0 = archsim's choice (archsim.threads)")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.model, args.threads, args.device)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
