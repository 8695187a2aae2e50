"""Facts the SM1xx checks share: what PID 1 runs, what RUN scripts do,
where paths land. Pure functions over the model."""
from __future__ import annotations

import fnmatch
import os
import posixpath
import re
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Iterator

from ..argv import DEFAULT_PATH, SCRIPT_SHELLS, SHELLS, skip_wrappers
from ..argv import INITS as INIT_WRAPPERS  # programs that start the real command and pass signals through
from ..findings import Span
from .model import Dockerfile, Stage, Step, expand
from .parser import Heredoc, Instruction, shell_words
from .writes import WRITERS, destinations
from .shell import program_name, script_commands, shebang_shell, shell_c_script, strip_wrappers

if TYPE_CHECKING:
    from .shell_tree import Simple


@dataclass(frozen=True)
class Subject:
    """What a Dockerfile check looks at."""

    dockerfile: Dockerfile
    final: Stage
    context_dir: str | None = None

    @cached_property
    def chain_steps(self) -> list[Step]:
        return self.final.chain_steps()

    @cached_property
    def scripts(self) -> list["RunScript"]:
        """The final image's RUN scripts, parsed once for every check."""
        return list(run_scripts(self.chain_steps))

    @cached_property
    def copies(self) -> list["Copy"]:
        """The final image's COPY/ADD steps from the build context or heredocs, last first."""
        return [copy for step in reversed(self.chain_steps)
                if (copy := read_copy(step)) is not None and copy.from_stage is None]

    @cached_property
    def _context_files(self) -> dict[str, str | None]:
        return {}

    def context_file(self, source: str) -> str | None:
        """context_path(context_dir, source), resolved once per source."""
        if source not in self._context_files:
            self._context_files[source] = context_path(self.context_dir, source)
        return self._context_files[source]

    @cached_property
    def pid1(self) -> "Pid1Script | None":
        return pid1_script(self.final)

    @cached_property
    def _pid1_read(self) -> tuple:
        """The PID-1 script's grammar tree (None when it does not parse) and its
        commands, nested ones included: read once for SM105, SM106, SM131, SM133."""
        if not self.pid1:
            return None, []
        from .shell_lexer import ShellSyntaxError
        from .shell_tree import parse_with_commands

        try:
            return parse_with_commands(self.pid1.text)
        except (ShellSyntaxError, RecursionError):
            return None, script_commands(self.pid1.text)

    @property
    def pid1_commands(self) -> list[Simple]:
        return self._pid1_read[1]

    @property
    def pid1_tree(self):
        return self._pid1_read[0]

    @cached_property
    def bin_sh(self) -> str:
        """What /bin/sh is (dash, busybox, bash) where the base image's name
        tells; NO_SHELL on scratch or distroless when no COPY/ADD could bring
        one (to /, /bin or /usr/bin); "" otherwise."""
        from .shell_questions import NO_SHELL, shell_of_base

        base = self.final.external_base
        shell = shell_of_base(base) if base is not None else NO_SHELL
        copies = (read_copy(step) for step in self.chain_steps)  # from the context or another stage
        if shell == NO_SHELL and any(copy is not None and _may_add_a_shell(copy.target) for copy in copies):
            return ""
        return shell

    def shell_missing(self, shell: tuple[str, ...]) -> bool:
        """Whether shell-form text under this SHELL finds no /bin/sh to run it."""
        from .shell_questions import shell_missing

        return shell_missing(shell, self.bin_sh)


def _may_add_a_shell(target: str) -> bool:
    return target.rstrip("/") in ("", "/bin", "/usr", "/usr/bin") or target.startswith(("/bin/", "/usr/bin/"))


def span_of(instruction: Instruction) -> Span:
    return Span(instruction.line, instruction.column, instruction.end_line, instruction.end_column)


def argument_words(instruction: Instruction) -> list[str]:
    """The arguments as Docker splits them: the JSON array, or shell-like words."""
    if instruction.exec_args is not None:
        return list(instruction.exec_args)
    return shell_words(instruction.args)


def under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def absolute(path: str, workdir: str) -> str:
    """Where `path` lands, relative to WORKDIR; trailing slashes dropped."""
    if not path:
        return workdir
    return posixpath.normpath(posixpath.join(workdir or "/", path)).replace("//", "/")


# --- what runs as PID 1 -----------------------------------------------------------

@dataclass(frozen=True)
class Pid1Script:
    """A shell script the container's main process runs: shell-form text, or
    the SCRIPT of an exec-form `sh -c SCRIPT`."""

    text: str
    instruction: Instruction
    shell: str  # sh, bash, ...
    options: str  # option letters given to the shell (e.g. "ec")
    shell_is_pid1: bool


