"""Functional (numeric) mode: real integers through the mapped schedule of one layer (numpy only).

Where the timing model counts what a layer costs, functional mode checks that the hardware being
modelled actually computes the layer: int activations and the accelerator-facing compressed
weights go through the same folds the mapper schedules, the weight loader decodes codes through
the codebook and masks through the leading-zero-count decoder, every sparse PE's M:1 mux picks its
activation, and int psums accumulate across the reduction folds in schedule order. The outputs
can then be compared with a reference convolution on the reconstructed weights (the tests use
torch, float64, exact equality), and the counters with the timing model's events.

API
---
``run_functional(layer, weights, activations, design) -> FunctionalResult``

* ``layer``: a `workloads.layer.Layer` of kind conv (grouped, depthwise, strided, padded, dilated,
  1-D) or linear. Matmul layers are refused (their right operand is an activation, not a weight).
* ``weights``: one of `DenseWeights`, `VQWeights`, `MVQWeights`, `NMWeights`
  (`archsim.functional.weights`, which documents the storage — MVQ codewords are full length d).
  `from_compressed(compressed_layer)` / `from_compressed_model(compressed_model)` convert the
  output of `compress` (duck-typed: archsim still never imports torch).
* ``activations``: integers in ``layer.input_shape`` — ``(batch, C, H, W)`` for a conv,
  ``(batch, rows, features)`` for a linear layer (``(batch, features)`` accepted when rows = 1) —
  within ``design.precision.act_bits``.
* ``design``: a `Design`, a preset name (``ws``, ``ews``, ``ews-c``, ``ews-cm``, ``mvq``, ``s2ta-w``, ``s2ta``) or
  a YAML path. ``array.pe = dense`` runs any format (compressed weights decoded to dense blocks,
  pruned weights as zeros) on the folds of the design's mapper (``ws``/``ews``, or the dense mapper
  that ``ews_compressed`` wraps). ``array.pe = nm_sparse`` (built for ``Na:Ma``) runs MVQ / N:M
  weights whose pattern it supports (`archsim.design.nm_support_problem`: its own, or a sparser
  one such as 1:8 on a 1:4 array, spare PE slots holding zeros): every ``Ma``-window of the
  reduction sits on ``Na`` PE rows with Ma:1 muxes, on the folds the wrapped mapper makes for a
  logical array of ``rows·Ma/Na`` rows, as the timing model does (`archsim.functional.folds`).

`FunctionalResult` holds ``outputs`` (raw int32 accumulations in ``layer.output_shape``; no bias,
no requantisation), ``counts`` (`FunctionalCounts`: MACs, zero-weight MACs, mux selects, codebook
lookups, mask groups, LZC positions, weights loaded, input reads, psum reads/writes, folds),
``folds`` (every executed fold, in order), ``k_order``, ``sparse_array`` and ``psum_overflow``.
The counters equal the timing schedule's events for the same layer (tests/functional): ``macs`` =
``pe_array.mac + pe_array.gated_mac``, ``kept_macs`` = ``pe_array.mac`` on the compressed-weight (zero-gated or sparse)
presets (dense MACs x N/M), ``mux_selects`` = ``mux.mux_select``, ``codebook_lookups`` =
``codebook.lookup`` and ``mask_groups`` = ``decoder.decode`` (when folds hold whole subvectors),
``weights_loaded`` = weight-RF writes, ``psum_reads`` = output-buffer psum reads.

Bad input — weights that do not match the layer, an N:M the array does not support, d not a
multiple of M, codes outside the codebook, a mask that is not N:M, values wider than the
design's precision — raises one `workloads.errors.ArchsimInputError` naming the field and the fix.

From the command line
---------------------
``archsim run --workload W --design D --functional [--layers a,b] [--max-macs N] [--seed S]`` runs
`archsim.functional.check.check_workload`: every selected conv/linear layer gets seeded random
weights compressed in the design's format by `compress` (same `CompressionConfig` and policy as the
timing path; ``--n/--m/--d/--k/--method`` override it) and seeded int8 activations; its outputs must
equal torch's convolution on compress's own integer reconstruction exactly, and its counters
(executed/gated MACs, mux selects, codebook lookups and LZC decodes where folds hold whole
subvectors) must equal the timing model's events for the same layer. Exit 0 iff every layer passes.
That module (and only it) imports torch and compress, inside its functions.

Activation sparsity (``design.activations``; `archsim.functional.activation_dbb`): on ``s2ta`` the
check runs the DBB-izer on the int8 activations (top-N of every 8 input channels by magnitude, ties to
the lower channel) and the array on the (value, index) pairs; outputs must equal torch on the sparse
weights and the pruned activations, and MACs, mux selects and DBB-izer blocks the timing model's events.
On ``sa-zvcg`` the outputs are checked; its zero-gated MAC counts are data-dependent and not compared.

Not modelled here: timing (the SimPy engine's business), bias and requantisation after the
array, matmul layers.
"""

from archsim.functional.api import FunctionalResult, run_functional
from archsim.functional.convert import from_compressed, from_compressed_model
from archsim.functional.decode import lzc_decode
from archsim.functional.engine import FoldRecord, FunctionalCounts
from archsim.functional.weights import DenseWeights, MVQWeights, NMWeights, VQWeights, Weights

__all__ = ["run_functional", "FunctionalResult", "FunctionalCounts", "FoldRecord", "DenseWeights", "VQWeights",
           "MVQWeights", "NMWeights", "Weights", "from_compressed", "from_compressed_model", "lzc_decode"]
