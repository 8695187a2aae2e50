"""SM301-SM308: checks of a CreateProcessingJob request, each a small pure
function of a `JobSubject` yielding `Problem`s. The engine owns ids,
severities and policy; rule documentation lives in rules/SM30x.md."""
from __future__ import annotations

import posixpath
import re
import shlex
from dataclasses import dataclass
from typing import Iterator

from ..container_command import resolve, swallowed_arguments
from ..contract import PROCESSING as PROCESSING_ROOT
from ..engine import Registry
from ..findings import Problem, Severity
from .facts import ImageFacts
from .source import Request, pointer_join

registry = Registry()
# The checks of what the container will run: `smlint explain` runs these.
COMMAND_AND_IMAGE = "command-and-image"

DEFAULT_VOLUME_QUOTA_GB = 1024
# GPU families of the processing instance-type enum (contract section 5).
GPU_PREFIXES = ("ml.p", "ml.g")


@dataclass(frozen=True)
class JobSubject:
    request: Request
    facts: ImageFacts | None = None

    @property
    def data(self) -> dict:
        return self.request.data

    def problem(self, pointer: str, message: str, **extra) -> Problem:
        return Problem(message, self.request.span(pointer), pointer=pointer, **extra)


def _get(data: object, *keys) -> object:
    for key in keys:
        if isinstance(data, dict):
            data = data.get(key)
        elif isinstance(data, list) and isinstance(key, int) and 0 <= key < len(data):
            data = data[key]
        else:
            return None
    return data


def _string_list(value: object) -> list[str] | None:
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return value
    return None


@dataclass(frozen=True)
class LocalPath:
    pointer: str
    path: str
    side: str  # "input" or "output"
    name: str  # InputName/OutputName, for messages

    @property
    def normal(self) -> str:
        return posixpath.normpath(self.path) if self.path else self.path


def local_paths(data: dict) -> Iterator[LocalPath]:
    inputs = data.get("ProcessingInputs")
    for index, item in enumerate(inputs if isinstance(inputs, list) else []):
        for kind in ("S3Input", "DatasetDefinition"):
            path = _get(item, kind, "LocalPath")
            if isinstance(path, str):
                name = _get(item, "InputName")
                yield LocalPath(f"/ProcessingInputs/{index}/{kind}/LocalPath", path, "input",
                                name if isinstance(name, str) else f"input {index}")
    outputs = _get(data, "ProcessingOutputConfig", "Outputs")
    for index, item in enumerate(outputs if isinstance(outputs, list) else []):
        path = _get(item, "S3Output", "LocalPath")
        if isinstance(path, str):
            name = _get(item, "OutputName")
            yield LocalPath(f"/ProcessingOutputConfig/Outputs/{index}/S3Output/LocalPath", path, "output",
                            name if isinstance(name, str) else f"output {index}")


def is_below_processing(path: str) -> bool:
    """Strictly below /opt/ml/processing/, after resolving '..' (as the platform would)."""
    if not path.startswith(PROCESSING_ROOT + "/"):
        return False
    return posixpath.normpath(path).startswith(PROCESSING_ROOT + "/")


@registry.check("SM301")
def job_schema(subject: JobSubject) -> Iterator[Problem]:
    from .schema import violations

    for violation in violations(subject.data):
        yield subject.problem(violation.pointer, violation.message, data={"keyword": violation.keyword})


@registry.check("SM302")
def local_path_outside_processing(subject: JobSubject) -> Iterator[Problem]:
    for local in local_paths(subject.data):
        if not is_below_processing(local.path):
            escapes = local.path.startswith(PROCESSING_ROOT + "/")
            why = f" (it resolves to {local.normal})" if escapes else ""
            yield subject.problem(
                local.pointer,
                f"{local.side} {local.name!r} LocalPath {local.path!r} is not below {PROCESSING_ROOT}/{why}; "
                f"Processing only mounts {local.side}s there",
            )


@registry.check("SM303")
def duplicate_local_path(subject: JobSubject) -> Iterator[Problem]:
    first: dict[tuple[str, str], LocalPath] = {}
    for local in local_paths(subject.data):
        key = (local.side, local.normal.rstrip("/"))
        if key in first:
            other = first[key]
            yield subject.problem(
                local.pointer,
                f"{local.side} {local.name!r} has the same LocalPath {local.path!r} as {local.side} {other.name!r}"
                + ("; the service rejects this with an empty ValidationException" if local.side == "input" else ""),
                data={"first": other.pointer},
            )
        else:
            first[key] = local


