"""SM2xx: the built image, inspected statically (no container started).

Each check is a pure function of an `ImageSubject` yielding `Problem`s whose
pointer is where in the image the defect is: a file path, or a config field
such as `config.Entrypoint`. With `--dockerfile` the span is the Dockerfile
line that caused it, when that can be known.
"""
from __future__ import annotations

import posixpath
from dataclasses import dataclass, field

from .. import contract
from ..argv import DEFAULT_SHELL, INITS as INIT_WRAPPERS, SCRIPT_SHELLS, SHELLS, program_name, skip_wrappers
from ..config import Policy
from ..engine import Registry
from ..findings import Problem, Span
from .dockerfile_map import DockerfileMap
from .view import ImageView, Resolved
from .walker import DIR, FILE, SCRIPT_NEITHER, SYMLINK, shebang_shell

registry = Registry()

LISTED = 20  # files named in one finding; the rest are counted


@dataclass
class ImageSubject:
    view: ImageView
    dockerfile: DockerfileMap | None = None
    policy: Policy = field(default_factory=Policy)  # for rule options

    def line_of(self, *keywords: str) -> Span | None:
        return self.dockerfile.last(*keywords) if self.dockerfile else None

    def line_of_env(self, key: str) -> Span | None:
        return self.dockerfile.env(key) if self.dockerfile else None

    def line_of_layer(self, layer: int) -> Span | None:
        if not self.dockerfile or layer < 0:
            return None
        return self.dockerfile.layer(layer, self.view.layers)


def _quote(argv: list[str]) -> str:
    import json

    return json.dumps(argv)


def is_shell_wrapper(argv: list[str] | None, image_shell: list[str] | None) -> bool:
    """How Docker writes a shell-form instruction: SHELL + [text]."""
    if not argv:
        return False
    for shell in (list(DEFAULT_SHELL), image_shell or list(DEFAULT_SHELL)):
        if len(argv) == len(shell) + 1 and argv[: len(shell)] == shell:
            return True
    return False


def _shell_form_effect(subject: ImageSubject, wrapper: list[str], keyword: str) -> str:
    """What the shell-form text means for the stop signal, with the image's own /bin/sh (as SM101/SM103 say it)."""
    from ..dockerfile.advice import shell_pid1  # only for an image with a shell form

    return shell_pid1(wrapper[-1], keyword, tuple(wrapper[:-1]), image_bin_sh(subject.view))


@registry.check("SM201")
def entrypoint_shell_form(subject: ImageSubject):
    config = subject.view.config
    if is_shell_wrapper(config.entrypoint, config.shell):
        yield Problem(
            f"config Entrypoint is a shell-form wrapper {_quote(config.entrypoint)}: "
            f"{_shell_form_effect(subject, config.entrypoint, 'ENTRYPOINT')}; use exec form",
            span=subject.line_of("ENTRYPOINT"),
            pointer="config.Entrypoint",
            data={"entrypoint": config.entrypoint},
        )


@registry.check("SM202")
def cmd_shell_form(subject: ImageSubject):
    config = subject.view.config
    if not config.entrypoint and is_shell_wrapper(config.cmd, config.shell):
        yield Problem(
            f"no Entrypoint and config Cmd is a shell-form wrapper {_quote(config.cmd)}: "
            f"{_shell_form_effect(subject, config.cmd, 'CMD')}",
            span=subject.line_of("CMD"),
            pointer="config.Cmd",
            data={"cmd": config.cmd},
        )


@registry.check("SM203")
def no_command(subject: ImageSubject):
    config = subject.view.config
    if not config.entrypoint and not config.cmd:
        yield Problem(
            "the image has neither Entrypoint nor Cmd: every processing job must set ContainerEntrypoint",
            span=subject.line_of("FROM"),
            pointer="config.Entrypoint",
        )


def executable_argv(subject: ImageSubject) -> tuple[str, list[str]] | None:
    config = subject.view.config
    if config.entrypoint:
        return "config.Entrypoint", config.entrypoint
    if config.cmd:
        return "config.Cmd", config.cmd
    return None


