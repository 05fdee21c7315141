"""Benchmarks: ``make bench`` (``bench/offline.py``) and ``make bench-real`` (``bench/real.py``)."""
