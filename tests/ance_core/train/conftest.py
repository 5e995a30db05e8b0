from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tiny_data import write_tiny_dataset  # noqa: E402
from ance_core.selftest import tiny_experiment as tiny_experiment_dict  # noqa: E402


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory) -> Path:
    return write_tiny_dataset(tmp_path_factory.mktemp("tiny-data"))


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A 2-layer, width-32 BERT with MiniLM's tokenizer: byte-identical in every process.

    (A tokenizer trained on the fly, as tests/helpers builds, differs between processes:
    the trainer breaks frequency ties by hash order. Loss thresholds need the same model.)"""
    from ance_core.model import minilm_path
    from ance_core.selftest import write_tiny_model

    return write_tiny_model(tmp_path_factory.mktemp("tiny-minilm") / "model", minilm_path())


@pytest.fixture
def tiny_experiment(tmp_path, tiny_model, tiny_dataset):
    """Write a tiny experiment YAML (overrides per section) and return its path."""

    def make(**sections) -> Path:
        path = tmp_path / "exp.yaml"
        path.write_text(yaml.safe_dump(tiny_experiment_dict(tiny_model, tiny_dataset, tmp_path / "runs", **sections)))
        return path

    return make


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models gain nothing from threads, and OpenMP threads on a busy 2-core machine lose a lot."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


class StopAfter:
    """A StopFlag that trips after `n` looks (one per optimizer step): a SIGUSR1 at a chosen step."""

    def __init__(self, n: int):
        self.n = n
        self.requested = None

    def __bool__(self) -> bool:
        self.n -= 1
        if self.n <= 0:
            self.requested = "SIGUSR1"
        return self.requested is not None


@pytest.fixture
def stop_after():
    return StopAfter


def pytest_terminal_summary(terminalreporter):
    """Print the kill point each kill test drew (test_kill_resume.py records it), passed or not."""
    drawn = [
        f"{report.nodeid}: {value}"
        for reports in terminalreporter.stats.values()
        for report in reports
        if getattr(report, "when", None) == "call"
        for name, value in getattr(report, "user_properties", ())
        if name == "kill_point"
    ]
    if drawn:
        terminalreporter.section("kill points")
        for line in drawn:
            terminalreporter.write_line(line)
