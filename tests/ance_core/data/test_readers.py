import gzip

import numpy as np
import pytest

from ance_core.data.readers import (
    IdIndex,
    check_disjoint_queries,
    check_qrels,
    iter_qrels,
    load_collection,
    load_qrels,
    load_queries,
)
from ance_core.errors import InputError


def test_duplicate_numeric_ids_name_both_lines(tmp_path):
    path = tmp_path / "collection.tsv"
    path.write_text("1\ta\n2\tb\n\n1\tc\n")
    with pytest.raises(InputError, match=r"collection.tsv: line 4: expected unique ids, found id '1' again \(first at line 1\)"):
        load_collection(path)


def test_duplicate_string_ids(tmp_path):
    path = tmp_path / "queries.dev.tsv"
    path.write_text("q-a\tx\nq-b\ty\nq-a\tz\n")
    with pytest.raises(InputError, match=r"line 3: expected unique ids, found id 'q-a' again \(first at line 1\)"):
        load_queries(path)


def test_empty_files_are_errors(tmp_path):
    for loader, name in ((load_collection, "collection.tsv"), (load_queries, "queries.x.tsv"), (load_qrels, "qrels.x.tsv")):
        path = tmp_path / name
        path.write_text("\n\n")
        with pytest.raises(InputError, match=rf"{name}: file: expected at least one .*, found an empty file"):
            loader(path)


def test_empty_id_is_an_error(tmp_path):
    path = tmp_path / "collection.tsv"
    path.write_text("1\ta\n \tb\n")
    with pytest.raises(InputError, match=r"line 2: expected a passage id in column 1, found an empty id"):
        load_collection(path)


def test_qrels_grade_must_be_an_integer(tmp_path):
    path = tmp_path / "qrels.dev.tsv"
    path.write_text("1 0 7 1\n2 0 8 yes\n")
    with pytest.raises(InputError, match=r"qrels.dev.tsv: line 2: expected an integer relevance grade in column 4, found 'yes'"):
        load_qrels(path)
    path.write_text("1\t0\t7\t1\n2 Q0 8 0\n")
    assert list(iter_qrels(path)) == [(1, "1", "0", "7", 1), (2, "2", "Q0", "8", 0)]
    assert load_qrels(path).relevant("2") == []


def test_qrels_naming_unknown_ids_is_one_error_listing_both(tmp_path):
    (tmp_path / "c.tsv").write_text("10\ta\n11\tb\n")
    (tmp_path / "q.tsv").write_text("1\tq one\n")
    (tmp_path / "r.tsv").write_text("1 0 10 1\n2 0 99 1\n")
    with pytest.raises(InputError) as err:
        check_qrels(load_qrels(tmp_path / "r.tsv"), load_queries(tmp_path / "q.tsv"), load_collection(tmp_path / "c.tsv"))
    message = str(err.value)
    assert message.startswith(f"{tmp_path / 'r.tsv'}: 2 problems")
    assert "query ids: expected ids present in" in message and "['2']" in message
    assert "passage ids: expected ids present in" in message and "['99']" in message


def test_id_index_rows_numeric_and_mixed():
    numeric = IdIndex(["5", "3", "9"])
    assert numeric.rows(["9", "5", "4", "x", "03"]).tolist() == [2, 0, -1, -1, -1]
    mixed = IdIndex(["a", "3"])
    assert mixed.rows(["3", "a", "b"]).tolist() == [1, 0, -1]
    assert "a" in mixed and "b" not in mixed
    assert numeric.ids_of(np.array([2, 0])) == ["9", "5"]


def test_gzip_collection_loads(tmp_path):
    path = tmp_path / "collection.tsv.gz"
    path.write_bytes(gzip.compress(b"0\tzero\n1\tone two\n"))
    collection = load_collection(path)
    assert collection.texts == ["zero", "one two"] and len(collection) == 2


def test_evaluated_queries_that_are_training_queries_are_refused_naming_both_files(tmp_path):
    train, dev = tmp_path / "queries.train.tsv", tmp_path / "queries.dev.tsv"
    train.write_text("1\ta\n2\tb\n3\tc\n")
    dev.write_text("4\td\n3\tc again\n2\tb again\n")
    with pytest.raises(InputError) as err:
        check_disjoint_queries(train, dev)
    assert str(err.value) == f"{dev}: query ids: expected none of the training queries ({train}), found 2 of them, e.g. ['2', '3']"
    with pytest.raises(InputError, match=r"queries.train.tsv: file: expected queries other than the training queries .*, found the same file"):
        check_disjoint_queries(train, tmp_path / "." / "queries.train.tsv")
    dev.write_text("4\td\n5\te\n")
    check_disjoint_queries(train, dev)
