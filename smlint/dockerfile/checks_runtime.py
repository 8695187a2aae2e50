"""SM131, SM140-SM143: what the job sees at run time (host names, the user it
runs as), the base image it is built on, the stage's repeated commands, and
the builder's flags.
Registered in the SM1xx registry (checks.py imports this module)."""
from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Iterator

from ..contract import runs_as_root
from ..findings import Problem
from .advice import short as _short
from .checks import registry
from ..argv import LAUNCHERS, RUNNERS, SHELLS, program_name, skip_wrappers
from .facts import Subject, copied_program, effective_argv, span_of
from .parser import Instruction
from .shell import script_commands, shebang_shell, strip_wrappers, top_level

if TYPE_CHECKING:
    from .shell_tree import Simple

# --- SM131: host names read at job time ----------------------------------------------

_HOST_FILE = re.compile(r"/etc/host(?:name|s)\b")
# Commands that name /etc/hosts or /etc/hostname without reading what is in
# them: writers, tests, and the resolvers the guide's retry advice uses.
_NOT_READERS = frozenset(
    "tee cp mv install ln rm touch chmod chown chgrp chattr mount umount echo printf test [ [[ ls stat "
    "getent nslookup host dig wget curl readlink realpath".split()
)
_IN_PLACE_EDITORS = frozenset({"sed", "perl"})  # with -i they rewrite the file
_INTERPRETER = re.compile(r"(python|pypy)[\d.]*|node|Rscript|perl|ruby|php|" + "|".join(SHELLS))
# In a file that is not a shell script (Python, ...): a line that names the
# files or calls gethostname(), unless it writes the file.
_TEXT_READ = re.compile(r"/etc/host(?:name|s)\b|\bgethostname\s*\(")
_TEXT_WRITE = re.compile(r"""open\s*\([^)]*,\s*(mode\s*=\s*)?['"][wax]|>>?\s*['"]?/etc/host|\btee\b|write""")
_MAX_FILES = 8  # scripts followed from the command, at most
_ADVICE = ("host names there need not be the job's on Processing; read /opt/ml/config/resourceconfig.json "
           "(current_host, hosts) instead, and retry resolving peers' names")


class _Argv:
    """An exec-form command as the SM131 reading sees it: words, no redirections."""

    redirects, scope = (), ()

    def __init__(self, words: list[str]) -> None:
        self.words = words


def host_reading(command: Simple) -> str | None:
    """How the command reads host identity (`calls hostname`, `reads
    /etc/hosts`), or None: writing the files or resolving names is not reading."""
    for redirect in command.redirects:
        if redirect.operator == "<" and _HOST_FILE.search(redirect.target):
            return f"reads {_HOST_FILE.search(redirect.target).group(0)}"
    words = strip_wrappers(command.words)
    if not words:
        return None
    name = program_name(words[0])
    if name == "hostname":
        return None if [w for w in words[1:] if not w.startswith("-")] else "calls `hostname`"
    in_place = any(w.startswith(("-i", "--in-place")) for w in words[1:])
    if name in _NOT_READERS or (name in _IN_PLACE_EDITORS and in_place):
        return None
    for word in words[1:]:
        match = _HOST_FILE.search(word)
        if match and "$(" not in word and "`" not in word:  # a substitution is its own command
            return f"reads {match.group(0)} (`{_short(' '.join(words), 50)}`)"
    return None


def _first_reading(commands: list[Simple]) -> str | None:
    return next((reason for reason in map(host_reading, commands) if reason), None)


def _text_reading(text: str) -> str | None:
    for number, line in enumerate(text.splitlines(), 1):
        match = _TEXT_READ.search(line)
        if match and not _TEXT_WRITE.search(line):
            what = "calls gethostname()" if "gethostname" in match.group(0) else f"reads {match.group(0)}"
            return f"{what} on its line {number}"
    return None


