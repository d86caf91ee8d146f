"""Assemble ``results/compress/README.md`` from the sections the experiments write.

Each experiment writes its own ``*_section.md`` next to its CSV/PNG (so re-running one experiment
does not erase the other's text); this module concatenates them under a fixed header.
"""

from __future__ import annotations

from pathlib import Path

#: Sections in README order; a missing one is listed as "not run yet". ``digits_reading.md`` is the
#: one hand-written part: the engineer's reading of the measured tables (labelled as such).
SECTIONS = (("digits_section.md", "python -m compress.experiments.digits --out results/compress"),
            ("digits_reading.md", "(hand-written reading of the digits results)"),
            ("digits_retrain_section.md", "python -m compress.experiments.digits --retrain-epochs 5 "
                                          "--prefix digits_retrain --out results/compress"),
            ("digits_retrain_reading.md", "(hand-written reading of the retraining results)"),
            ("mnist5k_section.md", "python -m compress.experiments.digits --dataset mnist5k --out results/compress"),
            ("mnist5k_retrain_section.md", "python -m compress.experiments.digits --dataset mnist5k --retrain-epochs 5 "
                                           "--prefix mnist5k_retrain --out results/compress"),
            ("mnist5k_reading.md", "(hand-written reading of the MNIST-5k results)"),
            ("digits_ft10_section.md", "python -m compress.experiments.digits --ratios 32 --finetune-epochs 10 "
                                       "--prefix digits_ft10 --out results/compress"),
            ("digits_small_section.md", "python -m compress.experiments.digits --investigate --out results/compress"),
            ("recon_section.md", "python -m compress.experiments.recon_error --out results/compress"))

HEADER = """# compress: measured accuracy and reconstruction error

Everything here except the section marked *hand-written* is produced by code in
`compress/experiments/` from fixed seeds; nothing in the tables is typed in by hand. Regenerate with

```
python -m compress.experiments.digits --out results/compress                # wide CNN, 3 ratios, 3 seeds
python -m compress.experiments.digits --retrain-epochs 5 --prefix digits_retrain --out results/compress
python -m compress.experiments.digits --dataset mnist5k --out results/compress      # 28x28 MNIST, 5,000 images
python -m compress.experiments.digits --dataset mnist5k --retrain-epochs 5 --prefix mnist5k_retrain --out results/compress
python -m compress.experiments.digits --ratios 32 --finetune-epochs 10 --prefix digits_ft10 --out results/compress
python -m compress.experiments.digits --investigate --out results/compress  # same protocol, small CNN
python -m compress.experiments.recon_error --out results/compress
python -m benchmarks.compress --out results/compress                        # speed: see benchmarks.md
```

Methods: **VQ** = plain k-means VQ (BGD/PQF style, no mask); **prune-then-VQ** = N:M magnitude
pruning, then *unmasked* k-means on the pruned (zero-filled) subvectors, mask applied to the
reconstruction; **MVQ** = N:M magnitude pruning, then *masked* k-means (distances and centroid
updates on kept weights only). prune-then-VQ and MVQ store exactly the same parts (codes, N:M
mask, int8 codebook). Sizes follow `compress.model.CompressedModel.storage_bits()` (PQF accounting:
codes ceil(log2 k) bits, codebook k·d·8 bits, mask bits, fp32 first conv / biases / BN affine).
Fine-tuning = masked-gradient codebook fine-tuning (`compress.finetune`): codes and masks fixed,
pruned positions get no gradient, codebooks re-quantised to int8 at the end; BN and the dense
first conv train too. Retraining (`--retrain-epochs`, `compress.retrain`) = weight training *before*
clustering, the same epochs for every method: with the N:M mask fixed for prune-then-VQ and MVQ, dense
for VQ.

**In short** (details and per-seed counts in the readings below): at identical geometry masked k-means fits the kept
weights better than clustering the pruned weights in every pair before fine-tuning. No run has MVQ beating both baselines in all six
(ratio, fine-tuned) cells; closest is MNIST-5k with retraining (best in 5 of 6 cells, tied
with VQ in the sixth, fine-tuned margins inside seed noise). Without codebook fine-tuning and with
retraining it is best at every ratio on both data sets.
"""


def write_readme(out: Path) -> Path:
    parts = [HEADER]
    for name, command in SECTIONS:
        path = out / name
        if path.exists():
            parts.append(path.read_text())
        else:
            parts.append(f"## {name.replace('_section.md', '')}\n\nNot run yet: `{command}`\n")
    readme = out / "README.md"
    readme.write_text("\n".join(parts))
    return readme


__all__ = ["write_readme", "SECTIONS"]
