"""Experiments that measure what the compressors do to real networks (accuracy, reconstruction error).

Each experiment is a module runnable as ``python -m compress.experiments.<name>`` that writes CSV,
PNG and a README to ``results/compress/`` and is reproducible from fixed seeds.
"""
