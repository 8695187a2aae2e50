"""The command line: parses options and calls the library, nothing else."""
from __future__ import annotations

import os
import sys

import click

from . import __version__
from .cli_common import (common_options, finish, inline_ignore_options, key_values, policy_from, stdin_inputs,
                         with_stdin_filename)
from .cli_containers import probe_command, run_command
from .config import ConfigError
from .stdio import run_guarded, stdout_failed


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
@click.option("--fix", is_flag=True, help="Apply safe fixes in place ('-': print the fixed text); report what remains.")
@click.option("--diff", is_flag=True, help="Print the fixes as a unified diff, write nothing; exit 1 if any.")
@click.option("--unsafe-fixes", is_flag=True, help="With --fix or --diff: also apply fixes that change behaviour.")
@common_options
@inline_ignore_options
def lint(paths, stdin_filename, target, build_args, context_dir, jobs, fix, diff, unsafe_fixes, fmt, output,
         **options):
    """Lint Dockerfiles (default: those under the current directory; '-': standard input).

    A directory is searched for Dockerfile, Dockerfile.*, *.Dockerfile,
    *.dockerfile, Containerfile and Containerfile.*, except ignore files
    (Dockerfile.dockerignore) and document, script and data files
    (Dockerfile.md, .sh, .json, ...).
    """
    from .dockerfile.lint import lint_paths

    stdin_inputs({"PATH": paths})
    paths = with_stdin_filename(list(paths), stdin_filename) or ["."]
    policy = policy_from(options, {"build-args": key_values(build_args, "--build-arg") or None})
    if unsafe_fixes and not (fix or diff):
        raise click.UsageError("--unsafe-fixes goes with --fix or --diff")
    if fix or diff:
        _fix_command(paths, policy, diff, unsafe_fixes, target, stdin_filename, context_dir, jobs, fmt, output,
                     options)
    report = lint_paths(paths, policy, target=target, stdin_filename=stdin_filename,
                        context_dir=context_dir, jobs=jobs)
    finish(report, policy, fmt, output, options)


def _fix_command(paths, policy, diff, unsafe, target, stdin_filename, context_dir, jobs, fmt, output,
                 options) -> None:
    """--diff: the diff on stdout, exit 1 when there is one. --fix: files
    rewritten, then the report of what remains (on stderr when stdout carries
    the fixed standard input)."""
    from .dockerfile.fix_files import fix_paths
    from .engine import exit_code
    from .report import render
    from .report.text import escape

    outcome = fix_paths(paths, policy, write=not diff, unsafe=unsafe, target=target,
                        stdin_filename=stdin_filename, context_dir=context_dir, jobs=jobs)
    report = outcome.report
    if diff:
        click.echo(outcome.diff, nl=False)
        for line in [f"smlint: {escape(f.path)}: {escape(f.message)}" for f in report.input_errors] + report.summary_lines[-1:]:
            click.echo(line, err=True)
        code = exit_code(report.input_errors, policy.fail_on)
        sys.exit(code or (1 if outcome.changed else 0))
    if outcome.stdin_text is None:
        finish(report, policy, fmt, output, options)
    click.echo(outcome.stdin_text, nl=False)
    if output:
        finish(report, policy, fmt, output, options)
    click.echo(render(report, fmt), err=True, nl=False)
    sys.exit(exit_code(report.findings, policy.fail_on))


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
                       build_args=key_values(build_args, "--build-arg") or None)


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
@common_options
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
@common_options
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


@cli.command("image")
@click.argument("refs", nargs=-1, required=True, metavar="REF...")
@click.option("--dockerfile", "dockerfile", type=click.Path(dir_okay=False), default=None,
              help="The Dockerfile the image was built from: findings point at its lines where that can be known.")
@click.option("--no-cache", is_flag=True, default=False,
              help="Read every layer; do not use or fill the layer cache ($XDG_CACHE_HOME/smlint).")
@click.option("--pull", is_flag=True, default=False,
              help="Pull an engine reference that is not local (contacts its registry); off by default.")
@common_options
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


cli.add_command(run_command)
cli.add_command(probe_command)


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
