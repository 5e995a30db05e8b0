"""`ance model fetch` against a hub served on 127.0.0.1, then the jobs' offline resolution of the same name.

The cache is the one rule of ance_core/hub.py: `<HF home>/hub`, the HF home being resources.hf_home,
else $HF_HOME, else Hugging Face's default. (That the launcher's pre-flight checks the same cache
that `ance model fetch --config EXP` fills: tests/launcher/test_preflight.py.)
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ance_core import hub
from ance_core.encode.shards import shard_dir
from helpers.hub_server import COMMIT, HubServer

REPO = Path(__file__).resolve().parents[3]
NAME = "roberta-base"


def _ance(*args: str, env: dict[str, str], cwd: Path = REPO) -> subprocess.CompletedProcess:
    return _python("-m", "ance_core.cli", *args, env=env, cwd=cwd)


def _python(*args: str, env: dict[str, str], cwd: Path = REPO) -> subprocess.CompletedProcess:
    """A process with none of this one's HF settings, GPUs or site file: only `env` says where caches are."""
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("HF_", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "ANCE_SITE_FILE", "ANCE_GPUS"))}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=cwd, timeout=300,
                          env={**base, "XDG_CONFIG_HOME": str(cwd / ".no-config"), "COLUMNS": "400", **env})


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
        "from ance_core.hub import cached_model_dir\n"
        "from ance_core.model import load_encoder, encoder_fingerprint, resolve_model_dir\n"
        f"print(resolve_model_dir({NAME!r}))\n"
        f"print(cached_model_dir({NAME!r}))\n"
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
    ("given", "environ", "expected_home"),
    [
        ("/site", {"HF_HOME": "/h"}, "/site"),  # resources.hf_home wins
        (None, {"HF_HOME": "/h"}, "/h"),
        (None, {"XDG_CACHE_HOME": "/x"}, "/x/huggingface"),
        (None, {}, "~/.cache/huggingface"),
        (None, {"HF_HOME": "/h", "HF_HUB_CACHE": "/c"}, "/h"),  # not consulted: jobs get HF_HOME alone
    ],
)
def test_the_cache_is_under_the_jobs_hf_home(monkeypatch, given, environ, expected_home):
    for key in ("HF_HOME", "XDG_CACHE_HOME", "HF_HUB_CACHE"):
        monkeypatch.delenv(key, raising=False)
    for key, value in environ.items():
        monkeypatch.setenv(key, value)
    assert hub.job_hf_home(given) == Path(os.path.expanduser(expected_home))
    assert hub.hub_cache(given) == Path(os.path.expanduser(expected_home)) / "hub"


def test_an_hf_hub_cache_in_the_environment_does_not_move_the_cache(served, tmp_path):
    """The jobs export HF_HOME only: a stray HF_HUB_CACHE must not make fetch and jobs disagree."""
    home = tmp_path / "home"
    env = {"HF_ENDPOINT": served.url, "HF_HOME": str(home), "HF_HUB_CACHE": str(tmp_path / "elsewhere")}
    fetched = _ance("model", "fetch", NAME, env=env)
    assert fetched.returncode == 0, fetched.stderr
    assert Path(fetched.stdout.strip().splitlines()[-1]).is_relative_to(home / "hub")
    assert not (tmp_path / "elsewhere").exists()


def test_fetch_for_an_experiment_fills_the_cache_of_its_hf_home(served, tmp_path):
    """--config: the experiment's resources.hf_home (relative: to the working directory), in the image too."""
    config = tmp_path / "exp.yaml"
    config.write_text(f"name: top20\nmodel: {{name: {NAME}}}\n"
                      "resources: {runtime: apptainer, image: ance.sif, hf_home: models/hf}\n")
    fetched = _ance("model", "fetch", "--config", str(config),
                    env={"HF_ENDPOINT": served.url, "HF_HOME": str(tmp_path / "not-this-one")}, cwd=tmp_path)
    assert fetched.returncode == 0, fetched.stderr
    assert Path(fetched.stdout.strip().splitlines()[-1]).is_relative_to(tmp_path / "models" / "hf" / "hub")
    assert not (tmp_path / "not-this-one").exists()


def test_fetch_without_an_experiment_fills_the_site_files_hf_home(served, tmp_path):
    (tmp_path / "site.yaml").write_text("hf_home: shared-hf\n")
    fetched = _ance("model", "fetch", NAME, env={"HF_ENDPOINT": served.url, "HF_HOME": str(tmp_path / "not-this-one")},
                    cwd=tmp_path)
    assert fetched.returncode == 0, fetched.stderr
    assert Path(fetched.stdout.strip().splitlines()[-1]).is_relative_to(tmp_path / "shared-hf" / "hub")


def test_offline_resolution_for_a_given_hf_home(served, tmp_path):
    """What a job does: resolve the hub name offline in its HF home; missing, the error names the fetch."""
    from ance_core.errors import InputError
    from ance_core.model import resolve_model_dir

    home = tmp_path / "hf"
    with pytest.raises(InputError, match=f"ance model fetch {NAME}") as refused:
        resolve_model_dir(NAME, hf_home=home, offline=True)
    assert str(home / "hub") in str(refused.value)
    assert hub.cached_model_dir(NAME, home) is None
    fetched = _ance("model", "fetch", NAME, "--cache", str(home), env={"HF_ENDPOINT": served.url})
    assert fetched.returncode == 0, fetched.stderr
    snapshot = hub.cached_model_dir(NAME, home)
    assert snapshot is not None and resolve_model_dir(NAME, hf_home=home, offline=True) == snapshot
