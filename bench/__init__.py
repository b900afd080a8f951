"""Benchmarks run by `make bench`; results are copied into BENCHMARKS.md by hand."""
