"""Every experiment file validates, and the study's profiles say what the README says they do."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ance_core.config import load_experiment, load_experiments
from ance_core.config.schema import RandomSegment, TopSegment
from ance_core.loop.warmup import warmup_dir

ROOT = Path(__file__).resolve().parents[2] / "experiments"
FILES = sorted(p for p in ROOT.rglob("*.yaml") if not p.name.startswith("_"))
STUDY = {  # strategy -> (segment kind, windows, n)
    "top20": ("top", [(0, 20)], 20),
    "bottom20": ("top", [(180, 200)], 20),
    "top20-bottom20": ("top", [(0, 20), (180, 200)], 40),
    "random20": ("random", [(0, 200)], 20),
}


def profile(name: str) -> dict[str, object]:
    return {load_experiment(p).label: load_experiment(p) for p in sorted((ROOT / name).glob("*.yaml")) if not p.name.startswith("_")}


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(ROOT)) for p in FILES])
def test_every_experiment_file_validates(path):
    for experiment in load_experiments(path):  # a sweep file: each of its windows
        assert experiment.name and experiment.seeds


def test_names_are_unique():
    names = [experiment.name for p in FILES for experiment in load_experiments(p)]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("name", ["embedded", "msmarco-10", "msmarco-30"])
def test_profiles_hold_the_four_strategies_of_the_study(name):
    experiments = profile(name)
    assert set(STUDY) <= set(experiments)
    for label, (kind, windows, n) in STUDY.items():
        segment = experiments[label].ance.segment
        assert (segment.kind, [tuple(w) for w in segment.windows], segment.n) == (kind, windows, n)
        assert isinstance(segment, RandomSegment if kind == "random" else TopSegment)
    assert all(len(e.seeds) >= 3 for e in experiments.values())


@pytest.mark.parametrize("name", ["embedded", "msmarco-10", "msmarco-30"])
def test_strategies_differ_only_in_their_segment(name):
    dumps = []
    for experiment in profile(name).values():
        dump = experiment.model_dump(mode="json")
        for key in ("name", "strategy", "description"):
            dump.pop(key)
        dump["ance"].pop("segment")
        dumps.append(dump)
    assert all(d == dumps[0] for d in dumps)
    for seed in next(iter(profile(name).values())).seeds:  # hence: one warm-up per seed, shared
        assert len({warmup_dir(e, seed) for e in profile(name).values()}) == 1


def settings_table() -> list[dict[str, str]]:
    """The rows of msmarco-10/README.md's "Settings" table, by column name."""
    text = (ROOT / "msmarco-10" / "README.md").read_text()
    section = text.split("## Settings", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    cells = [[cell.strip() for cell in line.strip().strip("|").split(" | ")] for line in lines]
    header, rows = cells[0], cells[2:]
    assert all(len(row) == len(header) for row in rows), "a row with a | inside a cell"
    return [dict(zip(header, row)) for row in rows]


def field_value(experiment, path: str):
    value = experiment.model_dump(mode="json")
    for part in path.split("."):
        value = value[part]
    return value


def test_the_settings_table_covers_what_the_issue_asked_for():
    fields = {row["field"].strip("`") for row in settings_table()}
    assert {"train.batch_size", "train.grad_accum", "ance.mode", "ance.query_fraction", "ance.refreshes",
            "ance.encode.precision", "data.subset.keep_positives_of", "warmup.enabled", "warmup.init_checkpoint",
            "warmup.lr", "warmup.batch_size", "warmup.precision", "warmup.passage_max_len"} <= fields
    assert all(row["the study"] and row["ours"] and row["why different"] for row in settings_table())


@pytest.mark.parametrize("name", ["msmarco-10", "msmarco-30"])
def test_msmarco_profiles_hold_the_values_of_the_settings_table(name):
    rows = settings_table()
    for experiment in profile(name).values():
        for row in rows:
            field = row["field"].strip("`")
            if field == "data.subset.fraction" and name != "msmarco-10":
                continue
            ours = yaml.safe_load(row["ours"].strip("`"))
            assert field_value(experiment, field) == ours, f"{experiment.name}: {field}, table says {ours}"
    assert {e.data.subset.fraction for e in profile("msmarco-30").values()} == {0.3}
    # The comparison the README makes at refresh 80 needs runs that get there.
    assert all(e.ance.refreshes >= 80 for e in profile(name).values())


@pytest.mark.parametrize("path", [ROOT / "msmarco-10" / "top10-bottom10.yaml", ROOT / "msmarco-30" / "top10-bottom10.yaml",
                                  ROOT / "embedded" / "equal-budget" / "top10-bottom10.yaml"])
def test_equal_budget_variant_trains_on_as_many_negatives_as_top20(path):
    variant = load_experiment(path)
    top20 = load_experiment(path.parent.parent / "top20.yaml" if path.parent.name == "equal-budget" else path.parent / "top20.yaml")
    assert variant.ance.segment.n == top20.ance.segment.n == 20
    assert [tuple(w) for w in variant.ance.segment.windows] == [(0, 10), (190, 200)]


def test_smoke_is_one_strategy_with_a_warmup_and_two_refreshes():
    smoke = load_experiment(ROOT / "smoke.yaml")
    assert smoke.warmup.enabled and smoke.ance.refreshes == 2 and len(smoke.seeds) == 1
    assert smoke.data.dataset == "builtin:debian-10pct" and smoke.model.name == "minilm"


@pytest.mark.parametrize("name", ["embedded", "msmarco-10", "msmarco-30"])
def test_a_profile_plans_one_prep_and_one_refresh0_per_seed_shared_by_every_strategy(name, tmp_path):
    from launcher.plan import plan_study
    from launcher.submit import resolve_all

    experiments = list(profile(name).values())
    resolved = resolve_all([(f"{e.name}.yaml", e) for e in experiments], tmp_path, tmp_path / "runs")
    plan = plan_study(resolved, submission_id="t", workdir=str(tmp_path), executor="slurm")
    seeds = experiments[0].seeds
    shapes = [job.context.shape for job in plan.jobs]
    assert shapes.count("prep") == 1 and shapes.count("refresh0") == len(seeds) and shapes.count("report") == 1
    assert shapes.count("run") == len(experiments) * len(seeds)
    assert shapes.count("warmup") == (len(seeds) if experiments[0].warmup.enabled else 0)


@pytest.mark.parametrize("name", ["msmarco-10", "msmarco-30"])
def test_the_cluster_profiles_give_each_job_shape_its_own_resources(name):
    from launcher.render import slurm_time_seconds

    resources = next(iter(profile(name).values())).resources
    prep, report = resources.for_shape("prep"), resources.for_shape("report")
    assert prep.gpus == 0 and report.gpus == 0  # CPU jobs: no GPU waits in the queue for data or tables
    assert slurm_time_seconds(report.time) <= 3600 and int(report.mem.rstrip("G")) <= 16
    assert resources.for_shape("warmup").gpus == 1 and resources.for_shape("refresh0").gpus == 1
    assert resources.for_shape("run").gpus == resources.gpus
