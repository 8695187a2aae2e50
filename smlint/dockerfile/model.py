"""Stages, resolved variables and the runtime config each stage produces.

Built from the parser's instructions. Docker semantics that matter here:
- ARGs before the first FROM are visible to FROM lines only; inside a stage an
  `ARG NAME` re-declares one and takes its global default.
- `FROM <earlier stage>` inherits that stage's ENTRYPOINT, CMD, ENV, WORKDIR,
  USER and SHELL; ENTRYPOINT resets an inherited CMD (not one set in the same
  stage), as both BuildKit and the classic builder do.
- Shell-form ENTRYPOINT/CMD become `SHELL + [text]`, by default
  `["/bin/sh", "-c", text]`.
"""
from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field, replace

from ..argv import DEFAULT_SHELL
from .parser import DockerfileError, Instruction, KNOWN_INSTRUCTIONS, ParsedDockerfile, parse, shell_words
# BuildKit's automatic target-platform arguments, for the Processing target
# (linux/amd64). They are global, so FROM lines see them (`FROM stage-$TARGETOS`);
# a stage sees them after `ARG TARGETARCH`. The BUILD* ones describe whatever
# machine builds, so they stay unknown unless given with --build-arg.
TARGET_PLATFORM_ARGS = {"TARGETPLATFORM": "linux/amd64", "TARGETOS": "linux", "TARGETARCH": "amd64",
                        "TARGETVARIANT": ""}
BUILD_PLATFORM_ARGS = ("BUILDPLATFORM", "BUILDOS", "BUILDARCH", "BUILDVARIANT")
_SET_EMPTY = frozenset(name for name, value in TARGET_PLATFORM_ARGS.items() if not value)
_VARIABLE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+?])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))")


# Bounds that keep a hostile Dockerfile linear: an `ARG a=$b$b` chain doubles
# per line, and each ARG/ENV copies the variables in effect.
MAX_EXPANDED_CHARS = 16 * 1024 * 1024  # all expansions of one Dockerfile, together
MAX_VARIABLE_COPIES = 2_000_000  # variable entries copied by all ARG/ENV lines


class ExpansionTooLarge(DockerfileError):
    """Variable substitution would produce more text than smlint handles."""


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_REFERENCE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")  # every reference, nested ones too
_OPERATORS = (":-", ":+", ":?", "-", "+", "?")


def expand(text: str, variables: dict[str, str], escape: str = "\\") -> str:
    """Docker's variable substitution: `$V`, `${V}`, `${V:-x}`, `${V-x}`,
    `${V:+x}`, `${V+x}`, nested words too; unknown variables become empty; an
    escaped `$` stays. One pass over the text with an explicit stack of open
    `${V op word}`, so nesting depth costs linear time and no recursion."""
    if "$" not in text:
        return text
    frames: list[tuple[str, str, list]] = []  # (name, operator, pieces of its word) of each open ${
    outer: list = []  # pieces of the result; a closed word is appended as a list: no copying
    pieces, size, index, length = outer, 0, 0, len(text)
    while index < length:
        char = text[index]
        if char == escape and text.startswith("$", index + 1):
            piece, index = "$", index + 2
        elif char == "}" and frames:
            name, operator, word = frames.pop()
            pieces = frames[-1][2] if frames else outer
            piece, index = _substitute(variables.get(name), operator, word), index + 1
        elif char != "$":
            piece, index = char, index + 1
        else:
            name, operator, after = _reference(text, index)
            if name is None:
                piece, index = char, index + 1
            elif operator is None:
                piece, index = variables.get(name) or "", after
            else:
                frames.append((name, operator, []))
                pieces, index = frames[-1][2], after
                continue
        pieces.append(piece)
        size += len(piece) if isinstance(piece, str) else 0  # a word's pieces were counted as they came
        _check_size(size)
    while frames:  # unclosed `${V:-...`: literal text, as Docker leaves it
        name, operator, word = frames.pop()
        (frames[-1][2] if frames else outer).append(["${", name, operator, word])
    return _flatten(outer)


def _reference(text: str, index: int) -> tuple[str | None, str | None, int]:
    """At a `$`: (name, None, end) for `$V`/`${V}`, (name, operator, word start)
    for `${V op`, (None, None, index) when it is a literal `$`."""
    braced = text.startswith("{", index + 1)
    match = _NAME.match(text, index + 2 if braced else index + 1)
    if match is None:
        return None, None, index
    name, after = match.group(), match.end()
    if not braced:
        return name, None, after
    if text.startswith("}", after):
        return name, None, after + 1
    operator = next((op for op in _OPERATORS if text.startswith(op, after)), None)
    if operator is None:  # `${1}`, `${a%b}`: not a substitution Docker knows
        return None, None, index
    return name, operator, after + len(operator)


