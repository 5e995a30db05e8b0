"""The rehearsal's MS MARCO download: the built-in Debian corpus in MS MARCO's layout, served on 127.0.0.1.

    python scripts/rehearsal_mirror.py --dir DIR -- COMMAND ...

builds DIR/www/collectionandqueries.tar.gz (collection.tsv, queries.train.tsv, qrels.train.tsv,
queries.dev.small.tsv, qrels.dev.small.tsv: MS MARCO's file names and tab-separated columns) and
DIR/catalog.json (its size and MD5), serves DIR/www on 127.0.0.1, and runs COMMAND with
ANCE_MSMARCO_MIRROR and ANCE_MSMARCO_CATALOG pointing at them (ance_core.data.msmarco.mirror_source),
so that `ance prep` downloads, verifies and extracts it as it would MS MARCO. The server stops when
COMMAND ends; the exit status is COMMAND's. The archive is byte-for-byte the same on every build
(sorted members, fixed times), so its MD5 is too.

A slice of the corpus keeps the rehearsal within minutes on 2 CPUs: the first `--passages` passages,
the train queries whose positive is among them and the first `--dev` such dev queries.
"""

from __future__ import annotations

import argparse
import functools
import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

DEBIAN = Path(__file__).resolve().parents[1] / "ance_core" / "data" / "builtin" / "debian"
ARCHIVE = "collectionandqueries.tar.gz"


def _lines(name: str) -> list[str]:
    path = DEBIAN / name
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return handle.read().splitlines()


def _split(queries: str, qrels: str, passages: set[str], limit: int | None) -> tuple[list[str], list[str]]:
    """The queries (and their qrels lines) whose positive is one of `passages`, the first `limit` of them."""
    positives: dict[str, list[str]] = {}
    for line in _lines(qrels):
        qid, _, pid, _ = line.split("\t")
        if pid in passages:
            positives.setdefault(qid, []).append(f"{qid}\t0\t{pid}\t1")
    kept = [line for line in _lines(queries) if line.split("\t", 1)[0] in positives][:limit]
    return kept, [qrel for line in kept for qrel in positives[line.split("\t", 1)[0]]]


def corpus_files(passages: int, dev: int) -> dict[str, str]:
    collection = _lines("collection.tsv.gz")[:passages]
    pids = {line.split("\t", 1)[0] for line in collection}
    train, train_qrels = _split("queries.train.tsv.gz", "qrels.train.tsv.gz", pids, None)
    dev_queries, dev_qrels = _split("queries.dev.tsv", "qrels.dev.tsv", pids, dev)
    files = {"collection.tsv": collection, "queries.train.tsv": train, "qrels.train.tsv": train_qrels,
             "queries.dev.small.tsv": dev_queries, "qrels.dev.small.tsv": dev_qrels}
    return {name: "".join(line + "\n" for line in lines) for name, lines in files.items()}


def build(folder: Path, passages: int, dev: int) -> dict:
    """Write the archive and catalog.json under `folder`; returns the catalog."""
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as packed, tarfile.open(fileobj=packed, mode="w") as tar:
        for name, text in sorted(corpus_files(passages, dev).items()):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            tar.addfile(info, io.BytesIO(data))
    data = buffer.getvalue()
    (folder / "www").mkdir(parents=True, exist_ok=True)
    (folder / "www" / ARCHIVE).write_bytes(data)
    catalog = {"files": {ARCHIVE: {"size": len(data), "md5": hashlib.md5(data).hexdigest(), "archive": True}}}  # noqa: S324
    (folder / "catalog.json").write_text(json.dumps(catalog, indent=2) + "\n")
    return catalog


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # the download logs its own progress
        pass


class Mirror:
    """DIR/www served on 127.0.0.1 (a free port) while the `with` block runs."""

    def __init__(self, folder: Path):
        handler = functools.partial(_QuietHandler, directory=str(folder / "www"))
        self.catalog = folder / "catalog.json"
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/"

    def env(self) -> dict[str, str]:
        return {"ANCE_MSMARCO_MIRROR": self.url, "ANCE_MSMARCO_CATALOG": str(self.catalog.resolve())}

    def __enter__(self) -> "Mirror":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", required=True, type=Path, help="where the archive and catalog.json go")
    parser.add_argument("--passages", type=int, default=4000, help="passages of the Debian corpus to serve")
    parser.add_argument("--dev", type=int, default=40, help="dev queries to serve")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND ... to run while it serves")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to run after --")
    catalog = build(args.dir, args.passages, args.dev)
    with Mirror(args.dir) as mirror:
        entry = catalog["files"][ARCHIVE]
        print(f"rehearsal mirror: {mirror.url}{ARCHIVE} ({entry['size']:,} bytes, MD5 {entry['md5']})", flush=True)
        return subprocess.call(command, env={**os.environ, **mirror.env()})


if __name__ == "__main__":
    sys.exit(main())
