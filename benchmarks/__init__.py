"""Benchmarks and cross-checks that sit beside the archsim package (run as `python -m benchmarks.<name>`)."""
