"""The questions SM105, SM106, SM107 and SM207 ask of a script, answered on
its grammar (shell_tree.py, shell_flow.py), and which shell `/bin/sh` is."""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..argv import program_name
from .shell_flow import NO_FAIL, STATUS_NEUTRAL, Outcome, command_words, forwards_signals, options_of, outcomes
from .shell_lexer import ShellSyntaxError
from .shell_tree import Sequence, Simple, parse, simple_commands

DASH, BASH, BUSYBOX = "dash", "bash", "busybox"
NO_SHELL = "none"  # the base has no /bin/sh at all: scratch, distroless
# Docker Hub's official images, named plainly or through a registry that mirrors them.
_OFFICIAL = (r"^((docker\.io|index\.docker\.io|registry-1\.docker\.io|mirror\.gcr\.io|public\.ecr\.aws/docker)/)?"
             r"(library/)?")
# What `/bin/sh` is on a base image, where its name tells (from the images or the Dockerfiles they build from).
_BASE_SHELLS = (
    (re.compile(r"alpine|busybox"), BUSYBOX),
    (re.compile(r"amazonlinux|amazon20\d\d|\bamzn\d|\brhel|\bubi\d*([-/:.]|$)|centos|fedora|rockylinux|almalinux|"
                r"oraclelinux|opensuse|archlinux"), BASH),
    (re.compile(r"debian|ubuntu|raspbian|bookworm|bullseye|buster|trixie|stretch|jammy|focal|noble|bionic|xenial"), DASH),
    # Ubuntu underneath, whatever the tag: NVIDIA's NGC framework images and the Rocker R images.
    (re.compile(r"^nvcr\.io/nvidia/(pytorch|tensorflow|tritonserver|nemo)|^(docker\.io/)?rocker/"), DASH),
    # SageMaker's own Processing images (any account's ECR): Amazon Linux for Spark, Ubuntu for the others.
    (re.compile(r"/sagemaker-spark-processing(:|$)"), BASH),
    (re.compile(r"/sagemaker-(scikit-learn|xgboost)(:|$)"), DASH),
    # Docker's official language images (on Docker Hub or a mirror such as ECR Public's) and the big ML and
    # conda images are Debian or Ubuntu unless tagged otherwise.
    (re.compile(_OFFICIAL + r"(python|node|ruby|golang|perl|php|rust|gcc|r-base|buildpack-deps|openjdk|"
                r"eclipse-temurin|julia)(:|$)|^(docker\.io/)?(pytorch/pytorch|tensorflow/tensorflow|continuumio/"
                r"miniconda3|continuumio/anaconda3|condaforge/miniforge3|mambaorg/micromamba|jupyter/[\w-]+|"
                r"bitnami/[\w-]+)(:|$)"), DASH),
)
# `sh`-compatible names and the shell they are, when it does not depend on the image.
_NAMED_SHELLS = {"bash": BASH, "dash": DASH, "ash": BUSYBOX, "busybox": BUSYBOX}


def shell_of_base(reference: str | None) -> str:
    """dash, busybox or bash when the base image's name tells what `/bin/sh`
    is (through tags such as `python:3.12-alpine`, `...-ubuntu22.04`), NO_SHELL
    for distroless images but their :debug tags (busybox); "" otherwise."""
    if not reference:
        return ""
    name = reference.lower().rsplit("@", 1)[0]
    if "distroless/" in name:  # gcr.io/distroless/..., or a mirror of it
        return BUSYBOX if "debug" in name.rpartition("/")[2].partition(":")[2] else NO_SHELL
    for pattern, shell in _BASE_SHELLS:
        if pattern.search(name):
            return shell
    return ""


def shell_missing(shell_argv: tuple[str, ...], bin_sh: str) -> bool:
    """Whether shell-form text run by `shell_argv` (the SHELL; () the default)
    finds no shell: it would be /bin/sh, on a base that has none."""
    return bin_sh == NO_SHELL and (not shell_argv or program_name(shell_argv[0]) == "sh")


def resolve_shell(name: str, bin_sh: str) -> str:
    """The shell that runs for `name` (sh, bash, ash, dash...): `sh` is `bin_sh`
    ("" unknown, and when the base has none: what a build adds is not known)."""
    return _NAMED_SHELLS.get(name, bin_sh if name == "sh" and bin_sh != NO_SHELL else "")


