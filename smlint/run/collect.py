"""After the hosts ended: messages, outputs and facts, into one `RunOutcome`.

Messages and outputs are read from the engine volumes while they still
exist; outputs are merged host by host in host order (outputs.py) and reach
their destination only for a Completed job unless asked.
"""
from __future__ import annotations

import io
import os
import tarfile

from ..contract import OUTPUT_DIR
from . import checks
from .cluster import DISK_BOUND, INTERRUPTED, MAX_RUNTIME, HostRun, Supervision
from .outputs import DiskBoundReached, DiskBudget, Merge, movable, move_tree, stream_archive
from .plan import RunPlan

MESSAGE_READ_LIMIT = 1 << 20


def read_message(container) -> bytes | None:
    """/opt/ml/output/message of a stopped container, if a regular file."""
    try:
        chunks, _ = container.get_archive(f"{OUTPUT_DIR}/message")
        data = b"".join(chunks)
    except Exception:
        return None  # not written
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        member = next(iter(archive), None)
        if member is None or not member.isreg():
            return None
        return archive.extractfile(member).read(MESSAGE_READ_LIMIT)


def host_outcome(host: HostRun, supervision: Supervision) -> checks.HostOutcome:
    return checks.HostOutcome(
        name=host.name, exit_code=host.exit_code, stopped=host.stopped_by_us,
        seconds=supervision.seconds(host.waiter.finished_at), log_tail=log_tail(host.container),
        message=read_message(host.container), changes=_changes(host.container),
    )


def log_tail(container) -> list[str]:
    """The last lines of stdout and stderr together, in the order written."""
    try:
        raw = container.logs(stdout=True, stderr=True, tail=checks.LOG_TAIL_LINES)
    except Exception:
        return []
    return [line.rstrip("\r") for line in raw.decode("utf-8", "replace").splitlines() if line.strip()]


def _changes(container) -> list[str]:
    try:
        return sorted(change["Path"] for change in container.diff() or [] if change.get("Kind") in (0, 1))
    except Exception:
        return []


def job_outcome(plan: RunPlan, hosts: list[checks.HostOutcome], supervision: Supervision, user: str | None,
                late_hosts: float) -> checks.RunOutcome:
    """The job as one: the first failure's code and log, the messages joined."""
    cause = next((h for h in hosts if h.name == supervision.first_failure), None)
    cause = cause or next((h for h in hosts if h.exit_code not in (0, None) and not h.stopped), None)
    messages = [h.message for h in hosts if h.message is not None]
    exit_code = cause.exit_code if cause else (0 if all(h.exit_code == 0 for h in hosts) else hosts[0].exit_code)
    return checks.RunOutcome(
        exit_code=exit_code,
        stopped=supervision.reason in (MAX_RUNTIME, INTERRUPTED),
        stop_reason=supervision.reason,
        message=b"".join(messages) if messages else None,
        changes=sorted({path for h in hosts for path in h.changes}),
        declared=[item.local_path for item in plan.inputs] + [item.local_path for item in plan.outputs],
        log_tail=(cause or hosts[0]).log_tail,
        hosts=hosts if len(hosts) > 1 else [],
        user=user,
        late_hosts=late_hosts,
        disk_bound=supervision.reason == DISK_BOUND,
    )


def read_outputs(client, plan: RunPlan, hosts: list[HostRun], volumes: list[dict[str, str]],
                 targets: dict[str, str | None], bound: int | None) -> tuple[list[checks.OutputResult], dict]:
    """Every output merged over the hosts into its target (None: count only).
    Returns the results and, per output, how it came back."""
    budget = DiskBudget(bound)
    results, how = [], {}
    for item in plan.outputs:
        target = targets.get(item.name)
        if target is not None:
            os.makedirs(target, exist_ok=True)
        result = checks.OutputResult(item.name, item.local_path, target or "")
        merge = Merge(target, budget)
        try:
            for host, host_volumes in zip(hosts, volumes):
                _read_one(client, host, host_volumes[item.name], item.local_path, merge, result)
        except DiskBoundReached as error:
            result.incomplete = str(error)
        result.symlinks.sort()
        result.collisions = merge.collisions
        results.append(result)
        how[item.name] = "copied" if merge.streamed else "moved"
    return results, how


def _read_one(client, host: HostRun, volume: str, local_path: str, merge: Merge, result) -> None:
    mountpoint = None
    try:
        mountpoint = client.volumes.get(volume).attrs.get("Mountpoint")
    except Exception:
        pass
    if movable(mountpoint, merge.target) or (merge.target is None and mountpoint and os.access(mountpoint, os.R_OK)):
        move_tree(mountpoint, merge, result, host.name)
        return
    chunks, _ = host.container.get_archive(local_path)
    stream_archive(chunks, merge, result, host.name)
