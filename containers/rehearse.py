"""`make container-rehearsal`: build containers/ance.def's root filesystem here, without Apptainer, and run it.

Every step takes its input from the definition file (read by
containers/apptainer_def.py; no section is copied anywhere else) and does what
`apptainer build` (1.2+, root) does with it:

1. debootstrap with the header's OSVersion, MirrorURL and Include, and the
   arguments Apptainer adds (--variant=minbase, --exclude=..., --include=apt,...).
   The result is kept in the cache folder, keyed by those arguments; a rerun
   starts from a copy (--fresh ignores it).
2. the container skeleton: /.singularity.d/{env,actions,libs}, the mount
   points, empty /etc/hosts and /etc/resolv.conf.
3. %files, copied from the repository root with `cp -fLr`.
4. %post, as `/bin/sh -ex /.post.script` inside the root filesystem
   (bubblewrap), in a clean environment with APPTAINER_ENVIRONMENT and
   APPTAINER_LABELS set and the host's resolv.conf and hosts bound.
5. the metadata: %environment, %runscript, %test, %help, %labels (with what
   %post appended to $APPTAINER_LABELS) and each %app* section, at the paths
   `apptainer` reads them from.
6. two runs in the finished root filesystem, read-only and without network:
   `apptainer test` (%test) and `apptainer run --app eval` on the embedded
   data, with a run folder bound at the same path and ANCE_RUNS set to it.
7. with --sif PATH (needs mksquashfs and siftool): the root filesystem packed
   into a SIF and listed with `siftool list`.

What Apptainer does that this does not is listed in README.md ("The Apptainer
image"). Run as root (debootstrap and %post need it, as for `apptainer build`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import apptainer_def  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEFINITION = ROOT / "containers" / "ance.def"
DEFAULT_CACHE = Path(os.environ.get("ANCE_REHEARSAL_CACHE", "/var/cache/ance-rehearsal"))
# `apptainer run --app eval ance.sif ...`: one real stage on the data inside the image.
EVAL_ARGS = ["--checkpoint", "minilm", "--data", "builtin:debian-10pct", "--device", "cpu", "--json"]
# What `apptainer build` passes to debootstrap besides the header's values.
DEBOOTSTRAP_FIXED = ["--variant=minbase", "--exclude=openssl,udev,debconf-i18n,e2fsprogs"]
DEBIAN_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "ppc64le": "ppc64el", "s390x": "s390x"}
# Certificates the host trusts beyond Debian's (a site or TLS-proxy CA) and the bundle that has them.
SITE_CAS = Path("/usr/local/share/ca-certificates")
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
# Apptainer's --cleanenv PATH.
CLEAN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SCRIPT_SECTIONS = ("post", "runscript", "test", "environment", "apprun")
# What the rehearsal does with each section; a definition with any other is refused, not half-rehearsed.
REHEARSED = {"arguments", "files", "post", "environment", "runscript", "test", "help", "labels", "apprun", "apphelp"}


class RehearsalError(RuntimeError):
    """A step failed; the message names the step."""


def say(message: str) -> None:
    print(f"rehearsal: {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- the sandbox


def bwrap(root: Path, argv: list[str], *, env: dict[str, str], writable: bool, network: bool,
          binds: list[tuple[Path, Path]] = (), ro_binds: list[tuple[Path, Path]] = (), cwd: str = "/") -> int:
    """Run argv with `root` as /, as `apptainer exec` would: own /proc, /dev, /tmp; the given binds."""
    command = ["bwrap", "--bind" if writable else "--ro-bind", str(root), "/",
               "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--unshare-pid", "--unshare-ipc",
               "--die-with-parent", "--clearenv"]
    if not network:
        command.append("--unshare-net")
    for src, dst in ro_binds:
        command += ["--ro-bind", str(src), str(dst)]
    for src, dst in binds:
        command += ["--bind", str(src), str(dst)]
    for key, value in env.items():
        command += ["--setenv", key, value]
    command += ["--chdir", cwd, *argv]
    return subprocess.run(command).returncode


# ---------------------------------------------------------------- build steps


def debootstrap_args(definition: apptainer_def.Definition, target: Path) -> list[str]:
    header = definition.header
    if header.get("bootstrap") != "debootstrap":
        raise RehearsalError(f"Bootstrap: {header.get('bootstrap')!r}; the rehearsal builds `Bootstrap: debootstrap` only")
    for key in ("osversion", "mirrorurl"):
        if not header.get(key):
            raise RehearsalError(f"Bootstrap: debootstrap needs a `{key}` header line")
    include = ",".join(["apt", *header.get("include", "").split()])
    arch = DEBIAN_ARCH.get(platform.machine())
    if arch is None:
        raise RehearsalError(f"no Debian architecture known for {platform.machine()}")
    return ["debootstrap", *DEBOOTSTRAP_FIXED, f"--include={include}", f"--arch={arch}",
            header["osversion"], str(target), header["mirrorurl"]]


def base_rootfs(definition: apptainer_def.Definition, cache: Path, fresh: bool) -> Path:
    """The debootstrapped base, from the cache when the same arguments made it before."""
    key = hashlib.sha256(json.dumps(debootstrap_args(definition, Path("-"))).encode()).hexdigest()[:16]
    base = cache / f"debootstrap-{key}"
    if base.is_dir() and not fresh:
        say(f"debootstrap: reusing {base} (same release, mirror and packages; --fresh to redo)")
        return base
    partial = base.with_name(base.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    args = debootstrap_args(definition, partial)
    say(f"debootstrap: {shlex.join(args)}")
    if subprocess.run(args).returncode != 0:
        log = partial / "debootstrap" / "debootstrap.log"
        tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
        raise RehearsalError(f"debootstrap failed\n{tail}")
    shutil.rmtree(base, ignore_errors=True)
    partial.rename(base)
    return base


ACTION_PRELUDE = """#!/bin/sh
for script in /.singularity.d/env/*.sh; do
    if [ -f "$script" ]; then
        . "$script"
    fi
done
"""
# What `apptainer exec|run|test` start in the container: the env scripts, in
# name order, sourced by one /bin/sh, then the command, runscript or test.
ACTIONS = {
    "exec": ACTION_PRELUDE + 'exec "$@"\n',
    "run": ACTION_PRELUDE + """if [ -n "${APPTAINER_APPNAME:-}" ]; then
    exec "/scif/apps/$APPTAINER_APPNAME/scif/runscript" "$@"
fi
exec /.singularity.d/runscript "$@"
""",
    "test": ACTION_PRELUDE + """if [ -n "${APPTAINER_APPNAME:-}" ]; then
    exec "/scif/apps/$APPTAINER_APPNAME/scif/test" "$@"
fi
exec /.singularity.d/test "$@"
""",
}
# /.singularity.d/env/99-base.sh: where --nv puts the driver libraries.
BASE_ENV = """#!/bin/sh
LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}/.singularity.d/libs"
export LD_LIBRARY_PATH
"""
ENV_HEADER = "#!/bin/sh\n# Custom environment shell code should follow\n\n"


def write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


def skeleton(rootfs: Path) -> None:
    rootfs.chmod(0o755)
    for folder in ("dev", "proc", "sys", "tmp", "var/tmp", "home", "root", "etc", ".singularity.d/libs"):
        (rootfs / folder).mkdir(parents=True, exist_ok=True)
    for name in ("etc/hosts", "etc/resolv.conf"):
        target = rootfs / name
        if target.is_symlink():
            target.unlink()
        write(target, "")
    for name, text in ACTIONS.items():
        write(rootfs / ".singularity.d/actions" / name, text, 0o755)
    write(rootfs / ".singularity.d/env/90-environment.sh", ENV_HEADER, 0o755)
    write(rootfs / ".singularity.d/env/99-base.sh", BASE_ENV, 0o755)


def copy_files(definition: apptainer_def.Definition, rootfs: Path, repo: Path) -> None:
    for src, dst in definition.files:
        source = repo / src
        if not source.exists():
            raise RehearsalError(f"%files: {src} does not exist (paths are relative to {repo})")
        target = rootfs / dst.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        say(f"%files: {src} -> {dst}")
        subprocess.run(["cp", "-fLr", str(source), str(target)], check=True)


def check_rehearsable(definition: apptainer_def.Definition) -> None:
    others = sorted({key.split()[0] for key in definition.sections} - REHEARSED)
    if others:
        raise RehearsalError(f"{', '.join('%' + s for s in others)}: not rehearsed (only {', '.join(sorted(REHEARSED))})")
    for key, args in definition.section_args.items():
        if key.split()[0] in SCRIPT_SECTIONS and args:
            raise RehearsalError(f"%{key} {args}: section arguments (another shell) are not rehearsed")


def run_post(definition: apptainer_def.Definition, rootfs: Path) -> None:
    script = definition.sections.get("post")
    if not script:
        return
    write(rootfs / ".post.script", script, 0o755)
    env = {
        "PATH": CLEAN_PATH, "HOME": "/root", "LANG": "C", "TERM": os.environ.get("TERM", "dumb"),
        "APPTAINER_ENVIRONMENT": "/.singularity.d/env/91-environment.sh",
        "SINGULARITY_ENVIRONMENT": "/.singularity.d/env/91-environment.sh",
        "APPTAINER_LABELS": "/.build.labels", "SINGULARITY_LABELS": "/.build.labels",
    }
    host_net = [(Path(p), Path(p)) for p in ("/etc/resolv.conf", "/etc/hosts") if Path(p).exists()]
    if CA_BUNDLE.exists() and any(SITE_CAS.glob("**/*.crt")):
        say(f"%post: this host trusts its own CAs ({SITE_CAS}); binding {CA_BUNDLE} over the image's for %post only, "
            f"as `apptainer build --bind {CA_BUNDLE}` must on such a host (the image keeps Debian's bundle)")
        host_net.append((CA_BUNDLE, CA_BUNDLE))
    say("%post: /bin/sh -ex /.post.script (network on, root filesystem writable)")
    started = time.monotonic()
    code = bwrap(rootfs, ["/bin/sh", "-ex", "/.post.script"], env=env, writable=True, network=True, ro_binds=host_net)
    (rootfs / ".post.script").unlink()
    if code != 0:
        raise RehearsalError(f"%post failed (exit {code}): the traced line above (+ ...) is the one that failed")
    say(f"%post: done in {time.monotonic() - started:.0f} s")


