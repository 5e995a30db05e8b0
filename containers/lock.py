"""`make container-lock`: write containers/requirements.lock for the image.

The image installs the bundle's dependencies with `pip install --require-hashes
--no-deps -r requirements.lock`, so the lock must be the whole dependency
closure, pinned, with hashes, resolved for the image's Python and platform
(not this machine's): uv can resolve for another interpreter and platform,
pip-compile cannot.

torch and its CUDA libraries are *not* in the lock: the base image
(`From:` in ance.def) ships a CUDA build of torch, pip-installed into its system
Python together with the nvidia-*/triton wheels it needs. The resolution is
constrained to that torch version, so every other pin is compatible with it,
and then those packages are left out: reinstalling them from PyPI would swap
the base's CUDA build for PyPI's default one (a different CUDA major) and add
gigabytes. faiss-gpu-cu12 needs nvidia-cublas-cu12/nvidia-cuda-runtime-cu12
(>= 12.1), which the base's cu12 torch brings; `check_deps.py` proves that at
build time.

The lock's first lines record what it was resolved for; %post in ance.def
refuses to build when the base image disagrees.
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
DEFINITION = ROOT / "containers" / "ance.def"
LOCK = ROOT / "containers" / "requirements.lock"

# The system Python of pytorch/pytorch 2.13 images (Ubuntu 24.04: python3.12).
# We cannot pull the image here to ask it; %post checks this against the image.
DEFAULT_PYTHON = "3.12"
# The oldest glibc that wheels may need: anything at least this new runs them.
DEFAULT_PLATFORM = "x86_64-manylinux_2_28"
# What the base image pip-installed along with its CUDA torch (see docstring).
FROM_BASE_IMAGE = ("torch", "triton", "nvidia-*", "cuda-*")
INDEX = "https://pypi.org/simple"


def base_image(definition: str) -> str:
    """The `From:` of the definition file's header."""
    match = re.search(r"^From:\s*(\S+)\s*$", definition, re.MULTILINE)
    if not match:
        raise SystemExit(f"{DEFINITION}: no `From:` line in the header")
    return match.group(1)


def torch_version(image: str) -> str:
    """`pytorch/pytorch:2.13.0-cuda12.6-cudnn9-runtime` -> `2.13.0`."""
    match = re.search(r":(\d+\.\d+\.\d+)-cuda", image)
    if not match:
        raise SystemExit(f"cannot read the torch version from the base image tag {image!r}")
    return match.group(1)


def pinned_names(lock_text: str) -> list[str]:
    return re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==", lock_text, re.MULTILINE)


def uv_compile(inputs: str, constraints: Path, out: Path, python: str, platform: str, exclude: list[str]) -> None:
    try:
        from uv import find_uv_bin
    except ImportError:
        raise SystemExit("uv is not installed: `make install` (the dev extra has it) or `pip install uv`") from None

    command = [
        find_uv_bin(), "pip", "compile", "pyproject.toml", "-",
        "--extra", "gpu",
        "--constraint", str(constraints),
        "--generate-hashes",
        "--only-binary", ":all:",  # nothing compiles inside the image
        "--python-version", python,
        "--python-platform", platform,
        "--index-url", INDEX,  # PyPI only, whatever pip.conf/uv.toml say here
        "--no-config",
        "--custom-compile-command", "make container-lock",
        "--quiet",
        "--output-file", str(out),
    ]
    for name in exclude:
        command += ["--no-emit-package", name]
    # Relative paths from the repository root keep the lock's comments stable.
    subprocess.run(command, input=inputs, text=True, cwd=ROOT, check=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", default=DEFAULT_PYTHON, help="the base image's Python (major.minor)")
    parser.add_argument("--platform", default=DEFAULT_PLATFORM, help="uv --python-platform target")
    parser.add_argument("--output", type=Path, default=LOCK)
    args = parser.parse_args(argv)

    image = base_image(DEFINITION.read_text())
    torch = torch_version(image)
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    # The image builds the bundle itself offline (--no-build-isolation), so its
    # build requirements are locked too.
    build_requires = "\n".join(pyproject["build-system"]["requires"]) + "\n"

    with tempfile.TemporaryDirectory() as tmp:
        constraints = Path(tmp) / "base-image.txt"
        constraints.write_text(f"torch=={torch}\n")
        # Pass 1 learns the names of torch's CUDA wheels; pass 2 leaves them out.
        first = Path(tmp) / "all.txt"
        uv_compile(build_requires, constraints, first, args.python, args.platform, ["torch"])
        exclude = sorted(
            {n for n in pinned_names(first.read_text()) for p in FROM_BASE_IMAGE if fnmatch.fnmatch(n.lower(), p)}
            | {"torch"}
        )
        body = Path(tmp) / "lock.txt"
        uv_compile(build_requires, constraints, body, args.python, args.platform, exclude)
        header = (
            f"# base: {image}\n"
            f"# python: {args.python}\n"
            f"# platform: {args.platform}\n"
            f"# torch: {torch} (from the base image, with: {', '.join(p for p in FROM_BASE_IMAGE if p != 'torch')})\n"
            "# Install: pip install --require-hashes --no-deps -r requirements.lock\n"
        )
        partial = args.output.with_name(args.output.name + ".tmp")
        partial.write_text(header + body.read_text())
        os.replace(partial, args.output)  # a failed run never leaves half a lock
    count = len(pinned_names(args.output.read_text()))
    print(f"{args.output}: {count} packages for Python {args.python} on {image}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