def _check_size(size: int) -> None:
    if size > MAX_EXPANDED_CHARS:
        raise ExpansionTooLarge(f"variables expand to more than {MAX_EXPANDED_CHARS // 1024 // 1024} MiB")


def _substitute(value: str | None, operator: str, word: list) -> object:
    if operator in (":-", "-"):
        missing = value is None or (operator == ":-" and value == "")
        return word if missing else value
    if operator in (":+", "+"):
        present = value is not None and (operator == "+" or value != "")
        return word if present else ""
    return value or ""  # ${V:?msg}: an error at build time when unset


def _flatten(pieces: list) -> str:
    """Join nested piece lists without recursion."""
    out: list[str] = []
    pending = [iter(pieces)]
    while pending:
        for piece in pending[-1]:
            if isinstance(piece, str):
                out.append(piece)
            else:
                pending.append(iter(piece))
                break
        else:
            pending.pop()
    return "".join(out)


def expansion_bound(instruction: Instruction, variables: dict[str, str]) -> int:
    """An upper bound on what expanding all of an instruction's text can produce:
    its length plus the value of every reference, computed without expanding."""
    texts = [instruction.args, *(heredoc.body for heredoc in instruction.heredocs)]
    bound = 0
    for text in texts:
        bound += len(text)
        if "$" in text:
            bound += sum(len(variables.get(name) or "") for name in _REFERENCE.findall(text))
    return bound


def has_unresolved(text: str, variables: dict[str, str], set_empty: frozenset[str] = frozenset()) -> bool:
    """A variable without a value and without a `${V:-default}`: a bare `ARG V`
    in front of `FROM ${V}` means the value comes from --build-arg. Names in
    `set_empty` are known to be empty (TARGETVARIANT on amd64)."""
    for match in _VARIABLE.finditer(text):
        name = match.group(1) or match.group(4)
        if not variables.get(name) and not match.group(2) and name not in set_empty:
            return True
    return False


@dataclass(frozen=True)
class Step:
    """An instruction with the variables in effect where it stands."""

    instruction: Instruction
    variables: dict[str, str]
    workdir: str  # before this instruction
    shell: tuple[str, ...] = DEFAULT_SHELL  # the SHELL a shell-form instruction here runs under

    def expand(self, text: str) -> str:
        return expand(text, self.variables)


@dataclass
class RuntimeConfig:
    """What a stage's image config holds, as far as the Dockerfile tells."""

    entrypoint: Instruction | None = None
    cmd: Instruction | None = None
    shell: tuple[str, ...] = DEFAULT_SHELL
    env: dict[str, str] = field(default_factory=dict)
    env_source: dict[str, Instruction] = field(default_factory=dict)
    workdir: str = "/"
    user: str | None = None
    user_source: Instruction | None = None  # the USER that set `user`
    user_unresolved: bool = False  # it names a build argument without a value (`${NB_UID}`)
    # Shell in effect where ENTRYPOINT/CMD were written (SHELL may change later).
    entrypoint_shell: tuple[str, ...] = DEFAULT_SHELL
    cmd_shell: tuple[str, ...] = DEFAULT_SHELL

    def argv_of(self, instruction: Instruction | None, shell: tuple[str, ...]) -> list[str] | None:
        if instruction is None:
            return None
        if instruction.exec_args is not None:
            return list(instruction.exec_args)
        return [*shell, instruction.args]

    @property
    def entrypoint_argv(self) -> list[str] | None:
        return self.argv_of(self.entrypoint, self.entrypoint_shell) or None

    @property
    def cmd_argv(self) -> list[str] | None:
        return self.argv_of(self.cmd, self.cmd_shell) or None


@dataclass
class Stage:
    index: int
    from_step: Step
    base: str  # the FROM image reference, variables resolved
    name: str | None
    platform: str | None
    parent: "Stage | None"  # the earlier stage this one is FROM, if any
    steps: list[Step] = field(default_factory=list)
    config: RuntimeConfig = field(default_factory=RuntimeConfig)
    base_unresolved: bool = False

    @property
    def chain(self) -> list["Stage"]:
        """This stage and the stages it inherits from, root first."""
        stages, stage = [], self
        while stage is not None:
            stages.append(stage)
            stage = stage.parent
        return stages[::-1]

    @property
    def root(self) -> "Stage":
        return self.chain[0]

    @property
    def external_base(self) -> str | None:
        """The image this stage's chain is built on, unless `scratch`."""
        base = self.root.base
        return None if base.lower() == "scratch" else base

    @property
    def base_as_written(self) -> str:
        """The root's base for messages: resolved, or as written when a build
        argument it uses has no value (`${REGISTRY_URI}`)."""
        root = self.root
        if not root.base_unresolved:
            return root.base
        words = shell_words(root.from_step.instruction.args)
        return words[0] if words else root.base

    def chain_steps(self) -> list[Step]:
        return [step for stage in self.chain for step in stage.steps]