def script_file(body: str) -> str:
    return "#!/bin/sh\n\n" + body


def write_metadata(definition: apptainer_def.Definition, rootfs: Path, definition_text: str) -> dict[str, str]:
    sections = definition.sections
    meta = rootfs / ".singularity.d"
    if "environment" in sections:
        write(meta / "env/90-environment.sh", ENV_HEADER + sections["environment"], 0o755)
    write(meta / "runscript", script_file(sections.get("runscript", "")), 0o755)
    if "test" in sections:
        write(meta / "test", script_file(sections["test"]), 0o755)
    if "help" in sections:
        write(meta / "runscript.help", sections["help"])
    write(meta / "Singularity", definition_text)
    labels = dict(definition.labels)
    built = rootfs / ".build.labels"
    if built.exists():  # what %post appended to $APPTAINER_LABELS
        for line in built.read_text().splitlines():
            key, _, value = line.strip().partition(" ")
            if key:
                labels[key] = value.strip()
        built.unlink()
    write(meta / "labels.json", json.dumps(labels, indent=4) + "\n")
    for name, app in definition.apps().items():
        scif = rootfs / "scif/apps" / name / "scif"
        if "apprun" in app:
            write(scif / "runscript", script_file(app["apprun"]), 0o755)
        if "apphelp" in app:
            write(scif / "runscript.help", app["apphelp"])
        (rootfs / "scif/apps" / name / "bin").mkdir(exist_ok=True)
    return labels


