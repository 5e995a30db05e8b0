import json

from ance_core.train.metrics import MetricsLog


def test_emit_writes_one_json_object_per_line(tmp_path):
    log = MetricsLog(tmp_path / "metrics.jsonl")
    log.emit("train", step=1, loss=0.5, lr=1e-5)
    log.emit("eval", refresh=0, step=0, **{"MRR@10": 0.3, "nDCG@10": float("nan")})
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    events = [json.loads(line) for line in lines]
    assert [e["kind"] for e in events] == ["train", "eval"]
    assert events[1]["nDCG@10"] is None and "time" in events[0]


def test_rewind_drops_later_events_and_torn_lines(tmp_path):
    log = MetricsLog(tmp_path / "metrics.jsonl")
    for step in range(1, 7):
        log.emit("train", step=step, loss=1.0 / step)
    log.emit("warmup_done", checkpoint="x")
    with open(log.path, "a") as handle:
        handle.write('{"kind": "train", "step": 7, "lo')  # killed mid-line
    assert log.rewind(4) == 3  # steps 5, 6 and the torn line
    assert [e.get("step") for e in log.events()] == [1, 2, 3, 4, None]
    log.emit("train", step=5, loss=0.2)
    assert [e["step"] for e in log.events("train")] == [1, 2, 3, 4, 5]


def test_an_event_after_a_torn_line_starts_its_own_line(tmp_path):
    """Killed while writing a warm-up baseline: no checkpoint to rewind to, the next run logs it again."""
    log = MetricsLog(tmp_path / "metrics.jsonl")
    log.emit("baseline", name="bm25", step=0)
    with open(log.path, "a") as handle:
        handle.write('{"kind": "baseline", "name": "zero-shot", "MRR@10"')  # killed mid-line
    log.emit("baseline", name="zero-shot", step=0)
    lines = log.path.read_text().splitlines()
    assert [json.loads(line)["name"] for line in lines] == ["bm25", "zero-shot"]

    for torn in ['{"kind": "tr', '{"kind": "train", "step": 1' + "x" * 200_000]:  # a first line torn; a long one
        log.path.write_text(torn)
        log.emit("train", step=1, loss=0.5)
        assert [json.loads(line)["step"] for line in log.path.read_text().splitlines()] == [1], torn[:20]
