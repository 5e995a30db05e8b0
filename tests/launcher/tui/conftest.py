"""Fixtures for the TUI tests: an experiment folder, a session, the app, cleanup of leftover jobs.

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

from launcher.cancel import cancel_jobs
from launcher.records import load_submission
from launcher.tui.app import LauncherApp
from launcher.tui.session import Session
from tui_helpers import write_experiments


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem):
    """Run `async def` tests (Pilot) in a fresh event loop; no async plugin needed for one folder of tests."""
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    arguments = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    asyncio.run(pyfuncitem.obj(**arguments))
    return True


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


@pytest.fixture(autouse=True)
def cancel_leftover_jobs(tmp_path: Path):
    """After each test, stop what its submissions left running (a failed wait must not leave a
    warm-up holding the test node's CPUs). The real SLURM comes from `slurm_cluster` (../conftest.py)."""
    yield
    for marker in tmp_path.glob("**/_jobs/*/submission.json"):
        try:
            cancel_jobs(load_submission(marker.parent))
        except Exception as exc:  # noqa: BLE001 - cleanup must not mask the test's own result
            print(f"could not cancel the jobs of {marker.parent}: {exc}")