def check_host(needs_debootstrap: bool) -> None:
    """What the host must have, said before anything starts."""
    missing = [tool for tool in ("bwrap", *(["debootstrap"] if needs_debootstrap else [])) if shutil.which(tool) is None]
    if missing:
        raise RehearsalError(f"{' and '.join(missing)} not found (Debian: apt-get install bubblewrap debootstrap)")
    if needs_debootstrap and os.geteuid() != 0:
        raise RehearsalError("debootstrap needs root, as `apptainer build` from `Bootstrap: debootstrap` does")


def build(definition_path: Path, work: Path, cache: Path, *, base: Path | None, fresh: bool,
          build_args: dict[str, str], repo: Path = ROOT) -> Path:
    """The rehearsed root filesystem, at work/rootfs (rebuilt from nothing but the base)."""
    text = definition_path.read_text()
    try:
        definition = apptainer_def.parse(text, build_args)
    except apptainer_def.DefinitionError as exc:
        raise RehearsalError(f"{definition_path}: {exc}") from None
    check_rehearsable(definition)
    check_host(needs_debootstrap=base is None)
    if base is None:
        base = base_rootfs(definition, cache, fresh)
    rootfs = work / "rootfs"
    if rootfs.exists():
        shutil.rmtree(rootfs)
    work.mkdir(parents=True, exist_ok=True)
    say(f"root filesystem: copy of {base} -> {rootfs}")
    subprocess.run(["cp", "-a", str(base), str(rootfs)], check=True)
    skeleton(rootfs)
    copy_files(definition, rootfs, repo)
    run_post(definition, rootfs)
    labels = write_metadata(definition, rootfs, text)
    say("labels: " + ", ".join(f"{k}={v}" for k, v in sorted(labels.items())))
    return rootfs


