"""Rebuild the Debian package-descriptions corpus from a Debian `Translation-en` index.

The rules by which `builtin:debian` was built (a rebuild from bookworm main
reproduces its files exactly):

* passage = a package's long description: the paragraph-separator lines
  (" .") dropped, whitespace folded. Identical passages are stored once, and
  passages shorter than MIN_PASSAGE_WORDS words are left out (the README does
  not say so, but no shipped passage is shorter, and all 60,229 match this way).
* query = the package's short description (stripped), kept when that line is
  unique in the whole file (case-insensitive), has at least 2 words and its
  package has a passage; qrels `qid 0 pid 1`.
* records are taken in (package, short, passage) order: pids number the
  passages by first appearance, qids number the kept queries. A package may
  appear twice (different versions); both records count.
* split = sha256(package name) as an integer, mod 100: 0-3 dev, 4-7 the held-out
  split the project never sees (written as `test` only on request), 8-99 train.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from ance_core.data.gz import text_writer
from ance_core.data.tsv import compression_of, iter_stream_lines, open_bytes
from ance_core.errors import InputError

MIN_PASSAGE_WORDS = 8
MIN_QUERY_WORDS = 2
DEV_BUCKETS = range(0, 4)
TEST_BUCKETS = range(4, 8)  # the hidden split
APT_HELPER = "/usr/lib/apt/apt-helper"


@dataclass(frozen=True)
class Record:
    package: str
    short: str
    long_lines: tuple[str, ...]
    line: int  # where the record starts, for errors

    @property
    def passage(self) -> str:
        return passage_text(self.long_lines)


def passage_text(lines: Iterable[str]) -> str:
    """Long description -> passage: drop the ' .' paragraph separators, fold all whitespace."""
    return " ".join(" ".join(line for line in lines if line.strip() != ".").split())


def split_of(package: str) -> str:
    bucket = int(hashlib.sha256(package.encode("utf-8")).hexdigest(), 16) % 100
    return "dev" if bucket in DEV_BUCKETS else "test" if bucket in TEST_BUCKETS else "train"


# ---------------------------------------------------------------- reading Translation-en


@contextlib.contextmanager
def open_translation(path: Path) -> Iterator[tuple[IO[bytes], str]]:
    """(binary stream, kind): plain/gzip/xz/bzip2 directly; lz4 (apt's own lists) through `lz4` or apt-helper."""
    if not path.is_file():
        raise InputError.single(path, "file", "a Translation-en file", "no such file")
    kind = compression_of(path)
    if kind != "lz4":
        with open_bytes(path) as handle:
            yield handle, kind or "plain"
        return
    if tool := shutil.which("lz4"):
        command = [tool, "-dc", str(path)]
    elif Path(APT_HELPER).is_file():
        command = [APT_HELPER, "cat-file", str(path)]
    else:
        raise InputError.single(path, "file", "plain, gzip or xz data (or lz4 with `lz4` installed)", "lz4", raw=True)
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        assert proc.stdout is not None
        yield proc.stdout, "lz4"
        error = proc.stderr.read().decode(errors="replace").strip() if proc.stderr else ""
        if proc.wait() != 0:
            raise InputError.single(path, "file", "a readable lz4 stream", f"{command[0]} failed: {error}", raw=True)


def iter_records(path: str | Path) -> Iterator[Record]:
    """Records of a deb822 Translation file (Package, Description-en + continuation lines), streaming."""
    path = Path(path)
    with open_translation(path) as (handle, kind):
        fields: dict[str, list[str]] = {}
        current: str | None = None
        start = 0
        for lineno, text in iter_stream_lines(path, handle, kind):
            if not text.strip():
                if fields:
                    yield _record(path, fields, start)
                fields, current = {}, None
                continue
            if text[0] in " \t":
                if current is None:
                    raise InputError.single(path, f"line {lineno}", "a 'Field: value' line before continuation lines", repr(text[:60]), raw=True)
                fields[current].append(text[1:])
                continue
            name, sep, value = text.partition(":")
            if not sep or not name.strip() or " " in name.strip():
                raise InputError.single(path, f"line {lineno}", "a 'Field: value' line (deb822)", repr(text[:60]), raw=True)
            if not fields:
                start = lineno
            current = name.strip().lower()
            fields[current] = [value.strip()]
        if fields:
            yield _record(path, fields, start)


def _record(path: Path, fields: dict[str, list[str]], start: int) -> Record:
    for needed, name in (("package", "Package"), ("description-en", "Description-en")):
        if needed not in fields or not fields[needed][0]:
            raise InputError.single(path, f"line {start}", f"a record with a non-empty {name} field", "none", raw=True)
    description = fields["description-en"]
    return Record(fields["package"][0], description[0], tuple(description[1:]), start)


# ---------------------------------------------------------------- the corpus


@dataclass
class Query:
    qid: int
    text: str
    package: str
    pid: int
    split: str


@dataclass
class Corpus:
    passages: list[str] = field(default_factory=list)  # pid = index
    queries: list[Query] = field(default_factory=list)  # qid = index
    records: int = 0


def build_corpus(records: Iterable[Record]) -> Corpus:
    """Apply the rules in the module docstring to parsed records."""
    rows = sorted(((r.package, r.short.strip(), r.passage) for r in records))
    short_counts = Counter(short.lower() for _, short, _ in rows)
    corpus = Corpus(records=len(rows))
    pids: dict[str, int] = {}
    for _package, _short, passage in rows:
        if len(passage.split()) >= MIN_PASSAGE_WORDS and passage not in pids:
            pids[passage] = len(pids)
            corpus.passages.append(passage)
    for package, short, passage in rows:
        if passage in pids and short_counts[short.lower()] == 1 and len(short.split()) >= MIN_QUERY_WORDS:
            # A tab would break the TSV row; Debian's short descriptions have none, so this changes nothing there.
            text = short.replace("\t", " ")
            corpus.queries.append(Query(len(corpus.queries), text, package, pids[passage], split_of(package)))
    return corpus


def write_corpus(corpus: Corpus, out: str | Path, include_test: bool = False) -> dict[str, int]:
    """MS MARCO layout as `builtin:debian` ships it: collection and train files gzip, the rest plain."""
    out = Path(out)
    counts = {"passages": len(corpus.passages)}
    with text_writer(out / "collection.tsv.gz") as fh:
        for pid, passage in enumerate(corpus.passages):
            fh.write(f"{pid}\t{passage}\n")
    splits = ["train", "dev"] + (["test"] if include_test else [])
    for split in splits:
        chosen = [q for q in corpus.queries if q.split == split]
        suffix = ".tsv.gz" if split == "train" else ".tsv"
        with text_writer(out / f"queries.{split}{suffix}") as fh:
            fh.writelines(f"{q.qid}\t{q.text}\n" for q in chosen)
        with text_writer(out / f"qrels.{split}{suffix}") as fh:
            fh.writelines(f"{q.qid}\t0\t{q.pid}\t1\n" for q in chosen)
        with text_writer(out / f"packages.{split}{suffix}") as fh:
            fh.writelines(f"{q.qid}\t{q.package}\n" for q in chosen)
        counts[f"queries.{split}"] = len(chosen)
    counts["queries.hidden"] = sum(q.split == "test" for q in corpus.queries) if not include_test else 0
    return counts
