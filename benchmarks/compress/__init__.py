"""Benchmarks of the compress package (run as ``python -m benchmarks.compress``; not timed tests).

* `kmeans_faiss`: masked k-means (`compress.kmeans`) against faiss-cpu's k-means on identical
  data (same n, d, k, iterations, threads), time ratio measured in the same run.
* `models`: whole-model MVQ (1:4, d=16, k=256, 20 iterations) of ResNet-18 / ResNet-50 on CPU,
  each in a fresh subprocess so its peak RSS is its own; and the CUDA path when available.

faiss is a benchmark-only dependency (``pip install -e .[bench]``); without it the comparison is
skipped with a message.
"""
