"""SM1xx: the Dockerfile checks. Each is a small pure function of a `Subject`
yielding `Problem`s; documentation and examples are in rules/SM1xx.md."""
from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Iterator

from ..contract import AWS_CREDENTIALS, OPT_ML, PROCESSING, gpu_hidden_reasons, is_allowed_location, is_driver_file, is_driver_package
from ..engine import Registry
from ..findings import Problem, Severity
from .facts import (
    Subject,
    absolute,
    command_cwds,
    argument_words,
    expanded_words,
    installed_packages,
    pid1_script_file,
    read_copy,
    span_of,
    under,
    written_paths,
)
from . import fixes
from .advice import exec_advice, runs_as, shell_pid1
from .model import env_pairs
from .parser import shell_words
from ..argv import SHELLS, program_name

if TYPE_CHECKING:
    from .shell_tree import Simple

registry = Registry()


@registry.check("SM101")
def entrypoint_shell_form(subject: Subject) -> Iterator[Problem]:
    entrypoint = subject.final.config.entrypoint
    if entrypoint is None or entrypoint.is_exec_form or entrypoint.looks_like_json:
        return
    fix = fixes.entrypoint_fix(subject)
    shell = subject.final.config.entrypoint_shell
    yield Problem(
        f"ENTRYPOINT is shell form, so Docker runs {runs_as(shell, entrypoint.args)}: "
        f"{shell_pid1(entrypoint.args, 'ENTRYPOINT', shell, subject.bin_sh)}; "
        f"{exec_advice(entrypoint.args, shell, subject.shell_missing(shell))}{fixes.caveat(fix)}",
        span_of(entrypoint),
        fix=fix,
    )


def _json_defect(text: str) -> str:
    body = text.strip()
    if "'" in body and '"' not in body:
        return "it uses single quotes; JSON needs double quotes"
    if re.search(r",\s*\]\s*$", body):
        return "it has a trailing comma"
    if not body.endswith("]"):
        return "it does not end with ']'"
    try:
        value = json.loads(body)
    except ValueError as error:
        return f"it is not valid JSON ({error.msg} at column {error.colno})"
    if isinstance(value, list):
        return "its items are not all strings"
    return "it is not a JSON array"


@registry.check("SM102")
def malformed_exec_form(subject: Subject) -> Iterator[Problem]:
    for step in subject.dockerfile.all_steps:
        instruction = step.instruction
        if instruction.keyword in ("ENTRYPOINT", "CMD", "SHELL") and instruction.looks_like_json:
            yield Problem(
                f"{instruction.keyword} looks like exec form but {_json_defect(instruction.args)}: Docker "
                f"silently runs the whole text through `/bin/sh -c`",
                span_of(instruction),
                fix=fixes.array_fix(instruction, subject.dockerfile.parsed),
            )


@registry.check("SM103")
def cmd_shell_form_is_the_command(subject: Subject) -> Iterator[Problem]:
    config = subject.final.config
    if config.entrypoint_argv or config.cmd is None:
        return
    cmd = config.cmd
    if cmd.is_exec_form or cmd.looks_like_json:
        return
    fix = fixes.cmd_fix(subject)
    yield Problem(
        f"no ENTRYPOINT, and CMD is shell form: the container runs {runs_as(config.cmd_shell, cmd.args)}: "
        f"{shell_pid1(cmd.args, 'CMD', config.cmd_shell, subject.bin_sh)}; "
        f"{exec_advice(cmd.args, config.cmd_shell, subject.shell_missing(config.cmd_shell))}{fixes.caveat(fix)}",
        span_of(cmd),
        fix=fix,
    )


@registry.check("SM104")
def no_command(subject: Subject) -> Iterator[Problem]:
    final = subject.final
    if final.config.entrypoint_argv or final.config.cmd_argv:
        return
    base = final.external_base
    where = span_of(final.from_step.instruction)
    if base is None:
        yield Problem("the image has neither ENTRYPOINT nor CMD: Processing has nothing to run", where)
    elif final.config.entrypoint is None and final.config.cmd is None:
        yield Problem(
            f"no ENTRYPOINT or CMD here; whatever {final.base_as_written!r} sets is unknown statically: set an "
            f"exec-form ENTRYPOINT, or make the job set AppSpecification.ContainerEntrypoint "
            f"(`smlint image` shows the effective one)",
            where,
            severity=Severity.INFO,
        )
    else:
        yield Problem("ENTRYPOINT and CMD are both empty ([]): Processing has nothing to run", where)


def _shell_named(name: str, bin_sh: str) -> str:
    from .shell_questions import resolve_shell

    return resolve_shell(name, bin_sh)


@registry.check("SM105")
def shell_wrapper_without_exec(subject: Subject) -> Iterator[Problem]:
    script = subject.pid1
    if script is None or not script.shell_is_pid1 or script.instruction.exec_args is None or subject.pid1_tree is None:
        return
    from .shell_questions import left_running, left_running_text  # loaded only for a file with a shell script

    shell = _shell_named(script.shell, subject.bin_sh)
    founds = left_running(subject.pid1_tree, shell, c_mode=True)
    if founds:
        yield Problem(
            f"`{script.shell} -c` stays PID 1 while the job runs and forwards no signal to it: "
            f"{left_running_text(founds, shell, script.shell)}",
            span_of(script.instruction),
            fix=fixes.wrapper_fix(script.instruction, script.text, subject.dockerfile.parsed),
        )


