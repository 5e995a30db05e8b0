"""Fixtures for the image's tests: the definition file, the lock, containers/*.py."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CONTAINERS = ROOT / "containers"
sys.path.insert(0, str(CONTAINERS))  # `import apptainer_def` (containers/ is a script folder, not a package)

import apptainer_def  # noqa: E402


def load_script(name: str) -> ModuleType:
    """Import containers/<name>.py (a script folder, not a package)."""
    spec = importlib.util.spec_from_file_location(f"ance_containers_{name}", CONTAINERS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def lock_script() -> ModuleType:
    return load_script("lock")


@pytest.fixture(scope="session")
def rehearse() -> ModuleType:
    return load_script("rehearse")


@pytest.fixture(scope="session")
def definition_text() -> str:
    return (CONTAINERS / "ance.def").read_text()


@pytest.fixture(scope="session")
def definition(definition_text) -> apptainer_def.Definition:
    """ance.def as `apptainer build` sees it without --build-arg."""
    return apptainer_def.parse(definition_text)


@pytest.fixture(scope="session")
def lock_text() -> str:
    return (CONTAINERS / "requirements.lock").read_text()
