import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from ance_core.config import Experiment
from ance_core.data import check_qrels, load_collection, load_qrels, load_queries, resolve_dataset
from ance_core.data import subset as subset_module
from ance_core.data.layout import BUILTIN_DIR
from ance_core.data.subset import choose_rows, id_key, make_subset, materialize_subset, subset_source
from ance_core.errors import InputError

# ---------------------------------------------------------------- a synthetic data set


def _write(path: Path, lines: list[str], compress: bool) -> None:
    data = "".join(line + "\n" for line in lines).encode()
    if compress:
        path.with_name(path.name + ".gz").write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)


def make_dataset(root: Path, n: int = 1000, queries: dict[str, int] | None = None, compress: bool = False, prefix: str = "") -> Path:
    """n passages; per split, query i's positive is passage (i * 7 + offset) % n."""
    root.mkdir(parents=True, exist_ok=True)
    _write(root / "collection.tsv", [f"{prefix}{p}\tpassage {p} text" for p in range(n)], compress)
    for offset, (split, count) in enumerate((queries or {"train": 400, "dev": 50}).items()):
        qids = [f"{split}{q}" for q in range(count)]
        _write(root / f"queries.{split}.tsv", [f"{qid}\tquestion {qid}" for qid in qids], compress)
        _write(root / f"qrels.{split}.tsv", [f"{qid}\t0\t{prefix}{(q * 7 + offset) % n}\t1" for q, qid in enumerate(qids)], compress)
    return root


def _read(path: Path) -> str:
    data = path.read_bytes()
    return (gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data).decode()


def assert_consistent(out: Path) -> dict:
    """Every kept query has its positive in the kept collection; qrels and queries agree."""
    source = resolve_dataset(str(out))
    collection = load_collection(source.collection)
    for split in source.splits():
        queries, qrels = load_queries(source.queries(split)), load_qrels(source.qrels(split))
        check_qrels(qrels, queries, collection)
        assert set(queries.ids.ids) == set(qrels.by_query)
        assert all(qrels.relevant(q) for q in queries.ids.ids)
    return json.loads((out / "subset.json").read_text())


# ---------------------------------------------------------------- the sampling rule


def test_passage_count_is_round_f_n_and_positives_survive(tmp_path):
    data = make_dataset(tmp_path / "data")
    summary = make_subset(resolve_dataset(str(data)), tmp_path / "out", 0.1, seed=3)
    assert summary["passages"] == {"source": 1000, "kept": 100, "forced": 0}
    assert len(load_collection(tmp_path / "out" / "collection.tsv")) == 100
    assert summary == assert_consistent(tmp_path / "out")
    kept = set(load_collection(tmp_path / "out" / "collection.tsv").ids.ids)
    expected_train = sum(str((q * 7) % 1000) in kept for q in range(400))  # the rule, recomputed independently
    assert summary["splits"]["train"] == {"queries": 400, "queries_kept": expected_train, "qrels_kept": expected_train}


def test_same_seed_is_byte_identical_other_seed_differs(tmp_path):
    data = make_dataset(tmp_path / "data", compress=True)
    source = resolve_dataset(str(data))
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        make_subset(source, tmp_path / name, 0.3, seed)
    files = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert "collection.tsv.gz" in files and "subset.json" in files
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert (tmp_path / "a" / "collection.tsv.gz").read_bytes() != (tmp_path / "c" / "collection.tsv.gz").read_bytes()


def test_rows_are_copied_verbatim_in_source_order(tmp_path):
    data = make_dataset(tmp_path / "data", n=50)
    make_subset(resolve_dataset(str(data)), tmp_path / "out", 0.5, 1)
    source_lines = _read(data / "collection.tsv").splitlines()
    kept = _read(tmp_path / "out" / "collection.tsv").splitlines()
    assert len(kept) == 25 and set(kept) <= set(source_lines)
    assert kept == [line for line in source_lines if line in set(kept)]


def test_keep_positives_of_counts_within_the_budget(tmp_path):
    data = make_dataset(tmp_path / "data")
    summary = make_subset(resolve_dataset(str(data)), tmp_path / "out", 0.1, 3, keep_positives_of=["dev"])
    assert summary["passages"]["kept"] == 100 and summary["passages"]["forced"] == 50
    assert summary["splits"]["dev"]["queries_kept"] == 50  # every dev query survives
    assert_consistent(tmp_path / "out")


