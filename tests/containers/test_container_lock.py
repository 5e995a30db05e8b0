"""containers/requirements.lock agrees with pyproject.toml and with the Debian release in ance.def."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]


def entries(lock_text: str) -> dict[str, tuple[str, list[str]]]:
    """{canonical name: (requirement text, hashes)} from a pip requirements file with continuations."""
    found: dict[str, tuple[str, list[str]]] = {}
    for logical in re.sub(r"\\\n", " ", lock_text).splitlines():
        logical = logical.split(" #")[0].strip()
        if not logical or logical.startswith("#"):
            continue
        requirement, *options = logical.split(" --")
        assert not requirement.startswith("-"), f"options outside a requirement: {logical!r}"
        hashes = [o.split("sha256:", 1)[1].strip() for o in options if o.startswith("hash=sha256:")]
        assert len(hashes) == len(options), f"only --hash options allowed: {logical!r}"
        name = canonicalize_name(Requirement(requirement).name)
        assert name not in found, f"{name} twice in the lock"
        found[name] = (requirement.strip(), hashes)
    return found


def header(lock_text: str, key: str) -> str:
    match = re.search(rf"^# {key}: (\S+)", lock_text, re.MULTILINE)
    assert match, f"lock header has no `# {key}:` line: regenerate it with `make container-lock`"
    return match.group(1)


@pytest.fixture(scope="module")
def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_lock_was_made_for_the_debian_release_in_the_definition(lock_text, definition, lock_script):
    release = definition.header["osversion"]
    assert header(lock_text, "base") == "debian" and f"debian {release} (" in lock_text, "OSVersion changed: run `make container-lock`"
    assert header(lock_text, "python") == lock_script.DEBIAN_PYTHON[release]
    assert header(lock_text, "platform").startswith("x86_64-manylinux_")


def test_every_entry_is_pinned_exactly_with_hashes(lock_text):
    found = entries(lock_text)
    assert len(found) > 20
    for name, (requirement, hashes) in found.items():
        req = Requirement(requirement)
        assert [s.operator for s in req.specifier] == ["=="], f"{requirement}: not pinned with =="
        assert not req.url and not req.marker, f"{requirement}: URLs and markers do not belong in the lock"
        assert hashes and all(re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes), f"{name}: no sha256 hashes"


def test_every_direct_dependency_is_locked_and_satisfied(lock_text, pyproject):
    found = entries(lock_text)
    python = header(lock_text, "python")
    environment = {"python_version": python, "python_full_version": f"{python}.0", "sys_platform": "linux",
                   "platform_system": "Linux", "platform_machine": "x86_64", "extra": "gpu"}
    direct = (
        pyproject["project"]["dependencies"]
        + pyproject["project"]["optional-dependencies"]["gpu"]
        + pyproject["build-system"]["requires"]  # the image builds the bundle offline
    )
    checked = 0
    for line in direct:
        req = Requirement(line)
        name = canonicalize_name(req.name)
        if req.marker and not req.marker.evaluate(environment):
            continue
        assert name in found, f"{line} (pyproject.toml) is not in the lock: run `make container-lock`"
        pinned = Version(next(iter(Requirement(found[name][0]).specifier)).version)
        assert req.specifier.contains(pinned, prereleases=True), f"lock pins {name}=={pinned}, pyproject says {line}"
        checked += 1
    assert checked >= len(pyproject["project"]["dependencies"]) + 1  # the gpu extra and the build deps too


def test_torch_its_cuda_wheels_and_faiss_gpu_are_locked(lock_text):
    found = entries(lock_text)
    torch = Requirement(found["torch"][0])
    assert str(next(iter(torch.specifier)).version) == header(lock_text, "torch")
    # torch's CUDA runtime comes as nvidia-* wheels (no CUDA in the base); faiss-gpu-cu12 brings CUDA 12's.
    assert "nvidia-cuda-runtime-cu12" in found and "nvidia-cublas-cu12" in found
    assert any(name.startswith("nvidia-cudnn") for name in found), "torch's cuDNN wheel"
    assert "faiss-gpu-cu12" in found
    # Both wheels provide `import faiss`; the CPU one would shadow the GPU one.
    assert "faiss-cpu" not in found


def test_the_python_comes_from_the_debian_release(lock_script):
    assert lock_script.debian_python("bookworm") == "3.11"
    with pytest.raises(SystemExit, match="DEBIAN_PYTHON"):
        lock_script.debian_python("sid")
