"""`ance model fetch` against a hub served on 127.0.0.1, then the jobs' offline resolution of the same name."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ance_core.encode.shards import shard_dir
from ance_core.model import hub
from helpers.hub_server import COMMIT, HubServer

REPO = Path(__file__).resolve().parents[3]
NAME = "roberta-base"


def _ance(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return _python("-m", "ance_core.cli", *args, env=env)


def _python(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "XDG_CACHE_HOME", "ANCE_GPUS"))}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=REPO, timeout=300,
                          env={**base, "COLUMNS": "400", **env})


@pytest.fixture
def served(tiny_roberta_dir):
    with HubServer({NAME: tiny_roberta_dir}) as server:
        yield server


def test_fetch_fills_the_cache_that_offline_jobs_load_from(served, tiny_roberta_dir, tmp_path):
    home = tmp_path / "hf-home"
    fetched = _ance("model", "fetch", NAME, "--cache", str(home), env={"HF_ENDPOINT": served.url})
    assert fetched.returncode == 0, fetched.stderr
    snapshot = Path(fetched.stdout.strip().splitlines()[-1])
    assert snapshot == home / "hub" / "models--roberta-base" / "snapshots" / COMMIT
    assert {p.name for p in snapshot.iterdir()} == {p.name for p in tiny_roberta_dir.iterdir()}
    assert any(r.startswith("GET /roberta-base/resolve/") for r in served.requests)
    assert "HF_HOME=" + str(home) in " ".join(fetched.stderr.split())

    # A compute node: offline, the hub unreachable; the job's own resolution finds the fetched files.
    served.__exit__(None, None, None)
    offline = {"HF_HOME": str(home), "HF_HUB_OFFLINE": "1", "HF_ENDPOINT": served.url}
    probe = (
        "from ance_core.model import load_encoder, encoder_fingerprint, hub, resolve_model_dir\n"
        f"print(resolve_model_dir({NAME!r}))\n"
        f"print(hub.cached_snapshot({NAME!r}))\n"
        f"print(load_encoder({NAME!r}).fingerprint)\n"
        f"print(encoder_fingerprint({str(tiny_roberta_dir)!r}))\n"
    )
    result = _python("-c", probe, env=offline)
    assert result.returncode == 0, result.stderr
    resolved, cached, loaded_fp, original_fp = result.stdout.strip().splitlines()[-4:]
    assert Path(resolved) == snapshot and Path(cached) == snapshot
    assert loaded_fp == original_fp  # the same weights and tokenizer as the served model

    # A real stage of a job: encode the built-in dev queries with the hub name, offline.
    out = tmp_path / "encoded"
    encoded = _ance("encode", "--checkpoint", NAME, "--data", "builtin:debian-10pct", "--split", "dev",
                    "--out", str(out), "--cache-root", str(tmp_path / "cache"), env=offline)
    assert encoded.returncode == 0, encoded.stderr
    assert (shard_dir(out, 0, 1) / "embeddings.npy").is_file() and (shard_dir(out, 0, 1) / "COMPLETE").is_file()


def test_default_cache_is_hf_home_as_the_jobs_read_it(served, tmp_path):
    home = tmp_path / "home-from-env"
    fetched = _ance("model", "fetch", NAME, env={"HF_ENDPOINT": served.url, "HF_HOME": str(home)})
    assert fetched.returncode == 0, fetched.stderr
    assert Path(fetched.stdout.strip().splitlines()[-1]).is_relative_to(home / "hub")


def test_unknown_model_is_refused_with_its_name(served, tmp_path):
    result = _ance("model", "fetch", "nobody/no-such-model", "--cache", str(tmp_path), env={"HF_ENDPOINT": served.url})
    assert result.returncode == 2
    message = " ".join(result.stderr.split())
    assert "'nobody/no-such-model'" in message and served.url in message
    assert not (tmp_path / "hub" / "models--nobody--no-such-model" / "snapshots").exists()


def test_fetch_refuses_when_offline(tmp_path):
    result = _ance("model", "fetch", NAME, "--cache", str(tmp_path), env={"HF_HUB_OFFLINE": "1"})
    assert result.returncode == 2 and "HF_HUB_OFFLINE" in result.stderr


def test_an_empty_cache_names_the_fetch_command(tmp_path):
    probe = f"from ance_core.model import resolve_model_dir\nresolve_model_dir({NAME!r})\n"
    result = _python("-c", probe, env={"HF_HOME": str(tmp_path), "HF_HUB_OFFLINE": "1"})
    assert result.returncode != 0
    message = " ".join(result.stderr.split())
    assert f"ance model fetch {NAME}" in message and str(tmp_path / "hub") in message


@pytest.mark.parametrize(
    ("environ", "expected_home", "expected_cache"),
    [
        ({"HF_HOME": "/h"}, "/h", "/h/hub"),
        ({"XDG_CACHE_HOME": "/x"}, "/x/huggingface", "/x/huggingface/hub"),
        ({"HF_HOME": "/h", "HF_HUB_CACHE": "/c"}, "/h", "/c"),
        ({}, "~/.cache/huggingface", "~/.cache/huggingface/hub"),
    ],
)
def test_the_cache_rule_is_hugging_faces(monkeypatch, environ, expected_home, expected_cache):
    for key in ("HF_HOME", "XDG_CACHE_HOME", "HF_HUB_CACHE"):
        monkeypatch.delenv(key, raising=False)
    for key, value in environ.items():
        monkeypatch.setenv(key, value)
    assert hub.hf_home() == Path(os.path.expanduser(expected_home))
    assert hub.hub_cache() == Path(os.path.expanduser(expected_cache))
    assert hub.hub_cache("/given") == Path("/given/hub")


def test_fetch_for_an_experiment_fills_the_cache_its_image_jobs_read(served, tmp_path):
    """runtime apptainer: the image sets HF_HOME=$ANCE_RUNS/.cache/huggingface (ANCE_RUNS = outputs.root)."""
    root = tmp_path / "runs"
    config = tmp_path / "exp.yaml"
    config.write_text(f"name: top20\nmodel: {{name: {NAME}}}\noutputs: {{root: {root}}}\n"
                      "resources: {runtime: apptainer, image: ance.sif}\n")
    fetched = _ance("model", "fetch", "--config", str(config), env={"HF_ENDPOINT": served.url})
    assert fetched.returncode == 0, fetched.stderr
    assert Path(fetched.stdout.strip().splitlines()[-1]).is_relative_to(root / ".cache" / "huggingface" / "hub")

    # The environment containers/ance.def gives a job, offline.
    image_env = {"HF_HOME": str(root / ".cache" / "huggingface"), "HF_HUB_OFFLINE": "1"}
    result = _python("-c", f"from ance_core.model import resolve_model_dir\nprint(resolve_model_dir({NAME!r}))",
                     env=image_env)
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip().splitlines()[-1]).is_relative_to(root / ".cache" / "huggingface" / "hub")


def test_pre_flight_resolution_for_an_experiment_offline(served, tmp_path):
    """What the launcher's pre-flight calls: resolve as the job will, offline, before queueing."""
    from ance_core.config import validate_experiment
    from ance_core.errors import InputError
    from ance_core.model import resolve_model_dir

    experiment = validate_experiment({"name": "x", "model": {"name": NAME}, "outputs": {"root": str(tmp_path / "runs")},
                                      "resources": {"runtime": "apptainer"}})
    cache = hub.job_hub_cache(experiment)
    with pytest.raises(InputError, match=f"ance model fetch {NAME}") as refused:
        resolve_model_dir(NAME, cache=cache, offline=True)
    assert str(cache) in str(refused.value)
    assert hub.cached_snapshot(NAME, cache) is None
    fetched = _ance("model", "fetch", NAME, "--cache", str(cache.parent), env={"HF_ENDPOINT": served.url})
    assert fetched.returncode == 0, fetched.stderr
    snapshot = hub.cached_snapshot(NAME, cache)
    assert snapshot is not None and resolve_model_dir(NAME, cache=cache, offline=True) == snapshot


def test_the_image_sets_hf_home_where_job_hub_cache_says():
    environment = (REPO / "containers" / "ance.def").read_text()
    assert re.search(r'ance_cache="\$\{ANCE_RUNS:-[^"]*\}/' + re.escape(hub.IMAGE_CACHE) + '"', environment)
    assert 'export HF_HOME="$ance_cache/huggingface"' in environment
    assert "unset HF_HUB_CACHE" not in environment and "HF_HUB_CACHE=" not in environment


def test_job_hub_cache_by_runtime(monkeypatch, tmp_path):
    from ance_core.config import validate_experiment

    monkeypatch.setenv("HF_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    native = validate_experiment({"name": "x", "outputs": {"root": str(tmp_path / "runs")}})
    image = validate_experiment({"name": "x", "outputs": {"root": str(tmp_path / "runs")},
                                 "resources": {"runtime": "apptainer"}})
    assert hub.job_hub_cache(native) == tmp_path / "home" / "hub"
    assert hub.job_hub_cache(image) == tmp_path / "runs" / ".cache" / "huggingface" / "hub"