@registry.check("SM304")
def overlapping_paths(subject: JobSubject) -> Iterator[Problem]:
    paths = list(local_paths(subject.data))
    inputs = [p for p in paths if p.side == "input"]
    for output in (p for p in paths if p.side == "output"):
        for source in inputs:
            a, b = source.normal.rstrip("/"), output.normal.rstrip("/")
            if a == b:
                relation = "is the same directory as"
            elif b.startswith(a + "/"):
                relation = "is inside"
            elif a.startswith(b + "/"):
                relation = "contains"
            else:
                continue
            yield subject.problem(
                output.pointer,
                f"output {output.name!r} LocalPath {output.path!r} {relation} input {source.name!r} LocalPath "
                f"{source.path!r}: the input files would be uploaded as output, or outputs mixed with inputs",
                data={"input": source.pointer},
            )


def _app(subject: JobSubject, key: str) -> list[str] | None:
    return _string_list(_get(subject.data, "AppSpecification", key))


@registry.check("SM305", group=COMMAND_AND_IMAGE)
def arguments_become_executable(subject: JobSubject) -> Iterator[Problem]:
    facts = subject.facts
    arguments = _app(subject, "ContainerArguments")
    if facts is None or not arguments or _app(subject, "ContainerEntrypoint"):
        return
    pointer = "/AppSpecification/ContainerArguments"
    if facts.entrypoint:
        return
    resolution = resolve(facts.entrypoint, facts.cmd, None, arguments)  # no ENTRYPOINT: arguments[0] runs
    if not facts.config_known:
        yield subject.problem(
            pointer,
            f"ContainerArguments without ContainerEntrypoint, and {facts.described} sets no ENTRYPOINT; the base "
            f"image {facts.base_image or '(unknown)'}'s own ENTRYPOINT is unknown statically: if it has none, "
            f"{arguments[0]!r} runs as the program (check with smlint explain --image, or set ContainerEntrypoint)",
            severity=Severity.INFO,
        )
        return
    yield subject.problem(
        pointer,
        f"{facts.described} has no ENTRYPOINT, so ContainerArguments replace its CMD and the first argument "
        f"{arguments[0]!r} runs as the program: {shlex.join(resolution.argv)}; set ContainerEntrypoint "
        "or give the image an exec-form ENTRYPOINT",
        data={"argv": resolution.argv},
    )


@registry.check("SM306", group=COMMAND_AND_IMAGE)
def entrypoint_override_missing(subject: JobSubject) -> Iterator[Problem]:
    facts = subject.facts
    entrypoint = _app(subject, "ContainerEntrypoint")
    if facts is None or not entrypoint:
        return
    pointer = "/AppSpecification/ContainerEntrypoint/0"
    state, checked = facts.executable_state(entrypoint[0])
    if state == "file-exec":
        return
    if state == "unknown":
        yield subject.problem(pointer, f"ContainerEntrypoint[0] {entrypoint[0]!r} was not checked: "
                                       f"{facts.filesystem_note}", severity=Severity.INFO, data={"checked": False})
    elif state == "missing":
        yield subject.problem(pointer, f"ContainerEntrypoint[0] {entrypoint[0]!r} does not exist in "
                                       f"{facts.described} (looked for {checked}): the job fails at start")
    else:
        yield subject.problem(pointer, f"ContainerEntrypoint[0] {entrypoint[0]!r} ({checked}) is not executable in "
                                       f"{facts.described}: the job fails at start")


@registry.check("SM307", group=COMMAND_AND_IMAGE)
def gpu_instance_without_cuda(subject: JobSubject) -> Iterator[Problem]:
    facts = subject.facts
    pointer = "/ProcessingResources/ClusterConfig/InstanceType"
    instance_type = _get(subject.data, "ProcessingResources", "ClusterConfig", "InstanceType")
    if facts is None or not isinstance(instance_type, str) or not instance_type.startswith(GPU_PREFIXES):
        return
    if facts.has_cuda_runtime is True:
        return
    if facts.has_cuda_runtime is None:
        yield subject.problem(pointer, f"{instance_type} is a GPU instance; whether {facts.described} carries a "
                                       f"CUDA runtime (libcudart.so) was not checked: {facts.cuda_reason}",
                              severity=Severity.INFO, data={"checked": False})
        return
    yield subject.problem(pointer, f"{instance_type} is a GPU instance but {facts.described} carries no CUDA runtime "
                                   "(no libcudart.so*): the job pays for GPUs it cannot use")


