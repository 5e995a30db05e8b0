import threading
import time

import pytest

from ance_core.errors import InputError
from ance_core.data.negatives import (
    complete_files,
    is_complete,
    negatives_path,
    newest_complete,
    read_negatives,
    stats_path,
    write_negatives,
)


def records(n, tag="n"):
    return [{"qid": f"q{i}", "pos": [f"p{i}"], "neg": [f"{tag}{i}a", f"{tag}{i}b"], "neg_ranks": [0, 1]} for i in range(n)]


def test_write_then_read_round_trip(tmp_path):
    path = negatives_path(tmp_path, 3)
    stats = write_negatives(path, records(5), refresh=3)
    assert stats["lines"] == 5 and stats["refresh"] == 3
    assert read_negatives(path) == records(5)
    assert [f.refresh for f in complete_files(tmp_path)] == [3]


def test_a_file_without_its_stats_or_with_other_content_is_not_complete(tmp_path):
    write_negatives(negatives_path(tmp_path, 0), records(3))
    write_negatives(negatives_path(tmp_path, 1), records(3))
    stats_path(negatives_path(tmp_path, 1)).unlink()
    assert newest_complete(tmp_path).refresh == 0
    write_negatives(negatives_path(tmp_path, 2), records(3))
    with open(negatives_path(tmp_path, 2), "a") as handle:  # appended after the stats were written
        handle.write('{"qid": "extra", "pos": [], "neg": []}\n')
    assert not is_complete(negatives_path(tmp_path, 2))
    assert newest_complete(tmp_path).refresh == 0
    with pytest.raises(InputError, match="sha256"):
        read_negatives(negatives_path(tmp_path, 2))
    assert newest_complete(tmp_path, newer_than=0) is None


def test_poller_never_sees_a_file_written_slowly_in_pieces(tmp_path):
    """A writer that does NOT use atomic renames (a copy by hand, a slow network file system):
    the trainer's poll must still only take the file once it is whole and its stats agree."""
    write_negatives(negatives_path(tmp_path, 0), records(2, "old"))
    reference = tmp_path / "reference"
    stats = write_negatives(negatives_path(reference, 1), records(400, "new"))
    full = negatives_path(reference, 1).read_bytes()
    assert stats["lines"] == 400
    done = threading.Event()

    def slow_writer():
        target = negatives_path(tmp_path, 1)
        with open(target, "wb") as handle:
            for start in range(0, len(full), 997):
                handle.write(full[start : start + 997])
                handle.flush()
                time.sleep(0.001)
        # the stats file, itself in two pieces
        text = stats_path(negatives_path(reference, 1)).read_bytes()
        with open(stats_path(target), "wb") as handle:
            handle.write(text[: len(text) // 2])
            handle.flush()
            time.sleep(0.02)
            handle.write(text[len(text) // 2 :])
        done.set()

    thread = threading.Thread(target=slow_writer)
    thread.start()
    seen, polls = [], 0
    while not done.is_set():
        polls += 1
        found = newest_complete(tmp_path, newer_than=0)
        if found is not None:
            seen.append(len(read_negatives(found.path)))
    thread.join()
    assert polls > 10  # the poller really ran while the file grew
    assert all(n == 400 for n in seen)  # never a partial read
    final = newest_complete(tmp_path, newer_than=0)
    assert final is not None and len(read_negatives(final.path)) == 400


def test_records_must_be_objects_with_a_qid(tmp_path):
    path = negatives_path(tmp_path, 0)
    write_negatives(path, [{"pos": [], "neg": []}])
    with pytest.raises(InputError, match="line 1"):
        read_negatives(path)
