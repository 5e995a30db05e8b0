"""`make container-lock`: write containers/requirements.lock for the image.

The image installs everything but Debian's own Python with `pip install
--require-hashes --no-deps -r requirements.lock`: torch, the nvidia-* CUDA
runtime wheels it depends on, faiss-gpu-cu12, the bundle's dependencies and the
build tools that install the bundle itself. So the lock must be the whole
dependency closure, pinned, with hashes, resolved for the image's Python and
platform (not this machine's): uv can resolve for another interpreter and
platform, pip-compile cannot.

The image's Python is the `python3` of the Debian release in the definition
(`OSVersion:`); torch is pinned to the release the test suite runs on here
(the CPU build in .venv), so the image runs the torch the tests ran. The lock's
first lines record what it was resolved for; %post in ance.def refuses to
build when the image's Python disagrees.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
DEFINITION = ROOT / "containers" / "ance.def"
LOCK = ROOT / "containers" / "requirements.lock"

# The python3 of each Debian release (packages.debian.org/<release>/python3).
DEBIAN_PYTHON = {"bookworm": "3.11", "trixie": "3.13"}
# Wheels for glibc <= 2.36 (Debian 12's) run in the image.
DEFAULT_PLATFORM = "x86_64-manylinux_2_36"
INDEX = "https://pypi.org/simple"


def header_value(definition: str, key: str) -> str:
    """A `Key: value` line of the definition file's header."""
    match = re.search(rf"^{key}:\s*(\S+)\s*$", definition, re.MULTILINE | re.IGNORECASE)
    if not match:
        raise SystemExit(f"{DEFINITION}: no `{key}:` line in the header")
    return match.group(1)


def debian_python(release: str) -> str:
    try:
        return DEBIAN_PYTHON[release]
    except KeyError:
        raise SystemExit(
            f"{DEFINITION}: OSVersion {release!r} is not one of {sorted(DEBIAN_PYTHON)}; "
            "add its python3 version to DEBIAN_PYTHON in containers/lock.py"
        ) from None


def installed_torch() -> str:
    """The release of the torch this interpreter has: `2.13.0+cpu` -> `2.13.0`."""
    try:
        return metadata.version("torch").split("+")[0]
    except metadata.PackageNotFoundError:
        raise SystemExit("torch is not installed here: run `make install`, or pass --torch VERSION") from None


def pinned_names(lock_text: str) -> list[str]:
    return re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==", lock_text, re.MULTILINE)


def uv_compile(inputs: str, out: Path, python: str, platform: str) -> None:
    try:
        from uv import find_uv_bin
    except ImportError:
        raise SystemExit("uv is not installed: `make install` (the dev extra has it) or `pip install uv`") from None

    command = [
        find_uv_bin(), "pip", "compile", "pyproject.toml", "-",
        "--extra", "gpu",
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
    # Relative paths from the repository root keep the lock's comments stable.
    subprocess.run(command, input=inputs, text=True, cwd=ROOT, check=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", help="the image's Python (major.minor; default: from OSVersion in ance.def)")
    parser.add_argument("--torch", help="the torch release to pin (default: the one installed here)")
    parser.add_argument("--platform", default=DEFAULT_PLATFORM, help="uv --python-platform target")
    parser.add_argument("--output", type=Path, default=LOCK)
    args = parser.parse_args(argv)

    definition = DEFINITION.read_text()
    release = header_value(definition, "OSVersion")
    python = args.python or debian_python(release)
    torch = args.torch or installed_torch()
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    # The image builds the bundle itself offline (--no-build-isolation), so its
    # build requirements are locked too.
    build_requires = "\n".join(pyproject["build-system"]["requires"]) + "\n"

    with tempfile.TemporaryDirectory() as tmp:
        body = Path(tmp) / "lock.txt"
        # The torch pin goes in with the build requirements (stdin, "-r -" in the lock's comments).
        uv_compile(build_requires + f"torch=={torch}\n", body, python, args.platform)
        header = (
            f"# base: debian {release} ({header_value(definition, 'MirrorURL')})\n"
            f"# python: {python}\n"
            f"# platform: {args.platform}\n"
            f"# torch: {torch}\n"
            "# Install: pip install --require-hashes --no-deps -r requirements.lock\n"
        )
        partial = args.output.with_name(args.output.name + ".tmp")
        partial.write_text(header + body.read_text())
        os.replace(partial, args.output)  # a failed run never leaves half a lock
    count = len(pinned_names(args.output.read_text()))
    print(f"{args.output}: {count} packages for Python {python} (Debian {release}), torch {torch}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
