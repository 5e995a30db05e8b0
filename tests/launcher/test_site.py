"""Site settings (site.yaml): laid over every experiment's resources, under --set, checked like experiments."""

from __future__ import annotations

from pathlib import Path

import pytest

from ance_core.config.site import load_site, site_resources
from ance_core.errors import InputError
from launcher import cli, discovery


@pytest.fixture
def study(tmp_path, monkeypatch) -> Path:
    monkeypatch.delenv("ANCE_SITE_FILE", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("COLUMNS", "1000")
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "top20.yaml"
    path.write_text("name: top20\nresources: {executor: slurm, gpus: 2, gpu_type: a40, partition: tracked}\n")
    return path


SITE = """\
account: proj-ir
partition: gpu
qos: normal
gpu_type: a100
constraint: "a100|h100"
mail_user: me@example.org
sbatch: ["--reservation=ir-study", "--gpu-bind=closest"]
"""


def test_the_site_file_in_the_working_directory_reaches_every_script(study, tmp_path, capsys):
    (tmp_path / "site.yaml").write_text(SITE)
    assert cli.main(["render", str(study), "--template", "run"]) == 0
    script = capsys.readouterr().out
    for line in ("--account=proj-ir", "--partition=gpu", "--qos=normal", "--gres=gpu:a100:2",
                 "--constraint=a100|h100", "--mail-user=me@example.org", "--mail-type=END,FAIL",
                 "--reservation=ir-study", "--gpu-bind=closest"):
        assert f"#SBATCH {line}\n" in script
    assert "--partition=tracked" not in script  # the site wins over the tracked file ...
    assert cli.main(["render", str(study), "--set", "resources.partition=debug"]) == 0
    assert "#SBATCH --partition=debug\n" in capsys.readouterr().out  # ... and --set over the site


def test_the_user_config_folder_is_the_fallback_and_an_image_makes_apptainer_the_default(study, tmp_path):
    folder = tmp_path / "config" / "ance-bundle"
    folder.mkdir(parents=True)
    (folder / "site.yaml").write_text("image: images/ance.sif\nhf_home: hf\n")
    path, values = site_resources(tmp_path)
    assert path == folder / "site.yaml"
    # relative paths are relative to the site file's folder
    assert values == {"image": str(folder / "images" / "ance.sif"), "hf_home": str(folder / "hf"), "runtime": "apptainer"}
    [(_, exp)] = discovery.load_or_raise([study])
    assert (exp.resources.runtime, exp.resources.image) == ("apptainer", str(folder / "images" / "ance.sif"))
    (folder / "site.yaml").write_text("image: images/ance.sif\nruntime: native\n")
    assert site_resources(tmp_path)[1]["runtime"] == "native"  # a site that says native keeps it
    (tmp_path / "site.yaml").write_text("account: here\n")  # the working directory's file comes first
    assert site_resources(tmp_path) == (tmp_path / "site.yaml", {"account": "here"})


@pytest.mark.parametrize("text, where, expected", [
    ("acount: proj\n", "acount", "one of the site fields"),
    ('partition: "gpu\\n#SBATCH --wrap=evil"\n', "partition", "text matching"),  # a real newline (YAML "\n")
    ("sbatch: ['--reservation=a b']\n", "sbatch[0]", "text matching"),
    ('sbatch: ["--comment=x\\n#SBATCH --uid=0"]\n', "sbatch[0]", "text matching"),
    ("sbatch: ['--x=\"$(reboot)\"']\n", "sbatch[0]", "text matching"),
    ("mail_user: 'me@example.org; rm -rf /'\n", "mail_user", "text matching"),
    ("runtime: docker\n", "runtime", "'native' or 'apptainer'"),
    ("- a\n- b\n", "document", "a mapping"),
])
def test_a_bad_site_file_names_the_file_the_field_what_was_expected_and_what_was_found(tmp_path, text, where, expected):
    path = tmp_path / "site.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as caught:
        load_site(path)
    assert caught.value.file == str(path)
    [problem] = caught.value.problems
    assert problem.where == where and expected in problem.expected and problem.found is not None


def test_commands_refuse_a_bad_site_file_before_anything_else(study, tmp_path, capsys):
    (tmp_path / "site.yaml").write_text("gpu_type: 'a100 --uid=0'\n")
    assert cli.main(["submit", str(study), "--dry-run"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"{tmp_path}/site.yaml: gpu_type: expected text matching" in err


def test_an_explicit_site_file_must_exist(tmp_path, monkeypatch):
    monkeypatch.setenv("ANCE_SITE_FILE", str(tmp_path / "missing.yaml"))
    with pytest.raises(InputError, match=r"missing.yaml: file: expected an existing site file \(named by \$ANCE_SITE_FILE\)"):
        site_resources(tmp_path)