def test_keep_positives_beyond_the_budget_is_an_error(tmp_path):
    data = make_dataset(tmp_path / "data", n=100, queries={"train": 10, "dev": 40})
    with pytest.raises(InputError, match=r"--keep-positives-of .*expected at most the budget of 10 passages .*found 40 positives"):
        make_subset(resolve_dataset(str(data)), tmp_path / "out", 0.1, 3, keep_positives_of=["dev"])
    with pytest.raises(InputError, match=r"expected a split with queries and qrels: \['dev', 'train'\], found 'test'"):
        make_subset(resolve_dataset(str(data)), tmp_path / "out", 0.1, 3, keep_positives_of=["test"])
    assert not (tmp_path / "out").exists()


def test_choose_rows_keeps_forced_rows_and_rejects_bad_fractions():
    forced = np.zeros(1000, dtype=bool)
    forced[[1, 500, 999]] = True
    keep = choose_rows(1000, 0.25, 9, forced)
    assert keep.sum() == 250 and keep[[1, 500, 999]].all()
    assert (choose_rows(1000, 0.25, 9, forced) == keep).all()
    for bad in (0.0, -0.1, 1.5):
        with pytest.raises(InputError, match=r"--fraction"):
            choose_rows(1000, bad, 0)
    with pytest.raises(InputError, match=r"at least one of 3 passages"):
        choose_rows(3, 0.1, 0)
    assert choose_rows(7, 1.0, 0).all()


def test_multiple_positives_and_grade_zero_rows(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "collection.tsv").write_text("".join(f"{p}\tp{p}\n" for p in range(10)))
    (data / "queries.train.tsv").write_text("a\tqa\nb\tqb\n")
    (data / "qrels.train.tsv").write_text("a 0 1 1\na 0 2 1\na 0 3 0\nb 0 4 0\n")
    # fraction 1.0 keeps all: query a keeps its 3 rows, b (no relevant passage) is dropped
    summary = make_subset(resolve_dataset(str(data)), tmp_path / "all", 1.0, 0)
    assert summary["splits"]["train"] == {"queries": 2, "queries_kept": 1, "qrels_kept": 3}
    assert _read(tmp_path / "all" / "qrels.train.tsv") == "a\t0\t1\t1\na\t0\t2\t1\na\t0\t3\t0\n"
    # keeping passage 2 only (forced via a second split) keeps a with just that row
    (data / "queries.pin.tsv").write_text("z\tqz\n")
    (data / "qrels.pin.tsv").write_text("z 0 2 1\n")
    summary = make_subset(resolve_dataset(str(data)), tmp_path / "one", 0.1, 0, keep_positives_of=["pin"])
    assert summary["passages"]["kept"] == 1
    assert _read(tmp_path / "one" / "qrels.train.tsv") == "a\t0\t2\t1\n"


def test_string_ids_and_mapped_file_names(tmp_path):
    data = make_dataset(tmp_path / "data", n=200, queries={"train": 80}, prefix="doc-")
    (data / "queries.train.tsv").rename(data / "queries.train.odd.tsv")
    source = resolve_dataset(str(data), {"queries.train": "queries.train.odd.tsv"})
    summary = make_subset(source, tmp_path / "out", 0.5, 2)
    assert (tmp_path / "out" / "queries.train.tsv").is_file()  # standard names in the subset
    assert summary["passages"]["kept"] == 100
    assert_consistent(tmp_path / "out")


def test_split_without_qrels_is_skipped_and_reported(tmp_path):
    data = make_dataset(tmp_path / "data", n=100, queries={"train": 20})
    (data / "queries.eval.tsv").write_text("e1\tan eval question\n")
    summary = make_subset(resolve_dataset(str(data)), tmp_path / "out", 0.5, 2)
    assert summary["skipped_splits"] == {"eval": "no qrels"}
    assert not (tmp_path / "out" / "queries.eval.tsv").exists()


def test_id_keys_never_collide_between_numbers_and_strings():
    assert id_key("123") == 123 and id_key("0") == 0
    for ident in ("abc", "0123", "-5", "1e3", "١٢٣", "9" * 25):
        assert id_key(ident) < 0  # hashed ids live below zero
    assert id_key("abc") == id_key("abc") != id_key("abd")


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("qrels", "message"),
    [
        ("train0 0 0 1\ntrain1 0 1000 1\n", r"qrels.train.tsv: line 2: expected passage ids present in .*collection.tsv, found unknown id '1000'"),
        ("train0 0 0 1\nghost 0 1 1\n", r"qrels.train.tsv: line 2: expected query ids present in .*queries.train.tsv, found unknown id 'ghost'"),
        ("", r"qrels.train.tsv: file: expected at least one 'qid 0 pid grade' row, found an empty file"),
    ],
)
def test_qrels_with_unknown_ids_or_empty(tmp_path, qrels, message):
    data = make_dataset(tmp_path / "data", queries={"train": 5})
    (data / "qrels.train.tsv").write_text(qrels)
    with pytest.raises(InputError, match=message):
        make_subset(resolve_dataset(str(data)), tmp_path / "out", 0.5, 0)


