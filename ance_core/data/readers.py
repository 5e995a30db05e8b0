"""Collections, queries and qrels in the MS MARCO layout (DESIGN.md).

Ids stay strings at the edges (files, negatives, run files) and become integer
rows inside (embeddings, rankings, samplers). `IdIndex` maps between the two;
for MS MARCO's 8.8M numeric pids it stores one int64 array instead of a dict.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ance_core.data.tsv import iter_rows
from ance_core.errors import InputError, Problem


def _is_plain_int(ident: str) -> bool:
    """ASCII digits without a leading zero: such ids round-trip through int64 unchanged."""
    return ident.isascii() and ident.isdigit() and (len(ident) == 1 or ident[0] != "0") and len(ident) < 19


class IdIndex:
    """Row <-> id mapping that rejects duplicate ids, naming the lines where they occur."""

    def __init__(self, ids: Sequence[str], source: str | Path | None = None, lines: Sequence[int] | None = None):
        self._ids = list(ids)
        self._numeric: np.ndarray | None = None
        self._order: np.ndarray | None = None
        self._dict: dict[str, int] | None = None
        if self._ids and all(_is_plain_int(i) for i in self._ids):
            self._numeric = np.fromiter((int(i) for i in self._ids), dtype=np.int64, count=len(self._ids))
            self._order = np.argsort(self._numeric, kind="stable")
            sorted_ids = self._numeric[self._order]
            dup = np.flatnonzero(sorted_ids[1:] == sorted_ids[:-1])
            if dup.size:
                first, second = sorted(self._order[dup[0] : dup[0] + 2])
                self._raise_duplicate(source, lines, int(first), int(second))
        else:
            self._dict = {}
            for row, ident in enumerate(self._ids):
                earlier = self._dict.setdefault(ident, row)
                if earlier != row:
                    self._raise_duplicate(source, lines, earlier, row)

    def _raise_duplicate(self, source, lines, first: int, second: int) -> None:
        where = f"line {lines[second]}" if lines else f"row {second + 1}"
        earlier = f"line {lines[first]}" if lines else f"row {first + 1}"
        raise InputError.single(
            source, where, "unique ids", f"id {self._ids[second]!r} again (first at {earlier})", raw=True
        )

    def __len__(self) -> int:
        return len(self._ids)

    def __getitem__(self, row: int) -> str:
        return self._ids[row]

    def __contains__(self, ident: object) -> bool:
        return isinstance(ident, str) and self.row(ident) is not None

    @property
    def ids(self) -> list[str]:
        return self._ids

    def row(self, ident: str) -> int | None:
        found = self.rows([ident])[0]
        return None if found < 0 else int(found)

    def rows(self, idents: Iterable[str]) -> np.ndarray:
        """Rows of the given ids, -1 where an id is unknown (vectorized for numeric ids)."""
        idents = list(idents)
        if self._dict is not None:
            return np.fromiter((self._dict.get(i, -1) for i in idents), dtype=np.int64, count=len(idents))
        assert self._numeric is not None and self._order is not None
        wanted = np.fromiter(
            (int(i) if _is_plain_int(i) else -1 for i in idents), dtype=np.int64, count=len(idents)
        )
        sorted_ids = self._numeric[self._order]
        pos = np.clip(np.searchsorted(sorted_ids, wanted), 0, len(sorted_ids) - 1)
        hit = sorted_ids[pos] == wanted
        return np.where(hit, self._order[pos], -1)

    def ids_of(self, rows: np.ndarray) -> list[str]:
        return [self._ids[r] for r in np.asarray(rows).ravel().tolist()]


@dataclass
class Collection:
    ids: IdIndex
    texts: list[str]
    path: Path

    def __len__(self) -> int:
        return len(self.texts)


@dataclass
class Queries:
    ids: IdIndex
    texts: list[str]
    path: Path

    def __len__(self) -> int:
        return len(self.texts)

    def select(self, keep: Sequence[str]) -> "Queries":
        rows = self.ids.rows(keep)
        return Queries(IdIndex([self.ids[r] for r in rows]), [self.texts[r] for r in rows], self.path)


@dataclass
class Qrels:
    """qid -> {pid: grade}; grade > 0 is relevant."""

    by_query: dict[str, dict[str, int]] = field(default_factory=dict)
    path: Path | None = None

    def relevant(self, qid: str) -> list[str]:
        return [pid for pid, grade in self.by_query.get(qid, {}).items() if grade > 0]

    def __len__(self) -> int:
        return len(self.by_query)


def iter_collection(path: str | Path) -> Iterator[tuple[int, str, str]]:
    """(line, pid, text), streaming."""
    for lineno, (pid, text) in iter_rows(path, 2):
        yield lineno, pid.strip(), text


def _load_pairs(path: Path, what: str) -> tuple[list[str], list[str], list[int]]:
    ids: list[str] = []
    texts: list[str] = []
    lines: list[int] = []
    for lineno, (ident, text) in iter_rows(path, 2):
        ident = ident.strip()
        if not ident:
            raise InputError.single(path, f"line {lineno}", f"a {what} id in column 1", "an empty id", raw=True)
        ids.append(ident)
        texts.append(text)
        lines.append(lineno)
    if not ids:
        raise InputError.single(path, "file", f"at least one '{what}_id<TAB>text' row", "an empty file", raw=True)
    return ids, texts, lines


def load_collection(path: str | Path) -> Collection:
    path = Path(path)
    ids, texts, lines = _load_pairs(path, "passage")
    return Collection(IdIndex(ids, path, lines), texts, path)


def load_queries(path: str | Path) -> Queries:
    path = Path(path)
    ids, texts, lines = _load_pairs(path, "query")
    return Queries(IdIndex(ids, path, lines), texts, path)


def iter_qrels(path: str | Path) -> Iterator[tuple[int, str, str, str, int]]:
    """(line, qid, iteration, pid, grade) of TREC qrels `qid 0 pid grade` (tabs or spaces), streaming."""
    path = Path(path)
    for lineno, (qid, iteration, pid, grade) in iter_rows(path, 4, whitespace=True):
        try:
            value = int(grade)
        except ValueError:
            raise InputError.single(path, f"line {lineno}", "an integer relevance grade in column 4", grade) from None
        yield lineno, qid, iteration, pid, value


def load_qrels(path: str | Path) -> Qrels:
    """TREC qrels `qid 0 pid grade` (tabs or spaces)."""
    path = Path(path)
    by_query: dict[str, dict[str, int]] = {}
    for _lineno, qid, _iteration, pid, value in iter_qrels(path):
        by_query.setdefault(qid, {})[pid] = value
    if not by_query:
        raise InputError.single(path, "file", "at least one 'qid 0 pid grade' row", "an empty file", raw=True)
    return Qrels(by_query, path)


def check_qrels(qrels: Qrels, queries: Queries | None, collection: Collection | None) -> None:
    """Every qrels query and passage must exist: an unknown id is a wrong file pairing, not noise."""
    problems: list[Problem] = []
    if queries is not None:
        qids = list(qrels.by_query)
        unknown_q = [q for q, r in zip(qids, queries.ids.rows(qids).tolist()) if r < 0]
        if unknown_q:
            problems.append(
                Problem("query ids", f"ids present in {queries.path}", f"{len(unknown_q)} unknown, e.g. {unknown_q[:3]}")
            )
    if collection is not None:
        pids = sorted({p for judged in qrels.by_query.values() for p in judged})
        rows = collection.ids.rows(pids)
        unknown_p = [p for p, r in zip(pids, rows.tolist()) if r < 0]
        if unknown_p:
            problems.append(
                Problem("passage ids", f"ids present in {collection.path}", f"{len(unknown_p)} unknown, e.g. {unknown_p[:3]}")
            )
    if problems:
        raise InputError(qrels.path, problems)


def query_ids(path: str | Path) -> set[str]:
    """The ids of a queries file (its first column), without keeping the texts."""
    return {ident.strip() for _lineno, (ident, _text) in iter_rows(Path(path), 2)}


def check_disjoint_queries(train: str | Path, evaluated: str | Path) -> None:
    """No evaluated query may be a training query: its metric would be a training-set metric."""
    train, evaluated = Path(train), Path(evaluated)
    if train.resolve() == evaluated.resolve():
        raise InputError.single(evaluated, "file", f"queries other than the training queries ({train})", "the same file", raw=True)
    shared = sorted(query_ids(train) & query_ids(evaluated))
    if shared:
        raise InputError.single(
            evaluated, "query ids", f"none of the training queries ({train})",
            f"{len(shared)} of them, e.g. {shared[:3]}", raw=True,
        )