def effective_argv(stage: Stage) -> tuple[list[str], list[tuple[Instruction, int, int]]]:
    """The argv Docker would run and which instruction supplied which slice."""
    config = stage.config
    argv: list[str] = []
    owners: list[tuple[Instruction, int, int]] = []
    for instruction, part in ((config.entrypoint, config.entrypoint_argv), (config.cmd, config.cmd_argv)):
        if instruction is not None and part:
            owners.append((instruction, len(argv), len(argv) + len(part)))
            argv.extend(part)
    return argv, owners


def _owner(owners: list[tuple[Instruction, int, int]], index: int) -> Instruction | None:
    for instruction, start, end in owners:
        if start <= index < end:
            return instruction
    return None


def pid1_script(stage: Stage) -> Pid1Script | None:
    argv, owners = effective_argv(stage)
    start = skip_wrappers(argv)
    found = shell_c_script(argv[start:])
    if not found:
        return None
    shell, options, script_index = found
    index = start + script_index
    owner = _owner(owners, index)
    if owner is None:
        return None
    return Pid1Script(argv[index], owner, shell, options, shell_is_pid1=start == 0)


_SCRIPT_LIMIT = 1_000_000  # bytes of a build-context script that are read


@dataclass(frozen=True)
class Pid1ScriptFile:
    """A shell script file the container runs as PID 1, with its text as the
    Dockerfile gives it (a COPY heredoc, or a file of the build context)."""

    path: str  # where it lands in the image
    text: str
    run_by: Instruction  # the ENTRYPOINT or CMD
    copied_by: Instruction  # the COPY or ADD that put it there
    shell: str  # the shell that runs it


def pid1_script_file(subject: Subject) -> Pid1ScriptFile | None:
    """The script PID 1 is, when the command runs one directly (`/entrypoint.sh`,
    `bash /start.sh`, or behind a user switcher such as gosu) and its text is
    known. None behind an init (tini, dumb-init), which forwards signals."""
    argv, owners = effective_argv(subject.final)
    start = skip_wrappers(argv)
    if start >= len(argv) or any(program_name(word) in INIT_WRAPPERS for word in argv[:start]):
        return None
    program, shell = argv[start], ""
    busybox = program_name(program) == "busybox" and start + 1 < len(argv) and argv[start + 1] in SHELLS
    if busybox or program_name(program) in SHELLS:  # `bash SCRIPT`, `busybox sh SCRIPT`
        shell, script_index = "busybox" if busybox else program_name(program), start + 1 + busybox
        while script_index < len(argv) and argv[script_index].startswith("-"):
            if "c" in argv[script_index].lstrip("-") and not argv[script_index].startswith("--"):
                return None  # `sh -c TEXT` is SM105's
            script_index += 1
        if script_index >= len(argv):
            return None
        program = argv[script_index]
    config = subject.final.config
    for path in _candidates(program, config.workdir, config.env.get("PATH") or DEFAULT_PATH, bool(shell)):
        found = _copied_text(subject, path)
        if found is None:
            continue
        text, copied_by = found
        interpreter = shell or shebang_shell(text)
        owner = _owner(owners, start)
        if not interpreter or owner is None:
            return None
        return Pid1ScriptFile(path, text, owner, copied_by, interpreter)
    return None


def copied_program(subject: Subject, program: str, as_operand: bool) -> tuple[str, str, Instruction] | None:
    """(path in the image, text, the COPY/ADD) of a file the job runs, when the
    Dockerfile (a heredoc) or the build context gives its text: a program is
    looked up like execvp; a script given to an interpreter (`as_operand`) is
    read from WORKDIR first."""
    config = subject.final.config
    for path in _candidates(program, config.workdir, config.env.get("PATH") or DEFAULT_PATH, as_operand):
        found = _copied_text(subject, path)
        if found is not None:
            return path, found[0], found[1]
    return None


def _candidates(program: str, workdir: str, search_path: str, by_shell: bool) -> list[str]:
    """Where the program may be: as given, or looked up like execvp (a shell
    given a bare script name reads it from the working directory first)."""
    if "/" in program:
        return [absolute(program, workdir)]
    directories: list[str] = []
    for entry in search_path.split(":"):
        # Empty where `ENV PATH=/x:$PATH` named the base image's PATH, unknown here: assume the usual one.
        directories.extend([entry] if entry else DEFAULT_PATH.split(":"))
    found = [absolute(directory, workdir) + "/" + program for directory in directories]
    return [absolute(program, workdir)] + found if by_shell else found


