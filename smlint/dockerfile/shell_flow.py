"""What a shell script does at its end, asked on its tree (shell_tree.py):
which program is the job on each success path and is it exec'd (or exec'd by
the shell itself); can the script's status differ from the job's; does it
trap INT or TERM and wait on the job in the background.

Shell facts, measured with bash 5.2.15, BusyBox 1.35 ash and dash 0.5.12
(tests/test_shell_docker.py shows them again): bash replaces itself with the
final simple command of the top-level `-c` list (after `;`, `&&`, `||`; not
inside `if`/`case`/`{ }`, not with a redirection, not once a trap is set);
busybox ash does so inside `if`/`case`/`{ }` and with redirections too;
dash never does. No shell does it for a script file. A trap runs only after
the foreground child ends, so it forwards nothing unless the job runs in the
background and the shell `wait`s.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace

from ..argv import SHELL_BUILTINS
from .shell_tree import AndOr, Case, Function, Group, If, Loop, Pipeline, Sequence, Simple, simple_commands

# Commands whose status says nothing about the job: after it they replace its status.
STATUS_NEUTRAL = frozenset({"echo", "printf", "sleep", "touch", "date", "logger"})
NO_FAIL = frozenset({"true", ":"})
# What is not the job: the shell's own builtins (less `eval`, which runs its
# words and so may run the job), tests and loop words, and setup programs.
NOT_PROGRAMS = (SHELL_BUILTINS - {"eval"}) | frozenset(
    "test [ [[ (( false break continue type mkdir chmod chown ln rm cp mv cat ls pwd env id whoami hostname ps "
    "mount".split()
) | STATUS_NEUTRAL | NO_FAIL
# Last commands of a pipeline that only pass its data on: the job is further left.
PIPE_SINKS = frozenset({"tee", "cat", "grep", "egrep", "sed", "awk", "head", "tail", "sort", "uniq", "cut", "tr",
                        "logger", "ts", "less", "more", "rotatelogs", "multilog", "s6-log", "svlogd", "gzip"})
_PASS_THROUGH = frozenset({"env", "nohup", "command", "time", "nice", "stdbuf", "setsid"})
SELF_EXEC_SHELLS = frozenset({"bash", "busybox"})
_STOP_SIGNAL = re.compile(r"(SIG)?(INT|TERM|2|15)", re.IGNORECASE)
_MAX_OUTCOMES = 64


@dataclass(frozen=True, slots=True)
class Outcome:
    """One way the script can end: the job it ran last (None: no program),
    the commands after it, and how it got there."""

    job: Simple | None = None
    execd: bool = False  # the job is `exec PROGRAM`
    after: tuple[Simple, ...] = ()  # commands run after the job on this path
    after_failure: bool = False  # `after` ran because the job failed (`job || true`)
    after_success: bool = False  # `after` ran only because the job succeeded (`job && touch done`)
    pipe_last: str = ""  # the job's pipeline ends in this other command (its name)
    nested: bool = False  # reached inside if/case/{ } (bash execs nothing there)
    no_self_exec: bool = False  # in a loop, subshell, pipeline, function or background
    in_loop: bool = False  # the loop needs the shell: no `exec` can end it
    terminal: bool = False  # the path ended at `exit`
    failed: bool = False  # ... at `exit N`, N a literal non-zero status: an error path
    background: bool = False  # the job runs with `&` and the script goes on
    via: str = ""  # the branch, for messages: "the `else` branch"


@dataclass(frozen=True, slots=True)
class Options:
    errexit: bool
    pipefail: bool


def command_words(command: Simple) -> list[str]:
    """The words past `exec` and its options (`exec -a name prog` -> prog)."""
    words = command.words
    if words[:1] == ["exec"]:
        position = 1
        while position < len(words) and words[position].startswith("-"):
            position += 2 if words[position] == "-a" else 1
            if words[position - 1] == "--":
                break
        return words[position:]
    return words


def is_exec(command: Simple) -> bool:
    """`exec PROGRAM ...`; a bare `exec >log` only redirects."""
    return command.words[:1] == ["exec"] and bool(command_words(command))


def job_name(command: Simple) -> str:
    """The program a command runs, past `exec`, `env A=1`, `nohup`, `command`, `time`."""
    words = command_words(command)
    position = 0
    while position < len(words):
        word = words[position]
        name = word.rsplit("/", 1)[-1]
        if "/" in word and not word.startswith("/"):
            return word  # script/test, ./run: a program of the image, whatever its name
        if name in _PASS_THROUGH:
            position += 1
            while position < len(words) and (words[position].startswith("-") or (name == "env" and "=" in words[position])):
                position += 1
        else:
            return name
    return ""


def is_program(command: Simple) -> bool:
    """Runs a program that can be the job (not a builtin, not a trailer)."""
    name = job_name(command)
    return bool(name) and (name not in NOT_PROGRAMS or is_exec(command))


def outcomes(tree: Sequence) -> list[Outcome]:
    """Every way `tree` can end, deduplicated and bounded (an empty list when
    there are too many to judge)."""
    if "outcomes" not in tree.memo:  # SM105 and SM106 ask of the same tree
        functions = {node.name: node for node in _function_definitions(tree)}
        try:
            tree.memo["outcomes"] = _sequence(tree, functions, 0)
        except _TooMany:
            tree.memo["outcomes"] = []
    return tree.memo["outcomes"]


class _TooMany(Exception):
    pass


def _sequence(node: Sequence, functions: dict, depth: int) -> list[Outcome]:
    current = [Outcome()]
    for item, terminator in zip(node.items, node.terminators):
        found = _and_or(item, functions, depth)
        if terminator == "&":  # runs beside the script; its status is not the script's
            found = [replace(o, background=True, no_self_exec=True, after=(), terminal=False)
                     for o in found if o.job is not None]
            if not found:
                continue
        current = _then(current, found)
    return current


def _then(before: list[Outcome], following: list[Outcome], on_success: bool = False) -> list[Outcome]:
    """Paths of `before` followed by those of `following` (run only when
    `before` succeeded: `on_success`)."""
    result: list[Outcome] = []
    for first in before:
        if first.terminal:
            result.append(first)
            continue
        for second in following:
            if second.job is not None:
                result.append(second)
            else:
                result.append(replace(first, after=(first.after + second.after)[-4:], terminal=second.terminal,
                                      via=second.via or first.via, failed=second.failed, after_failure=first.after_failure
                                      or second.after_failure, after_success=on_success))
    return _bounded(result)


def _bounded(found: list[Outcome]) -> list[Outcome]:
    unique = list({(id(o.job), o.execd, tuple(map(id, o.after)), o.terminal, o.via, o.after_failure,
                    o.nested, o.no_self_exec, o.background, o.after_success, o.failed): o for o in found}.values())
    if len(unique) > _MAX_OUTCOMES:
        raise _TooMany
    return unique


def _and_or(node: AndOr, functions: dict, depth: int) -> list[Outcome]:
    current = _pipeline(node.pipelines[0], functions, depth)
    for operator, pipeline in zip(node.operators, node.pipelines[1:]):
        following = _pipeline(pipeline, functions, depth)
        if operator == "&&":
            current = _then(current, following, on_success=True)
        else:  # the left side succeeds and skips the rest, or fails into it
            rescued = [replace(o, after_failure=True) if o.job is None else o for o in following]
            skipped = [replace(o, no_self_exec=True) for o in current]  # the shell must wait to test it
            current = _bounded(skipped + _then(current, rescued))
    return current


def _pipeline(node: Pipeline, functions: dict, depth: int) -> list[Outcome]:
    if len(node.commands) == 1:
        return _command(node.commands[0], functions, depth)
    simple = [c for c in node.commands if isinstance(c, Simple)]
    last = node.commands[-1]
    sink = not isinstance(last, Simple) or job_name(last) in PIPE_SINKS
    candidates = [c for c in simple if is_program(c) and c is not last] if sink else []
    job = candidates[-1] if candidates else (last if isinstance(last, Simple) else (simple or [None])[0])
    if job is None:
        return [Outcome()]
    ending = (last.name if isinstance(last, Simple) else f"a `{getattr(last, 'keyword', 'group')}` block") if sink else ""
    return [Outcome(job, pipe_last=ending if last is not job else "", no_self_exec=True)]


def _command(node, functions: dict, depth: int) -> list[Outcome]:
    if depth > 32:
        raise _TooMany
    if isinstance(node, Simple):
        return _simple(node, functions, depth)
    if isinstance(node, Function):
        return [Outcome()]
    if isinstance(node, Group):
        found = _sequence(node.body, functions, depth + 1)
        return [_inside(o, subshell=node.subshell) for o in found]
    if isinstance(node, If):
        return _if(node, functions, depth)
    if isinstance(node, Case):
        found = [Outcome()]  # no pattern matched
        for patterns, body in node.arms:
            label = f"the `{'|'.join(patterns)})` branch"
            found += [_inside(o, via=label) for o in _sequence(body, functions, depth + 1)]
        return _bounded(found)
    if isinstance(node, Loop):
        inner = _sequence(node.body, functions, depth + 1)
        if not any(o.job for o in inner) and _endless(node) and (commands := simple_commands(node.body)):
            inner = [Outcome(commands[0])]  # `while true; do echo; sleep 1; done`: the loop is the job
        return [replace(o, no_self_exec=True, in_loop=True, via=o.via or f"a `{node.keyword}` loop") for o in inner]
    return [Outcome()]


def _endless(loop: Loop) -> bool:
    """`while true`, `while :`, `until false`: a loop that is the job itself,
    unlike one that ends (`while getopts`, `for`) and hands on to what follows."""
    if loop.condition is None or len(loop.condition.items) != 1:
        return False
    words = [c.words for c in simple_commands(loop.condition)]
    forever = [["true"], [":"], ["[", "1", "]"]] if loop.keyword == "while" else [["false"]]
    return len(words) == 1 and words[0] in forever


def _inside(found: Outcome, subshell: bool = False, via: str = "") -> Outcome:
    return replace(found, nested=True, no_self_exec=found.no_self_exec or subshell,
                   execd=found.execd and not subshell, via=found.via or via)


def _if(node: If, functions: dict, depth: int) -> list[Outcome]:
    found: list[Outcome] = []
    for index, (_, body) in enumerate(node.branches):
        label = "the `then` branch" if index == 0 else f"`elif` branch {index}"
        found += [_inside(o, via=label) for o in _sequence(body, functions, depth + 1)]
    if node.otherwise is not None:
        found += [_inside(o, via="the `else` branch") for o in _sequence(node.otherwise, functions, depth + 1)]
    else:
        found.append(Outcome())  # no branch taken
    return _bounded(found)


def _simple(node: Simple, functions: dict, depth: int) -> list[Outcome]:
    words = command_words(node)
    if not words:
        return [Outcome(after=(node,))]
    definition = functions.get(words[0]) if not is_exec(node) else None
    if definition is not None and depth < 8:
        inner = _command(definition.body, {k: v for k, v in functions.items() if k != words[0]}, depth + 1)
        return [replace(o, no_self_exec=True, terminal=False, via=o.via or f"function `{words[0]}`") for o in inner]
    if words[0] == "exit" or (words[0] == "return" and depth):
        status = words[1] if len(words) > 1 else ""
        return [Outcome(after=(node,), terminal=words[0] == "exit", failed=status.isdigit() and int(status) != 0)]
    if is_program(node):
        return [Outcome(node, execd=is_exec(node))]
    return [Outcome(after=(node,))]


def _function_definitions(tree) -> list[Function]:
    found, stack = [], [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, Function):
            found.append(node)
        elif isinstance(node, Sequence):
            stack.extend(node.items)
        elif isinstance(node, AndOr):
            stack.extend(node.pipelines)
        elif isinstance(node, Pipeline):
            stack.extend(node.commands)
    return found


# --- the questions -------------------------------------------------------------------


def options_of(tree: Sequence, command_line: str = "") -> Options:
    """errexit and pipefail from the shell's command-line options (letters, and
    `o:NAME` for `-o NAME`, as shell.shell_c_script spells them) and from `set`
    in the script (`set -e`, `set -euo pipefail`, `set -o errexit`)."""
    names = re.findall(r"o:(\S+)", command_line)
    errexit = "e" in re.sub(r"o:\S+", "", command_line) or "errexit" in names
    pipefail = "pipefail" in names
    for command in simple_commands(tree):
        if command.name != "set":
            continue
        args = command.words[1:]
        for index, arg in enumerate(args):
            if not arg.startswith("-") or arg.startswith("--"):
                continue
            errexit = errexit or "e" in arg[1:]
            if arg[1:].endswith("o") and index + 1 < len(args):
                errexit = errexit or args[index + 1] == "errexit"
                pipefail = pipefail or args[index + 1] == "pipefail"
    return Options(errexit, pipefail)


def traps_stop_signal(tree: Sequence) -> bool:
    """A `trap ACTION INT` or `trap ACTION TERM` (ignoring `trap - TERM` resets)."""
    for command in simple_commands(tree):
        if command.name == "trap" and len(command.words) > 2 and command.words[1] != "-":
            if any(_STOP_SIGNAL.fullmatch(word) for word in command.words[2:]):
                return True
    return False


def forwards_signals(tree: Sequence) -> bool:
    """Traps INT or TERM, runs something in the background and `wait`s: the
    only way a shell that stays PID 1 hands the stop signal on."""
    if not traps_stop_signal(tree):
        return False
    background = waits = False
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, Sequence):
            background = background or "&" in node.terminators
        if isinstance(node, Simple):
            waits = waits or node.name == "wait"
        else:
            from .shell_tree import children

            stack.extend(children(node))
    return background and waits
