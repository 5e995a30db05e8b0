"""containers/rehearse.py (make container-rehearsal): ance.def's build steps run here, the way apptainer runs them.

The fast tests rehearse tiny definitions on a root filesystem of one shell and
its libraries, in bubblewrap: %files, %post's trace and failure, the labels and
environment %post appends to, %test and an app run on a read-only root. The
slow test debootstraps the real base and breaks a line of ance.def's own %post.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import apptainer_def
import pytest

ROOT = Path(__file__).resolve().parents[2]
REHEARSE = ROOT / "containers" / "rehearse.py"

needs_bwrap = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap (bwrap) is not installed")


@pytest.fixture
def shell_root(tmp_path) -> Path:
    """A root filesystem holding /bin/sh and the shared libraries it loads, nothing else."""
    base = tmp_path / "base"
    shell = Path(os.path.realpath("/bin/sh"))
    ldd = subprocess.run(["ldd", str(shell)], capture_output=True, text=True, check=True).stdout
    libraries = [word for line in ldd.splitlines() for word in line.split() if word.startswith("/")]
    for path in [shell, *map(Path, libraries)]:
        target = base / str(path).lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(os.path.realpath(path), target)
    (base / "bin").mkdir(exist_ok=True)
    if not (base / "bin/sh").exists():
        (base / "bin/sh").symlink_to(shell)
    return base


TINY = """Bootstrap: debootstrap
OSVersion: bookworm
MirrorURL: http://deb.debian.org/debian

%arguments
    GIT_SHA=unknown

%files
    containers/check_deps.py /opt/tiny/check_deps.py

%post
    [ -f /opt/tiny/check_deps.py ]
    echo "tiny.version 1.2.3" >>"$APPTAINER_LABELS"
    echo 'export FROM_POST=yes' >>"$APPTAINER_ENVIRONMENT"
{broken}    echo done >/opt/tiny/post-finished

%environment
    export GREETING=hello

%test
    echo "test: $GREETING $FROM_POST" >"$ANCE_RUNS/test.out"
    while read -r line; do echo "$line"; done </proc/net/dev >"$ANCE_RUNS/net.out"
{test_extra}
%labels
    tiny.revision {{{{ GIT_SHA }}}}

%apprun eval
    echo "eval $* runs=$ANCE_RUNS" >"$ANCE_RUNS/eval.out"
