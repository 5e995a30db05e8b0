"""The tidy table every report view reads: one row per (run, event, metric) value.

Our run directories and the original study's logs both become rows of the
same shape, so tables and plots never care where a number came from. Plain
records rather than a DataFrame: the bundle does not depend on pandas, and
`records()` hands the rows to pandas (or anything else) in one call.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

# Where a row came from.
SOURCE_RUN = "run"  # a run directory written by `ance run`
SOURCE_LEGACY = "legacy"  # a log of the original study (microsoft/ANCE drivers)

# Row kinds (the `kind` of the metrics.jsonl event the value came from).
KIND_EVAL = "eval"  # dev metrics after an ANN refresh (or during a warm-up)
KIND_TRAIN = "train"  # training loss / learning rate at a step
KIND_BASELINE = "baseline"  # BM25, zero-shot, ...: a fixed reference, not a strategy
KIND_REFRESH = "refresh"  # statistics of a refresh (positive_in_topk, mean_neg_rank, ...)

# Strategy label of warm-up rows: the warm-up is shared by every strategy of a seed.
WARMUP = "warmup"

# Run states (STATUS.json of a run directory; "log" for a legacy log file).
STATES = ("running", "finished", "failed", "unknown", "log")


@dataclass(frozen=True, slots=True)
class Row:
    source: str
    study: str  # the group whose strategies are compared with each other (runs root name, or "legacy")
    run: str  # unique within the table, e.g. "embedded/top20/seed0" or a log file's name
    experiment: str
    strategy: str
    seed: int | None
    kind: str
    split: str | None
    refresh: int | None
    step: int | None
    metric: str
    value: float


COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(Row))


@dataclass(slots=True)
class RunInfo:
    """One run directory or legacy log: identity, state and what could not be read."""

    source: str
    study: str
    run: str
    experiment: str
    strategy: str
    seed: int | None
    path: Path
    state: str = "unknown"
    skipped_lines: list[int] = field(default_factory=list)  # line numbers of unreadable (partial) lines
    file: Path | None = None  # the file the skipped line numbers refer to
    sweep_window: tuple[int, int] | None = None  # the run's window when a rank-window sweep made it (config sweep_point)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["path"] = str(self.path)
        data["file"] = str(self.file) if self.file else None
        return data


@dataclass(slots=True)
class TidyTable:
    rows: list[Row] = field(default_factory=list)
    runs: list[RunInfo] = field(default_factory=list)

    def extend(self, other: "TidyTable") -> "TidyTable":
        self.rows.extend(other.rows)
        self.runs.extend(other.runs)
        return self

    @classmethod
    def concat(cls, tables: Iterable["TidyTable"]) -> "TidyTable":
        merged = cls()
        for table in tables:
            merged.extend(table)
        return merged

    def records(self) -> list[dict[str, Any]]:
        """The rows as plain dicts (`pandas.DataFrame(table.records())` gives a DataFrame)."""
        return [asdict(row) for row in self.rows]

    def to_csv(self) -> str:
        """The rows as CSV with a header (empty cells for missing seed/split/refresh/step)."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(COLUMNS)
        for row in self.rows:
            writer.writerow(["" if value is None else value for value in (getattr(row, c) for c in COLUMNS)])
        return buffer.getvalue()

    def select(self, **equal: Any) -> list[Row]:
        """Rows whose columns equal the given values, e.g. `select(kind="eval", metric="nDCG@10")`."""
        unknown = set(equal) - set(COLUMNS)
        if unknown:
            raise ValueError(f"unknown columns {sorted(unknown)}; columns are {COLUMNS}")
        return [row for row in self.rows if all(getattr(row, k) == v for k, v in equal.items())]

    def studies(self) -> list[str]:
        """Study names in the order they were loaded."""
        return list(dict.fromkeys(info.study for info in self.runs))

    @property
    def skipped_lines(self) -> int:
        return sum(len(info.skipped_lines) for info in self.runs)