@dataclass
class Dockerfile:
    parsed: ParsedDockerfile
    stages: list[Stage]
    global_steps: list[Step]  # ARGs before the first FROM

    def final_stage(self, target: str | None = None) -> Stage:
        if target is None:
            return self.stages[-1]
        for stage in self.stages:
            if stage.name and stage.name.lower() == target.lower():
                return stage
        raise DockerfileError(f"no build stage named {target!r}")

    @property
    def all_steps(self) -> list[Step]:
        return self.global_steps + [stage.from_step for stage in self.stages] + [
            step for stage in self.stages for step in stage.steps
        ]


def build(text: str, build_args: dict[str, str] | None = None) -> Dockerfile:
    """Parse and model a Dockerfile; DockerfileError if Docker could not build it."""
    parsed = parse(text)
    build_args = build_args or {}
    global_vars = {name: build_args.get(name, value) for name, value in TARGET_PLATFORM_ARGS.items()}
    global_vars.update((name, build_args[name]) for name in BUILD_PLATFORM_ARGS if name in build_args)
    global_steps: list[Step] = []
    stages: list[Stage] = []
    stage: Stage | None = None
    variables: dict[str, str] = {}
    budget = _Budget()
    for instruction in parsed.instructions:
        keyword = instruction.keyword
        budget.charge(instruction, global_vars if stage is None or keyword == "FROM" else variables)
        if keyword not in KNOWN_INSTRUCTIONS:
            raise DockerfileError(
                f"line {instruction.line}: unknown instruction {instruction_word(parsed, instruction)!r}",
                instruction.line,
            )
        if keyword == "FROM":
            stage = _start_stage(instruction, stages, global_vars, parsed)
            stages.append(stage)
            variables = dict(stage.config.env)
            continue
        if stage is None:
            if keyword != "ARG":
                raise DockerfileError(
                    f"line {instruction.line}: {keyword} before the first FROM (only ARG may come first)",
                    instruction.line,
                )
            global_steps.append(Step(instruction, dict(global_vars), "/"))
            global_vars = _declare_args(instruction, global_vars, global_vars, build_args, parsed.escape)
            continue
        step = Step(instruction, variables, stage.config.workdir, stage.config.shell)
        stage.steps.append(step)
        variables = _apply(stage, step, variables, global_vars, build_args, parsed.escape)
    if not stages:
        raise DockerfileError("not a Dockerfile: no FROM instruction", 1)
    return Dockerfile(parsed, stages, global_steps)


class _Budget:
    """Refuses, before any expansion, a Dockerfile whose variables would expand
    (or be copied) past the bounds: the work stays linear in its size."""

    def __init__(self) -> None:
        self.expanded = self.copies = 0

    def charge(self, instruction: Instruction, variables: dict[str, str]) -> None:
        self.expanded += expansion_bound(instruction, variables)
        if instruction.keyword in ("ARG", "ENV"):
            self.copies += len(variables)
        if self.expanded > MAX_EXPANDED_CHARS:
            raise ExpansionTooLarge(f"line {instruction.line}: variables expand to more than "
                                    f"{MAX_EXPANDED_CHARS // 1024 // 1024} MiB in this Dockerfile", instruction.line)
        if self.copies > MAX_VARIABLE_COPIES:
            raise ExpansionTooLarge(f"line {instruction.line}: too many variables ({len(variables)} in effect, "
                                    "copied by each ARG and ENV)", instruction.line)


def instruction_word(parsed: ParsedDockerfile, instruction: Instruction) -> str:
    line = parsed.lines[instruction.line - 1].strip()
    word = line.split(None, 1)[0] if line else instruction.keyword
    return word[:40]