def _command_span(subject: ImageSubject, field: str) -> Span | None:
    return subject.line_of("ENTRYPOINT" if field == "config.Entrypoint" else "CMD")


def _resolved_words(resolved: Resolved) -> str:
    if resolved.path != resolved.requested:
        return f"{resolved.requested} (resolved to {resolved.path})"
    return resolved.requested


@registry.check("SM204")
def entrypoint_not_executable(subject: ImageSubject):
    found = executable_argv(subject)
    if not found or not found[1][0]:
        return
    field, argv = found
    resolved = subject.view.resolve_executable(argv[0])
    entry = resolved.entry
    if entry is None:
        problem = f"{argv[0]} {resolved.problem}"
    elif entry.kind == DIR:
        problem = f"{_resolved_words(resolved)} is a directory"
    elif entry.kind != FILE:
        problem = f"{_resolved_words(resolved)} is not a regular file"
    elif not entry.executable:
        problem = f"{_resolved_words(resolved)} lacks an execute bit (mode {entry.mode:04o})"
    else:
        return
    yield Problem(
        f"{field}[0]: {problem}: the container cannot start",
        span=_command_span(subject, field),
        pointer=resolved.path if entry is not None else field,
        data={"executable": argv[0], "resolved": resolved.path, "symlinks": list(resolved.symlinks)},
    )


@registry.check("SM205")
def bad_interpreter(subject: ImageSubject):
    found = executable_argv(subject)
    if not found or not found[1][0]:
        return
    field, argv = found
    view = subject.view
    resolved = view.resolve_executable(argv[0])
    if resolved.entry is None or resolved.entry.kind != FILE or not resolved.entry.executable:
        return  # SM204's business
    line = view.shebang(resolved.path)
    if line is None:
        return
    span, where = _command_span(subject, field), resolved.path
    text = line.decode("utf-8", "replace")
    if text.endswith("\r"):
        yield Problem(
            f"{where} has CRLF line endings: the kernel looks for the interpreter {text[2:].strip()!r} "
            f"with a trailing carriage return, and exec fails",
            span=span, pointer=where, data={"shebang": text},
        )
        return
    words = text[2:].split()
    if not words:
        yield Problem(f"{where} starts with an empty '#!' line", span=span, pointer=where, data={"shebang": text})
        return
    interpreter = words[0]
    target = view.resolve(interpreter if interpreter.startswith("/") else posixpath.join(view.config.workdir or "/", interpreter))
    if target.entry is None or target.entry.kind != FILE or not target.entry.executable:
        why = target.problem or ("is not an executable file" if target.entry is not None else "does not exist")
        yield Problem(
            f"{where}: interpreter {interpreter} from its '#!' line {why} in the image",
            span=span, pointer=where, data={"shebang": text, "interpreter": interpreter},
        )
        return
    if posixpath.basename(interpreter) == "env":
        program = next((w for w in words[1:] if not w.startswith("-")), None)
        if program and "=" not in program:
            found_program = view.resolve_executable(program)
            if found_program.entry is None or not found_program.entry.executable:
                yield Problem(
                    f"{where}: '#!{interpreter} {program}' but {program} is not found on the image's PATH",
                    span=span, pointer=where, data={"shebang": text, "interpreter": program},
                )


