"""Cross-check of archsim against SCALE-Sim v3 on a handful of small layers (issue 4).

Run: ``python -m benchmarks.scalesim_crosscheck`` (see README in results/scalesim_crosscheck/).
"""
