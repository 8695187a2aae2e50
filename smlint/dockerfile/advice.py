"""How SM101 and SM103 say what to write instead of shell-form text."""
from __future__ import annotations

import json
import posixpath
import re

from ..argv import SHELL_BUILTINS, SHELLS, program_name
from ..contract import OPT_ML, PROCESSING
from .facts import under
from .parser import shell_words
from .shell import shell_c_script


def exec_form_of(text: str) -> list[str] | None:
    """The exec form shell text amounts to, when it is one plain command: its
    words, with `exec` dropped and a `sh -c 'X'` wrapper opened (a wrapper is
    what the advice is about); None when it needs a shell."""
    for _ in range(4):
        if re.search(r"[;&|<>$`*?(){}\n\\]", text):
            return None
        words = shell_words(text)
        if words[:1] == ["exec"]:
            words = words[1:]
        found = shell_c_script(words)
        if found is None:
            return words if words and words[0] not in SHELL_BUILTINS else None
        if len(words) != found[2] + 1:
            return None  # `sh -c X name args`: $0 and positional parameters
        text = words[found[2]]
    return None


def exec_advice(text: str, shell: tuple[str, ...] = (), shell_missing: bool = False) -> str:
    """What to write instead of shell-form text run by `shell` (the SHELL in
    effect; () the default): an exec-form ENTRYPOINT that keeps no code under
    /opt/ml (which SM110 would flag). `shell_missing`: the base has no
    /bin/sh, so the advice cannot keep one."""
    words = exec_form_of(text)
    if words is None and shell_missing:
        return ('write an exec-form ENTRYPOINT of the program itself, with values the shell would have expanded '
                'set by ENV or ARG or read by the program')
    if words is None:
        return _expanding_advice(text, shell)
    moved = ["/app/" + posixpath.basename(w) if under(w, OPT_ML) and not under(w, PROCESSING) else w for w in words]
    advice = f"write ENTRYPOINT {json.dumps(moved)}"
    if moved != words:
        advice += " with the code copied to /app, outside the reserved /opt/ml (SM110)"
    return advice


def _expanding_advice(text: str, shell: tuple[str, ...]) -> str:
    """Advice for text that needs the shell: a lone command that expands
    variables or globs keeps its shell (a POSIX SHELL in effect, else
    /bin/sh), but execs the program and passes the job's ContainerArguments on."""
    from .shell_nodes import Simple
    from .shell_questions import parse_or_none

    tree = parse_or_none(text)
    only = _lone_command(tree) if tree is not None else None
    if not isinstance(only, Simple) or only.redirects or only.assignments or not only.words:
        return 'write an exec-form ENTRYPOINT such as ["python3", "/app/job.py"], or end a wrapper script with `exec "$@"`'
    words = only.raw[1:] if only.words[0] == "exec" else only.raw
    if not words or only.words[len(only.raw) - len(words)] in SHELL_BUILTINS:
        return 'write an exec-form ENTRYPOINT that runs the job\'s program, or end a wrapper script with `exec "$@"`'
    script = "exec " + " ".join(words) + ' "$@"'
    program = shell[0] if shell and program_name(shell[0]) in SHELLS else "/bin/sh"
    wrapper = [program, "-c", script, program_name(program)]
    return (f"write ENTRYPOINT {json.dumps(wrapper)}: the shell still expands the command, "
            "`exec` hands PID 1 to the program, and \"$@\" passes the job's ContainerArguments on")


def _lone_command(tree):
    """The one command of a script that is a single command, else None."""
    if len(tree.items) != 1 or "&" in tree.terminators:
        return None
    [and_or] = tree.items
    if len(and_or.pipelines) != 1 or len(and_or.pipelines[0].commands) != 1 or and_or.pipelines[0].negated:
        return None
    return and_or.pipelines[0].commands[0]


def runs_as(shell: tuple[str, ...], text: str) -> str:
    """The argv Docker builds from shell-form text, quoted as JSON."""
    return json.dumps([*shell, short(text)])


def shell_pid1(text: str, keyword: str, shell_argv: tuple[str, ...], bin_sh: str) -> str:
    """What shell-form text means for the stop signal, for the shell that runs
    it (`shell_argv`: the SHELL; `bin_sh`: what /bin/sh is on the base, "" unknown)."""
    from .shell_flow import outcomes
    from .shell_questions import left_running, parse_or_none, resolve_shell, shell_missing

    lost = "never reach it" if keyword == "ENTRYPOINT" else "would replace the whole command"
    if shell_missing(shell_argv, bin_sh):
        return "the base image has no /bin/sh (scratch or distroless), so the container cannot even start"
    if shell_words(text)[:1] == ["exec"]:
        return f"`exec` makes the program PID 1, but the job's ContainerArguments {lost}"
    name = program_name(shell_argv[0]) if shell_argv else "sh"
    shell, shown = resolve_shell(name, bin_sh), "/bin/sh" if name == "sh" else name
    tree = parse_or_none(text)
    if tree is None:
        return ("PID 1 is the shell (bash and busybox exec at most a final simple command), so "
                "StopProcessingJob's SIGINT may never reach the job")
    left = left_running(tree, shell, c_mode=True)
    if not left:
        if left_running(tree, "", c_mode=True):  # only this shell's own exec hands PID 1 on
            which = f"{shown} is {shell} here, which execs" if name == "sh" else f"{shown} execs"
            return f"the program becomes PID 1 ({which} it itself), but the job's ContainerArguments {lost}"
        if not any(outcome.job for outcome in outcomes(tree)):
            return (f"PID 1 is the shell, and it runs no program that could take the stop signal (only shell "
                    f"builtins); the job's ContainerArguments {lost}")
        return f"the script hands the stop signal on (`exec`, or a trap and `wait`), but the job's ContainerArguments {lost}"
    job = left[0]
    if job.unless:
        verb = "exec" if " or " in job.unless else "execs"
        return (f"unless {shown} is {job.unless} (which {verb} the final simple command), PID 1 is the shell while "
                f"{job.describe()} runs, and StopProcessingJob's SIGINT never reaches it")
    why = f" ({shown} is {shell} here, which does not exec the final command itself)" if job.self_exec_by else ""
    return f"PID 1 is the shell while {job.describe()} runs{why}, so StopProcessingJob's SIGINT never reaches it"


def short(text: str, limit: int = 60) -> str:
    """Text on one line, cut to `limit` characters with "..." when longer."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
