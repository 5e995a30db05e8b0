"""Benchmarks: ours against an alternative, side by side (`python -m benchmarks`, `make bench`).

harness.py measures each side in a fresh process and merges rows into
benchmarks/results/<machine>.json; rows/ holds one module per group;
baselines/ holds the alternatives we compare against (never imported by the library).
"""
