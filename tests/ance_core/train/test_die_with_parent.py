"""The async run's refresher child dies with its parent `ance run`, even when the parent gets SIGKILL.

Without it the orphan held the run's refresher lock and the resumed run failed (see
`ance_core.train.signals.die_with_parent`; the whole-run kill test is in test_kill_resume.py).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux only")

# A parent that starts one child (with or without the env that asks it to die with the parent),
# prints the child's pid once the child is ready, then waits to be killed.
PARENT = textwrap.dedent("""
    import subprocess, sys, time
    from ance_core.train.signals import child_env
    child_code = "import time; from ance_core.train.signals import die_with_parent; die_with_parent(); print('ready', flush=True); time.sleep(120)"
    env = child_env() if sys.argv[1] == "linked" else None
    child = subprocess.Popen([sys.executable, "-c", child_code], env=env, stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "ready"
    print(child.pid, flush=True)
    time.sleep(120)
""")


def gone(pid: int) -> bool:
    """Exited: no such process, or a zombie waiting for whoever inherited it to reap it."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def child_after_parent_is_killed(mode: str) -> tuple[int, bool]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[3]), os.environ.get("PYTHONPATH", "")])}
    parent = subprocess.Popen([sys.executable, "-c", PARENT, mode], stdout=subprocess.PIPE, text=True, env=env)
    child = int(parent.stdout.readline())
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while not gone(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    return child, gone(child)


def test_the_child_is_killed_with_its_parent():
    _, died = child_after_parent_is_killed("linked")
    assert died


def test_without_the_link_the_child_outlives_a_killed_parent():
    """The control: what the refresher did before, so the test above can fail."""
    child, died = child_after_parent_is_killed("unlinked")
    try:
        assert not died
    finally:
        if not died:
            os.kill(child, signal.SIGKILL)


def test_the_link_is_not_passed_on_to_grandchildren():
    from ance_core.train.signals import PARENT_PID_ENV, child_env

    code = ("import os; from ance_core.train.signals import die_with_parent, PARENT_PID_ENV; "
            "die_with_parent(); print(os.environ.get(PARENT_PID_ENV, 'absent'))")
    out = subprocess.run([sys.executable, "-c", code], env=child_env(), capture_output=True, text=True, check=True)
    assert child_env() == {**os.environ, PARENT_PID_ENV: str(os.getpid())}
    assert out.stdout.strip() == "absent"
