import gzip

import pytest

from ance_core.data.gz import gzip_bytes, text_writer


def _write(path, rows):
    with text_writer(path) as fh:
        fh.writelines(rows)


def test_gzip_output_is_byte_identical_across_runs_and_names(tmp_path):
    rows = [f"{i}\tpassage {i} ünïcode\n" for i in range(500)]
    _write(tmp_path / "a.tsv.gz", rows)
    _write(tmp_path / "b.tsv.gz", rows)
    first, second = (tmp_path / "a.tsv.gz").read_bytes(), (tmp_path / "b.tsv.gz").read_bytes()
    assert first == second  # neither the time nor the file name reaches the bytes
    assert first[4:8] == b"\x00\x00\x00\x00"  # MTIME field
    assert first[3] & 0x08 == 0  # FNAME flag unset
    assert gzip.decompress(first).decode() == "".join(rows)


def test_plain_output_and_explicit_compression(tmp_path):
    _write(tmp_path / "plain.tsv", ["1\tx\n"])
    assert (tmp_path / "plain.tsv").read_bytes() == b"1\tx\n"
    with text_writer(tmp_path / "forced.tsv", compress=True) as fh:
        fh.write("1\tx\n")
    assert gzip.decompress((tmp_path / "forced.tsv").read_bytes()) == b"1\tx\n"


def test_no_file_appears_when_writing_fails(tmp_path):
    with pytest.raises(RuntimeError):
        with text_writer(tmp_path / "x.tsv.gz") as fh:
            fh.write("1\tx\n")
            raise RuntimeError("stop")
    assert list(tmp_path.iterdir()) == []


def test_gzip_bytes_is_deterministic():
    assert gzip_bytes(b"abc" * 100) == gzip_bytes(b"abc" * 100)
    assert gzip.decompress(gzip_bytes(b"abc")) == b"abc"