def _run_target(command: Simple) -> tuple[str, str] | None:
    """(file, the interpreter given it or "") that the command runs, if any."""
    words = command.words[skip_wrappers(command.words, RUNNERS | LAUNCHERS) :]
    if not words:
        return None
    interpreter = program_name(words[0])
    if not _INTERPRETER.fullmatch(interpreter):
        return words[0], ""
    for word in words[1:]:
        if word in ("-m", "-c", "-e") or word.startswith("--"):
            return None  # a module or inline code, not a file
        if not word.startswith("-"):
            return word, interpreter
    return None


def _files_run(subject: Subject, commands: list[Simple]) -> Iterator[tuple[str, str, Instruction, str]]:
    """(path, text, COPY, why) for each file whose text is known that the
    commands run, following shell scripts one step further."""
    pending, seen = [(command, False) for command in commands], set()
    while pending and len(seen) < _MAX_FILES:
        command, from_script = pending.pop(0)
        target = _run_target(command)
        found = copied_program(subject, target[0], bool(target[1])) if target else None
        if found is None or found[0] in seen:
            continue
        path, text, copied_by = found
        seen.add(path)
        if not (target[1] in SHELLS or shebang_shell(text) or path.endswith(".sh")):
            reason = _text_reading(text)
            if reason:
                yield path, text, copied_by, reason
            continue
        inner = script_commands(text)
        reason = _first_reading(inner)
        if reason:
            yield path, text, copied_by, reason
        elif not from_script:
            pending.extend((command, True) for command in top_level(inner))


@registry.check("SM131")
def hostname_from_etc(subject: Subject) -> Iterator[Problem]:
    argv, owners = effective_argv(subject.final)
    start = skip_wrappers(argv)
    if start >= len(argv):
        return
    script = subject.pid1
    if script is not None:
        owner, commands = script.instruction, subject.pid1_commands
    else:
        owner = next(instruction for instruction, first, end in owners if first <= start < end)
        commands = [_Argv(argv[start:])]
    reason = _first_reading(commands)
    if reason:
        yield Problem(f"{owner.keyword} {reason} when the job starts: {_ADVICE}", span_of(owner))
        return
    for path, _, copied_by, reason in _files_run(subject, top_level(commands)):
        yield Problem(
            f"{owner.keyword} runs {path} (copied on line {copied_by.line}), which {reason}: {_ADVICE}",
            span_of(owner),
            data={"script": path, "copied_on_line": copied_by.line},
        )


# --- SM140: the base image is pinned --------------------------------------------------

_IMAGE_ID = re.compile(r"[0-9a-f]{64}")


def image_tag(reference: str) -> tuple[str | None, str | None]:
    """(tag, digest) of an image reference; a registry port is not a tag, and a
    bare image id is its own digest."""
    if _IMAGE_ID.fullmatch(reference):
        return None, reference
    name, _, digest = reference.partition("@")
    last = name.rsplit("/", 1)[-1]
    tag = last.split(":", 1)[1] if ":" in last else None
    return tag, digest or None


@registry.check("SM140")
def unpinned_base_image(subject: Subject) -> Iterator[Problem]:
    root = subject.final.root
    base = subject.final.external_base
    if base is None or root.base_unresolved or not base:
        return
    tag, digest = image_tag(base)
    if digest or tag not in (None, "latest"):
        return
    shown = "no tag" if tag is None else "the tag latest"
    yield Problem(
        f"the final image comes from {base!r} with {shown}: each build may get a different base; "
        f"pin a version tag or a digest",
        span_of(root.from_step.instruction),
    )


@registry.check("SM141")
def multiple_entrypoints(subject: Subject) -> Iterator[Problem]:
    for keyword in ("ENTRYPOINT", "CMD"):
        instructions = [s.instruction for s in subject.final.steps if s.instruction.keyword == keyword]
        for earlier in instructions[:-1]:
            yield Problem(
                f"{keyword} is set again on line {instructions[-1].line}; only the last one counts, "
                f"so this one is dead",
                span_of(earlier),
            )


# --- SM142: the user the job runs as --------------------------------------------------