@registry.check("SM107")
def entrypoint_script_without_exec(subject: Subject) -> Iterator[Problem]:
    script = pid1_script_file(subject)
    if script is None:
        return
    from .shell_questions import left_running, left_running_text, parse_or_none  # only for a shell script

    tree = parse_or_none(script.text)
    founds = left_running(tree, _shell_named(script.shell, subject.bin_sh), c_mode=False) if tree else []
    if founds:
        yield Problem(
            f"{script.run_by.keyword} runs {script.path}, a {script.shell} script (copied on line "
            f"{script.copied_by.line}) that stays PID 1 and forwards neither SIGINT nor SIGTERM: "
            f"{left_running_text(founds, offer_trap=True)}",
            span_of(script.run_by),
            data={"script": script.path, "copied_on_line": script.copied_by.line},
        )


@registry.check("SM106")
def exit_code_masked(subject: Subject) -> Iterator[Problem]:
    script = subject.pid1
    if script is None or subject.pid1_tree is None:
        return
    from .shell_questions import paths_text, status_masking  # loaded only for a file with a shell script

    reasons = status_masking(subject.pid1_tree, script.options)
    if reasons:
        yield Problem(
            f"the container's command can't fail, so a failed job is reported as Completed: {paths_text(reasons)}",
            span_of(script.instruction),
        )


# --- SM11x: /opt/ml ------------------------------------------------------------------

@registry.check("SM110")
def copy_into_opt_ml(subject: Subject) -> Iterator[Problem]:
    for step in subject.chain_steps:
        copy = read_copy(step)
        if copy is not None and under(copy.target, OPT_ML):
            yield Problem(
                f"{copy.instruction.keyword} puts files at {copy.target}: /opt/ml is reserved by SageMaker and may "
                f"be hidden by its mounts at run time; install your code elsewhere (e.g. /app)",
                span_of(copy.instruction),
                data={"destination": copy.target},
            )


@registry.check("SM111")
def workdir_under_opt_ml(subject: Subject) -> Iterator[Problem]:
    for step in subject.chain_steps:
        instruction = step.instruction
        if instruction.keyword != "WORKDIR":
            continue
        path = absolute(step.expand(instruction.args.strip()), step.workdir)
        if under(path, OPT_ML):
            where = "is /opt/ml" if path == OPT_ML else "is under /opt/ml"
            yield Problem(
                f"WORKDIR {path} {where}, which SageMaker reserves and mounts over; "
                f"work from a directory such as /app",
                span_of(instruction),
            )


@registry.check("SM112")
def run_writes_opt_ml(subject: Subject) -> Iterator[Problem]:
    for script in subject.scripts:
        for command, cwd in command_cwds(script):
            hits = [(p, how) for p, how in written_paths(command, script.step, cwd) if under(p, OPT_ML)]
            if hits:
                path, how = hits[0]
                yield Problem(
                    f"RUN writes {path} ({how}): /opt/ml is reserved by SageMaker and its mounts hide what the "
                    f"image put there; the platform creates the processing directories itself",
                    span_of(script.step.instruction),
                    data={"path": path},
                )
                break


@registry.check("SM113")
def volume_under_opt_ml(subject: Subject) -> Iterator[Problem]:
    for step in subject.chain_steps:
        instruction = step.instruction
        if instruction.keyword != "VOLUME":
            continue
        paths = argument_words(instruction)
        for raw in paths:
            path = absolute(step.expand(raw), "/")
            if under(path, OPT_ML):
                yield Problem(
                    f"VOLUME {path} is under /opt/ml, which SageMaker manages itself", span_of(instruction)
                )


# --- SM12x: GPU ----------------------------------------------------------------------

@registry.check("SM120")
def nvidia_driver_package(subject: Subject) -> Iterator[Problem]:
    for script in subject.scripts:
        for command in script.commands:
            drivers = [name for name in installed_packages(command, script.step) if is_driver_package(name)]
            if drivers:
                yield Problem(
                    f"installs the NVIDIA driver package{'s' if len(drivers) > 1 else ''} {', '.join(drivers)}: "
                    f"the driver in the image shadows the host's one that Processing injects (NVML "
                    f"'Driver/library version mismatch'); install only the toolkit "
                    f"(e.g. cuda-toolkit-X-Y, cuda-libraries-X-Y)",
                    span_of(script.step.instruction),
                    data={"packages": drivers},
                )


_RUN_INSTALLER = re.compile(r"NVIDIA-Linux-.*\.run")
_CUDA_INSTALLER = re.compile(r"cuda_.*_linux(_\w+)?\.run")


def _executed_file(words: list[str]) -> tuple[str, list[str]] | None:
    if not words:
        return None
    if program_name(words[0]) in SHELLS and len(words) > 1:
        rest = [w for w in words[1:] if not w.startswith("-")]
        if rest:
            return program_name(rest[0]), words[words.index(rest[0]) + 1 :]
        return None
    return program_name(words[0]), words[1:]


