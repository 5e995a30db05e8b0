"""Entry point of one measured side: `python -m benchmarks.child MODULE FUNCTION JSON-KWARGS`.

Prints one JSON line: what the function returned (at least "seconds") plus the
process's peak resident memory.
"""

from __future__ import annotations

import importlib
import json
import sys

from benchmarks.harness import peak_rss_mib


def main(argv: list[str]) -> int:
    module, function, kwargs = argv
    report = getattr(importlib.import_module(module), function)(**json.loads(kwargs))
    # a side that does more after its measured work (a profile) reports the peak of that work itself
    report.setdefault("peak_mem_mib", round(peak_rss_mib(), 1))
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
