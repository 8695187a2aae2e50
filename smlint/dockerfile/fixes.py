"""The rewrites `smlint lint --fix` applies, computed purely from the model.

- SM101/SM103: shell-form ENTRYPOINT/CMD. Plain words under a plain SHELL
  become an exec-form array; other text keeps its shell (the stage's SHELL)
  with `exec` put before the program the script ends in.
- SM102: a malformed array whose intent is plain (single quotes, a trailing
  comma) becomes JSON.
- SM105: `exec` before the job of an exec-form `sh -c` script.

Each fix replaces the instruction's arguments (from the end of its keyword to
the end of its last line, trailing blanks kept) with one line; nothing else
in the file changes. An instruction with flags is left alone (SM143's).
"""
from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import TYPE_CHECKING

from ..findings import Edit, Fix
from .parser import Instruction, ParsedDockerfile, shell_words
from ..argv import SHELLS, program_name

if TYPE_CHECKING:  # the shell grammar loads only when a script needs `exec` placed
    from .model import Stage
    from .shell_tree import Sequence

# Options of a plain `sh -c` SHELL: exec form runs a plain command the same way.
_PLAIN_OPTIONS = re.compile(r"-[eu]+|-o|pipefail|errexit|nounset")
# Shell syntax in shell-form text: the text is not plain words. (`=` in a first
# word, `~` and `#` at a word start are checked on the words.)
_SHELL_SYNTAX = re.compile(r"[;&|<>$`*?\[\](){}\\!\n\r]")
# Shell words that exec form could not run: reserved words and builtins with no program of their name.
_SHELL_ONLY = frozenset("if then else elif fi case esac for select while until do done { } ! in function [[ ]] time "
                        "coproc exec eval cd export set unset source . : exit return wait trap shift local declare "
                        "typeset readonly umask ulimit alias unalias read break continue hash type let getopts "
                        "pushd popd shopt enable".split())


def shell_kind(shell: tuple[str, ...]) -> str:
    """"plain" (`/bin/sh -c`, `bash -o pipefail -c`), "environment" (a POSIX shell
    that sets something up first: `bash --login -c`, `conda run ... bash -c`),
    or "" (not a POSIX shell taking a script after -c)."""
    if not shell or not re.fullmatch(r"-[a-z]*c", shell[-1]):
        return ""
    if program_name(shell[0]) in SHELLS and shell[-1] == "-c" and all(
        _PLAIN_OPTIONS.fullmatch(word) for word in shell[1:-1]
    ):
        return "plain"
    return "environment" if any(program_name(word) in SHELLS for word in shell[:-1]) else ""


def plain_words(text: str) -> list[str] | None:
    """The argv of shell text that is one plain command (words and quotes only,
    a leading `exec` dropped), or None when it needs a shell."""
    if _SHELL_SYNTAX.search(text):
        return None
    try:
        words = shell_words(text)
    except ValueError:
        return None
    if text.count('"') % 2 or text.count("'") % 2:
        return None  # an unclosed quote: the shell would fail
    if words[:1] == ["exec"]:
        words = words[1:]
    if not words or "=" in words[0] or words[0] in _SHELL_ONLY:
        return None
    if any(word.startswith(("~", "#")) for word in re.split(r"[ \t]+", text.strip())):
        return None
    return words


def with_exec(script: str) -> str | None:
    """`script` with `exec` put before its job, when the job is the final
    simple command on every path that runs it; the script itself when it
    already ends in `exec PROGRAM`; None when no `exec` can be added safely
    (pipelines, trailers after the job, builtins and functions, a compound
    command at the end, `&`, a trap, assignments before the job)."""
    from .shell_flow import is_program, job_name, outcomes
    from .shell_questions import parse_or_none
    from .shell_tree import simple_commands

    tree = parse_or_none(script)
    if tree is None or not tree.items or _runs_in_background(tree):
        return None
    commands = simple_commands(tree)
    if any(command.name == "trap" for command in commands):
        return None
    ends = [outcome for outcome in outcomes(tree) if outcome.job is not None]
    if len(ends) != 1:
        return None
    end = ends[0]
    if end.execd:
        return script
    last = tree.items[-1].pipelines[-1]
    job = end.job
    if (end.after or end.pipe_last or end.nested or end.no_self_exec or end.background or last.commands != [job]
            or last.negated or job.assignments or not job.raw or job.words[0] in _NOT_BEFORE_EXEC
            or not is_program(job) or job_name(job) in _functions(tree)):
        return None
    return _insert_exec(script, tree, next(i for i, command in enumerate(commands) if command is job))


