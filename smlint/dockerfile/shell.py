"""The commands of a shell script as the RUN rules read them: every simple
command, in the order the text gives them, from the grammar (shell_tree.py),
inside compound commands and command substitutions too. Each knows its
words, assignments, redirections and its scope: () in the script's own shell,
otherwise the subshell it runs in (`( )`, `$( )`, a pipeline's commands,
`&`), so that a `cd` there is known not to last. Reserved words are never
program names. A script the grammar rejects is still read, command by
command between operators (a RUN with a syntax error fails its build, but
the rules should see what it meant).

Also: which shell and script an argv runs (`sh -c SCRIPT`, shebangs).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..argv import RUNNERS, SCRIPT_SHELLS, SHELLS, program_name, skip_wrappers

if TYPE_CHECKING:  # the grammar loads when the first script is read (start-up time)
    from .shell_tree import Simple

__all__ = ["program_name", "script_commands", "top_level", "strip_wrappers", "shebang_shell", "shell_c_script"]


def script_commands(text: str) -> list[Simple]:
    """Every simple command of `text` (see the module's docstring)."""
    parse_with_commands, errors = _GRAMMAR or _load_grammar()
    try:
        return parse_with_commands(text)[1]
    except errors:
        return between_operators(text, ())


_GRAMMAR: tuple = ()


def _load_grammar() -> tuple:
    """The grammar, imported when the first script is read (not at start-up)."""
    global _GRAMMAR
    from .shell_lexer import ShellSyntaxError
    from .shell_tree import parse_with_commands

    _GRAMMAR = (parse_with_commands, (ShellSyntaxError, RecursionError))
    return _GRAMMAR


def between_operators(text: str, scope: tuple) -> list[Simple]:
    """The simple commands of text the grammar rejects: its tokens split at
    operators, reserved words at a command's start left out."""
    from .shell_lexer import END, NEWLINE, OPERATOR, WORD, ShellSyntaxError, tokenize
    from .shell_tree import _REDIRECT_OPERATORS, RESERVED, Redirect, Simple, is_assignment

    try:
        tokens = tokenize(text)
    except (ShellSyntaxError, RecursionError):
        return []
    found: list[Simple] = []
    current = Simple([], scope=scope)
    index = 0
    while tokens[index].kind != END:
        token = tokens[index]
        index += 1
        if token.kind == WORD:
            values = token.words[token.start :] if token.words is not None else [token.value]
            for value in values:
                if not current.words and not current.assignments and value in RESERVED:
                    continue
                (current.assignments if not current.words and is_assignment(value) else current.words).append(value)
        elif token.kind == OPERATOR and token.value in _REDIRECT_OPERATORS:
            target = ""
            if token.heredoc is None and tokens[index].kind == WORD:
                target = tokens[index].value
                index += 1
            current.redirects.append(Redirect(token.value, target, token.descriptor, token.heredoc))
        elif token.kind in (OPERATOR, NEWLINE):
            if current.words or current.assignments or current.redirects:
                found.append(current)
                current = Simple([], scope=scope, line=token.line)
    if current.words or current.assignments or current.redirects:
        found.append(current)
    return found


def top_level(commands: list[Simple]) -> list[Simple]:
    """The commands that run in the script's own shell."""
    return [c for c in commands if not c.scope]


def strip_wrappers(words: list[str]) -> list[str]:
    """`sudo`, `env A=1`, `exec`, `nohup`, `time`, `command` in front of the real command."""
    return words[skip_wrappers(words, RUNNERS) :]


def shebang_shell(text: str) -> str:
    """The shell of a `#!/bin/sh` or `#!/usr/bin/env bash` line; "" otherwise."""
    if not text.startswith("#!"):
        return ""
    words = text[2:].split("\n", 1)[0].split()
    if words and program_name(words[0]) == "env":
        words = [w for w in words[1:] if not w.startswith("-")]
    name = program_name(words[0]) if words else ""
    return name if name in SCRIPT_SHELLS else ""


def shell_c_script(argv: list[str]) -> tuple[str, str, int] | None:
    """(shell name, its option letters, index of the script) when argv is
    `sh -c SCRIPT ...` (any option cluster with c: -ec, -xc, -c)."""
    if not argv:
        return None
    name = program_name(argv[0])
    position = 1
    if name == "busybox" and len(argv) > 1 and program_name(argv[1]) in SHELLS:
        name, position = program_name(argv[1]), 2
    if name not in SHELLS:
        return None
    letters = ""
    while position < len(argv) and argv[position].startswith("-") and argv[position] != "--":
        option = argv[position]
        if option.endswith("o") and not option.startswith("--") and position + 1 < len(argv):
            letters += option[1:-1] + " o:" + argv[position + 1] + " "  # -o NAME, -euo NAME
            position += 2
            continue
        letters += option.lstrip("-")
        position += 1
        if "c" in option and not option.startswith("--"):
            return (name, letters, position) if position < len(argv) else None
    return None
