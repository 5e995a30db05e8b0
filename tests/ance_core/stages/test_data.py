"""`ance data subset|debian|download` as a user runs them: exit codes, summaries, clear errors."""

import functools
import hashlib
import io
import json
import tarfile
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ance_core.cli import main
from ance_core.data import check_qrels, load_collection, load_qrels, load_queries, resolve_dataset
from ance_core.data import msmarco

REPO = Path(__file__).resolve().parents[3]
SAMPLE = REPO / "tests" / "ance_core" / "data" / "fixtures" / "Translation-en.sample"


def squash(text: str) -> str:
    """Rich wraps log lines (even inside long paths): compare without any whitespace."""
    return "".join(text.split())


def small_dataset(root: Path) -> Path:
    root.mkdir(parents=True)
    (root / "collection.tsv").write_text("".join(f"{p}\tpassage {p}\n" for p in range(200)))
    (root / "queries.train.tsv").write_text("".join(f"t{q}\tquestion {q}\n" for q in range(100)))
    (root / "qrels.train.tsv").write_text("".join(f"t{q} 0 {q * 2} 1\n" for q in range(100)))
    return root


def test_subset_command_prints_counts_and_writes_the_subset(tmp_path, capsys):
    data = small_dataset(tmp_path / "data")
    assert main(["data", "subset", "--data", str(data), "--fraction", "0.25", "--seed", "1", "--out", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    assert "passages" in printed and "200" in printed and "50" in printed and str(tmp_path / "out") in printed
    summary = json.loads((tmp_path / "out" / "subset.json").read_text())
    assert summary["passages"]["kept"] == 50 and summary["seed"] == 1
    # running it again into the same folder replaces the earlier subset
    assert main(["data", "subset", "--data", str(data), "--fraction", "0.5", "--out", str(tmp_path / "out")]) == 0
    assert json.loads((tmp_path / "out" / "subset.json").read_text())["passages"]["kept"] == 100


def test_subset_command_refuses_to_replace_other_folders(tmp_path, capsys):
    data = small_dataset(tmp_path / "data")
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    assert main(["data", "subset", "--data", str(data), "--fraction", "0.5", "--out", str(precious)]) == 2
    assert squash("expected a new or empty directory, or an earlier subset") in squash(capsys.readouterr().err)
    assert (precious / "thesis.tex").read_text() == "years of work"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--fraction", "1.5"], "--fraction (data.subset.fraction): expected a number in (0, 1], found 1.5"),
        (["--fraction", "0.5", "--keep-positives-of", "dev"], "expected a split with queries and qrels: ['train'], found 'dev'"),
        (["--fraction", "0.5", "--file", "queries.train"], "--file: expected ROLE=NAME"),
    ],
)
def test_subset_command_bad_options(tmp_path, capsys, extra, message):
    data = small_dataset(tmp_path / "data")
    assert main(["data", "subset", "--data", str(data), "--out", str(tmp_path / "out"), *extra]) == 2
    assert squash(message) in squash(capsys.readouterr().err)


def test_subset_command_missing_data_dir(tmp_path, capsys):
    assert main(["data", "subset", "--data", str(tmp_path / "nope"), "--fraction", "0.5", "--out", str(tmp_path / "o")]) == 2
    assert squash("--data: data.dataset: expected an existing data directory") in squash(capsys.readouterr().err)


def test_the_done_when_command_on_the_full_corpus(tmp_path, capsys):
    """`ance data subset --data builtin:debian --fraction 0.1 --seed 7 --out X`."""
    outs = [tmp_path / "X", tmp_path / "Y"]
    for out in outs:
        assert main(["data", "subset", "--data", "builtin:debian", "--fraction", "0.1", "--seed", "7", "--out", str(out)]) == 0
    subset = resolve_dataset(str(outs[0]))
    collection = load_collection(subset.collection)
    assert abs(len(collection) - 6_022.9) <= 60.229  # within 1% of 10% of 60,229
    assert subset.splits() == ["dev", "train"]
    for split in subset.splits():  # every kept query's positive is in the kept collection
        check_qrels(load_qrels(subset.qrels(split)), load_queries(subset.queries(split)), collection)
    for name in sorted(p.name for p in outs[0].iterdir()):
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name


def test_debian_command(tmp_path, capsys):
    assert main(["data", "debian", "--translation", str(SAMPLE), "--out", str(tmp_path / "deb")]) == 0
    printed = capsys.readouterr().out
    assert "passages" in printed and "10" in printed and "held-out queries not written" in printed
    source = resolve_dataset(str(tmp_path / "deb"))
    assert source.splits() == ["dev", "train"]
    check_qrels(load_qrels(source.qrels("dev")), load_queries(source.queries("dev")), load_collection(source.collection))


def test_debian_command_bad_file(tmp_path, capsys):
    bad = tmp_path / "Translation-en"
    bad.write_text("Package: a\nthis is not deb822\n")
    assert main(["data", "debian", "--translation", str(bad), "--out", str(tmp_path / "deb")]) == 2
    assert squash(f"{bad}: line 2: expected a 'Field: value' line") in squash(capsys.readouterr().err)


@pytest.fixture
def served(tmp_path):
    """A plain local HTTP server over tmp_path/www (no Range support needed here)."""
    www = tmp_path / "www"
    www.mkdir()
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(www))
    handler.log_message = lambda *args: None
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield www, f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


def fake_archive() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, text in {"collection.tsv": "1\tp\n", "queries.dev.small.tsv": "5\tq\n", "qrels.dev.small.tsv": "5 0 1 1\n"}.items():
            info = tarfile.TarInfo(name)
            info.size = len(text)
            tar.addfile(info, io.BytesIO(text.encode()))
    return buffer.getvalue()


def test_download_command_rejects_a_file_that_is_not_the_official_one(tmp_path, served, capsys):
    www, url = served
    (www / "collectionandqueries.tar.gz").write_bytes(fake_archive())
    out = tmp_path / "msmarco"
    assert main(["data", "download", "msmarco-passage", "--out", str(out), "--base-url", url, "--retries", "0"]) == 2
    err = squash(capsys.readouterr().err)
    assert squash("checksum: expected 1,057,717,952 bytes with MD5 31644046b18952c1386cd4564ba2ae69") in err
    assert (out / "collectionandqueries.tar.gz.corrupt").is_file() and not (out / "collection.tsv").exists()


def test_download_command_extracts_and_prints_the_file_map(tmp_path, served, capsys, monkeypatch):
    www, url = served
    archive = fake_archive()
    (www / "collectionandqueries.tar.gz").write_bytes(archive)
    fake = msmarco.RemoteFile("collectionandqueries.tar.gz", len(archive), hashlib.md5(archive).hexdigest(), archive=True)
    monkeypatch.setattr(msmarco, "FILES", {fake.name: fake})
    out = tmp_path / "msmarco"
    assert main(["data", "download", "msmarco-passage", "--out", str(out), "--base-url", url]) == 0
    printed = capsys.readouterr().out
    assert "queries.dev: queries.dev.small.tsv" in printed and "qrels.dev: qrels.dev.small.tsv" in printed
    assert f"dataset: {out.resolve()}" in printed
    assert (out / "collection.tsv").read_text() == "1\tp\n"