# ---------------------------------------------------------------- runs


def run_action(rootfs: Path, action: str, args: list[str], run_dir: Path, app: str | None = None) -> int:
    """`apptainer <action> [--app APP] image ARGS` with --bind RUN_DIR and ANCE_RUNS=RUN_DIR."""
    home = run_dir / "home"
    home.mkdir(parents=True, exist_ok=True)
    env = {"PATH": CLEAN_PATH, "HOME": str(home), "LANG": "C.UTF-8", "TERM": os.environ.get("TERM", "dumb"),
           "ANCE_RUNS": str(run_dir), "APPTAINER_CONTAINER": "rehearsal", "APPTAINER_NAME": "rehearsal"}
    if app:
        env["APPTAINER_APPNAME"] = app
    shown = f"apptainer {action}{f' --app {app}' if app else ''} IMAGE {shlex.join(args)}".rstrip()
    say(f"{shown}   (read-only root, no network, --bind {run_dir}, ANCE_RUNS={run_dir})")
    started = time.monotonic()
    code = bwrap(rootfs, [f"/.singularity.d/actions/{action}", *args], env=env, writable=False, network=False,
                 binds=[(run_dir, run_dir)], cwd=str(run_dir))
    say(f"{shown}: exit {code} after {time.monotonic() - started:.0f} s")
    return code


def run_checks(rootfs: Path, run_dir: Path) -> None:
    if run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True)
    # The bind's mount point: Apptainer makes it in an overlay, a read-only root needs it made now.
    (rootfs / str(run_dir).lstrip("/")).mkdir(parents=True, exist_ok=True)
    if (rootfs / ".singularity.d/test").exists() and run_action(rootfs, "test", [], run_dir) != 0:
        raise RehearsalError("%test failed")
    if run_action(rootfs, "run", EVAL_ARGS, run_dir, app="eval") != 0:
        raise RehearsalError("the eval stage failed")


# ---------------------------------------------------------------- SIF


