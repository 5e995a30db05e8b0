"""Run directories as `ance run` writes them (docs/ARCHITECTURE.md), for the report tests.

`write_run` writes a resolved config.yaml (through the real schema), a
metrics.jsonl with train / eval / refresh events and a STATUS.json;
`write_study` lays out a small study with two seeds per strategy, a run that
is still going (partial last line) and the shared warm-ups with their BM25
baseline.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from ance_core.config import validate_experiment

REFRESH_EVERY = 100
LOG_EVERY = 10
REPO = Path(__file__).resolve().parents[2]
LEGACY_LOGS = REPO / "results" / "legacy" / "logs"  # the original study's SLURM logs, committed


def loss_at(step: int, offset: float) -> float:
    """A decreasing, slightly wiggly loss: realistic enough, and known to the tests."""
    return round(offset + 1.0 / (1 + step / 50) + 0.01 * ((step // LOG_EVERY) % 3), 6)


def write_run(
    root: Path,
    experiment: str,
    seed: int,
    curve: dict[int, float],
    *,
    strategy: str | None = None,
    state: str = "finished",
    loss_offset: float = 0.2,
    tail: str = "",
    config: bool = True,
    extra_config: dict | None = None,
    train_fields: dict | None = None,
    refresh_fields: dict | None = None,
) -> Path:
    """A run folder `<root>/<experiment>/seed<seed>` whose dev nDCG@10 after refresh r is curve[r]
    (`extra_config`: more experiment fields; `train_fields`/`refresh_fields`: more fields of those events)."""
    run_dir = root / experiment / f"seed{seed}"
    run_dir.mkdir(parents=True)
    if config:
        resolved = validate_experiment(
            {"name": experiment, "strategy": strategy, "seeds": [seed],
             "ance": {"refresh_every": REFRESH_EVERY, "refreshes": max(max(curve), 1)}, **(extra_config or {})}
        )
        (run_dir / "config.yaml").write_text(yaml.safe_dump(resolved.model_dump(mode="json"), sort_keys=False))
    events: list[dict] = []
    for refresh in sorted(curve):
        step = refresh * REFRESH_EVERY
        if refresh > 0:
            for train_step in range(step - REFRESH_EVERY + LOG_EVERY, step + 1, LOG_EVERY):
                events.append({"kind": "train", "step": train_step, "loss": loss_at(train_step, loss_offset), "lr": 2e-5,
                               "refresh": refresh - 1, "time": 1.0, **(train_fields or {})})
        events.append({"kind": "refresh", "refresh": refresh, "step": step, "positive_in_topk": 0.9, "mean_neg_rank": 9.5,
                       "qrels_overlap": 0, "queries": 50, **(refresh_fields or {})})
        events.append({
            "kind": "eval", "refresh": refresh, "step": step, "split": "dev",
            "MRR@10": curve[refresh] - 0.05, "nDCG@10": curve[refresh], "R@100": 0.9, "time": 2.0,
        })
    text = "".join(json.dumps(event) + "\n" for event in events) + tail
    (run_dir / "metrics.jsonl").write_text(text)
    (run_dir / "refreshes").mkdir()
    for refresh in curve:  # the record each refresh writes last; a finished run has one for every refresh
        record = {"refresh": refresh, "ok": True, "step": refresh * REFRESH_EVERY}
        (run_dir / "refreshes" / f"refresh-{refresh}.json").write_text(json.dumps(record))
    last = max(curve)
    (run_dir / "STATUS.json").write_text(json.dumps({"state": state, "refresh": last, "step": last * REFRESH_EVERY}))
    return run_dir


def write_warmup(root: Path, seed: int, bm25: dict[str, float], mrr_by_step: dict[int, float]) -> Path:
    """`<root>/_warmup/<hash>-seed<seed>`: warm-up losses and evals, the BM25 baseline, warmup_done."""
    warm_dir = root / "_warmup" / f"3f2a9c-seed{seed}"
    warm_dir.mkdir(parents=True)
    events: list[dict] = [{"kind": "baseline", "name": "bm25", "split": "dev", **bm25}]
    for step in range(10, max(mrr_by_step) + 1, 10):
        events.append({"kind": "train", "step": step, "loss": loss_at(step, 0.5), "lr": 2e-5})
        if step in mrr_by_step:
            events.append({"kind": "eval", "step": step, "split": "dev", "MRR@10": mrr_by_step[step], "nDCG@10": mrr_by_step[step] + 0.04})
    events.append({"kind": "warmup_done", "checkpoint": str(warm_dir / "checkpoints" / "checkpoint-0")})
    (warm_dir / "metrics.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    return warm_dir


# The study the `study` fixture writes: strategy -> seed -> dev nDCG@10 by refresh.
CURVES: dict[str, dict[int, dict[int, float]]] = {
    "top20": {
        0: {0: 0.50, 1: 0.55, 2: 0.60, 3: 0.62},
        1: {0: 0.52, 1: 0.56, 2: 0.58, 3: 0.64},
    },
    "top20-bottom20": {
        0: {0: 0.50, 1: 0.58, 2: 0.66, 3: 0.65},
        1: {0: 0.52, 1: 0.60, 2: 0.68, 3: 0.67},
    },
    # still going: reached refresh 2 and was killed while writing the next line
    "random20": {0: {0: 0.50, 1: 0.53, 2: 0.57}},
}
PARTIAL_TAIL = '{"kind": "train", "step": 210, "lo'
BM25 = {"MRR@10": 0.40, "nDCG@10": 0.45, "R@100": 0.85}


def write_study(root: Path) -> Path:
    """`root`: top20 and top20-bottom20 with seeds 0 and 1, random20 still running, two warm-ups."""
    for experiment, seeds in CURVES.items():
        for seed, curve in seeds.items():
            running = experiment == "random20"
            write_run(
                root, experiment, seed, curve,
                state="running" if running else "finished",
                tail=PARTIAL_TAIL if running else "",
                loss_offset={"top20": 0.3, "top20-bottom20": 0.2, "random20": 0.25}[experiment],
            )
    for seed in (0, 1):
        write_warmup(root, seed, BM25, {50: 0.30 + seed * 0.01, 100: 0.42 + seed * 0.01})
    return root


def write_eval_files(run_dir: Path, refresh: int, reciprocal_ranks: dict[str, float], corpus: int = 50) -> float:
    """What a refresh's evaluation writes (run file, judged qrels, summary), the positive of each query
    at the rank whose RR@10 is given; returns the MRR@10 the files give."""
    import numpy as np

    from ance_core.eval.runfile import trec_run, write_qrels_file, write_run_file

    qrels = {qid: {f"{qid}-pos": 1} for qid in reciprocal_ranks}
    ranked, scores = [], []
    for qid, rr in reciprocal_ranks.items():
        rank = round(1 / rr) if rr else 20  # below the cut-off: RR@10 is 0
        ranked.append([f"{qid}-n{i}" for i in range(rank - 1)] + [f"{qid}-pos"] + [f"{qid}-m{i}" for i in range(30 - rank)])
        scores.append(np.linspace(1, 0, 30))
    eval_dir = run_dir / "eval"
    eval_dir.mkdir(exist_ok=True)
    write_run_file(eval_dir / f"refresh-{refresh}.run.tsv", trec_run(list(reciprocal_ranks), ranked, scores))
    write_qrels_file(eval_dir / "qrels.dev.tsv", qrels)
    mean = float(np.mean(list(reciprocal_ranks.values())))
    (eval_dir / f"refresh-{refresh}.json").write_text(
        json.dumps({"MRR@10": mean, "queries": len(qrels), "corpus": corpus, "precision": "fp32"}))
    (run_dir / "negatives").mkdir(exist_ok=True)  # mined with the int8 copy (quantize_cpu)
    (run_dir / "negatives" / f"negatives-{refresh}.stats.json").write_text(json.dumps({"precision": "int8"}))
    return mean


def write_tested_study(root: Path, queries: int = 120) -> Path:
    """top20 and bottom20, seeds 0 and 1, with run files at refresh 1: top20 finds the positive at rank 1 far more often."""
    import numpy as np

    rng = np.random.default_rng(5)
    reciprocal = [1.0, 0.5, 1 / 3, 0.25, 0.0]
    for strategy, weights in (("top20", [0.7, 0.1, 0.1, 0.05, 0.05]), ("bottom20", [0.2] * 5)):
        for seed in (0, 1):
            per_query = {f"q{i}": float(rng.choice(reciprocal, p=weights)) for i in range(queries)}
            mean = float(np.mean(list(per_query.values())))
            # the eval events carry what the files give (write_run's MRR@10 is its nDCG@10 - 0.05)
            run_dir = write_run(root, f"embedded-{strategy}", seed, {0: 0.3, 1: mean + 0.05}, strategy=strategy)
            write_eval_files(run_dir, 1, per_query)
    return root


SWEEP_WINDOWS = [(0, 20), (20, 40), (40, 60), (60, 80), (80, 100), (100, 120)]


def write_sweep_study(root: Path, falls_by: float, queries: int = 150) -> Path:
    """A sweep of SWEEP_WINDOWS, seeds 0 and 1, run files at refreshes 0 and 1. Every query starts at rank 2
    (RR 0.5); after training it is at rank 1 with a probability that falls by `falls_by` per window
    (0: every window alike). The events carry the analyses' fields (grad_norm, margins, memory)."""
    import numpy as np

    rng = np.random.default_rng(11)
    start = {f"q{i}": 0.5 for i in range(queries)}
    for index, window in enumerate(SWEEP_WINDOWS):
        strategy = f"rank{window[0]}-{window[1]}"
        for seed in (0, 1):
            up = 0.6 - falls_by * index
            final = {q: float(rng.choice([1.0, 0.5, 1 / 3], p=[up, (1 - up) / 2, (1 - up) / 2])) for q in start}
            mean = float(np.mean(list(final.values())))
            run_dir = write_run(
                root, f"sweep-{window[0]}-{window[1]}", seed, {0: 0.55, 1: mean + 0.05}, strategy=strategy,
                extra_config={"ance": {"refresh_every": REFRESH_EVERY, "refreshes": 1,
                                       "segment": {"kind": "top", "windows": [list(window)], "n": 20}},
                              "sweep_point": {"sweep": "sweep", "window": list(window)}},
                train_fields={"grad_norm": 1.0 + index / 10, "steps_per_s": 2.0},
                refresh_fields={"margin_mean": 0.1 * index, "outscoring_share": 0.5 - 0.05 * index,
                                "peak_rss_mib": 900.0 + seed, "seconds": 30.0, "encode_s": 20.0, "sample_s": 0.01},
            )
            write_eval_files(run_dir, 0, start)
            write_eval_files(run_dir, 1, final)
    return root