def parse_or_none(text: str) -> Sequence | None:
    try:
        return parse(text)
    except (ShellSyntaxError, RecursionError):
        return None


@dataclass(frozen=True)
class LeftRunning:
    """A job the shell stays PID 1 over."""

    outcome: Outcome
    self_exec_by: str  # "bash or busybox", "busybox" or "": the shells that would exec the job themselves
    unless: str  # self_exec_by, when the shell that runs is unknown
    trapped: bool  # the script traps INT/TERM but runs the job in the foreground

    @property
    def job(self) -> Simple:
        return self.outcome.job

    def describe(self) -> str:
        where = f" ({self.outcome.via})" if self.outcome.via else ""
        return f"`{short(self.job.text, 50)}`{where}"

    def _keeper(self) -> Simple | None:
        return next((c for c in (self.job, *self.outcome.after[-1:]) if _keeps_alive(command_words(c))), None)

    @property
    def fix_traps(self) -> bool:
        """Whether the fix already is a trap (a keeper, a background job, a loop)."""
        return self.outcome.background or self.outcome.in_loop or self._keeper() is not None

    def fix(self) -> str:
        words = " ".join(self.job.raw[len(self.job.raw) - len(command_words(self.job)):])
        keeper = self._keeper()
        if keeper is not None:
            return (f"`{short(keeper.text, 30)}` only keeps the container up, so `exec` there would hand the signal "
                    f"to it, not to the service: run the service in the foreground with `exec`, or trap INT and "
                    f"TERM and stop the service in the trap")
        if self.outcome.background:
            return "trap INT and TERM to forward them to the job's pid before `wait`, or run it with `exec`"
        if self.outcome.in_loop:
            return ("a loop needs the shell, so `exec` cannot help: trap INT and TERM, run each step in the "
                    "background and `wait` for it, and stop it in the trap")
        if self.outcome.pipe_last:
            return (f"run the job alone as `exec {short(words, 40)}` (a pipeline keeps the shell; bash can "
                    f"send the output on with `exec > >(tee log) 2>&1` first)")
        if self.outcome.no_self_exec and not self.outcome.nested:
            return f"run the job last as `exec {short(words, 40)}`"
        return f"write `exec {short(words, 40)}`"


def _keeps_alive(words: list[str]) -> bool:
    """`tail -f log` or `sleep infinity`: a keeper after a daemon, not the job itself."""
    name = program_name(words[0]) if words else ""
    if name == "tail":  # -f, -F, or a cluster holding either (`-nf`)
        return any(w == "--follow" or (w[:1] == "-" and w[:2] != "--" and "f" in w.lower()) for w in words[1:])
    return name == "sleep" and words[1:] == ["infinity"]


def left_running(tree: Sequence, shell: str, c_mode: bool) -> list[LeftRunning]:
    """The jobs PID 1's shell runs as a child and so does not hand the stop
    signal to: not exec'd, not exec'd by the shell itself (bash and busybox
    do so for the final simple command of a `-c` script; `shell` is bash,
    busybox, dash or "" unknown), unless the script traps INT/TERM and waits
    on the job in the background."""
    if forwards_signals(tree):
        return []
    trapped = any(c.name == "trap" and len(c.words) > 2 and c.words[1] != "-" for c in simple_commands(tree))
    found, seen = [], set()
    for outcome in outcomes(tree):
        if outcome.job is None or outcome.execd or outcome.failed or id(outcome.job) in seen:
            continue  # no job, exec'd, an error path (`echo usage; exit 1`), or named already
        by_bash, by_busybox = (_self_execs(outcome, kind, c_mode, trapped) for kind in (BASH, BUSYBOX))
        if (shell == BASH and by_bash) or (shell == BUSYBOX and by_busybox):
            continue
        others = "bash or busybox" if by_bash else "busybox" if by_busybox else ""
        found.append(LeftRunning(outcome, others, "" if shell else others, trapped and not outcome.background))
        seen.add(id(outcome.job))
    return found


def _self_execs(outcome: Outcome, shell: str, c_mode: bool, trapped: bool) -> bool:
    if not c_mode or trapped or outcome.after or outcome.no_self_exec or outcome.pipe_last:
        return False
    return shell == BUSYBOX or (not outcome.nested and not outcome.job.redirects)