# Shell words that mean something else after `exec` (it would run a program of that name).
_NOT_BEFORE_EXEC = frozenset({"time", "command", "builtin", "!"})


def _runs_in_background(tree: Sequence) -> bool:
    from .shell_tree import Sequence

    return any(isinstance(node, Sequence) and "&" in node.terminators for node in _walk(tree))


def _functions(tree: Sequence) -> set[str]:
    from .shell_tree import Function

    return {node.name for node in _walk(tree) if isinstance(node, Function)}


def _walk(node):
    from .shell_tree import Simple, children

    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        if not isinstance(current, Simple):
            stack.extend(children(current))


def _insert_exec(script: str, tree: Sequence, index: int) -> str | None:
    """Put `exec ` before the index-th simple command. Its place in the text is
    found by trying where its first word is written, last first; a candidate is
    taken only when the new text parses to the same commands with `exec` added
    to that one alone."""
    from .shell_questions import parse_or_none
    from .shell_tree import simple_commands

    expected = [command.words for command in simple_commands(tree)]
    expected[index] = ["exec", *expected[index]]
    first = simple_commands(tree)[index].raw[0]
    position = script.rfind(first)
    for _ in range(16):
        if position < 0:
            return None
        candidate = script[:position] + "exec " + script[position:]
        new_tree = parse_or_none(candidate)
        if new_tree is not None and [c.words for c in simple_commands(new_tree)] == expected:
            return candidate
        position = script.rfind(first, 0, position)
    return None


# --- the fixes ---------------------------------------------------------------


def arguments_edit(instruction: Instruction, parsed: ParsedDockerfile, arguments: str) -> Edit | None:
    """Replace the instruction's arguments with `arguments`, on its first line;
    None when it has flags (kept as they are by no rewrite here)."""
    if instruction.flags or instruction.heredocs:
        return None
    lines = parsed.lines
    last = instruction.line
    for number in range(instruction.line + 1, min(instruction.end_line, len(lines)) + 1):
        body = lines[number - 1].strip(" \t")
        if body and not body.startswith("#"):
            last = number
    end_column = len(lines[last - 1].rstrip(" \t")) + 1
    start_column = instruction.column + len(instruction.keyword)
    return Edit(instruction.line, start_column, last, end_column, " " + arguments)


def _array(words: list[str]) -> str:
    return json.dumps(words, ensure_ascii=False)


def command_fix(instruction: Instruction, shell: tuple[str, ...], parsed: ParsedDockerfile,
                argument_trap: str, shell_missing: bool = False) -> Fix | None:
    """SM101/SM103: shell-form ENTRYPOINT or CMD text `instruction.args` run by
    `shell`. `argument_trap` says which CMD would start to reach the program
    once it is exec form ("" none): that makes the exec-form rewrite unsafe.
    `shell_missing`: the base has no such shell, so only plain words can be fixed."""
    text = instruction.args
    kind = shell_kind(shell)
    words = plain_words(text) if kind == "plain" else None
    if words is not None:
        edit = arguments_edit(instruction, parsed, _array(words))
        if argument_trap:
            return edit and Fix(f"unsafe: write {instruction.keyword} in exec form; {argument_trap}", (edit,), safe=False)
        return edit and Fix(f"write {instruction.keyword} in exec form{_ARGUMENTS_NOTE[instruction.keyword]}", (edit,))
    if not kind or shell_missing:
        return None
    script = with_exec(text)
    if script is None:
        return None
    edit = arguments_edit(instruction, parsed, _array([*shell, script]))
    what = "the same shell in exec form" + (", with `exec` before the job" if script != text else "")
    return edit and Fix(f"write {instruction.keyword} as {what}", (edit,))


_ARGUMENTS_NOTE = {
    "ENTRYPOINT": "; the job's ContainerArguments then reach the program, where /bin/sh took them as $0... and "
                  "ignored them",
    "CMD": "",
}


