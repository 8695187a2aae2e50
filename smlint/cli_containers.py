"""`smlint run` and `smlint probe`: the commands that start containers.

Both start the image as Processing starts it, so they share the job's command
options, the sandbox's limits, the loading of --job and the exit rule (a job
that is not Completed, or a probe that is not conclusive, never exits 0).
"""
from __future__ import annotations

import contextlib
import shlex
import sys

import click

from .cli_common import common_options, finish, policy_from


def _argv_option(value: str | None, what: str) -> list[str] | None:
    """A JSON array (`'["python3","job.py"]'`) or a shell-quoted string."""
    import json

    if value is None:
        return None
    if value.lstrip().startswith("["):
        try:
            parsed = json.loads(value)
        except ValueError as error:
            raise click.BadParameter(f"not a JSON array: {error}", param_hint=what)
        if not isinstance(parsed, list) or not all(isinstance(item, str) for item in parsed):
            raise click.BadParameter("must be a JSON array of strings", param_hint=what)
        return parsed
    try:
        return shlex.split(value)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint=what)


def _container_options(function):
    """How run and probe start containers: the job's command and the sandbox;
    then the report options (-o/--report: --output names a job output here)."""
    options = [
        click.option("--job", "job_path", type=click.Path(), default=None, metavar="REQUEST",
                     help="CreateProcessingJob request (JSON/YAML) to run as."),
        click.option("--env", "env", multiple=True, metavar="KEY=VALUE",
                     help="Environment variable, added to the request's Environment; repeatable."),
        click.option("--entrypoint", default=None, metavar="ARGV",
                     help="ContainerEntrypoint: a JSON array or a shell-quoted string."),
        click.option("--arguments", default=None, metavar="ARGV",
                     help="ContainerArguments: a JSON array or a shell-quoted string."),
        click.option("--grace", type=click.FloatRange(min=0, min_open=True), default=None, metavar="SECONDS",
                     help="Seconds between the stop signal and SIGKILL [default: grace-period, 10]."),
        click.option("--memory", default="2g", show_default=True, help="Container memory limit."),
        click.option("--pids-limit", type=click.IntRange(min=16), default=1024, show_default=True,
                     help="Container process limit."),
        click.option("--network", default="none", show_default=True,
                     help="Docker network for the container (default: none, no network)."),
        click.option("--gpus", is_flag=True, help="Give the container the host's GPUs (needs the NVIDIA runtime)."),
    ]
    function = common_options(function, report=("-o", "--report"))
    for option in reversed(options):
        function = option(function)
    return function


def _job_options(command: str, image: str, options: dict, policy, make):
    """(the --job request, `make(shared)`): `shared` holds the fields RunOptions
    and ProbeOptions have in common. A bad --job or option value is reported
    as SM001 (exit 2), as any unreadable input is."""
    from .engine import unreadable
    from .report import Report
    from .run.plan import PlanError, parse_pairs
    from .run.request import load_request
    from .run.sandbox import Limits

    job_path, request, error = options.pop("job_path"), None, None
    if job_path is not None:
        try:
            request = load_request(job_path)
        except PlanError as problem:  # the SM001 finding names the file: the message is only the reason
            error = str(problem).removeprefix(f"{job_path}: ")
    try:
        shared = dict(
            env=parse_pairs(options.pop("env"), "--env"),
            entrypoint=_argv_option(options.pop("entrypoint"), "--entrypoint"),
            arguments=_argv_option(options.pop("arguments"), "--arguments"),
            grace=options.pop("grace"), gpus=options.pop("gpus"),
            inputs=parse_pairs(options.pop("inputs"), "--input"),
            outputs=parse_pairs(options.pop("outputs"), "--output"),
            limits=Limits(memory=options.pop("memory"), pids=options.pop("pids_limit"),
                          network=options.pop("network"), read_only=options.pop("read_only")),
        )
        built = make(shared)
    except PlanError as problem:
        error = error or str(problem)
    if error:
        report = Report(command=command, targets=[image], findings=[unreadable(job_path or image, error)])
        finish(report, policy, options["fmt"], options["output"], options)
    return request, built


def _finish_container_report(report, policy, options: dict, passed: bool) -> None:
    """finish(), but a job that is not Completed (or a probe that is not
    conclusive) never exits 0, whatever --fail-on says."""
    try:
        finish(report, policy, options["fmt"], options["output"], options)
    except SystemExit as done:
        if done.code == 0 and not passed:
            sys.exit(1)
        raise


@contextlib.contextmanager
def _interruptible(command: str):
    """Ctrl-C or SIGTERM (the run's cleanup already happened): exit 130, not click's 'Aborted!' 1."""
    try:
        yield
    except KeyboardInterrupt:
        click.echo(f"smlint: {command} interrupted; its containers and temporary files were removed", err=True)
        sys.exit(130)


@click.command("run")
@click.option("--image", required=True, metavar="REF", help="Local image to run.")
@click.option("--input", "inputs", multiple=True, metavar="NAME=DIR",
              help="Local data for input NAME, mounted read-only at its LocalPath; repeatable.")