def status_masking(tree: Sequence, command_line: str = "") -> list[str]:
    """Every way the script's final status can differ from its job's, each
    with its fix (SM106); empty when the job's status is the script's."""
    options, reasons = None, []
    for outcome in outcomes(tree):
        job = outcome.job
        if job is None or outcome.background:
            continue
        reason = None
        if outcome.after:
            last = outcome.after[-1]
            if not _forces_success(last) or (outcome.after_success and not outcome.after_failure):
                continue
            if outcome.after_failure:
                reason = (f"`{short(job.text, 40)} || {short(last.text, 20)}` turns every failure into success; "
                          f"drop `|| {short(last.text, 20)}` (or end the fallback with `exit 1`)")
            else:
                options = options or options_of(tree, command_line)
                if not options.errexit:
                    reason = (f"`{short(last.text, 30)}` after `{short(job.text, 40)}` replaces its status; run the "
                              f"job last, add `set -e`, or keep its status (`status=$?; ...; exit $status`)")
        elif outcome.pipe_last:
            options = options or options_of(tree, command_line)
            if not options.pipefail:
                reason = (f"the status of `{short(job.text, 40)} | ...` is that of its last command, "
                          f"`{outcome.pipe_last}` (no `set -o pipefail`); add `set -o pipefail` (bash) or run the "
                          f"job alone")
        if reason and reason not in reasons:
            reasons.append(reason)
    return reasons


def _forces_success(command: Simple) -> bool:
    words = command.words
    if words[:1] == ["exit"]:
        return words[1:] == ["0"]
    return bool(words) and (words[0] in NO_FAIL or command.name in STATUS_NEUTRAL)


def short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


_MAX_PATHS = 4  # faulty paths a message names


def _not_handed_on(found) -> str:
    """Why the stop signal stops at the shell, for one job left running."""
    if found.outcome.background:
        return f"it runs {found.describe()} in the background and waits without trapping INT or TERM"
    if found.trapped:
        instead = "" if found.outcome.in_loop else ", or `exec` it"  # exec would end a loop
        return (f"its trap runs only after the foreground {found.describe()} ends, so the signal is not "
                f"handed on (run the job in the background and `wait`{instead})")
    if found.outcome.in_loop:
        return f"{found.describe()} runs as a child of the shell"
    return f"{found.describe()} is not run with `exec`"


def _shell_note(found, shell: str, program: str) -> str:
    """Which shells would exec the job themselves, when that decides the finding."""
    if found.outcome.background or found.trapped:
        return ""
    if found.unless:
        return f" (unless /bin/sh is {found.unless}, which exec the final command themselves)"
    if found.self_exec_by and program == "sh":
        return f" (/bin/sh is {shell} on this base, which does not exec the final command itself)"
    return ""


def left_running_text(founds: list, shell: str = "", program: str = "", offer_trap: bool = False) -> str:
    """Every path that leaves the job a child of PID 1's shell, each with its fix:
    one path as a sentence, several numbered (at most _MAX_PATHS named).
    `offer_trap`: a script file, where a trap is the other fix (unless every fix is one)."""
    notes = [_shell_note(found, shell, program) for found in founds]
    shared = notes[0] if len(set(notes)) == 1 else ""
    parts = [f"{_not_handed_on(found)}{'' if shared else note}; {found.fix()}" for found, note in zip(founds, notes)]
    trap = offer_trap and not all(found.fix_traps for found in founds)
    return paths_text(parts, shared) + (TRAP_ALTERNATIVE if trap else "")


TRAP_ALTERNATIVE = "; or trap INT and TERM, run the job in the background and `wait` for it"


def paths_text(parts: list[str], shared: str = "") -> str:
    """One faulty path as a sentence, several numbered (at most _MAX_PATHS
    named, then a count); `shared`: a note that holds for all of them."""
    if len(parts) == 1:
        return parts[0] + shared
    more = f"; and {len(parts) - _MAX_PATHS} more" if len(parts) > _MAX_PATHS else ""
    named = "; ".join(f"({n}) {part}" for n, part in enumerate(parts[:_MAX_PATHS], 1))
    return f"on {len(parts)} paths{shared}: {named}{more}"
