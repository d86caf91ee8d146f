"""Model compression in PyTorch (N:M pruning, masked k-means VQ, VQ baselines) emitting per-layer traces.

`compress.trace` is torch-free so archsim can read traces without importing torch; the names
below load lazily for the same reason.

Modules: `config` (CompressionConfig), `layout` (subvectors), `nm` (N:M masks), `kmeans`
(masked k-means), `quantize` (int codebooks), `policy` (which layers, which geometry), `layer`
(CompressedLayer + per-layer compressors), `model` (compress_model / CompressedModel), `traces`
(structural_traces / traces_from_compressed), `trace` (the Trace contract), `finetune`
(codebook fine-tuning), `retrain` (N:M sparse retraining before clustering).
"""

from compress._lazy import lazy_getattr

_LAZY = {
    "CompressionConfig": "compress.config",
    "compress_model": "compress.model",
    "CompressedModel": "compress.model",
    "CompressedLayer": "compress.layer",
    "compress_weight_mvq": "compress.layer",
    "compress_weight_vq": "compress.layer",
    "compress_weight_prune_vq": "compress.layer",
    "compress_weight_nm": "compress.layer",
    "nm_mask": "compress.nm",
    "to_subvectors": "compress.layout",
    "from_subvectors": "compress.layout",
    "retrain_nm": "compress.retrain",
    "retrain_dense": "compress.retrain",
    "finetune_codebooks": "compress.finetune",
    "structural_traces": "compress.traces",
    "traces_from_compressed": "compress.traces",
}

__all__ = sorted(_LAZY)

__getattr__ = lazy_getattr(_LAZY)