def _shell_script(view: ImageView, argv: list[str], start: int) -> tuple[str, str] | None:
    """(script path, shell) when argv[start:] is `sh [-options] SCRIPT ...`,
    SCRIPT found as bash finds it: WorkingDir first, then PATH for a bare name."""
    shell, index = program_name(argv[start]), start + 1
    if shell == "busybox" and index < len(argv) and argv[index] in SHELLS:
        shell, index = argv[index], index + 1
    while index < len(argv) and argv[index][:1] in "-+" and argv[index] != "--":
        if argv[index][:1] == "-" and "c" in argv[index][1:] and not argv[index].startswith("--"):
            return None  # `sh -c TEXT`: SM201/SM202's
        index += 2 if argv[index] in ("-o", "+o", "-O", "+O") else 1
    index += index < len(argv) and argv[index] == "--"
    if index >= len(argv) or not argv[index]:
        return None
    name, workdir = argv[index], view.config.workdir or "/"
    directories = [workdir] + ([] if "/" in name else [d or workdir for d in view.search_path])
    for directory in directories:
        resolved = view.resolve(posixpath.join(workdir, directory, name))
        if resolved.entry is not None and resolved.entry.kind == FILE:
            return resolved.path, shell
    return None


@registry.check("SM207")
def entrypoint_script_without_exec(subject: ImageSubject):
    config, view = subject.view.config, subject.view
    argv = (config.entrypoint or []) + (config.cmd or []) if config.entrypoint else (config.cmd or [])
    start = skip_wrappers(argv)
    if start >= len(argv) or not argv[start] or any(program_name(w) in INIT_WRAPPERS for w in argv[:start]):
        return  # behind an init, the init is PID 1 and forwards the signal
    field = "config.Entrypoint" if start < len(config.entrypoint or []) else "config.Cmd"
    if program_name(argv[start]) in SCRIPT_SHELLS:
        found = _shell_script(view, argv, start)
        if found is None:
            return
        path, shell = found
        how = f"{argv[start]} {path}"
    else:
        resolved = view.resolve_executable(argv[start])
        if resolved.entry is None or resolved.entry.kind != FILE or not resolved.entry.executable:
            return  # SM204's
        path, line = resolved.path, view.shebang(resolved.path)
        shell = shebang_shell(line.decode("utf-8", "replace")) if line else ""
        if not shell:
            return
        how = _resolved_words(resolved)
    verdict = view.script_verdict(path) or ""
    if not verdict.startswith(SCRIPT_NEITHER):
        return
    from ..dockerfile.shell_questions import TRAP_ALTERNATIVE  # only for a script at fault

    at_fault = verdict.partition(":")[2] or f"its job is not run with `exec`{TRAP_ALTERNATIVE}"
    bin_sh = image_bin_sh(view)
    runs_as = f" (/bin/sh here is {bin_sh})" if shell == "sh" and bin_sh else ""
    yield Problem(
        f"{field} runs {how}, a {shell} script{runs_as} that stays PID 1 and forwards neither SIGINT nor "
        f"SIGTERM, so StopProcessingJob's SIGINT never reaches the job: {at_fault}",
        span=_command_span(subject, field),
        pointer=path,
        data={"script": path, "shell": shell, "field": field, "bin_sh": bin_sh},
    )


def image_bin_sh(view: ImageView) -> str:
    """What /bin/sh is in the image, its symlinks followed: dash, bash, busybox, or ""."""
    resolved = view.resolve("/bin/sh")
    if resolved.entry is None:
        return ""
    name = program_name(resolved.path)
    return name if name in ("dash", "bash", "busybox") else ""


@registry.check("SM206")
def wrong_platform(subject: ImageSubject):
    config = subject.view.config
    if (config.os, config.architecture) != ("linux", "amd64"):
        yield Problem(
            f"image platform is {config.platform}; Processing runs linux/amd64 only (no Graviton instance types)",
            span=subject.line_of("FROM"),
            pointer="architecture" if config.os == "linux" else "os",
            data={"os": config.os, "architecture": config.architecture, "variant": config.variant},
        )


def _listing(entries) -> tuple[str, dict]:
    paths = [e.path for e in entries]
    shown = ", ".join(paths[:LISTED])
    more = f" and {len(paths) - LISTED} more" if len(paths) > LISTED else ""
    return shown + more, {"files": paths[:LISTED], "count": len(paths)}