@registry.check("SM121")
def nvidia_driver_installer(subject: Subject) -> Iterator[Problem]:
    for script in subject.scripts:
        for command in script.commands:
            executed = _executed_file(expanded_words(command, script.step))
            if not executed:
                continue
            name, args = executed
            if _RUN_INSTALLER.fullmatch(name):
                reason = f"runs the NVIDIA driver installer {name}"
            elif _CUDA_INSTALLER.fullmatch(name) and ("--driver" in args or "--toolkit" not in args):
                reason = f"runs the CUDA installer {name} " + (
                    "with --driver" if "--driver" in args else "without --toolkit, which installs the driver too"
                )
            else:
                continue
            yield Problem(
                f"{reason}: a driver in the image conflicts with the host driver Processing injects; "
                f"install the toolkit only (`--silent --toolkit`)",
                span_of(script.step.instruction),
            )


@registry.check("SM122")
def nvidia_driver_files_copied(subject: Subject) -> Iterator[Problem]:
    for step in subject.chain_steps:
        copy = read_copy(step)
        if copy is None:
            continue
        instruction = copy.instruction
        for source, _ in copy.sources:
            name, landed = source.rstrip("/").rsplit("/", 1)[-1], copy.lands_at(source)
            renamed_driver = not copy.into_dir and is_driver_file(f"/{name}") and not is_allowed_location(landed)
            if is_driver_file(landed) or renamed_driver:
                yield Problem(
                    f"{instruction.keyword} brings the NVIDIA driver file {name} into {landed}: it shadows "
                    f"the driver Processing injects from the host (only stubs/ and compat/ are safe)",
                    span_of(instruction),
                    data={"file": landed},
                )


@registry.check("SM123")
def gpu_hidden_by_env(subject: Subject) -> Iterator[Problem]:
    config = subject.final.config
    for variable, why in gpu_hidden_reasons(config.env):
        yield Problem(f"ENV {variable} {why}", span_of(config.env_source[variable]), pointer=variable)


# --- SM13x: runtime environment ------------------------------------------------------

_AMD64 = re.compile(r"^(linux/)?(amd64|x86_64|x86-64)(/v\d)?$", re.I)


@registry.check("SM130")
def non_amd64_platform(subject: Subject) -> Iterator[Problem]:
    for stage in reversed(subject.final.chain):
        platform = stage.platform
        if platform is None:
            continue
        if "$" not in platform and not _AMD64.match(platform.strip()):
            yield Problem(
                f"the image is built for {platform}: Processing has no Graviton instance types, every "
                f"processing image must be linux/amd64",
                span_of(stage.from_step.instruction),
            )
        return  # the nearest explicit platform decides


@registry.check("SM132")
def credentials_in_image(subject: Subject) -> Iterator[Problem]:
    for step in subject.dockerfile.all_steps:
        instruction = step.instruction
        if instruction.keyword == "ENV":
            pairs = env_pairs(instruction)
        elif instruction.keyword == "ARG":
            pairs = [tuple(w.split("=", 1)) for w in shell_words(instruction.args) if "=" in w]
        else:
            continue
        for key, value in pairs:
            if key in AWS_CREDENTIALS and value.strip("'\""):
                how = "bakes a build argument into" if "$" in value else "stores a value in"
                yield Problem(
                    f"{instruction.keyword} {key} {how} the image (readable by anyone who can pull it); "
                    f"processing jobs get credentials from their IAM role",
                    span_of(instruction),
                    data={"variable": key},
                )


def _symlinks_under_processing(commands: list[Simple], step, cwd: str) -> str | None:
    for command in commands:
        words = expanded_words(command, step) if step else command.words
        if not words or program_name(words[0]) != "ln":
            continue
        flags = "".join(w.lstrip("-") for w in words[1:] if w.startswith("-") and not w.startswith("--"))
        if "s" not in flags and "--symbolic" not in words:
            continue
        positional = [w for w in words[1:] if not w.startswith("-")]
        link = positional[-1] if len(positional) >= 2 else "."
        path = absolute(link, cwd)
        if under(path, PROCESSING):
            return path
    return None


@registry.check("SM133")
def symlink_into_output(subject: Subject) -> Iterator[Problem]:
    message = ("creates a symlink at {path}: Processing uploads outputs without following symlinks, "
               "so the data behind it is silently lost; write or copy the files there instead")
    for script in subject.scripts:
        path = _symlinks_under_processing(script.commands, script.step, script.step.workdir)
        if path:
            yield Problem("RUN " + message.format(path=path), span_of(script.step.instruction))
    script = subject.pid1
    if script is not None:
        path = _symlinks_under_processing(subject.pid1_commands, None, subject.final.config.workdir)
        if path:
            yield Problem(script.instruction.keyword + " " + message.format(path=path), span_of(script.instruction))


# SM131 and SM140-SM143 register themselves in `registry` from there.
from . import checks_runtime  # noqa: E402,F401

__all__ = ["registry"]
