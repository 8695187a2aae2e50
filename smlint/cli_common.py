"""What every checking command shares: the output and policy options, how the
policy is built from them, and how a report reaches the user (colour, quiet,
`-` for standard input and output, the exit code). One place for these
conventions."""
from __future__ import annotations

import os
import sys

import click

STDIO = "-"
FORMAT_CHOICES = ["text", "json", "sarif", "github"]
LEVEL_CHOICES = ["error", "warning", "info", "never"]
COLOR_CHOICES = ["auto", "always", "never"]


def style_options(function):
    """-q/--quiet and --color, on every command."""
    options = [
        click.option("-q", "--quiet", is_flag=True, default=False,
                     help="Print only findings and errors (no summaries or notes)."),
        click.option("--color", "color", type=click.Choice(COLOR_CHOICES), default="auto",
                     show_default=True,
                     help="Colour in the text report; auto: on a terminal, unless NO_COLOR is set "
                          "(FORCE_COLOR forces it)."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def wants_colour(choice: str, to_terminal: bool, environ=os.environ) -> bool:
    """--color wins; then FORCE_COLOR, then NO_COLOR (any non-empty value), then the terminal."""
    if choice != "auto":
        return choice == "always"
    if environ.get("FORCE_COLOR", "") not in ("", "0", "false"):
        return True
    if environ.get("NO_COLOR"):
        return False
    return to_terminal


def report_to_stdout(output: str | None) -> bool:
    """`-o -` (or no -o) writes the report to standard output."""
    return output is None or output == STDIO


def stdin_inputs(named: dict[str, object]) -> None:
    """Standard input can feed only one input: refuse `explain - --dockerfile -`."""
    users = [name for name, value in named.items() for item in _items(value) if item == STDIO]
    if len(users) > 1:
        raise click.UsageError(
            f"standard input ('-') can feed only one input, but {' and '.join(users)} both ask for it; "
            "give the others as files")


def _items(value) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def with_stdin_filename(paths: list[str], stdin_filename: str | None) -> list[str]:
    """--stdin-filename names standard input, so it implies `-`."""
    if stdin_filename and STDIO not in paths:
        return [*paths, STDIO]
    return paths


def common_options(function=None, *, report=("-o", "--output")):
    """Output and policy options shared by every checking command (`report`:
    the report file's option names; run and probe use -o/--report)."""
    if function is None:
        return lambda decorated: common_options(decorated, report=report)
    options = [
        click.option("-f", "--format", "fmt", type=click.Choice(FORMAT_CHOICES), default="text", show_default=True,
                     help="Report format."),
        click.option(*report, "output", type=click.Path(dir_okay=False, writable=True, allow_dash=True), default=None,
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


def inline_ignore_options(function):
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


def key_values(values, what: str) -> dict[str, str]:
    pairs = {}
    for value in values:
        key, sep, val = value.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{value!r} is not KEY=VALUE", param_hint=what)
        pairs[key] = val
    return pairs
