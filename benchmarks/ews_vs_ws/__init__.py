"""EWS versus WS: throughput and energy-efficiency ratios on ResNet-18, VGG-16 and MobileNetV2 for 16x16,
32x32 and 64x64 arrays, beside the EWS paper's 1.22-1.72x and 1.35-2.48x, with per-cause breakdowns.

Run ``python -m benchmarks.ews_vs_ws --out results/ews_vs_ws`` (see `study.main`).
"""