def _start_stage(instruction: Instruction, stages: list[Stage], global_vars: dict[str, str],
                 parsed: ParsedDockerfile) -> Stage:
    words = shell_words(instruction.args, parsed.escape)
    raw_base = words[0] if words else ""
    base = expand(raw_base, global_vars, parsed.escape)
    name = words[2] if len(words) >= 3 and words[1].lower() == "as" else None
    platform = instruction.flag("platform")
    parent = next((s for s in reversed(stages) if s.name and s.name.lower() == base.lower()), None)
    config = _inherit(parent.config) if parent else RuntimeConfig()
    step = Step(instruction, dict(global_vars), config.workdir)
    return Stage(
        index=len(stages),
        from_step=step,
        base=base,
        name=name,
        platform=platform,
        parent=parent,
        config=config,
        base_unresolved=has_unresolved(raw_base, global_vars, _SET_EMPTY),
    )


def _inherit(config: RuntimeConfig) -> RuntimeConfig:
    return replace(config, env=dict(config.env), env_source=dict(config.env_source))


def _declare_args(instruction: Instruction, variables: dict[str, str], global_vars: dict[str, str],
                  build_args: dict[str, str], escape: str) -> dict[str, str]:
    variables = dict(variables)
    for word in shell_words(instruction.args, escape):
        name, sep, default = word.partition("=")
        if name in build_args:
            variables[name] = build_args[name]
        elif sep:
            variables[name] = expand(default, variables, escape)
        elif name in global_vars:
            variables[name] = global_vars[name]
        else:
            variables.setdefault(name, "")
    return variables


def env_pairs(instruction: Instruction, escape: str = "\\") -> list[tuple[str, str]]:
    """ENV/LABEL `k=v k2="v 2"` or the legacy `ENV k v w` form, unexpanded."""
    if "=" not in (instruction.args.split(None, 1) or [""])[0]:
        parts = instruction.args.strip().split(None, 1)
        if not parts:
            return []
        value = parts[1] if len(parts) > 1 else ""
        return [(parts[0], " ".join(shell_words(value, escape)) if value else "")]
    pairs = []
    for word in shell_words(instruction.args, escape):
        key, _, value = word.partition("=")
        pairs.append((key, value))
    return pairs


def _apply(stage: Stage, step: Step, variables: dict[str, str], global_vars: dict[str, str],
           build_args: dict[str, str], escape: str) -> dict[str, str]:
    """Fold one instruction into the stage's config; returns the new variables."""
    instruction, config = step.instruction, stage.config
    keyword = instruction.keyword
    if keyword == "ARG":
        return _declare_args(instruction, variables, global_vars, build_args, escape)
    if keyword == "ENV":
        variables = dict(variables)
        for key, raw in env_pairs(instruction, escape):
            value = expand(raw, variables, escape)
            variables[key] = value
            config.env[key] = value
            config.env_source[key] = instruction
        return variables
    if keyword == "WORKDIR":
        path = expand(instruction.args.strip(), variables, escape)
        config.workdir = posixpath.normpath(posixpath.join(config.workdir, path)) if path else config.workdir
    elif keyword == "USER":
        written = instruction.args.strip()
        config.user = expand(written, variables, escape) or None
        config.user_source, config.user_unresolved = instruction, has_unresolved(written, variables)
    elif keyword == "SHELL" and instruction.exec_args:
        config.shell = tuple(instruction.exec_args)
    elif keyword == "ENTRYPOINT":
        config.entrypoint, config.entrypoint_shell = instruction, config.shell
        if not any(s.instruction.keyword == "CMD" for s in stage.steps[:-1]):
            config.cmd = None  # an inherited CMD does not survive a new ENTRYPOINT
    elif keyword == "CMD":
        config.cmd, config.cmd_shell = instruction, config.shell
    return variables


@dataclass(frozen=True)
class StaticImageConfig:
    """The image config a Dockerfile's final stage produces, as far as it can be
    known without building (used by `smlint job --dockerfile`)."""

    entrypoint: list[str] | None
    cmd: list[str] | None
    config_known: bool  # False: built on an external image whose own ENTRYPOINT/CMD is unknown
    base_image: str | None
    entrypoint_line: int | None
    cmd_line: int | None
    env: dict[str, str]
    user: str | None
    workdir: str


def static_image_config(text: str, target: str | None = None,
                        build_args: dict[str, str] | None = None) -> StaticImageConfig:
    stage = build(text, build_args).final_stage(target)
    config = stage.config
    base = stage.external_base
    return StaticImageConfig(
        entrypoint=config.entrypoint_argv,
        cmd=config.cmd_argv,
        config_known=base is None or config.entrypoint is not None,
        base_image=base,
        entrypoint_line=config.entrypoint.line if config.entrypoint else None,
        cmd_line=config.cmd.line if config.cmd else None,
        env=dict(config.env),
        user=config.user,
        workdir=config.workdir,
    )