def pack_sif(rootfs: Path, sif: Path, definition_path: Path, labels: Path) -> None:
    missing = [tool for tool in ("mksquashfs", "siftool") if shutil.which(tool) is None]
    if missing:
        raise RehearsalError(f"--sif needs {' and '.join(missing)} (Debian: apt-get install squashfs-tools siftool)")
    squashfs = sif.with_name(sif.name + ".squashfs")
    partial = sif.with_name(sif.name + ".partial")
    for path in (squashfs, partial):
        path.unlink(missing_ok=True)
    say(f"mksquashfs {rootfs} -> {squashfs} (gzip, as apptainer build)")
    started = time.monotonic()
    subprocess.run(["mksquashfs", str(rootfs), str(squashfs), "-noappend", "-comp", "gzip", "-quiet",
                    "-no-progress"], check=True)
    say(f"mksquashfs: {time.monotonic() - started:.0f} s")
    subprocess.run(["siftool", "new", str(partial)], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["siftool", "add", str(partial), str(definition_path), "--datatype", "1",
                    "--filename", "Def.FILE"], check=True)
    subprocess.run(["siftool", "add", str(partial), str(labels), "--datatype", "6",
                    "--filename", "JSON.Generic"], check=True)
    arch = {"amd64": "2", "arm64": "4", "ppc64el": "6", "s390x": "11"}[DEBIAN_ARCH[platform.machine()]]
    subprocess.run(["siftool", "add", str(partial), str(squashfs), "--datatype", "4", "--parttype", "2",
                    "--partfs", "1", "--partarch", arch, "--filename", "FS"], check=True)
    squashfs.unlink()
    partial.rename(sif)
    listing = subprocess.run(["siftool", "list", str(sif)], check=True, capture_output=True, text=True).stdout
    print(listing, end="", flush=True)
    say(f"{sif}: {sif.stat().st_size / 2**20:.0f} MiB")


# ---------------------------------------------------------------- main


def git_sha(repo: Path) -> str:
    """The commit, as `make container` passes it (containers/build.sh git-sha)."""
    result = subprocess.run(["bash", str(repo / "containers/build.sh"), "git-sha"], capture_output=True, text=True)
    return result.stdout.strip() or "unknown"


def du(path: Path) -> str:
    out = subprocess.run(["du", "-sh", "--apparent-size", str(path)], capture_output=True, text=True).stdout
    return out.split()[0] if out else "?"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--definition", type=Path, default=DEFINITION, help="the definition file (default: ance.def)")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE,
                        help="debootstrap results and the work folder (default $ANCE_REHEARSAL_CACHE or %(default)s)")
    parser.add_argument("--work", type=Path, help="where the root filesystem and the run folder go (default CACHE/work)")
    parser.add_argument("--base", type=Path, help="use this root filesystem instead of debootstrap's")
    parser.add_argument("--fresh", action="store_true", help="debootstrap again even when the cache has the base")
    parser.add_argument("--sif", type=Path, help="also pack the root filesystem into this SIF (mksquashfs, siftool)")
    args = parser.parse_args(argv)

    started = time.monotonic()
    work = (args.work or args.cache / "work").resolve()
    sha = git_sha(ROOT)
    say(f"{args.definition} with GIT_SHA={sha}; torch and everything else exactly as the lock pins them")
    try:
        rootfs = build(args.definition.resolve(), work, args.cache.resolve(), base=args.base, fresh=args.fresh,
                       build_args={"GIT_SHA": sha})
        say(f"root filesystem: {du(rootfs)} in {rootfs}")
        run_checks(rootfs, work / "runs")
        if args.sif:
            pack_sif(rootfs, args.sif.resolve(), args.definition.resolve(), rootfs / ".singularity.d/labels.json")
    except RehearsalError as exc:
        say(f"FAILED: {exc}")
        return 1
    say(f"passed in {time.monotonic() - started:.0f} s: %post, %test and `run --app eval` in the rehearsed image")
    return 0


if __name__ == "__main__":
    sys.exit(main())