"""


def tiny(tmp_path: Path, broken: str = "", test_extra: str = "") -> Path:
    path = tmp_path / "tiny.def"
    path.write_text(TINY.format(broken=broken, test_extra=test_extra))
    return path


def run_rehearsal(definition: Path, base: Path, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REHEARSE), "--definition", str(definition), "--base", str(base),
         "--cache", str(tmp_path / "cache"), "--work", str(tmp_path / "work"), *extra],
        capture_output=True, text=True, timeout=120,
    )


@needs_bwrap
def test_a_tiny_definition_is_built_and_run_like_apptainer_does(shell_root, tmp_path, rehearse):
    result = run_rehearsal(tiny(tmp_path), shell_root, tmp_path)
    assert result.returncode == 0, result.stderr
    rootfs, runs = tmp_path / "work/rootfs", tmp_path / "work/runs"
    assert (rootfs / "opt/tiny/post-finished").read_text() == "done\n"
    assert "+ echo done" in result.stderr, "%post runs under sh -x: each line is traced"
    assert not (rootfs / ".post.script").exists() and not (rootfs / ".build.labels").exists()
    # %test saw %environment's variables and what %post appended to $APPTAINER_ENVIRONMENT.
    assert (runs / "test.out").read_text() == "test: hello yes\n"
    interfaces = [line.split(":")[0].strip() for line in (runs / "net.out").read_text().splitlines()[2:]]
    assert interfaces == ["lo"], "stages run without network, as on a compute node"
    # The app ran with the eval arguments, in the bound run folder.
    assert (runs / "eval.out").read_text() == f"eval {' '.join(rehearse.EVAL_ARGS)} runs={runs}\n"
    labels = json.loads((rootfs / ".singularity.d/labels.json").read_text())
    assert labels["tiny.version"] == "1.2.3"  # from %post, through $APPTAINER_LABELS
    assert labels["tiny.revision"] not in ("", "unknown")  # --build-arg GIT_SHA as `make container` passes it
    assert (rootfs / ".singularity.d/Singularity").read_text() == (tmp_path / "tiny.def").read_text()


@needs_bwrap
def test_a_failing_post_line_fails_the_rehearsal_with_that_lines_error(shell_root, tmp_path):
    result = run_rehearsal(tiny(tmp_path, broken="    cd /no/such/folder\n"), shell_root, tmp_path)
    assert result.returncode == 1
    assert "+ cd /no/such/folder" in result.stderr
    assert "can't cd to /no/such/folder" in result.stderr
    assert "%post failed (exit 2)" in result.stderr
    assert not (tmp_path / "work/rootfs/opt/tiny/post-finished").exists(), "sh -e stops at the failing line"
    assert not (tmp_path / "work/runs").exists(), "nothing runs in an image whose %post failed"


@needs_bwrap
def test_the_image_is_read_only_when_it_runs(shell_root, tmp_path):
    result = run_rehearsal(tiny(tmp_path, test_extra="    echo x >/opt/tiny/written-at-run-time\n"), shell_root, tmp_path)
    assert result.returncode == 1
    assert "%test failed" in result.stderr
    assert not (tmp_path / "work/rootfs/opt/tiny/written-at-run-time").exists()


@needs_bwrap
@pytest.mark.skipif(not (shutil.which("mksquashfs") and shutil.which("siftool")), reason="needs mksquashfs and siftool")
def test_the_root_filesystem_packs_into_a_sif_with_apptainers_layout(shell_root, tmp_path):
    sif = tmp_path / "tiny.sif"
    result = run_rehearsal(tiny(tmp_path), shell_root, tmp_path, "--sif", str(sif))
    assert result.returncode == 0, result.stderr
    listing = subprocess.run(["siftool", "list", str(sif)], capture_output=True, text=True, check=True).stdout
    for needle in ("Def.FILE", "JSON.Generic", "FS", "Squashfs/*System/amd64"):
        assert needle in listing, (needle, listing)
    assert not list(tmp_path.glob("tiny.sif.*")), "no partial files are left beside the SIF"


def test_what_the_rehearsal_cannot_do_as_apptainer_does_is_refused(rehearse):
    head = "Bootstrap: debootstrap\nOSVersion: bookworm\nMirrorURL: x\n"
    with_args = apptainer_def.parse(head + "%post -c /bin/bash\n    true\n")
    assert with_args.section_args == {"post": "-c /bin/bash"}
    with pytest.raises(rehearse.RehearsalError, match="section arguments"):
        rehearse.check_rehearsable(with_args)
    with pytest.raises(rehearse.RehearsalError, match="%setup: not rehearsed"):
        rehearse.check_rehearsable(apptainer_def.parse(head + "%setup\n    true\n"))
    rehearse.check_rehearsable(apptainer_def.parse((ROOT / "containers/ance.def").read_text()))
    docker = apptainer_def.parse("Bootstrap: docker\nFrom: debian:bookworm-slim\n")
    with pytest.raises(rehearse.RehearsalError, match="`Bootstrap: debootstrap` only"):
        rehearse.debootstrap_args(docker, Path("/x"))


def test_debootstrap_gets_the_header_and_what_apptainer_adds(definition, rehearse, monkeypatch):
    monkeypatch.setattr(rehearse.platform, "machine", lambda: "x86_64")
    args = rehearse.debootstrap_args(definition, Path("/target"))
    include = ",".join(["apt", *definition.header["include"].split()])
    assert args == ["debootstrap", "--variant=minbase", "--exclude=openssl,udev,debconf-i18n,e2fsprogs",
                    f"--include={include}", "--arch=amd64", "bookworm", "/target", definition.header["mirrorurl"]]


@pytest.mark.slow
@needs_bwrap
@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("debootstrap") is None, reason="needs root and debootstrap")
def test_a_broken_line_in_ance_defs_own_post_fails_the_real_rehearsal(definition_text, tmp_path):
    # Right after the venv exists: Debian's base got that far, then the injected line fails.
    anchor = "    python3 -m venv /opt/ance/venv\n"
    assert anchor in definition_text
    broken = tmp_path / "ance.def"
    broken.write_text(definition_text.replace(anchor, anchor + "    ls /opt/ance/venv/no-such-file\n"))
    cache = Path(os.environ.get("ANCE_REHEARSAL_CACHE", "/var/cache/ance-rehearsal"))
    result = subprocess.run(
        [sys.executable, str(REHEARSE), "--definition", str(broken), "--cache", str(cache), "--work", str(tmp_path / "work")],
        capture_output=True, text=True, timeout=1800,
    )
    assert result.returncode == 1, result.stderr[-3000:]
    assert "+ ls /opt/ance/venv/no-such-file" in result.stderr
    assert "cannot access '/opt/ance/venv/no-such-file': No such file or directory" in result.stderr
    assert "%post failed (exit 2)" in result.stderr
    assert (tmp_path / "work/rootfs/opt/ance/venv/bin/python").exists(), "the lines before it ran"
