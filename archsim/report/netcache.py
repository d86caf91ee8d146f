"""A disk cache of zoo layer tables, so report commands need not import torch/torchvision.

Why: `workloads.zoo` traces a torchvision model on the meta device, which is fast, but importing
torchvision (it pulls in torch._dynamo) takes 3-10 s on the 2-core development machine — longer
than simulating ResNet-18 on six designs. A `Network` is plain data (`Network.to_dict`), so the
batch-1 table of each zoo network is stored once as JSON and re-read afterwards.

Validity: the file name carries a fingerprint of everything the table depends on — the source of
the `workloads` package (zoo, torch_trace, layer, network, models/) and the installed torch and
torchvision versions (read from package metadata, without importing them). Any change makes a new
key, so a stale table is never read. A cache that cannot be read or written is ignored (the network is
built as usual). ``ARCHSIM_NO_CACHE=1`` disables the cache; ``ARCHSIM_CACHE_DIR`` moves it
(default ``$XDG_CACHE_HOME/archsim`` or ``~/.cache/archsim``).
"""

from __future__ import annotations

import hashlib
import json
import os
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from workloads.network import Network


def cache_dir() -> Path:
    root = os.environ.get("ARCHSIM_CACHE_DIR")
    if root:
        return Path(root)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return Path(xdg) / "archsim" if xdg else Path.home() / ".cache" / "archsim"


@lru_cache(maxsize=1)
def fingerprint() -> str:
    """Hash of the workloads sources and the torch/torchvision versions the tables come from."""
    import workloads

    h = hashlib.sha256()
    root = Path(workloads.__file__).parent
    for path in sorted(root.rglob("*.py")):
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    for dist in ("torch", "torchvision"):
        try:
            h.update(f"{dist}={metadata.version(dist)}".encode())
        except metadata.PackageNotFoundError:
            h.update(f"{dist}=none".encode())
    return h.hexdigest()[:16]


def _path(name: str) -> Path:
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)
    return cache_dir() / "networks" / f"{safe}-{fingerprint()}.json"


def load_network(name: str, batch: int = 1) -> Network:
    """A zoo network (cached) or a topology CSV (read directly), at ``batch``."""
    from archsim.cli.workloads_cmd import load_workload

    if name.endswith(".csv") or os.environ.get("ARCHSIM_NO_CACHE"):
        return load_workload(name, batch)
    path = _path(name)
    try:
        net = Network.from_dict(json.loads(path.read_text()))
    except (OSError, ValueError, KeyError, TypeError):
        net = load_workload(name, 1)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".tmp{os.getpid()}")
            tmp.write_text(json.dumps(net.to_dict()))
            tmp.replace(path)
        except OSError:
            pass
    if batch < 1:
        return load_workload(name, batch)  # the loader's own error message
    return net if batch == 1 else net.with_batch(batch)


__all__ = ["cache_dir", "fingerprint", "load_network"]
