"""The command line: parses options and calls the library, nothing else."""
from __future__ import annotations

import contextlib
import os
import sys

import click

from . import __version__
from .cli_style import report_to_stdout, stdin_inputs, style_options, wants_colour, with_stdin_filename
from .config import ConfigError
from .stdio import run_guarded, stdout_failed

FORMAT_CHOICES = ["text", "json", "sarif", "github"]
LEVEL_CHOICES = ["error", "warning", "info", "never"]


def _common_options(function):
    """Output and policy options shared by every checking command."""
    options = [
        click.option("-f", "--format", "fmt", type=click.Choice(FORMAT_CHOICES), default="text", show_default=True,
                     help="Report format."),
        click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True, allow_dash=True), default=None,
                     help="Write the report to FILE ('-': standard output, the default)."),
        click.option("--fail-on", type=click.Choice(LEVEL_CHOICES), default=None,
                     help="Lowest severity that makes the exit code 1 [default: warning]."),
        click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
                     help="Configuration file (default: .smlint.yaml or pyproject.toml [tool.smlint], "
                          "searched upwards to the repository root)."),
        click.option("--select", multiple=True, metavar="RULE", help="Only these rules (id, name or prefix); repeatable."),
        click.option("--ignore", multiple=True, metavar="RULE", help="Skip these rules (id, name or prefix); repeatable."),
    ]
    function = style_options(function)  # listed after the options above
    for option in reversed(options):
        function = option(function)
    return function


def _inline_ignore_options(function):
    """Only where files can hold `# smlint ignore=` comments: Dockerfiles."""
    options = [
        click.option("--disable-inline-ignores", is_flag=True, default=None,
                     help="Report findings even where a '# smlint ignore=' comment suppresses them."),
        click.option("--warn-unused-ignores", is_flag=True, default=None,
                     help="Report ignore comments that suppress nothing (SM002)."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def _split_rules(values) -> list[str]:
    return [token for value in values for token in value.split(",") if token.strip()]


def policy_from(options: dict, extra: dict | None = None):
    from .config import load_policy

    overrides = {
        "fail-on": options.get("fail_on"),
        "select": _split_rules(options.get("select") or ()) or None,
        "ignore": _split_rules(options.get("ignore") or ()),
        "disable-inline-ignores": options.get("disable_inline_ignores"),
        "warn-unused-ignores": options.get("warn_unused_ignores"),
        **(extra or {}),
    }
    return load_policy(options.get("config_path"), overrides)


def finish(report, policy, fmt: str, output: str | None, options: dict | None = None) -> None:
    """Write the report and exit with the code policy gives it. `options`: the
    command's -q/--quiet and --color."""
    from .engine import exit_code
    from .report import render

    options = options or {}
    quiet = bool(options.get("quiet"))
    if report_to_stdout(output):
        output = None
    colour = False
    if fmt == "text":
        if quiet:
            report.summary_lines = []
        colour = wants_colour(options.get("color") or "auto", output is None and sys.stdout.isatty())
        text = render(report, fmt, colour=colour, totals=not quiet)
    else:
        text = render(report, fmt)
    if output:
        try:
            with open(output, "w", encoding="utf-8") as handle:
                handle.write(text)
        except OSError as error:
            raise click.UsageError(f"cannot write report to {output}: {error.strerror or error}")
    elif text:
        click.echo(text, nl=False, color=colour or None)  # click strips colour off a terminal unless told
    for finding in report.input_errors:
        if fmt != "text" or output:
            from .report.text import escape

            click.echo(f"smlint: {escape(finding.path)}: {escape(finding.message)}", err=True)
    sys.exit(exit_code(report.findings, policy.fail_on))


def _key_values(values, what: str) -> dict[str, str]:
    pairs = {}
    for value in values:
        key, sep, val = value.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{value!r} is not KEY=VALUE", param_hint=what)
        pairs[key] = val
    return pairs


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
             invoke_without_command=True)
@click.version_option(__version__, prog_name="smlint")
@click.pass_context
def cli(ctx):
    """Check containers against the SageMaker Processing contract, before the cloud does.

    \b
      smlint lint [PATH...]        Dockerfiles, statically
      smlint job [REQUEST...]      CreateProcessingJob requests
      smlint explain REQUEST       the command the container will run
      smlint image REF...          a built image, without running it
      smlint run --image REF       a local processing job, under the real contract
      smlint probe REF             signal handling and GPU of a running container
      smlint rules [PREFIX]        the rules, one line each
      smlint rule RULE             one rule's documentation

    '-' reads standard input wherever a file is read; -o - writes the report to
    standard output.
    """
    if ctx.invoked_subcommand is None:  # bare `smlint`: the help, not an error
        click.echo(ctx.get_help())


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(readable=False, allow_dash=True))
@click.option("--stdin-filename", default=None, metavar="NAME",
              help="Name to report for standard input; implies '-'.")
