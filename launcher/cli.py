"""`ance-launch`: validate, render, submit, follow and cancel experiment jobs.

    ance-launch validate EXP...                         check files, paths and every script they would render
    ance-launch render EXP [--template T] [--seed S]    print one batch script
    ance-launch submit EXP... [--executor slurm|local] [--dry-run] [--wait]
    ance-launch status [SUBMISSION] [--all] [--wait]    job states, with the log tail of failed jobs
    ance-launch logs JOB                                a job's log (JOB: key, SLURM id, or SUBMISSION/KEY)
    ance-launch cancel JOB|SUBMISSION
    ance-launch reproduce-all [--executor ...] [--profile embedded|msmarco-10|msmarco-30]
    ance-launch [tui [--experiments DIR] [--runs DIR]]   the Textual launcher (no arguments: this)
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
import time
from dataclasses import asdict
from pathlib import Path

from rich.text import Text

from ance_core.console import err_console, out_console
from ance_core.errors import AnceError, InputError, Problem
from launcher import discovery, views
from launcher.cancel import cancel_jobs
from launcher.plan import Plan, new_submission_id, plan_encode, plan_study
from launcher.preflight import preflight
from launcher.records import JobEntry, Submission, find_submissions, load_submission, tail
from launcher.render import TEMPLATES, final_checkpoint, render, run_dir, template_name
from launcher.status import JobStatus, collect
from launcher.submit import EXECUTORS, choose_executor, current_workdir, launch, resolve_all

log = logging.getLogger("ance-launch")
PROFILES = ("embedded", "msmarco-10", "msmarco-30", "rehearsal")
DEFAULT_RUNS = "runs"


# ---------------------------------------------------------------- arguments


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ance-launch", description="Submit and follow ANCE experiment jobs (SLURM or local).")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def experiment_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", help="override a field in every experiment")
        p.add_argument("--runs", metavar="DIR", help="runs root for every experiment (replaces outputs.root)")

    p = sub.add_parser("validate", help="check experiment files and the scripts they would render")
    p.add_argument("experiments", nargs="+", metavar="EXP", help="experiment YAML files or folders of them")
    experiment_options(p)
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("render", help="print the batch script of one job")
    p.add_argument("experiment", metavar="EXP")
    p.add_argument("--template", default="run", help=f"one of {', '.join(TEMPLATES)} (default: run)")
    p.add_argument("--seed", type=int, help="the seed (default: the experiment's first)")
    p.add_argument("--checkpoint", help="encode: the checkpoint to embed with (default: the run's final one)")
    experiment_options(p)
    p.set_defaults(func=cmd_render)

    def submit_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--executor", choices=EXECUTORS, help="default: the experiments' resources.executor")
        p.add_argument("--dry-run", action="store_true", help="show the jobs and their order; write and submit nothing")
        p.add_argument("--wait", action="store_true", help="slurm: wait until every job has finished")
        p.add_argument("--timeout", type=float, default=None, metavar="S", help="with --wait: give up after S seconds")
        experiment_options(p)

    p = sub.add_parser("submit", help="prep -> warm-up -> refresh 0 -> run per (experiment, seed) -> report, or an encode array")
    p.add_argument("experiments", nargs="+", metavar="EXP")
    p.add_argument("--no-report", action="store_true", help="leave out the report job")
    p.add_argument("--encode", metavar="CHECKPOINT", help="instead: embed the collection with CHECKPOINT (resources.shards array tasks)")
    p.add_argument("--encode-out", metavar="DIR", help="with --encode: where the shards go")
    submit_options(p)
    p.set_defaults(func=cmd_submit)

    p = sub.add_parser("reproduce-all", help="the whole study of a profile: experiments/<profile>/*.yaml")
    p.add_argument("--profile", default="embedded", help=f"{', '.join(PROFILES)} (a folder under --experiments-dir)")
    p.add_argument("--experiments-dir", default="experiments", metavar="DIR")
    submit_options(p)
    p.set_defaults(func=cmd_reproduce_all)

    p = sub.add_parser("status", help="the state of every job of a submission")
    p.add_argument("submission", nargs="?", help="submission id or folder (default: the newest)")
    p.add_argument("--runs", default=DEFAULT_RUNS, metavar="DIR", help=f"runs root (default: {DEFAULT_RUNS})")
    p.add_argument("--all", action="store_true", help="every submission under the runs root")
    p.add_argument("--wait", action="store_true", help="wait until every job has finished")
    p.add_argument("--timeout", type=float, default=None, metavar="S")
    p.add_argument("--json", action="store_true", help="print the states as JSON")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("logs", help="print a job's log")
    p.add_argument("job", metavar="JOB", help="job key (newest submission), SLURM job id, or SUBMISSION/KEY")
    p.add_argument("--runs", default=DEFAULT_RUNS, metavar="DIR")
    p.add_argument("--lines", type=int, default=100, help="last N lines (0: all)")
    p.set_defaults(func=cmd_logs)

    p = sub.add_parser("cancel", help="cancel a job, or every unfinished job of a submission")
    p.add_argument("target", metavar="JOB|SUBMISSION")
    p.add_argument("--runs", default=DEFAULT_RUNS, metavar="DIR")
    p.set_defaults(func=cmd_cancel)

    p = sub.add_parser("tui", help="the interactive launcher (also: ance-launch with no arguments)")
    p.add_argument("--experiments", action="append", default=[], metavar="DIR", help="experiment folder or file (repeatable; default: experiments)")
    p.add_argument("--runs", metavar="DIR", help="runs root (replaces outputs.root; default: the experiments' own and ./runs)")
    p.set_defaults(func=cmd_tui)
    return parser


# ---------------------------------------------------------------- commands


def cmd_validate(args: argparse.Namespace) -> int:
    loaded = discovery.load_all(discovery.experiment_files(args.experiments), args.set)
    problems: dict[str, str] = {}  # by experiment name (a sweep file gives several), or file when it did not load
    for item in loaded:
        if item.experiment is None:
            continue
        try:
            resolved = resolve_all([(item.source, item.experiment)], current_workdir(), args.runs)
            plan_study(resolved, submission_id="validate", workdir=current_workdir(), executor="slurm").scripts()
        except AnceError as exc:
            problems[item.experiment.name] = str(exc)
    out_console.print(views.validation_table(loaded, problems))
    for item in loaded:
        error = item.error or (problems.get(item.experiment.name) if item.experiment else None)
        if error:
            out_console.print(Text(str(error), style="red"), soft_wrap=True)
    bad = sum(1 for item in loaded if item.error) + len(problems)
    return 2 if bad else 0


def cmd_render(args: argparse.Namespace) -> int:
    name = template_name(args.template).removesuffix(".sh.j2")
    # A sweep file: its first window's experiment (every window's scripts differ only in the segment).
    source, experiment = resolve_all(discovery.load_or_raise([Path(args.experiment)], args.set), current_workdir(), args.runs)[0]
    seed = args.seed if args.seed is not None else experiment.seeds[0]
    if seed not in experiment.seeds:
        raise InputError(source, Problem("--seed", f"one of the experiment's seeds {experiment.seeds}", seed))
    if name == "encode":
        checkpoint = args.checkpoint or final_checkpoint(experiment, seed)
        plan = plan_encode(experiment, checkpoint=checkpoint, out=_encode_out(experiment, seed, checkpoint),
                           submission_id="preview", workdir=current_workdir(), executor="slurm")
    else:
        plan = plan_study([(source, experiment)], submission_id="preview", workdir=current_workdir(), executor="slurm")
    job = next((j for j in plan.jobs if j.template == name and j.context.seed in (seed, None)), None)
    # A shape the plan does not use for this experiment (run_multinode on one node) still renders on request.
    text = render(job.experiment, job.template, job.context) if job else render(experiment, name)
    sys.stdout.write(text)
    return 0


def _encode_out(experiment, seed: int, checkpoint: str) -> str:
    return f"{run_dir(experiment, seed)}/encode/{Path(checkpoint).name}"


def cmd_submit(args: argparse.Namespace) -> int:
    loaded = discovery.load_or_raise(discovery.experiment_files(args.experiments), args.set)
    return _submit(args, loaded, report=not args.no_report)


def cmd_reproduce_all(args: argparse.Namespace) -> int:
    folder = discovery.profile_folder(args.profile, args.experiments_dir)
    loaded = discovery.load_or_raise(discovery.experiment_files([folder]), args.set)
    return _submit(args, loaded, report=True)


def _submit(args: argparse.Namespace, loaded, report: bool) -> int:
    workdir = current_workdir()
    resolved = resolve_all(loaded, workdir, args.runs)
    executor = choose_executor(args.executor, resolved)
    submission_id = new_submission_id()
    if getattr(args, "encode", None):
        if len(resolved) != 1:
            raise InputError(None, Problem("--encode", "exactly one experiment", f"{len(resolved)}"))
        experiment = resolved[0][1]
        checkpoint = str(_absolute(args.encode, workdir))
        out = str(_absolute(args.encode_out, workdir)) if args.encode_out else _encode_out(experiment, experiment.seeds[0], checkpoint)
        plan = plan_encode(experiment, checkpoint=checkpoint, out=out, submission_id=submission_id, workdir=workdir, executor=executor)
    else:
        plan = plan_study(resolved, submission_id=submission_id, workdir=workdir, executor=executor, report=report,
                          skip_finished=True)
        for name, seed in plan.skipped:
            out_console.print(f"skipped {name} seed {seed}: finished (STATUS.json and every refresh record)")
        if plan.skipped and not any(job.template.startswith("run") for job in plan.jobs):
            out_console.print("every run is finished: only the report runs")
    if args.dry_run:
        return _dry_run(plan)

    preflight(plan)
    out_console.print(views.plan_table(plan))
    out_console.print(views.request_view(plan))
    submission, _ = launch(plan, on_event=lambda key, message: err_console.print(f"[bold]{key}[/]: {message}"))
    if executor == "slurm" and not args.wait:
        statuses = collect(submission)
        out_console.print(views.status_view(submission, statuses, out_console.width))
        out_console.print(f"follow with: ance-launch status {submission.id} --runs {_quote_arg(str(submission.folder.parents[1]))}")
        return 0
    statuses = _wait(submission, args.timeout) if executor == "slurm" else collect(submission)
    out_console.print(views.status_view(submission, statuses, out_console.width))
    _print_report(submission, statuses)
    return 0 if all(status.state == "COMPLETED" for status in statuses) else 1


def _print_report(submission: Submission, statuses: list[JobStatus]) -> None:
    """When the chain ran to its report here (local, or --wait), show the result table as well."""
    if not any(s.key == "report" and s.state == "COMPLETED" for s in statuses):
        return
    from ance_core.config.loader import load_experiment
    from ance_core.report import DEFAULT_METRIC, DEFAULT_SPLIT, LOSS_WINDOW, render_rich, summarize
    from ance_core.report import collect as collect_runs
    from ance_core.report import render_time_spent, time_spent
    from rich.markdown import Markdown

    run_dirs = []
    for job in submission.jobs:
        if job.template.startswith("run") and job.experiment and job.seed is not None:
            experiment = load_experiment(submission.folder / "experiments" / f"{job.experiment}.yaml")
            run_dirs.append(run_dir(experiment, job.seed))
    table = collect_runs(run_dirs)
    render_rich(summarize(table, DEFAULT_METRIC, DEFAULT_SPLIT, LOSS_WINDOW), table, out_console)
    spent = time_spent(run_dirs)
    if spent:
        out_console.print(Markdown(render_time_spent(spent)))
    out_console.print(f"report (Markdown, JSON, figures): {submission.folder / 'report'}")


def _absolute(value: str, workdir: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else (Path(workdir) / path).resolve()


def _quote_arg(value: str) -> str:
    return shlex.quote(value)


def _dry_run(plan: Plan) -> int:
    plan.scripts()  # renders everything: refuses bad values now, not at sbatch time
    preflight(plan)  # refuses as the real submission would
    out_console.print(views.plan_table(plan))
    out_console.print(views.request_view(plan))
    out_console.print("dry run: nothing written, nothing submitted. Scripts: ance-launch render EXP --template T")
    return 0


def _wait(submission: Submission, timeout: float | None, interval: float = 2.0) -> list[JobStatus]:
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        statuses = collect(submission)
        if all(status.finished for status in statuses):
            return statuses
        if deadline is not None and time.monotonic() > deadline:
            err_console.print(f"still unfinished after {timeout:.0f}s")
            return statuses
        time.sleep(interval)
        submission = load_submission(submission.folder)


def _submission(ref: str | None, runs: str) -> Submission:
    if ref:
        if Path(ref).is_dir():
            return load_submission(ref)
        named = [folder for folder in find_submissions(runs) if folder.name == ref]
        return load_submission(named[-1] if named else Path(runs) / "_jobs" / ref)
    found = find_submissions(runs)
    if not found:
        raise InputError(runs, Problem("runs root", "submissions under <runs>/_jobs (submit something first, or --runs DIR)", "none"))
    return load_submission(found[-1])


def cmd_status(args: argparse.Namespace) -> int:
    submissions = [load_submission(folder) for folder in find_submissions(args.runs)] if args.all else [_submission(args.submission, args.runs)]
    if not submissions:
        raise InputError(args.runs, Problem("runs root", "submissions under <runs>/_jobs", "none"))
    results = []
    for submission in submissions:
        statuses = _wait(submission, args.timeout) if args.wait else collect(submission)
        results.append((submission, statuses))
    if args.json:
        doc = [{"submission": s.id, "folder": str(s.folder), "jobs": [asdict(st) for st in statuses]} for s, statuses in results]
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    else:
        for submission, statuses in results:
            out_console.print(views.status_view(submission, statuses, out_console.width))
    everything_done = all(st.state == "COMPLETED" for _, statuses in results for st in statuses)
    return 0 if everything_done or not args.wait else 1


def _find_job(ref: str, runs: str) -> tuple[Submission, JobEntry]:
    if "/" in ref:
        submission_id, key = ref.split("/", 1)
        submission = _submission(submission_id, runs)
        entry = submission.entry(key)
        if entry:
            return submission, entry
    else:
        for folder in reversed(find_submissions(runs)):
            submission = load_submission(folder)
            for entry in submission.jobs:
                if ref in (entry.key, entry.job_id) or (entry.job_id and ref.split("_")[0] == entry.job_id):
                    return submission, entry
    raise InputError(runs, Problem("JOB", "a job key, a job id, or SUBMISSION/KEY of a submission under this runs root", repr(ref)))


def cmd_logs(args: argparse.Namespace) -> int:
    submission, entry = _find_job(args.job, args.runs)
    task = int(args.job.split("_")[1]) if "_" in args.job.split("/")[-1] and args.job.split("_")[1].isdigit() else None
    path = submission.log_path(entry, entry.job_id, task)
    if path is None or not path.is_file():
        raise InputError(path or submission.folder, Problem("log", f"the log of {entry.key}", "not written yet (the job has not started?)"))
    lines = tail(path, args.lines) if args.lines else path.read_text(errors="replace").splitlines()
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def _named_submission(ref: str, runs: str) -> Submission | None:
    """The submission `ref` names (id or folder), or None when it names none."""
    folder = Path(ref) if Path(ref).is_dir() else Path(runs) / "_jobs" / ref
    return load_submission(folder) if (folder / "submission.json").is_file() else None


def cmd_cancel(args: argparse.Namespace) -> int:
    submission = _named_submission(args.target, args.runs)
    keys = None  # a submission: every unfinished job of it
    if submission is None:
        submission, entry = _find_job(args.target, args.runs)
        keys = [entry.key]
    stopped = cancel_jobs(submission, keys)
    out_console.print(f"cancelled {' '.join(stopped)}" if stopped else "nothing to cancel: every job named has finished")
    return 0


def cmd_tui(args: argparse.Namespace) -> int:
    from launcher.tui import run  # Textual is imported only for the TUI

    return run(args.experiments, args.runs)


# ---------------------------------------------------------------- entry point


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv or ["tui"])
    from rich.logging import RichHandler

    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(message)s", datefmt="[%X]",
        handlers=[RichHandler(console=err_console, show_path=False)], force=True,
    )
    try:
        return int(args.func(args) or 0)
    except AnceError as exc:
        err_console.print(Text.assemble(("error: ", "bold red"), str(exc)), highlight=False)
        return exc.exit_code
    except KeyboardInterrupt:
        err_console.print("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