def test_duplicate_passage_ids_name_both_lines(tmp_path):
    data = make_dataset(tmp_path / "data", n=20, queries={"train": 3})
    with open(data / "collection.tsv", "a") as fh:
        fh.write("7\ta second passage 7\n")
    with pytest.raises(InputError, match=r"collection.tsv: line 21: expected unique ids, found id '7' again \(first at line 8\)"):
        make_subset(resolve_dataset(str(data)), tmp_path / "out", 0.5, 0)


# ---------------------------------------------------------------- the cache the stages use


def test_materialize_builds_once_and_keys_by_content_and_seed(tmp_path, monkeypatch):
    data = make_dataset(tmp_path / "data", n=300)
    source = resolve_dataset(str(data))
    cache = tmp_path / "cache"
    first = materialize_subset(source, 0.2, 1, [], cache)
    assert first.root.parent == cache / "subsets" and (first.root / "COMPLETE").is_file()
    assert len(load_collection(first.collection)) == 60

    def no_rebuild(*args, **kwargs):
        raise AssertionError("a complete cached subset was rebuilt")

    monkeypatch.setattr(subset_module, "make_subset", no_rebuild)
    assert materialize_subset(source, 0.2, 1, [], cache).root == first.root
    monkeypatch.undo()
    other_seed = materialize_subset(source, 0.2, 2, [], cache)
    assert other_seed.root != first.root
    with open(data / "collection.tsv", "a") as fh:  # new content, new key
        fh.write("300\tone more passage\n")
    assert materialize_subset(source, 0.2, 1, [], cache).root not in (first.root, other_seed.root)


def test_subset_source_of_an_experiment(tmp_path):
    data = make_dataset(tmp_path / "data", n=200)
    experiment = Experiment.model_validate(
        {
            "name": "t",
            "data": {"dataset": str(data), "subset": {"fraction": 0.5, "seed": 4, "keep_positives_of": ["dev"]}},
            "outputs": {"root": str(tmp_path / "runs")},
        }
    )
    source = subset_source(experiment)
    assert source.root.is_relative_to(tmp_path / "runs" / "_cache" / "subsets")
    summary = json.loads((source.root / "subset.json").read_text())
    assert summary["passages"]["kept"] == 100 and summary["keep_positives_of"] == ["dev"]
    assert summary["splits"]["dev"]["queries_kept"] == 50


# ---------------------------------------------------------------- the full Debian corpus (builtin:debian)


@pytest.fixture(scope="module")
def debian_10pct(debian_corpus_dir, tmp_path_factory) -> Path:
    """builtin:debian-10pct's recipe: 10% of the passages, seed 7, every dev positive kept (the whole dev set)."""
    out = tmp_path_factory.mktemp("debian") / "subset"
    make_subset(resolve_dataset(str(debian_corpus_dir)), out, 0.1, 7, ("dev",))
    return out


def test_debian_subset_keeps_positives_and_a_tenth_of_passages(debian_10pct):
    summary = assert_consistent(debian_10pct)
    kept, total = summary["passages"]["kept"], summary["passages"]["source"]
    assert total == 60_229
    assert abs(kept - 0.1 * total) <= 0.01 * 0.1 * total
    assert len(load_collection(debian_10pct / "collection.tsv.gz")) == kept
    assert summary["splits"]["dev"]["queries_kept"] == summary["splits"]["dev"]["queries"] == 2330


def test_debian_subset_is_byte_identical_for_the_same_seed(debian_10pct, debian_corpus_dir, tmp_path):
    make_subset(resolve_dataset(str(debian_corpus_dir)), tmp_path / "again", 0.1, 7, ("dev",))
    names = sorted(p.name for p in debian_10pct.iterdir())
    assert names == sorted(p.name for p in (tmp_path / "again").iterdir())
    for name in names:
        assert (debian_10pct / name).read_bytes() == (tmp_path / "again" / name).read_bytes(), name


def test_shipped_builtin_equals_what_ance_data_subset_makes_now(debian_10pct):
    shipped = BUILTIN_DIR / "debian-10pct"
    data_files = sorted(p.name for p in debian_10pct.iterdir() if p.name != "COMPLETE")
    assert data_files == sorted(p.name for p in shipped.iterdir() if p.name != "COMPLETE")
    for name in data_files:
        # Compare contents, not gzip bytes: another zlib build may compress the same rows differently.
        assert _read(shipped / name) == _read(debian_10pct / name), f"{name} drifted: rebuild it with `ance data subset`"
