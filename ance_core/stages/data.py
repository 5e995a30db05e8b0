"""`ance data subset|debian|download`: make the data sets the study runs on.

    ance data subset --data DIR --fraction 0.1 --seed 7 --out DIR [--keep-positives-of dev]
    ance data debian --translation Translation-en --out DIR [--with-test]
    ance data download msmarco-passage --out DIR

Each prints a short summary (counts, output paths, time) to stdout.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from ance_core.errors import InputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="data_command", metavar="COMMAND", required=True)

    subset = sub.add_parser("subset", help="sample a fraction of passages, keep the queries whose positive survived")
    subset.add_argument("--data", required=True, help="data directory (MS MARCO layout) or builtin:<name>")
    subset.add_argument("--fraction", type=float, required=True, help="fraction of passages to keep, in (0, 1]")
    subset.add_argument("--seed", type=int, default=7, help="sampling seed (default 7)")
    subset.add_argument("--out", required=True, help="output directory (new, empty, or an earlier subset)")
    subset.add_argument(
        "--keep-positives-of", nargs="+", default=[], metavar="SPLIT",
        help="splits whose relevant passages are always kept (within the passage budget)",
    )
    subset.add_argument(
        "--file", action="append", default=[], metavar="ROLE=NAME",
        help="non-standard file name, e.g. queries.dev=queries.dev.small.tsv (repeatable)",
    )

    debian = sub.add_parser("debian", help="rebuild the Debian descriptions corpus from a Translation-en file")
    debian.add_argument(
        "--translation", required=True, type=Path,
        help="Debian Translation-en (plain, gz, xz, or apt's lz4 from /var/lib/apt/lists after "
        "`apt-get -o Acquire::Languages=en update`)",
    )
    debian.add_argument("--out", required=True, type=Path, help="output directory")
    debian.add_argument("--with-test", action="store_true", help="also write the held-out split as `test`")

    download = sub.add_parser("download", help="download, verify and extract the official MS MARCO passage files")
    download.add_argument("dataset", choices=["msmarco-passage"])
    download.add_argument("--out", required=True, type=Path, help="output directory")
    download.add_argument("--files", nargs="+", default=None, metavar="NAME", help="files to fetch (default: the archive)")
    download.add_argument("--base-url", default=None, help="mirror to download from (default: Microsoft's)")
    download.add_argument("--keep-archive", action="store_true", help="keep the .tar.gz after extracting it")
    download.add_argument("--retries", type=int, default=5, help="resume attempts without progress before giving up")


def main(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    command = {"subset": _subset, "debian": _debian, "download": _download}[args.data_command]
    command(args, start)
    return 0


def _parse_files(items: list[str]) -> dict[str, str]:
    files = {}
    for item in items:
        role, sep, name = item.partition("=")
        if not sep or not role or not name:
            raise InputError.single("command line", "--file", "ROLE=NAME, e.g. queries.dev=queries.dev.small.tsv", item)
        files[role] = name
    return files


def _out_dir_ok(out: Path) -> None:
    """Refuse to replace a folder that is not an earlier subset: --out . must never delete a project."""
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / "subset.json").is_file())):
        raise InputError.single(out, "--out", "a new or empty directory, or an earlier subset", "a folder with other files", raw=True)


def _subset(args: argparse.Namespace, start: float) -> None:
    from ance_core.data.layout import resolve_dataset
    from ance_core.data.subset import make_subset

    out = Path(args.out)
    _out_dir_ok(out)
    source = resolve_dataset(args.data, _parse_files(args.file), source="--data")
    summary = make_subset(source, out, args.fraction, args.seed, args.keep_positives_of)
    passages = summary["passages"]
    rows = [("passages", f"{passages['source']:,}", f"{passages['kept']:,}")]
    rows += [
        (f"{name} queries", f"{c['queries']:,}", f"{c['queries_kept']:,}") for name, c in summary["splits"].items()
    ]
    notes = [f"skipped split {name}: {why}" for name, why in summary["skipped_splits"].items()]
    if passages["forced"]:
        notes.append(f"{passages['forced']:,} passages kept as positives of {', '.join(summary['keep_positives_of'])}")
    _print_summary(f"subset {args.fraction:g} (seed {args.seed}) of {source.root}", ("", "source", "kept"), rows, out, start, notes)


def _debian(args: argparse.Namespace, start: float) -> None:
    from ance_core.data.debian import build_corpus, iter_records, write_corpus

    corpus = build_corpus(iter_records(args.translation))
    counts = write_corpus(corpus, args.out, include_test=args.with_test)
    rows = [("packages (records)", f"{corpus.records:,}"), ("passages", f"{counts['passages']:,}")]
    rows += [(name, f"{n:,}") for name, n in counts.items() if name.startswith("queries.") and n]
    notes = [] if args.with_test else [f"{counts['queries.hidden']:,} held-out queries not written (--with-test writes them)"]
    _print_summary(f"Debian descriptions corpus from {args.translation}", ("", "count"), rows, args.out, start, notes)


def _download(args: argparse.Namespace, start: float) -> None:
    from ance_core.console import out_console
    from ance_core.data.msmarco import download_dataset, file_map_yaml, mirror_source

    base_url, catalog = mirror_source()
    record = download_dataset(
        args.dataset, args.out, base_url=args.base_url or base_url, files=args.files,
        keep_archives=args.keep_archive, retries=args.retries, catalog=catalog,
    )
    rows = [(name, f"{entry['size']:,}", entry["md5"]) for name, entry in record["files"].items()]
    _print_summary(f"{args.dataset} (MD5 verified)", ("file", "bytes", "md5"), rows, args.out, start, [])
    out_console.print("Point an experiment at it with MS MARCO's own file names:")
    # soft_wrap: the snippet must stay copy-pasteable YAML, whatever the terminal width
    out_console.print(file_map_yaml(args.out), markup=False, highlight=False, soft_wrap=True)


def _print_summary(title: str, header: tuple[str, ...], rows: list[tuple[str, ...]], out: Path, start: float, notes: list[str]) -> None:
    from rich.table import Table

    from ance_core.console import out_console

    table = Table(title=title, title_justify="left")
    for i, name in enumerate(header):
        table.add_column(name, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*row)
    out_console.print(table)
    for note in notes:
        out_console.print(f"  {note}", markup=False, highlight=False)
    out_console.print(f"wrote {Path(out).resolve()} in {time.perf_counter() - start:.1f} s", markup=False, highlight=False, soft_wrap=True)