@click.option("--target", default=None, metavar="STAGE", help="Stage that produces the image (default: the last).")
@click.option("--build-arg", "build_args", multiple=True, metavar="KEY=VALUE",
              help="ARG value used when resolving variables; repeatable.")
@click.option("--context", "context_dir", type=click.Path(exists=True, file_okay=False), default=None,
              help="Build context: also read the scripts COPY'd from it (SM107, SM131).")
@click.option("-j", "--jobs", type=click.IntRange(min=0), default=0, show_default=True, metavar="N",
              help="Worker processes when linting many files; 0: one per CPU, 1: none.")
@_common_options
@_inline_ignore_options
def lint(paths, stdin_filename, target, build_args, context_dir, jobs, fmt, output, **options):
    """Lint Dockerfiles (default: those under the current directory; '-': standard input).

    A directory is searched for Dockerfile, Dockerfile.*, *.Dockerfile,
    *.dockerfile, Containerfile and Containerfile.*, except ignore files
    (Dockerfile.dockerignore) and document, script and data files
    (Dockerfile.md, .sh, .json, ...).
    """
    from .dockerfile.lint import lint_paths

    stdin_inputs({"PATH": paths})
    paths = with_stdin_filename(list(paths), stdin_filename) or ["."]
    policy = policy_from(options, {"build-args": _key_values(build_args, "--build-arg") or None})
    report = lint_paths(paths, policy, target=target, stdin_filename=stdin_filename,
                        context_dir=context_dir, jobs=jobs)
    finish(report, policy, fmt, output, options)