@dataclass(frozen=True)
class Copy:
    """A COPY or ADD of the build context or of heredocs, its words split once."""

    instruction: Instruction
    target: str  # the destination, absolute
    into_dir: bool  # sources land inside target, under their own names
    sources: list[tuple[str, Heredoc | None]]  # (source with variables expanded, or the heredoc's name; heredoc)
    from_stage: str | None = None  # COPY --from: another stage or image, not the build context

    def lands_at(self, source: str) -> str:
        """Where a source ends up: under its own name in the target folder, or as the target."""
        name = source.rstrip("/").rsplit("/", 1)[-1]
        return posixpath.join(self.target, name) if self.into_dir else self.target


def read_copy(step: Step) -> Copy | None:
    """A COPY or ADD as BuildKit reads it (the one reading SM110, SM122 and the
    copied-file lookups share); None for other instructions or no destination."""
    instruction = step.instruction
    if instruction.keyword not in ("COPY", "ADD"):
        return None
    words = argument_words(instruction)
    heredoc_only = bool(instruction.heredocs) and instruction.exec_args is None and len(words) == 1
    if len(words) < 2 and not heredoc_only:  # `COPY <<EOF /dest`: the heredoc is the source
        return None
    destination = step.expand(words[-1])
    heredocs = {"<<" + h.name: h for h in instruction.heredocs}
    sources = []
    for word in words[:-1]:
        heredoc = heredocs.get(word.lstrip("0123456789").replace("<<-", "<<"))
        sources.append((heredoc.name, heredoc) if heredoc else (step.expand(word), None))
    into_dir = destination.endswith("/") or len(sources) > 1
    return Copy(instruction, absolute(destination, step.workdir), into_dir, sources, instruction.flag("from"))


def _copied_text(subject: Subject, path: str) -> tuple[str, Instruction] | None:
    """The text the last COPY/ADD that lands a file at `path` gives it, when
    the Dockerfile or the build context holds that text."""
    for copy in subject.copies:
        inside = path.startswith(copy.target.rstrip("/") + "/")
        for source, heredoc in copy.sources:
            if heredoc is None and _GLOB.search(source):
                source = _glob_source(subject, copy, source, path)
                if source is None:
                    continue
            lands = copy.lands_at(source) == path
            if not lands and (not inside or heredoc is not None or not subject.context_dir):
                continue  # the string tests first: resolving a context path costs a realpath
            local = None if heredoc else subject.context_file(source)
            if local is not None and inside and os.path.isdir(local):  # COPY dir/ /dest/ copies what dir holds
                local = os.path.join(local, path[len(copy.target.rstrip("/")) + 1 :])
                if not os.path.isfile(local):
                    continue
            elif not lands:
                continue
            # This COPY wins; its text is known from a heredoc or the build context only.
            if heredoc is not None:
                return heredoc.text, copy.instruction
            text = _read_text(local) if local is not None and os.path.isfile(local) else None
            return (text, copy.instruction) if text is not None else None
    return None


_GLOB = re.compile(r"[*?\[]")


def _glob_source(subject: Subject, copy: "Copy", pattern: str, path: str) -> str | None:
    """The build-context file a wildcard COPY source puts at `path`, if any."""
    folder, wanted = posixpath.split(pattern)
    if _GLOB.search(folder):
        return None  # wildcards in folders: not followed
    if copy.into_dir:
        name = posixpath.basename(path)
        source = posixpath.join(folder, name)
        return source if fnmatch.fnmatchcase(name, wanted) and copy.lands_at(source) == path else None
    local = subject.context_file(folder or ".")
    names = sorted(fnmatch.filter(os.listdir(local), wanted)) if local and os.path.isdir(local) else []
    return posixpath.join(folder, names[0]) if len(names) == 1 else None  # one match: copied as the target


def context_path(context_dir: str | None, source: str) -> str | None:
    """The build-context file or folder a COPY source names (None outside it)."""
    if not context_dir:
        return None
    root = os.path.realpath(context_dir)
    path = os.path.realpath(os.path.join(root, source.lstrip("/")))
    return path if path == root or path.startswith(root + os.sep) else None


def _read_text(path: str) -> str | None:
    try:
        with open(path, "rb") as handle:
            data = handle.read(_SCRIPT_LIMIT)
    except OSError:
        return None
    return None if b"\0" in data else data.decode("utf-8", "replace")


# --- RUN scripts ------------------------------------------------------------------

@dataclass(frozen=True)
class RunScript:
    step: Step
    commands: list[Simple]
    text: str


def run_script_text(step: Step) -> str:
    """The shell text a RUN executes, heredoc bodies included."""
    instruction = step.instruction
    if instruction.exec_args is not None:
        argv = list(instruction.exec_args)
        found = shell_c_script(argv)
        if found:
            return argv[found[2]]
        return " ".join(_quote(a) for a in argv)
    if not step.shell or program_name(step.shell[0]) not in SCRIPT_SHELLS:
        return ""  # SHELL ["powershell", ...]: not a script this grammar reads
    text = instruction.args
    if not instruction.heredocs:
        return text
    words = [w for w in text.split() if not re.match(r"^\d*<<", w)]
    command = strip_wrappers(words)
    program = program_name(command[0]) if command else ""
    bodies = "\n".join(h.text for h in instruction.heredocs)
    if not words:
        return bodies  # RUN <<EOF: the body is the script
    if program in SCRIPT_SHELLS:
        return re.sub(r"\d*<<-?\S+", "", text) + "\n" + bodies
    return re.sub(r"\d*<<-?\S+", "", text)


