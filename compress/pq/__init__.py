"""Product quantization of layer *inputs* (PQA / PECAN / LUT-NN style), with lookup tables from weights.

Modules:

* `facts` (torch-free): `PqLayerFacts`, the per-layer numbers the PQA accelerator model needs.
* `quantizer`: im2col, prototype learning (k-means / k-medians on real activations), LUT
  construction, bit-width quantisation, hard and soft (temperature tau) encoding: `PQConv`.
* `model`: whole-model conversion with forward hooks (`pq_convert`), layer-output MSE, fine-tuning.
* `experiment`: the digits-CNN study (``python -m compress.pq.experiment``).

Names load lazily so that ``import compress.pq.facts`` (what archsim does) never imports torch.
"""

from compress._lazy import lazy_getattr

_LAZY = {
    "PqLayerFacts": "compress.pq.facts",
    "from_layer": "compress.pq.facts",
    "PQSettings": "compress.pq.quantizer",
    "PQConv": "compress.pq.quantizer",
    "im2col": "compress.pq.quantizer",
    "learn_prototypes": "compress.pq.quantizer",
    "build_lut": "compress.pq.quantizer",
    "pq_convert": "compress.pq.model",
    "layer_output_mse": "compress.pq.model",
    "finetune_pq": "compress.pq.model",
}

__all__ = sorted(_LAZY)

__getattr__ = lazy_getattr(_LAZY)
