import bz2
import gzip
import lzma

import pytest

from ance_core.data.tsv import iter_lines, iter_rows
from ance_core.errors import InputError


def test_rows_plain_gzip_xz_bzip2_read_alike(tmp_path):
    content = b"1\thello world\n\n2\ttext\twith a tab\r\n"
    files = {
        "plain.tsv": content,
        "g.tsv.gz": gzip.compress(content),
        "x.tsv": lzma.compress(content),  # detected by content, not by name
        "b.tsv": bz2.compress(content),
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        rows = list(iter_rows(tmp_path / name, 2))
        assert rows == [(1, ["1", "hello world"]), (3, ["2", "text\twith a tab"])], name


def test_wrong_column_count_names_file_and_line(tmp_path):
    path = tmp_path / "qrels.dev.tsv"
    path.write_text("1 0 7 1\n2 0 8\n")
    with pytest.raises(InputError) as err:
        list(iter_rows(path, 4, whitespace=True))
    message = str(err.value)
    assert str(path) in message and "line 2" in message
    assert "expected 4 whitespace-separated columns, found 3" in message


def test_tab_rows_with_too_few_columns(tmp_path):
    path = tmp_path / "collection.tsv"
    path.write_text("1\tok\nno tab here\n")
    with pytest.raises(InputError, match=r"collection.tsv: line 2: expected 2 tab-separated columns, found 1"):
        list(iter_rows(path, 2))


def test_truncated_gzip_names_file_and_line(tmp_path):
    data = gzip.compress("".join(f"{i}\tpassage number {i}\n" for i in range(5000)).encode())
    path = tmp_path / "collection.tsv.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError) as err:
        list(iter_rows(path, 2))
    message = str(err.value)
    assert str(path) in message and "expected a complete gzip stream" in message
    assert "line " in message and "ends early" in message


def test_non_utf8_bytes_name_line_and_column(tmp_path):
    path = tmp_path / "queries.train.tsv"
    path.write_bytes(b"1\tfine\n2\tcaf\xe9\n")
    with pytest.raises(InputError, match=r"queries.train.tsv: line 2: expected UTF-8 text, found byte 0xe9 at column 6"):
        list(iter_lines(path))


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(InputError, match=r"nope.tsv: file: expected an existing file"):
        list(iter_lines(tmp_path / "nope.tsv"))
    with pytest.raises(InputError, match=r"expected an existing file"):
        list(iter_lines(tmp_path))


def test_lz4_is_reported_not_misread(tmp_path):
    path = tmp_path / "Translation-en"
    path.write_bytes(b"\x04\x22\x4d\x18" + b"\x00" * 20)
    with pytest.raises(InputError, match=r"found lz4"):
        list(iter_lines(path))
