"""The study's subset: sample a fraction of passages, keep the queries whose positive survived.

The original study trained on 10% and 30% MS MARCO subsets made this way:
draw round(F·N) passages uniformly (seeded), then keep, in every split, the
queries that still have a relevant passage, with their qrels rows.
`keep_positives_of` makes the positives of chosen splits always survive (so
e.g. the whole dev set stays evaluable); they are part of the budget, so the
subset still holds exactly round(F·N) passages.

Streaming and numpy throughout, so MS MARCO's 8.8M passages fit: pass 1 turns
every passage id into one int64 key (the id itself when it is a plain
number, else a 63-bit hash), pass 2 copies the chosen lines. Rows are copied
verbatim in their original order, gzip output is deterministic (gz.py), and
`subset.json` holds no paths or times, so two runs with the same seed are
byte-identical.
"""

from __future__ import annotations

import hashlib
import json
import logging
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ance_core.data.gz import text_writer
from ance_core.data.layout import DataSource, resolve_dataset
from ance_core.data.readers import _is_plain_int, check_disjoint_queries, iter_qrels
from ance_core.data.tokcache import content_digest
from ance_core.data.tsv import compression_of, iter_rows
from ance_core.errors import InputError, StageError
from ance_core.io.atomic import atomic_dir, is_complete, write_json
from ance_core.io.lock import build_lock

if TYPE_CHECKING:
    from ance_core.config import Experiment

log = logging.getLogger(__name__)

# Part of every cache key: bump it when the sampling rule changes, so old caches are not reused.
SUBSET_FORMAT = 1
LOG_EVERY_ROWS = 1_000_000


# ---------------------------------------------------------------- ids as int64 keys


def id_key(ident: str) -> int:
    """A plain number is its own key (>= 0); any other id hashes into [-2^63, -1], so the two never collide."""
    if _is_plain_int(ident):
        return int(ident)
    digest = hashlib.blake2b(ident.encode("utf-8"), digest_size=8).digest()
    return -1 - (int.from_bytes(digest, "big") >> 1)


def _keys(idents: Iterable[str]) -> np.ndarray:
    return np.fromiter((id_key(i) for i in idents), dtype=np.int64)