@registry.check("SM142")
def non_root_user(subject: Subject) -> Iterator[Problem]:
    config = subject.final.config
    if config.user_source is None or config.user_unresolved or runs_as_root(config.user or ""):
        return  # root, or unknown: the base image's own USER, or a build argument without a value
    yield Problem(
        f"the job runs as USER {config.user!r} (set on line {config.user_source.line}), not root: Processing "
        f"creates the output directories under /opt/ml/processing root-owned before the job starts, so the "
        f"job cannot write its outputs; end the final stage with `USER root`",
        span_of(config.user_source),
        data={"user": config.user},
    )


# --- SM143: flags BuildKit accepts ----------------------------------------------------

_BOOL, _STRING, _STRINGS = "bool", "string", "strings"
# Per instruction, the flags BuildKit's instruction parser registers (its
# instructions/parse.go); every other instruction takes none. ARG and
# STOPSIGNAL never look at their flags, nor does HEALTHCHECK NONE.
INSTRUCTION_FLAGS: dict[str, dict[str, str]] = {
    "FROM": {"platform": _STRING},
    "RUN": {"mount": _STRINGS, "network": _STRING, "security": _STRING, "device": _STRINGS},
    "COPY": {"from": _STRING, "chown": _STRING, "chmod": _STRING, "link": _BOOL, "parents": _BOOL,
             "exclude": _STRINGS},
    "ADD": {"chown": _STRING, "chmod": _STRING, "link": _BOOL, "keep-git-dir": _BOOL, "checksum": _STRING,
            "unpack": _BOOL, "exclude": _STRINGS},
    "HEALTHCHECK": {"interval": _STRING, "timeout": _STRING, "start-period": _STRING,
                    "start-interval": _STRING, "retries": _STRING},
}
_FLAGS_IGNORED = frozenset({"ARG", "STOPSIGNAL"})


def flag_errors(instruction: Instruction) -> Iterator[str]:
    """Why BuildKit refuses each of the instruction's flags, as its messages say."""
    keyword = instruction.keyword
    if keyword in _FLAGS_IGNORED or (keyword == "HEALTHCHECK" and instruction.args.split()[:1] == ["NONE"]):
        return
    accepted = INSTRUCTION_FLAGS.get(keyword, {})
    seen = set()
    for name, value in instruction.flags:
        kind = accepted.get(name)
        if kind is None:
            yield f"unknown flag --{name}{_did_you_mean(name, accepted)}"
        elif name in seen and kind != _STRINGS:
            yield f"--{name} is given twice"
        elif kind == _BOOL and value is not None and value.lower() not in ("true", "false"):
            yield f"--{name} takes true or false, not {value!r}"
        elif kind != _BOOL and value is None:
            yield f"--{name} needs a value (--{name}=...)"
        seen.add(name)


def _did_you_mean(name: str, accepted: dict[str, str]) -> str:
    if not accepted:
        return " (it takes no flags)"
    lowered = {known for known in accepted if known == name.lower()}
    if not lowered:
        import difflib  # only when there is a finding

        lowered = set(difflib.get_close_matches(name.lower(), list(accepted), n=1, cutoff=0.75))
    shown = ", ".join("--" + known for known in accepted)
    return f" (did you mean --{lowered.pop()}?)" if lowered else f" (it takes {shown})"


@registry.check("SM143")
def invalid_instruction_flag(subject: Subject) -> Iterator[Problem]:
    for instruction in subject.dockerfile.parsed.instructions:
        if not instruction.flags:
            continue
        hint = ""
        if instruction.keyword in ("CMD", "ENTRYPOINT") and not instruction.args:
            words = ["--" + name + ("" if value is None else "=" + value) for name, value in instruction.flags]
            hint = f"; arguments for the program go in exec form: {instruction.keyword} {json.dumps(words)}"
        for error in flag_errors(instruction):
            yield Problem(f"{instruction.keyword}: {error}: the build fails here{hint}", span_of(instruction))


__all__ = ["host_reading", "flag_errors", "image_tag", "INSTRUCTION_FLAGS"]
