"""ResNet layer lists for the mapping tests: the zoo's when it is importable, else built here by hand.

The hand-built lists follow torchvision's ResNet-18/50 (v1.5: stride on the 3x3 of a bottleneck),
224x224 input, batch 1; only shapes matter to a mapper.
"""

from __future__ import annotations

from workloads.layer import Layer, conv2d, linear


def _resnet18() -> list[Layer]:
    layers = [conv2d("conv1", 3, 64, 224, 7, 2, 3)]
    c_in, hw = 64, 56
    for stage, c in enumerate((64, 128, 256, 512)):
        for block in range(2):
            stride = 2 if stage > 0 and block == 0 else 1
            p = f"layer{stage + 1}.{block}"
            layers.append(conv2d(f"{p}.conv1", c_in, c, hw, 3, stride, 1))
            out = (hw + 2 - 3) // stride + 1
            layers.append(conv2d(f"{p}.conv2", c, c, out, 3, 1, 1))
            if stride != 1 or c_in != c:
                layers.append(conv2d(f"{p}.downsample", c_in, c, hw, 1, stride, 0))
            c_in, hw = c, out
    layers.append(linear("fc", 512, 1000))
    return layers


def _resnet50() -> list[Layer]:
    layers = [conv2d("conv1", 3, 64, 224, 7, 2, 3)]
    c_in, hw = 64, 56
    for stage, (width, blocks) in enumerate(zip((64, 128, 256, 512), (3, 4, 6, 3))):
        for block in range(blocks):
            stride = 2 if stage > 0 and block == 0 else 1
            p = f"layer{stage + 1}.{block}"
            out = (hw + 2 - 3) // stride + 1
            layers.append(conv2d(f"{p}.conv1", c_in, width, hw, 1))
            layers.append(conv2d(f"{p}.conv2", width, width, hw, 3, stride, 1))
            layers.append(conv2d(f"{p}.conv3", width, 4 * width, out, 1))
            if block == 0:
                layers.append(conv2d(f"{p}.downsample", c_in, 4 * width, hw, 1, stride, 0))
            c_in, hw = 4 * width, out
    layers.append(linear("fc", 2048, 1000))
    return layers


def resnet_layers(name: str) -> list[Layer]:
    """Layers of ``resnet18`` / ``resnet50``: from ``workloads.zoo`` when available, else hand-built."""
    try:
        from workloads.zoo import get_network
    except ImportError:
        return {"resnet18": _resnet18, "resnet50": _resnet50}[name]()
    return list(get_network(name).layers)


def design_for(dataflow: str, rows: int, cols: int, **overrides: object):
    """A preset (ws/ews) with the array resized and DRAM unlimited, plus dotted overrides."""
    from archsim.design import load_design

    changes = {"array.rows": rows, "array.cols": cols, "dram.unlimited": True}
    changes.update(overrides)
    return load_design(dataflow).with_overrides(**changes)


def dram_by_operand(schedule) -> dict[str, float]:
    """DRAM bytes per (direction, operand) summed over a schedule."""
    out: dict[str, float] = {}
    for t in schedule.tiles:
        for x in t.loads:
            out[f"load_{x.operand}"] = out.get(f"load_{x.operand}", 0.0) + x.nbytes * t.repeat
        for x in t.stores:
            out[f"store_{x.operand}"] = out.get(f"store_{x.operand}", 0.0) + x.nbytes * t.repeat
    return out


def event_total(schedule, key: tuple[str, str]) -> float:
    return sum(t.events.get(key, 0.0) * t.repeat for t in schedule.tiles)