def _member(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """keys[i] in sorted_keys, vectorized."""
    if sorted_keys.size == 0:
        return np.zeros(keys.shape, dtype=bool)
    pos = np.clip(np.searchsorted(sorted_keys, keys), 0, sorted_keys.size - 1)
    return sorted_keys[pos] == keys


def _logged(rows: Iterator[Any], what: str) -> Iterator[Any]:
    """Pass rows through, logging a line every million (an 8.8M-row pass takes a while)."""
    for count, row in enumerate(rows, 1):
        if count % LOG_EVERY_ROWS == 0:
            log.info("%s: %d rows", what, count)
        yield row


def _scan_ids(path: Path, what: str) -> np.ndarray:
    """Keys of the first column of a `id<TAB>text` file, in file order; unique, or a clear error."""
    keys = array("q")
    for lineno, (ident, _text) in _logged(iter_rows(path, 2), f"scanning {path.name}"):
        ident = ident.strip()
        if not ident:
            raise InputError.single(path, f"line {lineno}", f"a {what} id in column 1", "an empty id", raw=True)
        keys.append(id_key(ident))
    if not keys:
        raise InputError.single(path, "file", f"at least one '{what}_id<TAB>text' row", "an empty file", raw=True)
    found = np.frombuffer(keys, dtype=np.int64).copy()
    ordered = np.sort(found)
    dup = np.flatnonzero(ordered[1:] == ordered[:-1])
    if dup.size:
        _raise_duplicate(path, int(ordered[dup[0]]))
    return found


def _raise_duplicate(path: Path, key: int) -> None:
    """Find the two lines behind a repeated key (a rare path: the file is read once more)."""
    hits = [(lineno, ident.strip()) for lineno, (ident, _) in iter_rows(path, 2) if id_key(ident.strip()) == key][:2]
    (first_line, first), (second_line, second) = hits
    if first != second:  # two different ids with one 63-bit hash: ~1e-6 odds even at MS MARCO size
        raise StageError(f"{path}: ids {first!r} (line {first_line}) and {second!r} (line {second_line}) share a hash key")
    raise InputError.single(path, f"line {second_line}", "unique ids", f"id {second!r} again (first at line {first_line})", raw=True)


# ---------------------------------------------------------------- what a data set holds


@dataclass(frozen=True)
class SplitFiles:
    name: str
    queries: Path
    qrels: Path
    packages: Path | None  # Debian provenance (qid -> package name), copied like the queries


def split_files(source: DataSource) -> tuple[list[SplitFiles], dict[str, str]]:
    """Splits that can be subset (queries and qrels), and the skipped ones with the reason."""
    splits: list[SplitFiles] = []
    skipped: dict[str, str] = {}
    for name in source.splits():
        queries = source.optional(f"queries.{name}")
        qrels = source.optional(f"qrels.{name}")
        if queries is None or qrels is None:
            skipped[name] = "no qrels" if queries is not None else "no queries"
            continue
        splits.append(SplitFiles(name, queries, qrels, source.optional(f"packages.{name}")))
    return splits, skipped


def input_files(source: DataSource) -> dict[str, Path]:
    """Every file a subset reads, by role (the cache key and subset.json hash them)."""
    files = {"collection": source.collection}
    for split in split_files(source)[0]:
        files[f"queries.{split.name}"] = split.queries
        files[f"qrels.{split.name}"] = split.qrels
        if split.packages is not None:
            files[f"packages.{split.name}"] = split.packages
    return files


def _out_name(stem: str, source_file: Path) -> str:
    """Standard MS MARCO names (queries.dev.small.tsv -> queries.dev.tsv); gzip when the input was compressed."""
    return f"{stem}.tsv.gz" if compression_of(source_file) else f"{stem}.tsv"


# ---------------------------------------------------------------- the subset


def _positive_keys(qrels: Path, passage_keys_sorted: np.ndarray, collection: Path) -> np.ndarray:
    """Sorted keys of the relevant passages named in a qrels file; unknown passages are an error."""
    pids = [(lineno, pid) for lineno, _qid, _it, pid, grade in iter_qrels(qrels) if grade > 0]
    keys = _keys(pid for _, pid in pids)
    _check_known(qrels, pids, keys, passage_keys_sorted, f"passage ids present in {collection}")
    return np.unique(keys)


def _check_known(path: Path, named: Sequence[tuple[int, str]], keys: np.ndarray, known_sorted: np.ndarray, expected: str) -> None:
    unknown = np.flatnonzero(~_member(known_sorted, keys))
    if unknown.size:
        lineno, ident = named[int(unknown[0])]
        more = f" ({unknown.size - 1} more rows like it)" if unknown.size > 1 else ""
        raise InputError.single(path, f"line {lineno}", expected, f"unknown id {ident!r}{more}", raw=True)


def choose_rows(n: int, fraction: float, seed: int, forced: np.ndarray | None = None) -> np.ndarray:
    """Boolean mask of the round(fraction·n) kept rows: every forced row, the rest drawn uniformly (seeded)."""
    if not 0 < fraction <= 1:
        raise InputError.single("command line", "--fraction (data.subset.fraction)", "a number in (0, 1]", fraction)
    budget = round(fraction * n)
    if budget < 1:
        raise InputError.single("command line", "--fraction (data.subset.fraction)", f"at least one of {n} passages (fraction > {0.5 / n:.2g})", fraction)
    keep = np.zeros(n, dtype=bool) if forced is None else forced.copy()
    n_forced = int(keep.sum())
    if n_forced > budget:
        raise InputError.single(
            "command line", "--keep-positives-of (data.subset.keep_positives_of)",
            f"at most the budget of {budget} passages (fraction {fraction} of {n})", f"{n_forced} positives to keep",
            raw=True,
        )
    rest = np.flatnonzero(~keep)
    keep[np.random.default_rng(seed).choice(rest, size=budget - n_forced, replace=False)] = True
    return keep


def make_subset(
    source: DataSource,
    out: str | Path,
    fraction: float,
    seed: int,
    keep_positives_of: Sequence[str] = (),
    digest_memo: Path | None = None,
) -> dict[str, Any]:
    """Write the subset of `source` into `out` (atomically; replaces an earlier subset there). Returns subset.json."""
    out = Path(out)
    splits, skipped = split_files(source)
    by_name = {s.name: s for s in splits}
    for name in keep_positives_of:
        if name not in by_name:
            raise InputError.single(
                "command line", "--keep-positives-of (data.subset.keep_positives_of)", f"a split with queries and qrels: {sorted(by_name)}", name
            )
    collection = source.collection

    log.info("subset of %s: reading passage ids", collection)
    keys = _scan_ids(collection, "passage")
    all_sorted = np.sort(keys)
    forced_keys = [_positive_keys(by_name[name].qrels, all_sorted, collection) for name in keep_positives_of]
    forced = np.isin(keys, np.concatenate(forced_keys)) if forced_keys else None
    keep = choose_rows(keys.size, fraction, seed, forced)
    kept_sorted = np.sort(keys[keep])

    with atomic_dir(out) as tmp:
        with text_writer(tmp / _out_name("collection", collection)) as fh:
            for row, (_lineno, (pid, text)) in enumerate(_logged(iter_rows(collection, 2), "writing passages")):
                if keep[row]:
                    fh.write(f"{pid}\t{text}\n")
        split_counts = {s.name: _subset_split(s, tmp, all_sorted, kept_sorted, collection) for s in splits}
        summary = {
            "format": SUBSET_FORMAT,
            "source": source.root.name,
            "fraction": fraction,
            "seed": seed,
            "keep_positives_of": sorted(keep_positives_of),
            "passages": {"source": int(keys.size), "kept": int(keep.sum()), "forced": int(forced.sum()) if forced is not None else 0},
            "splits": split_counts,
            "skipped_splits": skipped,
            "inputs": {
                role: {"file": path.name, "sha256": content_digest(path, digest_memo)}
                for role, path in sorted(input_files(source).items())
            },
        }
        write_json(tmp / "subset.json", summary)
    return summary


def _subset_split(split: SplitFiles, out: Path, all_sorted: np.ndarray, kept_sorted: np.ndarray, collection: Path) -> dict[str, int]:
    """Keep the queries of one split that have a relevant passage among the kept ones."""
    query_keys = np.sort(_scan_ids(split.queries, "query"))
    rows = list(iter_qrels(split.qrels))
    if not rows:
        raise InputError.single(split.qrels, "file", "at least one 'qid 0 pid grade' row", "an empty file", raw=True)
    _check_known(split.qrels, [(r[0], r[1]) for r in rows], _keys(r[1] for r in rows), query_keys, f"query ids present in {split.queries}")
    pid_keys = _keys(r[3] for r in rows)
    _check_known(split.qrels, [(r[0], r[3]) for r in rows], pid_keys, all_sorted, f"passage ids present in {collection}")
    survived = _member(kept_sorted, pid_keys)
    kept_qids = {r[1] for r, alive in zip(rows, survived) if alive and r[4] > 0}

    qrels_kept = 0
    with text_writer(out / _out_name(f"qrels.{split.name}", split.qrels)) as fh:
        for (_lineno, qid, iteration, pid, grade), alive in zip(rows, survived):
            if alive and qid in kept_qids:
                fh.write(f"{qid}\t{iteration}\t{pid}\t{grade}\n")
                qrels_kept += 1
    counts = {"queries": int(query_keys.size), "queries_kept": _copy_rows(split.queries, out, f"queries.{split.name}", kept_qids)}
    counts["qrels_kept"] = qrels_kept
    if split.packages is not None:
        counts["packages_kept"] = _copy_rows(split.packages, out, f"packages.{split.name}", kept_qids)
    return counts


def _copy_rows(path: Path, out: Path, stem: str, keep_ids: set[str]) -> int:
    """Copy the `id<TAB>text` rows whose id is kept, verbatim and in order."""
    written = 0
    with text_writer(out / _out_name(stem, path)) as fh:
        for _lineno, (ident, text) in iter_rows(path, 2):
            if ident.strip() in keep_ids:
                fh.write(f"{ident}\t{text}\n")
                written += 1
    return written


# ---------------------------------------------------------------- cached subsets for the stages


def subset_key(source: DataSource, fraction: float, seed: int, keep_positives_of: Sequence[str], digest_memo: Path | None) -> str:
    """Content of every input file + the sampling parameters: equal keys, equal subsets."""
    blob = {
        "format": SUBSET_FORMAT,
        "inputs": {role: content_digest(path, digest_memo) for role, path in sorted(input_files(source).items())},
        "fraction": fraction,
        "seed": seed,
        "keep_positives_of": sorted(keep_positives_of),
    }
    return hashlib.sha256(json.dumps(blob, sort_keys=True).encode()).hexdigest()[:16]


def materialize_subset(
    source: DataSource, fraction: float, seed: int, keep_positives_of: Sequence[str], cache_root: str | Path
) -> DataSource:
    """The subset as a DataSource under `cache_root/subsets/`, built on first use (one builder at a time)."""
    cache_root = Path(cache_root)
    memo = cache_root / "digests"
    key = subset_key(source, fraction, seed, keep_positives_of, memo)
    target = cache_root / "subsets" / f"{source.root.name}-{fraction:g}-s{seed}-{key}"
    spec = f"subset {fraction:g} seed {seed} of {source.spec or source.root}"
    if not is_complete(target):
        # Array tasks may start together: one builds, the others wait and then reuse it.
        with build_lock(target):
            if not is_complete(target):
                log.info("building %s in %s", spec, target)
                make_subset(source, target, fraction, seed, keep_positives_of, memo)
    return DataSource(target, {}, spec)


def subset_source(experiment: "Experiment") -> DataSource:
    """`data.subset` of an experiment, cached under `<outputs.root>/_cache/` (see ARCHITECTURE.md)."""
    data = experiment.data
    source = resolve_dataset(data.dataset, data.files)
    if data.subset is None:
        return source
    cache_root = Path(experiment.outputs.root) / "_cache"
    return materialize_subset(source, data.subset.fraction, data.subset.seed, data.subset.keep_positives_of, cache_root)


def check_held_out(experiment: "Experiment") -> None:
    """eval.split shares no query with data.train_split (in the files the experiment reads, after any subset)."""
    source = subset_source(experiment)
    check_disjoint_queries(source.queries(experiment.data.train_split), source.queries(experiment.eval.split))