@cli.command("rules", short_help="List the rules (all, or by id prefix).")
@click.argument("prefixes", nargs=-1, metavar="[PREFIX]...")
@click.option("-f", "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("-q", "--quiet", is_flag=True, help="Only the rule ids.")
def rules_command(prefixes, fmt, quiet):
    """List the rules, or those whose id starts with PREFIX (e.g. SM1)."""
    from .config import expand_rules
    from .docs import list_rules

    try:
        ids = expand_rules(prefixes, "smlint rules") if prefixes else None
    except ConfigError as error:
        raise click.UsageError(str(error))
    click.echo(list_rules(fmt, ids, ids_only=quiet), nl=False)


@cli.command("rule")
@click.argument("rule")
@click.option("-q", "--quiet", is_flag=True, help="Only the first lines: id, name, severity and summary.")
def rule_command(rule, quiet):
    """Show one rule's documentation (by id or name)."""
    from .docs import show_rule, unknown_rule

    text = show_rule(rule, header_only=quiet)
    if text is None:
        raise click.UsageError(unknown_rule(rule))
    click.echo(text, nl=False)


def _image_source(image, dockerfile, target, build_args):
    from .job.command import ImageSource

    if image and dockerfile:
        raise click.UsageError("give --image or --dockerfile, not both")
    if target and not dockerfile:
        raise click.UsageError("--target goes with --dockerfile")
    return ImageSource(image=image, dockerfile=dockerfile, target=target,
                       build_args=_key_values(build_args, "--build-arg") or None)


def _job_image_options(function):
    options = [
        click.option("--image", default=None, metavar="REF", help="Local image the job runs (for SM305-SM307)."),
        click.option("--dockerfile", type=click.Path(allow_dash=True), default=None, metavar="PATH",
                     help="Dockerfile of the image the job runs (for SM305-SM307; '-': standard input)."),
        click.option("--target", default=None, metavar="STAGE", help="With --dockerfile: the stage that is the image."),
        click.option("--build-arg", "build_args", multiple=True, metavar="KEY=VALUE",
                     help="With --dockerfile: ARG value; repeatable."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


@cli.command()
@click.argument("requests", nargs=-1, type=click.Path(readable=False, allow_dash=True))
@click.option("--stdin-filename", default=None, metavar="NAME",
              help="Name to report for standard input; implies '-'.")
@_job_image_options
@_common_options
def job(requests, stdin_filename, image, dockerfile, target, build_args, fmt, output, **options):
    """Check CreateProcessingJob requests (.json/.yaml; default: files matching job-files; '-': standard input)."""
    from .job.command import check_requests

    requests = with_stdin_filename(list(requests), stdin_filename)
    stdin_inputs({"REQUEST": requests, "--dockerfile": dockerfile})
    source = _image_source(image, dockerfile, target, build_args)
    policy = policy_from(options, {"build-args": source.build_args})
    finish(check_requests(requests, policy, source, stdin_name=stdin_filename), policy, fmt, output, options)


@cli.command()
@click.argument("request", type=click.Path(readable=False, allow_dash=True))
@_job_image_options
@_common_options
def explain(request, image, dockerfile, target, build_args, fmt, output, **options):
    """Show the command the job's container runs, and where each part comes from.

    The image (--image or --dockerfile) is needed unless the request sets
    ContainerEntrypoint, which replaces the image's ENTRYPOINT and CMD.
    SM305-SM307 are checked and reported as findings.
    """
    from .job.command import NeedsImage, explain as explain_request

    stdin_inputs({"REQUEST": request, "--dockerfile": dockerfile})
    source = _image_source(image, dockerfile, target, build_args)
    policy = policy_from(options, {"build-args": source.build_args})
    try:
        report = explain_request(request, source, policy)
    except NeedsImage as error:
        raise click.UsageError(str(error))
    finish(report, policy, fmt, output, options)


def _argv_option(value: str | None, what: str) -> list[str] | None:
    """A JSON array (`'["python3","job.py"]'`) or a shell-quoted string."""
    import json
    import shlex

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
    """How run and probe start containers: the job's command and the sandbox."""
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
    for option in reversed(options):
        function = option(function)
    return function


def _finish_container_report(report, policy, fmt, output, passed: bool, options: dict | None = None) -> None:
    """finish(), but a job that is not Completed (or a probe that is not
    conclusive) never exits 0, whatever --fail-on says."""
    try:
        finish(report, policy, fmt, output, options)
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


def _load_job(job_path):
    from .run.plan import PlanError
    from .run.request import load_request

    if job_path is None:
        return None, None
    try:
        return load_request(job_path), None
    except PlanError as error:  # the SM001 finding names the file: the message is only the reason
        return None, str(error).removeprefix(f"{job_path}: ")


@cli.command("run")
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
@click.option("--read-only/--writable", "read_only", default=False, show_default=True,
              help="Read-only root filesystem (tmpfs /tmp); SageMaker's root is writable.")
@_container_options
@click.option("-f", "--format", "fmt", type=click.Choice(FORMAT_CHOICES), default="text", show_default=True,
              help="Report format.")
@click.option("-o", "--report", "output", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write the report to FILE instead of standard output.")
@click.option("--fail-on", type=click.Choice(LEVEL_CHOICES), default=None,
              help="Lowest severity that makes the exit code 1 [default: warning].")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None, help="Configuration file.")
@click.option("--select", multiple=True, metavar="RULE", help="Only these rules; repeatable.")
@click.option("--ignore", multiple=True, metavar="RULE", help="Skip these rules; repeatable.")
@style_options
def run_command(image, inputs, outputs, max_runtime, run_dir, keep_outputs, read_only, job_path, env, entrypoint,
                arguments, grace, memory, pids_limit, network, gpus, fmt, output, **options):
    """Run IMAGE as a local processing job under the Processing contract.

    Container output streams live (to stderr when the report is JSON, SARIF
    or GitHub, so stdout stays machine-readable), then the report.
    """
    from .engine import unreadable
    from .report import Report
    from .run.plan import PlanError, parse_pairs
    from .run.runner import RunOptions, run
    from .run.sandbox import Limits

    policy = policy_from(options)
    request, error = _load_job(job_path)
    try:
        run_options = RunOptions(
            inputs=parse_pairs(inputs, "--input"), outputs=parse_pairs(outputs, "--output"),
            env=parse_pairs(env, "--env"), entrypoint=_argv_option(entrypoint, "--entrypoint"),
            arguments=_argv_option(arguments, "--arguments"), max_runtime=max_runtime, grace=grace,
            limits=Limits(memory=memory, pids=pids_limit, network=network, read_only=read_only),
            gpus=gpus, run_dir=run_dir, keep_outputs=keep_outputs,
        )
    except PlanError as problem:
        error = error or str(problem)
    if error:
        report = Report(command="run", targets=[image], findings=[unreadable(job_path or image, error)])
        finish(report, policy, fmt, output, options)
    streams = {"stdout": sys.stdout, "stderr": sys.stderr} if fmt == "text" or output else sys.stderr
    with _interruptible("run"):
        report = run(image, request, run_options, policy, stream=streams)
    _finish_container_report(report, policy, fmt, output, report.result.get("status") == "Completed", options)


@cli.command("probe")
@click.argument("image", metavar="REF")
@click.option("--init", is_flag=True, help="Run with an init process, as `docker run --init` does.")
@click.option("--read-only/--writable", "read_only", default=True, show_default=True,
              help="Read-only root filesystem (tmpfs /tmp).")
@_container_options
@_common_options
def probe_command(image, init, read_only, job_path, env, entrypoint, arguments, grace, memory, pids_limit, network,
                  gpus, fmt, output, **options):
    """Check how PID 1 of IMAGE handles the stop signals (and the GPU with --gpus)."""
    from .engine import unreadable
    from .report import Report
    from .run.plan import PlanError, parse_pairs
    from .run.probe import ProbeOptions, probe
    from .run.sandbox import Limits

    policy = policy_from(options)
    request, error = _load_job(job_path)
    try:
        probe_options = ProbeOptions(
            env=parse_pairs(env, "--env"), entrypoint=_argv_option(entrypoint, "--entrypoint"),
            arguments=_argv_option(arguments, "--arguments"), grace=grace,
            limits=Limits(memory=memory, pids=pids_limit, network=network, read_only=read_only),
            init=init, gpus=gpus,
        )
    except PlanError as problem:
        error = error or str(problem)
    if error:
        report = Report(command="probe", targets=[image], findings=[unreadable(job_path or image, error)])
        finish(report, policy, fmt, output, options)
    with _interruptible("probe"):
        report = probe(image, request, probe_options, policy)
    conclusive = not report.result.get("inconclusive") and bool(report.result)
    _finish_container_report(report, policy, fmt, output, conclusive, options)


@cli.command("image")
@click.argument("refs", nargs=-1, required=True, metavar="REF...")
@click.option("--dockerfile", "dockerfile", type=click.Path(dir_okay=False), default=None,
              help="The Dockerfile the image was built from: findings point at its lines where that can be known.")
@click.option("--no-cache", is_flag=True, default=False,
              help="Read every layer; do not use or fill the layer cache ($XDG_CACHE_HOME/smlint).")
@click.option("--pull", is_flag=True, default=False,
              help="Pull an engine reference that is not local (contacts its registry); off by default.")
@_common_options
def image_command(refs, dockerfile, no_cache, pull, fmt, output, **options):
    """Inspect built images without running them (SM2xx).

    \b
    REF is an image in the local Docker engine (name:tag, ECR URI or id; pulled
    only with --pull), docker-archive:PATH (a `docker save` tar), oci-archive:PATH or
    oci:DIR (an OCI image layout). Archives need no Docker engine.
    """
    from .image.progress import TerminalProgress
    from .image.scan import check_images

    policy = policy_from(options)
    factory = TerminalProgress if TerminalProgress.wanted() and not options.get("quiet") else None
    report = check_images(list(refs), policy, dockerfile=dockerfile, use_cache=not no_cache,
                          progress_factory=factory, pull=pull)
    finish(report, policy, fmt, output, options)


def main() -> None:
    run_guarded(_main)  # a broken pipe exits 141 quietly, /dev/full one line and 2


def _main() -> None:
    try:
        # Not click's standalone mode: it turns Ctrl-C into "Aborted!" and exit 1.
        code = cli.main(prog_name="smlint", standalone_mode=False)
        sys.exit(code if isinstance(code, int) else 0)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    except click.ClickException as error:  # usage errors: exit 2
        error.show()
        sys.exit(error.exit_code)
    except click.Abort:
        click.echo("smlint: interrupted", err=True)
        sys.exit(130)
    except ConfigError as error:
        click.echo(f"smlint: config error: {error}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        click.echo("smlint: interrupted", err=True)
        sys.exit(130)
    except Exception as error:  # never a traceback for the user; SMLINT_DEBUG=1 shows it
        if isinstance(error, OSError) and stdout_failed():
            raise  # main() handles the output channel's faults
        if os.environ.get("SMLINT_DEBUG"):
            raise
        click.echo(f"smlint: internal error: {type(error).__name__}: {error} (set SMLINT_DEBUG=1 for details)", err=True)
        sys.exit(2)
