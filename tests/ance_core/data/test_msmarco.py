"""The MS MARCO download on local files: a local HTTP server that honours Range, cut mid-way."""

import hashlib
import io
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ance_core.data.layout import resolve_dataset
from ance_core.data.msmarco import RemoteFile, download, download_dataset, file_map_yaml
from ance_core.errors import InputError, StageError


class FileServer:
    """Serves `files` (name -> bytes); the first `cut_first` responses stop after `cut_at` bytes.

    While `unavailable` is set, every request gets 503 (a server that went away).
    """

    def __init__(self, files: dict[str, bytes], cut_at: int | None = None, cut_first: int = 0, honour_range: bool = True):
        self.files, self.cut_at, self.cuts_left, self.honour_range = files, cut_at, cut_first, honour_range
        self.unavailable = False
        self.down_after_cut = False
        self.ranges: list[str | None] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest output clean
                pass

            def do_GET(self):
                data = server.files.get(self.path.lstrip("/"))
                if data is None:
                    self.send_error(404)
                    return
                asked = self.headers.get("Range")
                server.ranges.append(asked)
                if server.unavailable:
                    self.send_error(503)
                    return
                start = int(asked.split("=")[1].split("-")[0]) if asked and server.honour_range else 0
                if start >= len(data) and asked:
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(data)}")
                    self.end_headers()
                    return
                body = data[start:]
                self.send_response(206 if start else 200)
                if start:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if server.cuts_left > 0 and server.cut_at is not None:
                    server.cuts_left -= 1
                    server.unavailable = server.down_after_cut
                    self.wfile.write(body[: server.cut_at])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def msmarco_archive() -> bytes:
    """A tiny collectionandqueries.tar.gz in the official layout (flat, MS MARCO's own names)."""
    members = {
        "collection.tsv": "".join(f"{p}\tpassage number {p} about things\n" for p in range(2000)),
        "queries.train.tsv": "10\twhat is one\n11\twhat is two\n",
        "qrels.train.tsv": "10\t0\t1\t1\n11\t0\t2\t1\n",
        "queries.dev.small.tsv": "20\twhere is three\n",
        "qrels.dev.small.tsv": "20\t0\t3\t1\n",
        "queries.dev.tsv": "20\twhere is three\n21\tunjudged\n",
        "queries.eval.small.tsv": "30\tan eval query\n",
    }
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def remote(name: str, data: bytes, archive: bool = False) -> RemoteFile:
    return RemoteFile(name, len(data), hashlib.md5(data).hexdigest(), archive=archive)


BLOB = bytes(range(256)) * 4000  # ~1 MB, more than one read chunk


def test_interrupted_download_resumes_from_the_part_file(tmp_path):
    dest = tmp_path / "blob.bin"
    with FileServer({"blob.bin": BLOB}, cut_at=300_000, cut_first=1) as server:
        server.down_after_cut = True  # the connection drops mid-way, then the server is gone
        with pytest.raises(StageError, match=r"stopped at 300,000 of 1,024,000 bytes .*run the same command again to resume"):
            download(server.url + "blob.bin", dest, len(BLOB), hashlib.md5(BLOB).hexdigest(), retries=0)
        part = tmp_path / "blob.bin.part"
        assert part.stat().st_size == 300_000 and not dest.exists()
        server.unavailable = False  # back again: the next run resumes
        download(server.url + "blob.bin", dest, len(BLOB), hashlib.md5(BLOB).hexdigest(), retries=0)
    # after the cut: one resume try (503, no progress, so retries=0 gives up), then the next run's resume
    assert server.ranges == [None, "bytes=300000-", "bytes=300000-"]
    assert dest.read_bytes() == BLOB and not part.exists()


def test_retries_resume_within_one_call(tmp_path):
    dest = tmp_path / "blob.bin"
    with FileServer({"blob.bin": BLOB}, cut_at=200_000, cut_first=3) as server:
        download(server.url + "blob.bin", dest, len(BLOB), hashlib.md5(BLOB).hexdigest(), retries=1)
    assert server.ranges == [None, "bytes=200000-", "bytes=400000-", "bytes=600000-"]
    assert dest.read_bytes() == BLOB


def test_server_ignoring_range_restarts_cleanly(tmp_path):
    dest = tmp_path / "blob.bin"
    (tmp_path / "blob.bin.part").write_bytes(BLOB[:1000])
    with FileServer({"blob.bin": BLOB}, honour_range=False) as server:
        download(server.url + "blob.bin", dest, len(BLOB), hashlib.md5(BLOB).hexdigest())
    assert dest.read_bytes() == BLOB


