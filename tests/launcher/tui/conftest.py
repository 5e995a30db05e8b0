"""Fixtures for the TUI tests: experiment folders, run folders, a session, and waiting helpers.

Every test builds its own experiment folder in tmp (valid and invalid files),
so the repository's experiments/ can change without breaking these tests.
Run folders come from the report tests' builders (`tests/helpers/report_runs.py`),
the one place that knows the run-directory contract.
"""

from __future__ import annotations

import asyncio
import inspect
from pathlib import Path

import pytest

from launcher.slurm import Slurm
from launcher.tui.app import LauncherApp
from launcher.tui.session import Session

@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem):
    """Run `async def` tests (Pilot) in a fresh event loop; no async plugin needed for one folder of tests."""
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    arguments = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    asyncio.run(pyfuncitem.obj(**arguments))
    return True


TOP20 = """\
name: top20
description: top 20 of the ANN top 200 (the data folder is missing on purpose)
strategy: top20
seeds: [0]
data:
  dataset: data/missing
ance:
  refresh_every: 10
  refreshes: 2
  segment:
    kind: top
    windows: [[0, 20]]
resources:
  executor: local
  gpus: 0
"""

BAD = """\
name: bad
ance:
  segment:
    kind: top
    windows: [[0, 20], [30, 10]]
train:
  lr: -1
"""

BROKEN = """\
name: broken
ance:
  segment: [unclosed
"""

BASE = """\
data:
  dataset: builtin:debian-10pct
resources:
  gpus: 4
  executor: slurm
"""

RANDOM20 = """\
extends: ../_base.yaml
name: random20
seeds: [0, 1]
ance:
  segment:
    kind: random
    windows: [[0, 200]]
"""


def write_experiments(folder: Path) -> Path:
    """bad.yaml (two schema problems), broken.yaml (not YAML), top20.yaml (valid), sub/random20.yaml (valid,
    extends _base.yaml, which is no experiment itself)."""
    (folder / "sub").mkdir(parents=True)
    (folder / "top20.yaml").write_text(TOP20)
    (folder / "bad.yaml").write_text(BAD)
    (folder / "broken.yaml").write_text(BROKEN)
    (folder / "_base.yaml").write_text(BASE)
    (folder / "sub" / "random20.yaml").write_text(RANDOM20)
    return folder


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """The bundle folder of a test: experiments/ beside runs/, where jobs start."""
    write_experiments(tmp_path / "experiments")
    return tmp_path


@pytest.fixture
def session(workdir: Path) -> Session:
    return Session.create(["experiments"], runs=str(workdir / "runs"), workdir=str(workdir))


@pytest.fixture
def app(session: Session) -> LauncherApp:
    return LauncherApp(session)


@pytest.fixture(scope="session")
def slurm_up() -> Slurm:
    """The real local SLURM (`make slurm-up`); the test skips, saying why, when it does not answer."""
    slurm = Slurm(timeout=20)
    problem = slurm.ping()
    if problem:
        pytest.skip(f"SLURM does not answer here ({problem}); `make slurm-up` starts a single-node one")
    return slurm
