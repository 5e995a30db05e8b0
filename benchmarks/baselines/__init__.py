"""Alternatives the benchmarks compare against: faithful re-implementations, not library code."""
