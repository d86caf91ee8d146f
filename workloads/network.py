"""A named, ordered list of layers: the unit every study runs.

`extra_params` holds parameters that live outside the modelled compute layers (BatchNorm affine
weights, LayerNorm, embeddings, ...). They are not computed on the array but they are part of a
model's size, so totals that claim to equal ``sum(p.numel() for p in model.parameters())`` need them.
"""

from __future__ import annotations

import json
import numbers
from dataclasses import dataclass, field, replace
from typing import Any, Iterator

import pandas as pd

from workloads.errors import ArchsimInputError
from workloads.layer import Layer


def check_batch(batch: object, field: str = "batch") -> int:
    """``batch`` as an int, or one input error naming ``field``: the API accepts exactly what the CLI's
    ``--batch`` accepts (0, negatives, floats and booleans are refused, never read as "the default")."""
    if isinstance(batch, bool) or not isinstance(batch, numbers.Integral) or batch < 1:
        raise ArchsimInputError(f"{field} must be a positive integer (the CLI's --batch), got {batch!r}")
    return int(batch)


@dataclass(frozen=True)
class Network:
    name: str
    layers: tuple[Layer, ...]
    input_shape: tuple[int, ...] = ()
    batch: int = 1
    extra_params: int = 0
    notes: str = ""
    skipped_ops: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "layers", tuple(self.layers))
        if not self.layers:
            raise ArchsimInputError(f"network {self.name!r} has no layers")
        names = [layer.name for layer in self.layers]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ArchsimInputError(f"network {self.name!r}: layer names must be unique, repeated: {dupes}")

    def __iter__(self) -> Iterator[Layer]:
        return iter(self.layers)

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, key: int | str) -> Layer:
        if isinstance(key, str):
            for layer in self.layers:
                if layer.name == key:
                    return layer
            raise KeyError(key)
        return self.layers[key]

    # ---- totals ------------------------------------------------------------------------------
    @property
    def macs(self) -> int:
        return sum(layer.macs for layer in self.layers)

    @property
    def weights(self) -> int:
        return sum(layer.weights for layer in self.layers)

    @property
    def params(self) -> int:
        """All parameters: layer weights + biases + parameters outside modelled layers."""
        return sum(layer.params for layer in self.layers) + self.extra_params

    def totals(self) -> dict[str, Any]:
        return {
            "layers": len(self.layers), "macs": self.macs, "weights": self.weights, "params": self.params,
            "weight_bytes": sum(layer.weight_bytes for layer in self.layers),
            "input_bytes": sum(layer.input_bytes for layer in self.layers),
            "output_bytes": sum(layer.output_bytes for layer in self.layers),
        }

    # ---- views -------------------------------------------------------------------------------
    def to_frame(self) -> pd.DataFrame:
        """One row per layer (see `Layer.summary`), indexed by layer name."""
        return pd.DataFrame([layer.summary() for layer in self.layers]).set_index("name")

    def with_batch(self, batch: int) -> "Network":
        batch = check_batch(batch)
        layers = tuple(layer.with_batch(layer.batch // self.batch * batch) for layer in self.layers)
        shape = (batch, *self.input_shape[1:]) if self.input_shape else ()
        return replace(self, layers=layers, batch=batch, input_shape=shape)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "input_shape": list(self.input_shape), "batch": self.batch,
                "extra_params": self.extra_params, "notes": self.notes, "skipped_ops": dict(self.skipped_ops),
                "layers": [layer.to_dict() for layer in self.layers]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Network":
        return cls(name=data["name"], layers=tuple(Layer.from_dict(d) for d in data["layers"]),
                   input_shape=tuple(data.get("input_shape", ())), batch=int(data.get("batch", 1)),
                   extra_params=int(data.get("extra_params", 0)), notes=data.get("notes", ""),
                   skipped_ops={str(k): int(v) for k, v in (data.get("skipped_ops") or {}).items()})

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1)
