import pytest

from ance_core.selftest import Check, _timed, render, run_selftest


def test_a_failing_check_is_a_failed_row_with_its_reason():
    def broken():
        raise RuntimeError("no libgomp")

    check = _timed("faiss", broken)
    assert not check.ok and check.detail == "RuntimeError: no libgomp"
    assert _timed("torch", lambda: "fine").ok


def test_summary_table_lists_every_check():
    from rich.console import Console

    console = Console(record=True, width=120)
    console.print(render([Check("torch", True, "torch 2", 0.1), Check("tiny ANCE loop", False, "AssertionError: x", 3.0)]))
    text = console.export_text()
    assert "torch" in text and "ok" in text and "FAILED" in text and "AssertionError: x" in text


@pytest.mark.slow
def test_selftest_passes_here(tmp_path):
    checks = run_selftest(tmp_path)
    assert [c.name for c in checks] == ["torch", "faiss", "tokenizer + MiniLM", "tiny ANCE loop"]
    assert all(c.ok for c in checks), [(c.name, c.detail) for c in checks if not c.ok]
