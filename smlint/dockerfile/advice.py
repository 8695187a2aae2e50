"""How SM101 and SM103 say what to write instead of shell-form text."""
from __future__ import annotations

import json
import posixpath
import re

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
            return words or None
        if len(words) != found[2] + 1:
            return None  # `sh -c X name args`: $0 and positional parameters
        text = words[found[2]]
    return None


def exec_advice(text: str) -> str:
    """What to write instead of shell-form text: an exec-form ENTRYPOINT that
    keeps no code under /opt/ml (which SM110 would flag)."""
    words = exec_form_of(text)
    if words is None:
        return 'write an exec-form ENTRYPOINT such as ["python3", "/app/job.py"], or end a wrapper script with `exec "$@"`'
    moved = ["/app/" + posixpath.basename(w) if under(w, OPT_ML) and not under(w, PROCESSING) else w for w in words]
    advice = f"write ENTRYPOINT {json.dumps(moved)}"
    if moved != words:
        advice += " with the code copied to /app, outside the reserved /opt/ml (SM110)"
    return advice


def runs_as(shell: tuple[str, ...], text: str) -> str:
    """The argv Docker builds from shell-form text, quoted as JSON."""
    return json.dumps([*shell, short(text)])


def shell_pid1(text: str, keyword: str) -> str:
    """What shell-form text means for the stop signal."""
    if shell_words(text)[:1] == ["exec"]:
        lost = "never reach it" if keyword == "ENTRYPOINT" else "would replace the whole command"
        return f"`exec` makes the program PID 1, but the job's ContainerArguments {lost}"
    if exec_form_of(text) is not None:
        return ("unless /bin/sh is bash or busybox (which exec a lone command), PID 1 is the shell and "
                "StopProcessingJob's SIGINT never reaches the job")
    return ("PID 1 is the shell (bash and busybox exec at most a final simple command), so "
            "StopProcessingJob's SIGINT may never reach the job")


def short(text: str, limit: int = 60) -> str:
    """Text on one line, cut to `limit` characters with "..." when longer."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