def _quote(word: str) -> str:
    return "'" + word.replace("'", "'\\''") + "'" if not word or re.search(r"[\s'\"$`\\;&|<>(){}]", word) else word


def run_scripts(steps: list[Step]) -> Iterator[RunScript]:
    for step in steps:
        if step.instruction.keyword == "RUN":
            text = run_script_text(step)
            yield RunScript(step, script_commands(text), text)


def expanded_words(command: Simple, step: Step) -> list[str]:
    """The command's words after wrappers (sudo, env, exec), variables substituted."""
    if command.expanded is None:
        variables = step.variables
        command.expanded = [expand(w, variables) if "$" in w else w for w in strip_wrappers(command.words)]
    return command.expanded


_WRITING_REDIRECTS = frozenset({">", ">>", ">|", "&>", "&>>", ">&", "<>"})


def written_paths(command: Simple, step: Step, cwd: str) -> Iterator[tuple[str, str]]:
    """(absolute path, how) for each path the command creates or writes."""
    for redirect in command.redirects:
        operator, target = redirect.operator, redirect.target
        if operator in _WRITING_REDIRECTS and not (operator == ">&" and (target.isdigit() or target == "-")):
            yield absolute(step.expand(target), cwd), f"redirection {operator}"
    words = expanded_words(command, step)
    if not words:
        return
    name = program_name(words[0])
    if name not in WRITERS:
        return
    args = words[1:]
    positional = [a for a in args if not a.startswith("-")]
    for path in destinations(name, args, positional):
        yield absolute(path, cwd), name


def cd_target(command: Simple, step: Step, cwd: str) -> str | None:
    words = expanded_words(command, step)
    if words and words[0] in ("cd", "pushd"):
        target = next((w for w in words[1:] if not w.startswith("-")), None)
        return absolute(target, cwd) if target else cwd
    return None


def command_cwds(script: RunScript) -> Iterator[tuple[Simple, str]]:
    """Each command with the directory it runs in: a `cd` lasts in its shell
    (across `&&`, `;`, `if`, loops), and a subshell starts where its parent was."""
    cwds = {(): script.step.workdir}
    for command in script.commands:
        scope = command.scope
        cwd = cwds.get(scope)
        if cwd is None:
            outer = scope[:-1]
            while outer not in cwds:
                outer = outer[:-1]
            cwd = cwds[scope] = cwds[outer]
        yield command, cwd
        moved = cd_target(command, script.step, cwd)
        if moved is not None:
            cwds[scope] = moved


_INSTALL_VERBS = {
    "apt-get": ("install",), "apt": ("install",), "aptitude": ("install",),
    "yum": ("install", "groupinstall"), "dnf": ("install",), "microdnf": ("install",),
    "zypper": ("install", "in"), "apk": ("add",), "conda": ("install", "create"),
    "mamba": ("install", "create"), "micromamba": ("install", "create"), "tdnf": ("install",),
}
# Package-manager options that take a value (the value is not a package).
_VALUED_OPTIONS = frozenset({
    "-c", "--channel", "-n", "--name", "-p", "--prefix", "-o", "--option", "-t", "--target-release", "--repo",
    "--enablerepo", "--disablerepo", "--setopt", "-X", "--repository",
})


def installed_packages(command: Simple, step: Step) -> list[str]:
    """Package names an install command asks for, versions and channels removed."""
    words = expanded_words(command, step)
    if not words:
        return []
    manager = program_name(words[0])
    rest = words[1:]
    verbs = _INSTALL_VERBS.get(manager)
    if not verbs:
        return []
    verb_index = next((i for i, w in enumerate(rest) if w in verbs), None)
    if verb_index is None:
        return []
    names, skip = [], False
    for word in rest[verb_index + 1 :]:
        if skip:
            skip = False
            continue
        if word.startswith("-"):
            skip = word in _VALUED_OPTIONS
            continue
        if word.endswith((".deb", ".rpm")) or "/" in word.split("::")[-1]:
            continue
        names.append(package_name(word))
    return [n for n in names if n]


def package_name(word: str) -> str:
    name = word.split("::")[-1]  # conda channel::package
    name = re.split(r"[=<>!~\s]", name, maxsplit=1)[0]
    name = name.split(":", 1)[0]  # apt name:arch
    return name.strip("'\"").lower()
