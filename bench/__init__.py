"""Benchmarks for Lantai (``python -m bench.ingest --help``)."""
