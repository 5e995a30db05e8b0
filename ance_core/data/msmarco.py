"""Download the official MS MARCO passage files: resumable, checksum-verified, extracted in place.

A download goes to `<name>.part`; an interrupted one (network error, Ctrl-C,
a killed job) resumes from the bytes already there with an HTTP Range request,
automatically for `retries` attempts and again on the next run of the same
command. Only a file whose size and MD5 match the published ones is renamed
to its final name; a mismatch is moved aside as `<name>.corrupt` with a clear
error. Archives are then extracted (tar "data" filter: no absolute paths,
links or `..`) and a `download.json` record makes a re-run a no-op.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import os
import re
import shutil
import tarfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from ance_core.errors import InputError, StageError
from ance_core.io.atomic import write_json

log = logging.getLogger(__name__)

BASE_URL = "https://msmarco.z22.web.core.windows.net/msmarcoranking/"
# Azure blob storage serves Range requests reliably only for this API version or later
# (ir_datasets sends the same header for the large MS MARCO files).
HEADERS = {"X-Ms-Version": "2019-12-12", "User-Agent": "ance-bundle"}
CHUNK = 1 << 20
# A mirror that serves other bytes under MS MARCO's names (the rehearsal's Debian corpus on 127.0.0.1,
# scripts/rehearsal_mirror.py): its base URL, and a local JSON file with the sizes and MD5s to check
# its files against instead of the published ones ({"files": {name: {"size", "md5", "archive"}}}).
MIRROR_ENV = "ANCE_MSMARCO_MIRROR"
CATALOG_ENV = "ANCE_MSMARCO_CATALOG"


@dataclass(frozen=True)
class RemoteFile:
    name: str
    size: int
    md5: str
    archive: bool = False


# Sizes and MD5s as published in ir_datasets' ir_datasets/etc/downloads.json (msmarco-passage);
# the archive's MD5 is also the one Anserini's MS MARCO passage guide says to confirm. Microsoft
# itself publishes no checksums. Not verified against a download from here (no internet).
FILES = {
    f.name: f
    for f in (
        RemoteFile("collectionandqueries.tar.gz", 1_057_717_952, "31644046b18952c1386cd4564ba2ae69", archive=True),
        RemoteFile("queries.tar.gz", 18_882_551, "c177b2795d5f2dcc524cf00fcd973be1", archive=True),
        RemoteFile("qrels.train.tsv", 10_589_532, "733fb9fe12d93e497f7289409316eccf"),
        RemoteFile("qrels.dev.tsv", 1_201_626, "9157ccaeaa8227f91722ba5770787b16"),
    )
}
DATASETS = {"msmarco-passage": ("collectionandqueries.tar.gz",)}
# MS MARCO's own names for the splits the study evaluates on, as a data.files map.
FILE_MAP = {"queries.dev": "queries.dev.small.tsv", "qrels.dev": "qrels.dev.small.tsv"}


def mirror_source() -> tuple[str, dict[str, RemoteFile]]:
    """The base URL and catalog to download from: $ANCE_MSMARCO_MIRROR with $ANCE_MSMARCO_CATALOG, else Microsoft's.

    BASE_URL and FILES are read here, at call time, so that tests can point them elsewhere."""
    url, catalog = os.environ.get(MIRROR_ENV), os.environ.get(CATALOG_ENV)
    if not url and not catalog:
        return BASE_URL, FILES
    if not (url and catalog):
        missing, given = (MIRROR_ENV, CATALOG_ENV) if not url else (CATALOG_ENV, MIRROR_ENV)
        raise InputError.single(None, missing, f"set together with {given}", "unset", raw=True)
    path = Path(catalog)
    try:
        entries = json.loads(path.read_text())["files"]
        files = {name: RemoteFile(name, int(e["size"]), str(e["md5"]), bool(e.get("archive", False))) for name, e in entries.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InputError.single(path, CATALOG_ENV, '{"files": {name: {"size", "md5", "archive"}}}', repr(exc), raw=True) from None
    return url, files


def md5_file(path: Path) -> str:
    digest = hashlib.md5()  # noqa: S324 - the published checksums are MD5
    with open(path, "rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


# ---------------------------------------------------------------- one file


def download(url: str, dest: Path, size: int | None, md5: str | None, retries: int = 5, timeout: float = 60.0) -> Path:
    """Fetch `url` into `dest` via `dest.part`, resuming; verify size and MD5; return `dest`."""
    part = dest.with_name(dest.name + ".part")
    dest.parent.mkdir(parents=True, exist_ok=True)
    attempt = 0
    while True:
        have = part.stat().st_size if part.exists() else 0
        if size is not None and have > size:
            log.warning("%s is larger than %s bytes; starting again", part, size)
            part.unlink()
            have = 0
        if size is not None and have == size:
            break
        try:
            _fetch(url, part, have, timeout)
            break  # the server sent all it has: whatever the size, _verify decides
        except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
            if isinstance(exc, urllib.error.HTTPError) and exc.code not in (408, 429, 500, 502, 503, 504):
                raise StageError(f"downloading {url}: HTTP {exc.code} {exc.reason}") from None
            now = part.stat().st_size if part.exists() else 0
            attempt = 0 if now > have else attempt + 1  # progress resets the budget: only stalls use it up
            if attempt > retries:
                raise StageError(
                    f"downloading {url} stopped at {now:,} of {f'{size:,}' if size else '?'} bytes ({exc}); "
                    f"run the same command again to resume from {part}"
                ) from None
            tries = f" (try {attempt} of {retries} without progress)" if attempt else ""
            log.warning("download interrupted at %s bytes (%s); resuming%s", f"{now:,}", exc, tries)
            time.sleep(min(2.0**attempt, 30.0) if attempt else 0.0)
    _verify(part, dest, size, md5)
    os.replace(part, dest)
    return dest


def _fetch(url: str, part: Path, have: int, timeout: float) -> None:
    """One HTTP request appending to `part` from byte `have`; raises when the body ends before its announced length."""
    headers = dict(HEADERS)
    if have:
        headers["Range"] = f"bytes={have}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 - https URL from FILES or --base-url
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # nothing after `have`: the .part is already complete
            return
        raise
    with response:
        mode = "ab"
        if have and response.status == 200:
            log.warning("the server ignored the Range request; downloading %s from the start", part.name)
            mode = "wb"
        elif have and response.status == 206:
            start = _range_start(response.headers.get("Content-Range", ""))
            if start != have:
                raise http.client.HTTPException(f"asked for bytes from {have}, got a range from {start}")
        expected = response.headers.get("Content-Length")
        written = 0
        with open(part, mode) as out:
            while block := response.read(CHUNK):
                out.write(block)
                written += len(block)
        # urllib does not raise when the connection closes early: compare with the announced length.
        if expected is not None and written < int(expected):
            raise http.client.IncompleteRead(b"", int(expected) - written)


def _range_start(content_range: str) -> int | None:
    found = re.match(r"bytes (\d+)-", content_range.strip())
    return int(found.group(1)) if found else None


def _verify(part: Path, dest: Path, size: int | None, md5: str | None) -> None:
    found_size = part.stat().st_size
    found_md5 = md5_file(part) if md5 else None
    if (size is None or found_size == size) and (md5 is None or found_md5 == md5):
        return
    corrupt = dest.with_name(dest.name + ".corrupt")
    os.replace(part, corrupt)
    raise InputError.single(
        dest, "checksum", f"{size:,} bytes with MD5 {md5}" if size else f"MD5 {md5}",
        f"{found_size:,} bytes with MD5 {found_md5} (kept as {corrupt.name}; run again to download afresh)", raw=True,
    )


# ---------------------------------------------------------------- a data set


def extract(archive: Path, out: Path) -> list[str]:
    """Extract a tar(.gz) into `out`: each member under a temp name first, then renamed (no half files)."""
    names: list[str] = []
    staging = out / f".{archive.name}.extracting"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                log.info("extracting %s", member.name)
                tar.extract(member, staging, filter="data")
                target = out / Path(member.name).name  # MS MARCO archives are flat; keep it flat
                os.replace(staging / member.name, target)
                names.append(target.name)
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise InputError.single(archive, "archive", "a complete tar.gz archive", str(exc), raw=True) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return names


def download_dataset(
    name: str, out: str | Path, base_url: str = BASE_URL, files: list[str] | None = None,
    keep_archives: bool = False, retries: int = 5, timeout: float = 60.0, catalog: dict[str, RemoteFile] | None = None,
) -> dict:
    """Download (resuming), verify and extract `name` into `out`; returns the record written to download.json."""
    catalog = FILES if catalog is None else catalog
    if name not in DATASETS:
        raise InputError.single("ance data download", "dataset", f"one of {sorted(DATASETS)}", name)
    chosen = list(files or DATASETS[name])
    unknown = [f for f in chosen if f not in catalog]
    if unknown:
        raise InputError.single("--files", "files", f"names from {sorted(catalog)}", unknown)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    record_path = out / "download.json"
    record = json.loads(record_path.read_text()) if record_path.is_file() else {"dataset": name, "files": {}}
    for file_name in chosen:
        remote = catalog[file_name]
        done = record["files"].get(file_name)
        if done and done.get("md5") == remote.md5 and all((out / n).is_file() for n in done.get("extracted", [file_name])):
            log.info("%s: already downloaded and verified", file_name)
            continue
        path = out / file_name
        if not (path.is_file() and path.stat().st_size == remote.size and md5_file(path) == remote.md5):
            download(base_url.rstrip("/") + "/" + file_name, path, remote.size, remote.md5, retries, timeout)
        entry = {"url": base_url.rstrip("/") + "/" + file_name, "size": remote.size, "md5": remote.md5}
        if remote.archive:
            entry["extracted"] = extract(path, out)
            if not keep_archives:
                path.unlink()
        record["files"][file_name] = entry
        write_json(record_path, record)  # after each file: an interrupted run redoes only what is missing
    return record


def file_map_yaml(out: str | Path) -> str:
    """The experiment snippet that points data at a downloaded MS MARCO with its own file names."""
    lines = ["data:", f"  dataset: {Path(out).resolve()}", "  files:"]
    lines += [f"    {role}: {name}" for role, name in FILE_MAP.items()]
    return "\n".join(lines) + "\n"
