"""SM404-SM410: pure checks over what `smlint run` observed.

The runner only collects facts into `RunOutcome`; deciding what is wrong
happens here, so every rule is a small function tested without Docker.
(The probe's rules are in probe_checks.py.)
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..engine import Registry
from ..findings import Problem, Severity
from .plan import PROCESSING_ROOT

EXIT_MESSAGE_LIMIT = 1024
LOG_TAIL_LINES = 10

registry = Registry()


@dataclass
class OutputResult:
    name: str
    local_path: str
    host_dir: str
    files: int = 0
    bytes: int = 0
    symlinks: list[str] = field(default_factory=list)  # relative to the output dir
    specials: list[str] = field(default_factory=list)  # "path (FIFO)": device nodes, FIFOs: not copied
    refused: list[str] = field(default_factory=list)  # would have been written through a symlink on the host
    collisions: list[tuple[str, str, str]] = field(default_factory=list)  # (path, host kept, other host)
    incomplete: str | None = None  # why the read-back stopped early


@dataclass
class HostOutcome:
    """One host of a multi-instance job."""

    name: str
    exit_code: int | None
    stopped: bool = False  # still running when the job was stopped: its exit code is ours
    seconds: float | None = None  # from the job's start to its exit
    log_tail: list[str] = field(default_factory=list)
    message: bytes | None = None
    changes: list[str] = field(default_factory=list)


@dataclass
class RunOutcome:
    exit_code: int | None
    stopped: bool = False  # MaxRuntime reached: stop signal, grace, SIGKILL
    message: bytes | None = None  # /opt/ml/output/message, when written
    outputs: list[OutputResult] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)  # `docker diff` paths (added or changed)
    declared: list[str] = field(default_factory=list)  # input and output LocalPaths
    log_tail: list[str] = field(default_factory=list)
    hosts: list[HostOutcome] = field(default_factory=list)  # several instances only
    stop_reason: str | None = None
    user: str | None = None  # the image's USER
    late_hosts: float = 0  # --late-hosts window in seconds
    disk_bound: bool = False  # stopped for passing the disk bound


def message_is_utf8(message: bytes | None) -> bool:
    if message is None:
        return True
    try:
        message.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def exit_message(message: bytes | None) -> str | None:
    """What DescribeProcessingJob's ExitMessage would show: the first 1024
    bytes (a character cut in half at the end is dropped)."""
    if message is None:
        return None
    return message[:EXIT_MESSAGE_LIMIT].decode("utf-8", "ignore" if message_is_utf8(message) else "replace")


def status(outcome: RunOutcome) -> str:
    """Completed only when the container exits 0 and its message is valid."""
    if outcome.stopped:
        return "Stopped"
    if outcome.disk_bound or outcome.exit_code != 0 or not message_is_utf8(outcome.message):
        return "Failed"
    return "Completed"


def _tail(lines: list[str]) -> str:
    return " | ".join(lines[-LOG_TAIL_LINES:]) if lines else "(no output)"


@registry.check("SM404")
def exit_message_invalid(outcome: RunOutcome):
    message = outcome.message
    if message is None:
        return
    if not message_is_utf8(message):
        try:
            message.decode("utf-8")
        except UnicodeDecodeError as error:
            yield Problem(
                f"/opt/ml/output/message is not valid UTF-8 (byte {error.start}: {message[error.start:error.start + 1]!r}); "
                "the job would fail with ClientError",
                pointer="/opt/ml/output/message",
                data={"bytes": len(message), "invalid_at": error.start},
            )
        return
    if len(message) > EXIT_MESSAGE_LIMIT:
        yield Problem(
            f"/opt/ml/output/message is {len(message)} bytes; ExitMessage shows only the first {EXIT_MESSAGE_LIMIT}",
            pointer="/opt/ml/output/message",
            data={"bytes": len(message)},
            severity=Severity.INFO,
        )


@registry.check("SM405")
def output_symlink(outcome: RunOutcome):
    for output in outcome.outputs:
        for link in output.symlinks:
            yield Problem(
                f"output {output.name!r} holds a symlink {output.local_path}/{link}: "
                "outputs are uploaded without following symlinks, so it would be lost",
                pointer=f"{output.local_path}/{link}",
                data={"output": output.name},
            )


def undeclared_writes(changes: list[str], declared: list[str]) -> list[str]:
    """Paths below /opt/ml/processing/ that are neither a declared path, inside
    one, nor a directory leading to one (Docker creates those for the mounts)."""
    found = []
    for path in changes:
        if not path.startswith(PROCESSING_ROOT):
            continue
        if any(path == d or path.startswith(d + "/") or d.startswith(path + "/") for d in declared):
            continue
        found.append(path)
    # Report the top of each written tree, not every file in it.
    return [p for p in found if not any(p.startswith(q + "/") for q in found)]


@registry.check("SM406")
def undeclared_output_write(outcome: RunOutcome):
    for path in undeclared_writes(outcome.changes, outcome.declared):
        yield Problem(
            f"{path} was written below {PROCESSING_ROOT} outside every declared input and output: "
            "on SageMaker it is not uploaded and is lost",
            pointer=path,
        )


def is_root(user: str | None) -> bool:
    name = (user or "").split(":")[0]
    return name in ("", "0", "root")


_PERMISSION = ("permission denied", "eacces", "errno 13", "read-only file system", "operation not permitted")


def permission_hint(user: str | None, lines: list[str], message: bytes | None) -> str:
    """Why a non-root job cannot write its outputs, when its output says so."""
    text = " ".join(lines).lower() + (message or b"").decode("utf-8", "replace").lower()
    if is_root(user) or not any(word in text for word in _PERMISSION):
        return ""
    return (f" The image runs as USER {user}: output directories and /opt/ml/output are created root-owned, "
            "mode 0755, as SageMaker creates them, so this user cannot write there and the cloud job fails the "
            "same way (SM142/SM242). Run the job as root, or write elsewhere and copy as root")


@registry.check("SM407")
def job_failed(outcome: RunOutcome):
    if outcome.stopped or outcome.disk_bound:
        return
    failed = [h for h in outcome.hosts if h.exit_code not in (0, None) and not h.stopped]
    if not outcome.hosts and outcome.exit_code not in (0, None):
        failed = [HostOutcome("", outcome.exit_code, log_tail=outcome.log_tail, message=outcome.message)]
    for host in failed:
        who = f"host {host.name}" if host.name else "the container"
        others = "; the other hosts were stopped" if outcome.hosts else ""
        yield Problem(
            f"{who} exited with code {host.exit_code}: the job would be Failed{others}. Last output: "
            f"{_tail(host.log_tail)}{permission_hint(outcome.user, host.log_tail, host.message)}",
            data={"exit_code": host.exit_code, "log_tail": host.log_tail[-LOG_TAIL_LINES:],
                  **({"host": host.name} if host.name else {})},
        )


COLLISIONS_LISTED = 20


def collisions_by_path(collisions: list[tuple[str, str, str]]) -> list[dict]:
    """(path, kept, other) triples -> one entry per path, in path order."""
    grouped: dict[str, dict] = {}
    for path, kept, other in collisions:
        entry = grouped.setdefault(path, {"path": path, "kept": kept, "others": []})
        entry["others"].append(other)
    return [grouped[path] for path in sorted(grouped)]


@registry.check("SM409")
def output_collision(outcome: RunOutcome):
    for output in outcome.outputs:
        paths = collisions_by_path(output.collisions)
        if not paths:
            continue
        listed = paths[:COLLISIONS_LISTED]
        more = len(paths) - len(listed)
        shown = ", ".join(f"{p['path']} ({' and '.join([p['kept'], *p['others']])})" for p in listed)
        yield Problem(
            f"output {output.name!r}: {len(paths)} file(s) written by several hosts with different content: "
            f"{shown}{f' and {more} more' if more else ''}. S3 keeps only one copy; the merged folder kept the "
            "lowest-numbered host's. Name files by current_host from resourceconfig.json",
            pointer=output.local_path,
            data={"output": output.name, "count": len(paths), "paths": listed},
        )


@registry.check("SM410")
def failed_before_peers_resolved(outcome: RunOutcome):
    if not outcome.late_hosts:
        return
    for host in outcome.hosts:
        if host.stopped or host.exit_code in (0, None) or host.seconds is None or host.seconds >= outcome.late_hosts:
            continue
        yield Problem(
            f"host {host.name} exited with code {host.exit_code} after {host.seconds:.1f} s, while its peers' names "
            f"did not resolve yet (--late-hosts {outcome.late_hosts:g}): the job likely resolves peer host names "
            "once, without the retry the guide asks for (retry getaddrinfo/gethostbyname until the hosts in "
            f"resourceconfig.json resolve). Last output: {_tail(host.log_tail)}",
            data={"host": host.name, "exit_code": host.exit_code, "seconds": round(host.seconds, 3)},
        )