@registry.check("SM308")
def volume_over_default_quota(subject: JobSubject) -> Iterator[Problem]:
    size = _get(subject.data, "ProcessingResources", "ClusterConfig", "VolumeSizeInGB")
    if isinstance(size, int) and not isinstance(size, bool) and size > DEFAULT_VOLUME_QUOTA_GB:
        yield subject.problem(
            "/ProcessingResources/ClusterConfig/VolumeSizeInGB",
            f"VolumeSizeInGB is {size}; the default account quota for a processing volume is "
            f"{DEFAULT_VOLUME_QUOTA_GB} GB (ResourceLimitExceeded unless the quota was raised)",
        )


@registry.check("SM309", group=COMMAND_AND_IMAGE)
def arguments_ignored_by_shell_entrypoint(subject: JobSubject) -> Iterator[Problem]:
    facts = subject.facts
    if facts is None:
        return
    arguments = _app(subject, "ContainerArguments")
    swallowed = swallowed_arguments(facts.entrypoint, _app(subject, "ContainerEntrypoint"), arguments)
    if swallowed is None:
        return
    yield subject.problem("/AppSpecification/ContainerArguments", swallowed_message(facts.described, swallowed),
                          data={"lost": list(swallowed.lost), "script": swallowed.script})


def swallowed_message(described: str, swallowed) -> str:
    """One wording for `job`, `explain` and `run`."""
    first = swallowed.arguments[0]
    rest = ("the others reach it only through \"$@\" in the script" if not swallowed.script_reads_arguments
            else "the others reach the script's positional parameters")
    return (f"{described} has a shell-form ENTRYPOINT ({swallowed.shell} -c {swallowed.script[:80]!r}): "
            f"ContainerArguments become the shell's $0 and parameters, not the job's: {first!r} is lost as $0 and "
            f"{rest}; lost: {shlex.join(swallowed.lost)}. Use an exec-form ENTRYPOINT, or set ContainerEntrypoint")


@registry.check("SM310")
def entrypoint_file_not_provided(subject: JobSubject) -> Iterator[Problem]:
    entrypoint = _app(subject, "ContainerEntrypoint")
    if not entrypoint:
        return
    inputs = [local.normal.rstrip("/") for local in local_paths(subject.data) if local.side == "input"]
    for index, program in entrypoint_programs(entrypoint):
        path = posixpath.normpath(program)
        if not is_below_processing(path) or any(path == d or path.startswith(d + "/") for d in inputs):
            continue
        where = ("no ProcessingInputs" if not inputs else
                 "no input's LocalPath (" + ", ".join(inputs[:5]) + ")")
        yield subject.problem(
            f"/AppSpecification/ContainerEntrypoint/{index}",
            f"ContainerEntrypoint runs {program!r}, below {PROCESSING_ROOT}/ but under {where}: nothing puts that "
            "file there (outputs start empty), so the job fails at start. Add the code input (ScriptProcessor's "
            "`code`) with a LocalPath that holds it",
            data={"program": program},
        )


# Interpreters whose first non-option operand is the program file they run.
INTERPRETERS = re.compile(r"(python[0-9.]*|pypy[0-9.]*|Rscript|perl|ruby|node|sh|bash|dash|ash|zsh|ksh)")
# Options after which the interpreter runs no file (`python3 -m pkg`, `python3 -c CODE`).
_NO_FILE_OPTIONS = ("-m", "-c", "-e", "--command")


def entrypoint_programs(entrypoint: list[str]) -> list[tuple[int, str]]:
    """(index in ContainerEntrypoint, program) of what actually runs: the first
    element, an interpreter's script operand, the first command of a `-c`
    script. Option values are never programs."""
    from ..dockerfile.shell import program_name, script_commands, shell_c_script, strip_wrappers, top_level

    found = [(0, entrypoint[0])]
    shell = shell_c_script(entrypoint)
    if shell is not None:
        commands = top_level(script_commands(entrypoint[shell[2]]))
        words = strip_wrappers(commands[0].words) if commands else []
        if words:
            found.append((shell[2], words[0]))
            found.extend((shell[2], p) for _, p in _script_operand(words, program_name))
        return found
    return found + _script_operand(entrypoint, program_name)


def _script_operand(argv: list[str], program_name) -> list[tuple[int, str]]:
    if not INTERPRETERS.fullmatch(program_name(argv[0])):
        return []
    for index in range(1, len(argv)):
        word = argv[index]
        if word in _NO_FILE_OPTIONS or (word.startswith("-c") and program_name(argv[0]) != "Rscript"):
            return []
        if not word.startswith("-"):
            return [(index, word)]
    return []


__all__ = ["registry", "JobSubject", "local_paths", "pointer_join"]