@click.option("--output", "outputs", multiple=True, metavar="NAME=DIR",
              help="Where output NAME is copied after a Completed job; repeatable.")
@click.option("--max-runtime", type=click.IntRange(min=1), default=None, metavar="SECONDS",
              help="MaxRuntimeInSeconds [default: the request's, else 86400].")
@click.option("--run-dir", type=click.Path(file_okay=False), default=None,
              help="Folder for outputs without --output [default: ./smlint-run-<run id>].")
@click.option("--keep-outputs", is_flag=True, help="Copy outputs of a Failed or Stopped job too.")
@click.option("--instance-count", type=click.IntRange(1, 100), default=None, metavar="N",
              help="Hosts algo-1..algo-N on an isolated job network [default: the request's InstanceCount].")
@click.option("--late-hosts", type=click.FloatRange(min=0), default=0, metavar="SECONDS",
              help="Peers' host names resolve only after SECONDS (the guide: retry name resolution); SM410.")
@click.option("--code", default=None, metavar="PATH",
              help="A script (or, with --entry, a folder) mounted as the `code` input at "
                   "/opt/ml/processing/input/code, and run with --command, as ScriptProcessor does.")
@click.option("--command", default=None, metavar="WORDS", help="What runs the --code script [default: python3].")
@click.option("--entry", default=None, metavar="SCRIPT", help="The script to run inside a --code folder.")
@click.option("--max-disk", default=None, metavar="SIZE",
              help="Stop the job when it fills more than SIZE (e.g. 20g) [default: VolumeSizeInGB per host].")
@click.option("--read-only/--writable", "read_only", default=False, show_default=True,
              help="Read-only root filesystem (tmpfs /tmp); SageMaker's root is writable.")
@_container_options
def run_command(image, max_runtime, run_dir, keep_outputs, instance_count, late_hosts, code, command, entry,
                max_disk, **options):
    """Run IMAGE as a local processing job under the Processing contract.

    Container output streams live (to stderr when the report is JSON, SARIF
    or GitHub, so stdout stays machine-readable), then the report.
    """
    from .run.runner import RunOptions, run

    policy = policy_from(options)
    request, run_options = _job_options("run", image, options, policy, lambda shared: RunOptions(
        **shared, max_runtime=max_runtime, run_dir=run_dir, keep_outputs=keep_outputs,
        instance_count=instance_count, late_hosts=late_hosts, max_disk=_size_option(max_disk), code=code,
        entry=entry, command=shlex.split(command) if command else None))
    streams = {"stdout": sys.stdout, "stderr": sys.stderr} if options["fmt"] == "text" or options["output"] else sys.stderr
    with _interruptible("run"):
        report = run(image, request, run_options, policy, stream=streams)
    with _interrupted_exit(report):
        _finish_container_report(report, policy, options, report.result.get("status") == "Completed")


def _size_option(text):
    from .run.disk import parse_size
    from .run.plan import PlanError

    try:
        return parse_size(text) if text is not None else None
    except ValueError as error:
        raise PlanError(f"--max-disk: {error}") from None


@contextlib.contextmanager
def _interrupted_exit(report):
    """A run stopped by the first Ctrl-C reports, then exits 130 like any interrupted command."""
    from .run.cluster import INTERRUPTED

    try:
        yield
    except SystemExit:
        if report.result.get("stop_reason") == INTERRUPTED:
            sys.exit(130)
        raise


@click.command("probe")
@click.argument("image", metavar="REF")
@click.option("--init", is_flag=True, help="Run with an init process, as `docker run --init` does.")
@click.option("--read-only/--writable", "read_only", default=True, show_default=True,
              help="Read-only root filesystem (tmpfs /tmp).")
@click.option("--input", "inputs", multiple=True, metavar="NAME=DIR",
              help="Local data for input NAME, as for run, so the job lives long enough to be probed; repeatable.")
@click.option("--output", "outputs", multiple=True, metavar="NAME=DIR",
              help="Output NAME gets its folder, as for run (nothing is copied back); repeatable. "
                   "A FILE without '=' is taken as -o/--report FILE, the old spelling.")
@_container_options
def probe_command(image, init, **options):
    """Check how PID 1 of IMAGE handles the stop signals (and the GPU with --gpus)."""
    from .run.probe import ProbeOptions, probe

    policy = policy_from(options)
    options["outputs"], options["output"] = _old_probe_report(options["outputs"], options["output"])
    request, probe_options = _job_options("probe", image, options, policy,
                                          lambda shared: ProbeOptions(**shared, init=init))
    with _interruptible("probe"):
        report = probe(image, request, probe_options, policy)
    conclusive = not report.result.get("inconclusive") and bool(report.result)
    _finish_container_report(report, policy, options, conclusive)


def _old_probe_report(outputs, report):
    """probe's report was `--output FILE`: a value without '=' still means that, with a note."""
    old = [value for value in outputs if "=" not in value]
    if old and report is None:
        click.echo(f"smlint: note: probe --output {old[-1]} is read as -o/--report {old[-1]}; "
                   "--output now takes NAME=DIR, as for run", err=True)
        report = old[-1]
    return [value for value in outputs if "=" in value or report is None], report
