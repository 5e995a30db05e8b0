import gzip
import hashlib
import lzma
import os
import shutil
from pathlib import Path

import pytest

from ance_core.data.debian import build_corpus, iter_records, passage_text, split_of, write_corpus
from ance_core.errors import InputError

SAMPLE = Path(__file__).parent / "fixtures" / "Translation-en.sample"

APPLE = "The apple library parses fruit descriptions into structured records for orchards."
KIWI = "Kiwi tracks fuzzy brown fruit from the vine to the breakfast table."
ZUCCHINI = "Zucchini helps you plan a summer garden full of squash. It tracks watering and harvest dates. Verbatim line with spaces."


def bucket_split(package: str) -> str:
    """The split rule, written out independently of the module: sha256 mod 100, 0-3 dev, 4-7 hidden."""
    bucket = int.from_bytes(hashlib.sha256(package.encode()).digest(), "big") % 100
    return "dev" if bucket < 4 else "test" if bucket < 8 else "train"


def test_records_and_passage_cleaning():
    records = list(iter_records(SAMPLE))
    assert len(records) == 13
    assert [r.package for r in records[:3]] == ["zucchini", "apple", "apple-dev"]
    assert records[0].passage == ZUCCHINI and records[0].line == 1
    assert passage_text([" a", ".", "  b  c", " ."]) == "a b c"


def test_corpus_follows_the_readme_rules():
    corpus = build_corpus(iter_records(SAMPLE))
    assert corpus.records == 13
    # banana's passage has 4 words (< 8): no passage, no query; apple/apple-dev and the kiwis share one passage
    assert corpus.passages == [
        APPLE,
        "Cherry picks the ripest cherries from a tree and counts the stones left.",
        "Date keeps a calendar of palm harvests across many desert oases each year.",
        "Elder brews elderberry cordial from flowers gathered in early summer mornings.",
        "Grape manages vines, trellises and pruning schedules for small vineyards (new).",
        "Grape manages vines, trellises and pruning schedules for small vineyards (old).",
        KIWI,
        "Nectarine is a toolkit for sorting smooth skinned stone fruit by sweetness.",
        "Phi computes the golden ratio to any number of digits and draws spirals.",
        ZUCCHINI,
    ]
    # dropped: cherry/date (same short line, case-insensitive), elder (one word), grape (its two records share a short line)
    got = [(q.qid, q.text, q.package, q.pid) for q in corpus.queries]
    assert got == [
        (0, "Crisp apple library for fruit parsing", "apple", 0),
        (1, "Crisp apple library (development files)", "apple-dev", 0),
        (2, "Kiwi fruit tracker (version one)", "kiwi", 6),
        (3, "Kiwi fruit tracker (version two)", "kiwi", 6),
        (4, "Sweet stone fruit toolkit", "nectarine", 7),
        (5, "Golden ratio calculator", "phi", 8),
        (6, "Green summer squash planner", "zucchini", 9),
    ]
    assert [q.split for q in corpus.queries] == [bucket_split(q.package) for q in corpus.queries]
    assert split_of("nectarine") == "dev" and split_of("phi") == "test"


def _read(path: Path) -> str:
    data = path.read_bytes()
    return (gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data).decode()


@pytest.mark.parametrize("include_test", [False, True])
def test_written_layout(tmp_path, include_test):
    counts = write_corpus(build_corpus(iter_records(SAMPLE)), tmp_path, include_test=include_test)
    train = [p for p in ("apple", "apple-dev", "kiwi", "zucchini") if bucket_split(p) == "train"]
    assert counts["passages"] == 10 and counts["queries.dev"] == 1
    assert counts["queries.train"] == len(train) + train.count("kiwi")
    assert _read(tmp_path / "queries.dev.tsv") == "4\tSweet stone fruit toolkit\n"
    assert _read(tmp_path / "qrels.dev.tsv") == "4\t0\t7\t1\n"
    assert _read(tmp_path / "packages.dev.tsv") == "4\tnectarine\n"
    assert _read(tmp_path / "collection.tsv.gz").splitlines()[9] == f"9\t{ZUCCHINI}"
    assert (tmp_path / "queries.train.tsv.gz").is_file()
    assert (tmp_path / "queries.test.tsv").is_file() == include_test
    if include_test:
        assert _read(tmp_path / "queries.test.tsv") == "5\tGolden ratio calculator\n"
    else:
        assert counts["queries.hidden"] == 1


def test_compressed_input_reads_alike(tmp_path):
    xz = tmp_path / "Translation-en.xz"
    xz.write_bytes(lzma.compress(SAMPLE.read_bytes()))
    assert list(iter_records(xz)) == list(iter_records(SAMPLE))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (" orphan continuation\n", r"line 1: expected a 'Field: value' line before continuation lines"),
        ("Package: a\nno colon here\n", r"line 2: expected a 'Field: value' line \(deb822\)"),
        ("Package: a\nDescription-md5: 1\n\nPackage: b\nDescription-en: x y\n", r"line 1: expected a record with a non-empty Description-en field"),
        ("Description-en: lonely\n long text\n", r"line 1: expected a record with a non-empty Package field"),
    ],
)
def test_malformed_translation_files(tmp_path, text, message):
    path = tmp_path / "Translation-en"
    path.write_text(text)
    with pytest.raises(InputError, match=rf"{path}: {message}"):
        list(iter_records(path))


def _real_translation() -> Path | None:
    if env := os.environ.get("ANCE_TRANSLATION_EN"):
        return Path(env)
    found = sorted(Path("/var/lib/apt/lists").glob("*debian_dists_bookworm_main_i18n_Translation-en*"))
    return found[0] if found else None


@pytest.mark.slow
def test_rebuild_reproduces_the_shipped_corpus(tmp_path, debian_corpus_dir):
    translation = _real_translation()
    if translation is None:
        pytest.skip("no bookworm Translation-en (run `apt-get -o Acquire::Languages=en update` or set ANCE_TRANSLATION_EN)")
    if translation.suffix == ".lz4" and not (shutil.which("lz4") or Path("/usr/lib/apt/apt-helper").is_file()):
        pytest.skip("Translation-en is lz4 and neither lz4 nor apt-helper is installed")
    write_corpus(build_corpus(iter_records(translation)), tmp_path)
    shipped = sorted(p.name for p in debian_corpus_dir.iterdir() if p.name != "COMPLETE")
    assert shipped == sorted(p.name for p in tmp_path.iterdir())
    for name in shipped:
        assert _read(tmp_path / name) == _read(debian_corpus_dir / name), name
