"""Fuzz the readers: any mutated input either loads or raises an InputError that names the file.

Never another exception type, never a traceback for the user: the CLI turns
InputError into one message and exit code 2.
"""

import gzip
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ance_core.data import check_qrels, load_collection, load_qrels, load_queries
from ance_core.data.tsv import iter_rows
from ance_core.errors import InputError

VALID = {
    "collection.tsv": b"0\tfirst passage\n1\tsecond passage text\n2\tthird one\n",
    "queries.dev.tsv": b"10\twhat is it\n11\twhere is it\n",
    "qrels.dev.tsv": b"10\t0\t1\t1\n11 0 2 1\n",
}
LOADERS = {"collection.tsv": load_collection, "queries.dev.tsv": load_queries, "qrels.dev.tsv": load_qrels}
# Bytes that matter to these formats: separators, line ends, NUL, invalid UTF-8, a gzip magic.
INTERESTING = [b"\t", b"\n", b"\r", b" ", b"\x00", b"\xff", b"\xe9", b"\xc3", b"\x1f\x8b", b"0", b"9", b"x", b"\xe2\x80\xa8"]

mutation = st.tuples(
    st.sampled_from(["insert", "delete", "replace", "truncate"]),
    st.floats(0, 1),
    st.one_of(st.sampled_from(INTERESTING), st.binary(min_size=1, max_size=4)),
)


def mutate(data: bytes, edits) -> bytes:
    for kind, where, chunk in edits:
        at = int(where * len(data))
        if kind == "insert":
            data = data[:at] + chunk + data[at:]
        elif kind == "delete":
            data = data[:at] + data[at + len(chunk):]
        elif kind == "replace":
            data = data[:at] + chunk + data[at + len(chunk):]
        else:
            data = data[:at]
    return data


def encode(data: bytes, how: str, cut: float) -> bytes:
    if how == "plain":
        return data
    packed = gzip.compress(data)
    return packed if how == "gzip" else packed[: int(cut * len(packed))]


FILE_CASES = {
    "name": st.sampled_from(sorted(VALID)),
    "edits": st.lists(mutation, max_size=6),
    "how": st.sampled_from(["plain", "gzip", "gzip-truncated"]),
    "cut": st.floats(0, 1),
}


def mutated_files(name, edits, how, cut):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(encode(mutate(VALID[name], edits), how, cut))
        try:
            LOADERS[name](path)
        except InputError as exc:
            assert str(path) in str(exc)


# A quick pass in every test run, a long one with `make test-slow`.
_quiet = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}
test_mutated_files_load_or_raise_input_error_naming_the_file = settings(max_examples=150, **_quiet)(given(**FILE_CASES)(mutated_files))
test_mutated_files_long = pytest.mark.slow(settings(max_examples=5000, **_quiet)(given(**FILE_CASES)(mutated_files)))


@settings(max_examples=100, deadline=None)
@given(data=st.binary(max_size=300), columns=st.integers(1, 5), whitespace=st.booleans())
def test_arbitrary_bytes_through_iter_rows(data, columns, whitespace):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "any.tsv"
        path.write_bytes(data)
        try:
            for _lineno, fields in iter_rows(path, columns, whitespace=whitespace):
                assert len(fields) == columns
        except InputError as exc:
            assert str(path) in str(exc)


@settings(max_examples=60, deadline=None)
@given(edits=st.lists(mutation, max_size=4))
def test_mutated_qrels_against_their_collection(edits):
    """check_qrels on a damaged qrels file: unknown ids become one InputError naming the qrels file."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name, data in VALID.items():
            (root / name).write_bytes(data)
        (root / "qrels.dev.tsv").write_bytes(mutate(VALID["qrels.dev.tsv"], edits))
        try:
            check_qrels(load_qrels(root / "qrels.dev.tsv"), load_queries(root / "queries.dev.tsv"), load_collection(root / "collection.tsv"))
        except InputError as exc:
            assert str(root / "qrels.dev.tsv") in str(exc)


@pytest.mark.parametrize("name", sorted(VALID))
def test_the_unmutated_samples_load(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(VALID[name])
    assert len(LOADERS[name](path)) >= 2