def entrypoint_trap(entrypoint: Instruction, stages: list[Stage]) -> str:
    """The CMD that takes effect with `entrypoint` in some stage (its own after
    it, or one of a later stage that inherits it); "" when none does."""
    for stage in stages:
        if stage.config.entrypoint is entrypoint and stage.config.cmd is not None:
            where = f"stage {stage.name!r}" if stage.name else f"stage {stage.index + 1}"
            return (f"the CMD on line {stage.config.cmd.line} ({where}) and the job's ContainerArguments then reach "
                    f"the program as its arguments, where /bin/sh took them as $0... and ignored them (usually "
                    f"what was meant)")
    return ""


def cmd_trap(cmd: Instruction, stages: list[Stage]) -> str:
    """A stage where `cmd` is the arguments of an ENTRYPOINT: exec form changes them."""
    for stage in stages:
        if stage.config.cmd is cmd and stage.config.entrypoint is not None:
            return (f"the ENTRYPOINT on line {stage.config.entrypoint.line} then gets its words as arguments "
                    f"instead of /bin/sh -c TEXT")
    return ""


_SINGLE_QUOTED = re.compile(r"\[\s*(?:'[^'\"\\]*'\s*,\s*)*(?:'[^'\"\\]*'\s*)?,?\s*\]")


def array_fix(instruction: Instruction, parsed: ParsedDockerfile) -> Fix | None:
    """SM102: single quotes for double quotes, or a trailing comma dropped,
    when that is all that is wrong."""
    body = instruction.args.strip()
    if '"' not in body and _SINGLE_QUOTED.fullmatch(body):
        words = re.findall(r"'([^']*)'", body)
        what = "double quotes for the single ones"
    else:
        try:
            words = json.loads(re.sub(r",\s*\]$", "]", body))
        except ValueError:
            return None
        what = "no trailing comma"
    if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
        return None
    edit = arguments_edit(instruction, parsed, _array(words))
    return edit and Fix(f"write the JSON array meant: {what}", (edit,))


def wrapper_fix(instruction: Instruction, script: str, parsed: ParsedDockerfile) -> Fix | None:
    """SM105: the exec-form array with `exec` before the job of its script."""
    arguments = list(instruction.exec_args or ())
    if script not in arguments:
        return None
    new_script = with_exec(script)
    if new_script is None or new_script == script:
        return None
    index = len(arguments) - 1 - arguments[::-1].index(script)
    arguments[index] = new_script
    edit = arguments_edit(instruction, parsed, _array(arguments))
    return edit and Fix("add `exec` before the job, so that it replaces the shell as PID 1", (edit,))


# --- entry points for the checks -----------------------------------------------


def entrypoint_fix(subject) -> Fix | None:
    config = subject.final.config
    trap = entrypoint_trap(config.entrypoint, subject.dockerfile.stages)
    fix = command_fix(config.entrypoint, config.entrypoint_shell, subject.dockerfile.parsed, trap,
                      subject.shell_missing(config.entrypoint_shell))
    return _with_shared_note(fix, config.entrypoint, subject)


def cmd_fix(subject) -> Fix | None:
    config = subject.final.config
    trap = cmd_trap(config.cmd, subject.dockerfile.stages)
    fix = command_fix(config.cmd, config.cmd_shell, subject.dockerfile.parsed, trap,
                      subject.shell_missing(config.cmd_shell))
    return _with_shared_note(fix, config.cmd, subject)


def _with_shared_note(fix: Fix | None, instruction: Instruction, subject) -> Fix | None:
    """Say so when other build targets get the same instruction: they change too."""
    others = [stage for stage in subject.dockerfile.stages if stage is not subject.final
              and instruction in (stage.config.entrypoint, stage.config.cmd)]
    if fix is None or not others:
        return fix
    names = ", ".join(repr(stage.name) if stage.name else f"stage {stage.index + 1}" for stage in others)
    return replace(fix, description=f"{fix.description} (the targets {names} have it too and change with it)")


def caveat(fix: Fix | None) -> str:
    """For the message: why --fix alone leaves an unsafe rewrite."""
    return f" (--fix leaves this to --unsafe-fixes: {fix.description[len('unsafe: '):]})" if fix and not fix.safe else ""
