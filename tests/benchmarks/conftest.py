"""`benchmarks` is a top-level folder beside the package: make it importable however pytest runs."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
