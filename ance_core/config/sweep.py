"""Rank-window sweeps: one experiment file, one experiment per window.

A file with a `sweep:` block declares the windows; the rest of it is what every
window shares, `ance.segment` included (its kind, n and counting; the sweep
replaces only its windows):

    extends: ../_base.yaml
    name: embedded-sweep
    ance:
      segment: {kind: top, n: 20}
    sweep:
      range: {start: 0, stop: 200, width: 20}    # [0,20), [20,40), ..., [180,200); or windows: [[0,20], ...]

`expand_sweep` turns it into one experiment per window, named
`<name>-<start>-<stop>` with the strategy label `rank<start>-<stop>`, each
recording its place in `sweep_point`; the launcher submits them together, so
they are one study, and the report draws the dose-response curve from the
runs' `sweep_point` (ance_core.report.sweep).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ance_core.config.problems import problem_from
from ance_core.config.schema import FieldConflict, SweepConfig
from ance_core.errors import InputError, Problem

SWEEP = "sweep"


def is_sweep(data: dict[str, Any]) -> bool:
    return SWEEP in data


def strategy_label(window: tuple[int, int]) -> str:
    return f"rank{window[0]}-{window[1]}"


def sweep_windows(data: dict[str, Any], source: str | Path | None) -> list[tuple[int, int]]:
    """The declared windows, in the order given; a bad block is an InputError at `sweep.<field>`."""
    try:
        return SweepConfig.model_validate(data[SWEEP]).window_list()
    except ValidationError as exc:
        raise InputError(source, [_under_sweep(problem_from(err)) for err in exc.errors()]) from None
    except FieldConflict as exc:
        expected, _, found = str(exc).partition(", found ")
        raise InputError(source, Problem(f"{SWEEP}.{exc.field}", expected, found or None)) from None


def expand_sweep(data: dict[str, Any], source: str | Path | None = None) -> list[dict[str, Any]]:
    """One experiment mapping per window of the sweep (not yet validated)."""
    windows = sweep_windows(data, source)
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise InputError.single(source, "name", "the sweep's name (its experiments are named <name>-<start>-<stop>)",
                                name)
    segment = (data.get("ance") or {}).get("segment") if isinstance(data.get("ance"), dict) else None
    if not isinstance(segment, dict) or "kind" not in segment:
        raise InputError.single(source, "ance.segment", "the segment every window trains with, e.g. {kind: top, n: 20} "
                                "(the sweep sets its windows)", segment)
    shared = {key: value for key, value in data.items() if key != SWEEP}
    expanded = []
    for start, stop in windows:
        one = copy.deepcopy(shared)
        one["name"] = f"{name}-{start}-{stop}"
        one["strategy"] = strategy_label((start, stop))
        one["ance"]["segment"] = {**copy.deepcopy(segment), "windows": [[start, stop]]}
        one["sweep_point"] = {"sweep": name, "window": [start, stop]}
        expanded.append(one)
    return expanded


def _under_sweep(problem: Problem) -> Problem:
    where = problem.where if problem.where.startswith(SWEEP) else f"{SWEEP}.{problem.where}"
    return Problem(where, problem.expected, problem.found)
