"""How a report reaches the user: colour, quiet, `-` for standard input and
output. One place for these conventions, shared by every command."""
from __future__ import annotations

import os

import click

STDIO = "-"
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
