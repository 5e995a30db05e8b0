"""`ance prep`: the prep job's stage. Downloads a missing data set (from a local HTTP server here), cuts the
subset and tokenizes what the runs read; a missing data set with nothing to download is a clear error."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile

from ance_core.cli import main
from ance_core.data import msmarco
from test_data import served, squash  # noqa: F401 - `served` is a fixture

FILES = {
    "collection.tsv": "".join(f"{p}\tpassage number {p} about topic {p % 7}\n" for p in range(40)),
    "queries.train.tsv": "".join(f"t{q}\twhat about topic {q}\n" for q in range(20)),
    "qrels.train.tsv": "".join(f"t{q} 0 {q} 1\n" for q in range(20)),
    "queries.dev.small.tsv": "d1\ttopic three\n",
    "qrels.dev.small.tsv": "d1 0 3 1\n",
}


def archive() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, text in FILES.items():
            info = tarfile.TarInfo(name)
            info.size = len(text.encode())
            tar.addfile(info, io.BytesIO(text.encode()))
    return buffer.getvalue()


def experiment(tmp_path, tiny_bert_dir, **data) -> str:
    path = tmp_path / "exp.yaml"
    dataset = data.pop("dataset", str(tmp_path / "msmarco"))
    lines = ["name: prep-test", "data:", f"  dataset: {dataset}",
             "  files: {queries.dev: queries.dev.small.tsv, qrels.dev: qrels.dev.small.tsv}",
             "  subset: {fraction: 0.5, seed: 7, keep_positives_of: [dev]}", *(f"  {k}: {v}" for k, v in data.items()),
             f"model: {{name: {tiny_bert_dir}, pooling: mean, query_max_len: 8, passage_max_len: 12}}",
             f"outputs: {{root: {tmp_path / 'runs'}}}"]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_prep_downloads_the_missing_data_set_cuts_the_subset_and_tokenizes(tmp_path, tiny_bert_dir, served, capsys,
                                                                             monkeypatch):
    www, url = served
    data = archive()
    (www / "collectionandqueries.tar.gz").write_bytes(data)
    fake = msmarco.RemoteFile("collectionandqueries.tar.gz", len(data), hashlib.md5(data).hexdigest(), archive=True)
    monkeypatch.setattr(msmarco, "FILES", {fake.name: fake})
    monkeypatch.setattr(msmarco, "BASE_URL", url)
    config = experiment(tmp_path, tiny_bert_dir, download="msmarco-passage")

    assert main(["prep", "--config", config]) == 0
    printed = squash(capsys.readouterr().out)
    assert (tmp_path / "msmarco" / "collection.tsv").read_text() == FILES["collection.tsv"]
    assert len(list((tmp_path / "runs" / "_cache" / "subsets").glob("*/subset.json"))) == 1
    tokens = sorted((tmp_path / "runs" / "_cache" / "tokens").glob("*/COMPLETE"))
    assert len(tokens) == 3  # collection, train and dev queries
    assert squash("rows tokenized at 12") in printed and squash("rows tokenized at 8") in printed
    assert main(["prep", "--config", config]) == 0  # a second time: everything is found
    assert sorted((tmp_path / "runs" / "_cache" / "tokens").glob("*/COMPLETE")) == tokens


def test_prep_names_a_missing_data_set_with_nothing_to_download(tmp_path, tiny_bert_dir, capsys):
    assert main(["prep", "--config", experiment(tmp_path, tiny_bert_dir)]) == 2
    err = squash(capsys.readouterr().err)
    assert squash(f"data.dataset: expected an existing data directory, or data.download naming what to download "
                  f"into it, found {tmp_path}/msmarco does not exist") in err


def test_prep_downloads_from_the_mirror_the_environment_names_checked_against_its_catalog(
        tmp_path, tiny_bert_dir, served, capsys, monkeypatch):
    www, url = served
    data = archive()
    (www / "collectionandqueries.tar.gz").write_bytes(data)
    catalog = tmp_path / "catalog.json"
    entry = {"size": len(data), "md5": hashlib.md5(data).hexdigest(), "archive": True}
    catalog.write_text(json.dumps({"files": {"collectionandqueries.tar.gz": entry}}))
    monkeypatch.setenv(msmarco.MIRROR_ENV, url)
    monkeypatch.setenv(msmarco.CATALOG_ENV, str(catalog))
    config = experiment(tmp_path, tiny_bert_dir, download="msmarco-passage")

    assert main(["prep", "--config", config]) == 0
    assert (tmp_path / "msmarco" / "collection.tsv").read_text() == FILES["collection.tsv"]
    record = json.loads((tmp_path / "msmarco" / "download.json").read_text())
    assert record["files"]["collectionandqueries.tar.gz"] == {
        "url": url + "collectionandqueries.tar.gz", "size": entry["size"], "md5": entry["md5"], "extracted": list(FILES)}

    entry["md5"] = "0" * 32  # the catalog disagrees with the bytes: refused, the bytes kept aside
    catalog.write_text(json.dumps({"files": {"collectionandqueries.tar.gz": entry}}))
    config = experiment(tmp_path, tiny_bert_dir, download="msmarco-passage", dataset=str(tmp_path / "again"))
    assert main(["prep", "--config", config]) == 2
    assert "checksum" in capsys.readouterr().err
    assert (tmp_path / "again" / "collectionandqueries.tar.gz.corrupt").is_file()


def test_a_mirror_without_its_catalog_is_named(tmp_path, tiny_bert_dir, capsys, monkeypatch):
    monkeypatch.setenv(msmarco.MIRROR_ENV, "http://127.0.0.1:9/")
    monkeypatch.delenv(msmarco.CATALOG_ENV, raising=False)
    assert main(["prep", "--config", experiment(tmp_path, tiny_bert_dir, download="msmarco-passage")]) == 2
    assert squash(f"{msmarco.CATALOG_ENV}: expected set together with {msmarco.MIRROR_ENV}") in squash(capsys.readouterr().err)
