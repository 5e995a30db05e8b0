import pytest

from ance_core.data import check_qrels, load_collection, load_qrels, load_queries
from ance_core.data.layout import BUILTIN_DIR, DataSource, builtin_names, resolve_dataset
from ance_core.errors import InputError
from ance_core.io.atomic import is_complete


def test_builtin_debian_10pct_loads_from_the_package():
    source = resolve_dataset("builtin:debian-10pct")
    assert source.root == BUILTIN_DIR / "debian-10pct"
    assert source.splits() == ["dev", "train"]
    collection = load_collection(source.collection)
    for split in source.splits():
        queries, qrels = load_queries(source.queries(split)), load_qrels(source.qrels(split))
        check_qrels(qrels, queries, collection)  # every positive is in the embedded collection
        assert len(queries) == len(qrels) > 0
    assert 5_900 <= len(collection) <= 6_100  # ~10% of 60,229
    assert "debian-10pct" in builtin_names()


def test_builtin_debian_is_the_full_corpus_inside_the_package():
    source = resolve_dataset("builtin:debian")
    assert source.root == BUILTIN_DIR / "debian"
    assert source.splits() == ["dev", "train"]
    assert len(load_collection(source.collection)) == 60_229
    assert [len(load_queries(source.queries(split))) for split in source.splits()] == [2_330, 53_662]


@pytest.mark.parametrize("name", ["debian", "debian-10pct"])
def test_builtin_files_match_their_checksums(name):
    assert is_complete(BUILTIN_DIR / name, verify=True), f"{BUILTIN_DIR / name}: files differ from its COMPLETE marker"


def test_missing_data_dir_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match=r"exp.yaml: data.dataset: expected an existing data directory \(MS MARCO layout\), found .*nope"):
        resolve_dataset(str(tmp_path / "nope"), source="exp.yaml")


def test_unknown_builtin_lists_the_known_ones():
    with pytest.raises(InputError, match=r"data.dataset: expected one of builtin:debian, builtin:debian-10pct, found 'builtin:nope'"):
        resolve_dataset("builtin:nope")


def test_missing_file_suggests_a_file_map(tmp_path):
    (tmp_path / "collection.tsv").write_text("1\ta\n")
    (tmp_path / "queries.dev.small.tsv").write_text("1\tq\n")
    source = resolve_dataset(str(tmp_path))
    with pytest.raises(InputError, match=r"data.files.queries.dev: expected an existing file queries.dev.tsv\[.gz\] \(map it with data.files\['queries.dev'\]\)"):
        source.queries("dev")
    mapped = DataSource(tmp_path, {"queries.dev": "queries.dev.small.tsv"})
    assert mapped.queries("dev").name == "queries.dev.small.tsv"
    assert mapped.optional("qrels.dev") is None and mapped.optional("collection").name == "collection.tsv"