def test_complete_part_file_is_verified_without_downloading(tmp_path):
    dest = tmp_path / "blob.bin"
    (tmp_path / "blob.bin.part").write_bytes(BLOB)
    download("http://127.0.0.1:9/unreachable", dest, len(BLOB), hashlib.md5(BLOB).hexdigest())
    assert dest.read_bytes() == BLOB


def test_checksum_mismatch_is_a_clear_error_and_keeps_the_evidence(tmp_path):
    dest = tmp_path / "blob.bin"
    with FileServer({"blob.bin": BLOB}) as server:
        with pytest.raises(InputError) as err:
            download(server.url + "blob.bin", dest, len(BLOB), "0" * 32)
    message = str(err.value)
    assert message.startswith(f"{dest}: checksum: expected 1,024,000 bytes with MD5 {'0' * 32}")
    assert f"found 1,024,000 bytes with MD5 {hashlib.md5(BLOB).hexdigest()}" in message and "blob.bin.corrupt" in message
    assert not dest.exists() and (tmp_path / "blob.bin.corrupt").read_bytes() == BLOB


def test_http_errors_are_not_retried_forever(tmp_path):
    with FileServer({}) as server:
        with pytest.raises(StageError, match=r"HTTP 404"):
            download(server.url + "missing.bin", tmp_path / "m.bin", 10, None)


def test_download_dataset_extracts_verifies_and_reruns_as_a_no_op(tmp_path):
    archive = msmarco_archive()
    catalog = {"collectionandqueries.tar.gz": remote("collectionandqueries.tar.gz", archive, archive=True)}
    out = tmp_path / "msmarco"
    with FileServer({"collectionandqueries.tar.gz": archive}, cut_at=len(archive) // 3, cut_first=1) as server:
        record = download_dataset("msmarco-passage", out, base_url=server.url, catalog=catalog, retries=2)
        assert len(server.ranges) == 2  # cut once, resumed once
        download_dataset("msmarco-passage", out, base_url=server.url, catalog=catalog)
        assert len(server.ranges) == 2  # nothing fetched again
    assert sorted(record["files"]["collectionandqueries.tar.gz"]["extracted"]) == sorted(
        ["collection.tsv", "queries.train.tsv", "qrels.train.tsv", "queries.dev.small.tsv", "qrels.dev.small.tsv", "queries.dev.tsv", "queries.eval.small.tsv"]
    )
    assert not (out / "collectionandqueries.tar.gz").exists()  # archive removed after extraction
    # the printed file map makes it a usable data set with MS MARCO's own names
    import yaml

    data = yaml.safe_load(file_map_yaml(out))["data"]
    source = resolve_dataset(data["dataset"], data["files"])
    assert source.queries("dev").name == "queries.dev.small.tsv" and source.qrels("dev").name == "qrels.dev.small.tsv"


def test_unknown_dataset_and_file_names(tmp_path):
    with pytest.raises(InputError, match=r"dataset: expected one of \['msmarco-passage'\], found 'msmarco-doc'"):
        download_dataset("msmarco-doc", tmp_path)
    with pytest.raises(InputError, match=r"--files: files: expected names from"):
        download_dataset("msmarco-passage", tmp_path, files=["triples.tar.gz"])


def test_damaged_archive_is_reported(tmp_path):
    bad = msmarco_archive()[:-200]
    bad_catalog = {"collectionandqueries.tar.gz": remote("collectionandqueries.tar.gz", bad, archive=True)}
    with FileServer({"collectionandqueries.tar.gz": bad}) as server:
        with pytest.raises(InputError, match=r"collectionandqueries.tar.gz: archive: expected a complete tar.gz archive"):
            download_dataset("msmarco-passage", tmp_path, base_url=server.url, catalog=bad_catalog)


def test_a_complete_response_shorter_than_expected_is_not_refetched_forever(tmp_path):
    """A server that sends a whole (but wrong, shorter) file and ignores Range: one request, then a checksum error."""
    dest = tmp_path / "blob.bin"
    with FileServer({"blob.bin": BLOB[:1000]}, honour_range=False) as server:
        with pytest.raises(InputError, match=r"checksum: expected 1,024,000 bytes .*found 1,000 bytes"):
            download(server.url + "blob.bin", dest, len(BLOB), hashlib.md5(BLOB).hexdigest())
    assert server.ranges == [None]
