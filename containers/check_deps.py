"""Check that a distribution's whole dependency closure is installed and consistent.

    python check_deps.py 'ance-bundle[gpu]'

The image installs the lock with `--no-deps`, so pip never checks that the
lock is the whole closure of what the bundle needs (torch's CUDA wheels and
faiss-gpu-cu12's included). This walks the requirements from the installed
metadata (markers evaluated, extras followed) and reports every missing or
mismatching package. It only looks at what the bundle needs: `pip check` would
also fail on packages the bundle does not use.
"""

from __future__ import annotations

import sys
from importlib import metadata

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name


def problems(root: str) -> list[str]:
    found: list[str] = []
    seen: set[tuple[str, str]] = set()
    todo = [(Requirement(root), "command line")]
    while todo:
        req, wanted_by = todo.pop()
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            found.append(f"{req.name} is not installed (needed by {wanted_by}: {req})")
            continue
        if req.specifier and not req.specifier.contains(dist.version, prereleases=True):
            found.append(f"{req.name} {dist.version} is installed, {wanted_by} needs {req}")
        for extra in sorted(req.extras) or [""]:
            key = (canonicalize_name(req.name), extra)
            if key in seen:
                continue
            seen.add(key)
            for line in dist.requires or []:
                child = Requirement(line)
                if child.marker is None or child.marker.evaluate({"extra": extra}):
                    todo.append((child, f"{dist.metadata['Name']} {dist.version}"))
    return list(dict.fromkeys(found))  # a package reached by two extras is reported once


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    found = problems(argv[0])
    for line in found:
        print(f"check_deps: {line}", file=sys.stderr)
    if found:
        return 1
    print(f"check_deps: {argv[0]} and all its dependencies are installed and consistent")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