@registry.check("SM210")
def files_under_opt_ml(subject: ImageSubject):
    found = subject.view.find(lambda e: e.path.startswith("/opt/ml/") and e.kind != DIR)
    if found:
        text, data = _listing(found)
        yield Problem(
            f"{len(found)} file{'s' if len(found) != 1 else ''} under /opt/ml, which SageMaker mounts over: {text}",
            span=subject.line_of_layer(found[0].layer),
            pointer=found[0].path,
            data=data,
        )


@registry.check("SM220")
def nvidia_driver_files(subject: ImageSubject):
    found = subject.view.find(lambda e: e.kind in (FILE, SYMLINK) and contract.is_driver_file(e.path))
    if found:
        text, data = _listing(found)
        yield Problem(
            f"NVIDIA driver files in the image shadow the host's driver (NVML version mismatch): {text}",
            span=subject.line_of_layer(found[0].layer),
            pointer=found[0].path,
            data=data,
        )


@registry.check("SM221")
def nvidia_driver_packages(subject: ImageSubject):
    for database, packages in sorted(subject.view.installed_packages.items()):
        drivers = sorted({p for p in packages if contract.is_driver_package(p)})
        if drivers:
            entry = subject.view.fs.files.get(database)
            yield Problem(
                f"{database} lists installed NVIDIA driver package{'s' if len(drivers) > 1 else ''} "
                f"{', '.join(drivers)}: install the CUDA toolkit/runtime libraries, never the driver",
                span=subject.line_of_layer(entry.layer) if entry else None,
                pointer=database,
                data={"packages": drivers},
            )


@registry.check("SM222")
def gpu_hidden_by_env(subject: ImageSubject):
    for variable, why in contract.gpu_hidden_reasons(subject.view.config.env_map):
        yield Problem(f"config Env {variable} {why}", span=subject.line_of_env(variable), pointer="config.Env",
                      data={"variable": variable})


@registry.check("SM231")
def credentials(subject: ImageSubject):
    env = subject.view.config.env_map
    for variable in contract.AWS_CREDENTIALS:
        if env.get(variable):
            # Never echo the value: the report may be public.
            yield Problem(
                f"config Env sets {variable}: anyone who can pull the image has the key; jobs get credentials "
                f"from their execution role",
                span=subject.line_of_env(variable), pointer="config.Env", data={"variable": variable},
            )


@registry.check("SM240")
def user_not_found(subject: ImageSubject):
    user = subject.view.config.user.split(":", 1)[0].strip()
    if not user or user.isdigit():
        return
    users = subject.view.users
    if users is None:
        why = "the image has no /etc/passwd"
    elif user not in users:
        why = "it is not in the image's /etc/passwd"
    else:
        return
    yield Problem(
        f"config User {user!r} is a name and {why}: the container fails to start "
        f"(unable to find user {user})",
        span=subject.line_of("USER"), pointer="config.User", data={"user": user},
    )


@registry.check("SM242")
def image_non_root_user(subject: ImageSubject):
    user = subject.view.config.user.strip()
    name = user.split(":", 1)[0].strip()
    uids = subject.view.user_ids or {}
    if contract.runs_as_root(user, {n: uid for n, uid in uids.items() if uid is not None}) is not False:
        return  # root, or a name SM240 reports missing
    shown = f"{user!r}" if name.isdigit() else f"{user!r} (uid {uids[name]})"
    yield Problem(
        f"config User is {shown}, not root: Processing creates the output directories root-owned before the "
        f"job starts, so the job cannot write its outputs; set `USER root` last",
        span=subject.line_of("USER"), pointer="config.User", data={"user": user},
    )


@registry.check("SM241")
def large_image(subject: ImageSubject):
    size, bound = subject.view.size, subject.policy.option("large-image-size")
    if size > bound:
        yield Problem(
            f"uncompressed image size {_human(size)} is above {_human(bound)}: every job start downloads and "
            f"unpacks it, so jobs start slowly",
            span=subject.line_of("FROM"), pointer="size", data={"size": size, "bound": bound},
        )


def _human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.1f} {unit}" if unit != "B" else f"{int(value)} B"
        value /= 1024
    return f"{size} B"
