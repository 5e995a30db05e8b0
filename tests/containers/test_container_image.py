"""Build ance.sif and run it: wherever `apptainer` exists (`pytest -m apptainer`).

Building debootstraps Debian and installs several GB of wheels (minutes), hence `slow`
as well. To test an image built already: ANCE_SIF=/path/to/ance.sif.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ance_core.cli import STAGES

ROOT = Path(__file__).resolve().parents[2]
APPTAINER = shutil.which(os.environ.get("APPTAINER", "apptainer"))

pytestmark = [
    pytest.mark.apptainer,
    pytest.mark.slow,
    pytest.mark.skipif(APPTAINER is None, reason="apptainer is not on PATH"),
]


def has_gpu() -> bool:
    smi = shutil.which("nvidia-smi")
    return bool(smi) and "GPU " in subprocess.run([smi, "-L"], capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def sif(tmp_path_factory) -> Path:
    if given := os.environ.get("ANCE_SIF"):
        assert Path(given).is_file(), f"ANCE_SIF={given} does not exist"
        return Path(given)
    path = tmp_path_factory.mktemp("image") / "ance.sif"
    subprocess.run(["bash", "containers/build.sh", "build"], cwd=ROOT, env={**os.environ, "SIF": str(path)},
                   check=True, timeout=3600)
    return path


def apptainer(*args: str, env: dict[str, str] | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    result = subprocess.run([APPTAINER, *args], capture_output=True, text=True, timeout=timeout,
                            env={**os.environ, **(env or {})})
    assert result.returncode == 0, f"apptainer {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result


def test_apptainer_test_runs_the_selftest(sif):
    apptainer("test", str(sif))


def test_every_stage_app_reaches_its_stage(sif):
    for stage in STAGES:
        result = apptainer("run", "--app", stage, str(sif), "--help")
        assert f"ance {stage}" in result.stdout, (stage, result.stdout)


def test_labels_and_environment_record_version_and_commit(sif, tmp_path, monkeypatch):
    monkeypatch.delenv("HF_HOME", raising=False)  # the image's own default first; a passed-in one below
    labels = json.loads(apptainer("inspect", "--labels", "--json", str(sif)).stdout)
    labels = labels.get("data", {}).get("attributes", {}).get("labels", labels)
    version = apptainer("run", str(sif), "--version").stdout.split()[-1]
    assert labels["org.opencontainers.image.version"] == version
    revision = labels["org.opencontainers.image.revision"]
    assert revision != "unknown", "build.sh passes --build-arg GIT_SHA"

    probe = "import json, os; from ance_core.io.manifest import build_manifest; " \
            "print(json.dumps({'env': dict(os.environ), 'manifest': build_manifest('probe')}))"
    out = json.loads(apptainer("exec", "--bind", str(tmp_path), str(sif), "python3", "-c", probe,
                               env={"ANCE_RUNS": str(tmp_path)}).stdout)
    env, manifest = out["env"], out["manifest"]
    assert env["HF_HUB_OFFLINE"] == "1" and env["PYTHONNOUSERSITE"] == "1"
    assert env["HF_HOME"].startswith(f"{tmp_path}/.cache")
    assert manifest["git_sha"] == revision
    assert manifest["container"]["labels"]["org.opencontainers.image.revision"] == revision

    # A job of ance-launch exports the HF home its pre-flight checked: the image keeps it.
    passed = apptainer("exec", str(sif), "sh", "-c", 'printf %s "$HF_HOME"', env={"HF_HOME": str(tmp_path / "hf")})
    assert passed.stdout == str(tmp_path / "hf")


@pytest.mark.gpu
@pytest.mark.skipif(not has_gpu(), reason="nvidia-smi lists no GPU")
def test_nv_gives_torch_and_faiss_the_gpu(sif):
    check = "import faiss, torch; assert torch.cuda.is_available(); assert faiss.get_num_gpus() > 0"
    apptainer("exec", "--nv", str(sif), "python3", "-c", check)
    apptainer("run", "--nv", "--app", "selftest", str(sif))
