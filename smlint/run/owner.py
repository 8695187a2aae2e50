"""Who owns a run's containers, and removing what a dead owner left behind.

Every container, network and volume smlint creates carries two labels
(`sandbox.Session.labels()`): the run id, and an owner token naming the smlint
process that created it. The token is `<host>/<pid>/<start>`:

- host: the kernel's boot id and the pid namespace (`/proc/self/ns/pid`), so
  a pid is only ever compared inside the namespace it belongs to (two CI jobs
  in two containers sharing one engine see each other's pids as unrelated);
- start: the process's start time in clock ticks since boot, so a pid reused
  by another process does not keep an orphan alive.

An owner is judged dead only when its host part is ours and its pid is gone,
a zombie, or started at another time. Anything else (another machine, another
pid namespace, a token we cannot parse) is never touched.

Imports nothing heavy: the watchdog process loads this module.
"""
from __future__ import annotations

import glob
import os
import platform
import shutil
import subprocess
import tempfile

RUN_LABEL = "smlint.run"
OWNER_LABEL = "smlint.owner"
TEMP_PREFIX = "smlint-run-"


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read().strip()
    except OSError:
        return None


def host_id() -> str:
    """This kernel boot and pid namespace (or, without /proc, the host name)."""
    boot = _read("/proc/sys/kernel/random/boot_id")
    try:
        namespace = os.readlink("/proc/self/ns/pid").strip("pid:[]")
    except OSError:
        namespace = None
    if boot and namespace:
        return f"{boot}.{namespace}"
    return "node-" + platform.node().replace("/", "_")


def start_time(pid: int) -> str | None:
    """When `pid` started (an opaque stamp), or None if no such live process."""
    stat = _read(f"/proc/{pid}/stat")
    if stat is not None:
        fields = stat.rpartition(")")[2].split()  # the name in (...) may hold spaces
        if len(fields) < 20 or fields[0] in ("Z", "X"):  # a zombie has ended
            return None
        return fields[19]
    if os.path.isdir("/proc/self"):
        return None  # a /proc without this pid: gone
    try:  # no /proc (macOS): ps gives the start time
        stamp = subprocess.run(["ps", "-o", "lstart=", "-p", str(pid)], capture_output=True, text=True,
                               timeout=10).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return None
    return "_".join(stamp) or None


def owner_token(pid: int | None = None) -> str:
    pid = os.getpid() if pid is None else pid
    return f"{host_id()}/{pid}/{start_time(pid) or 'unknown'}"


def owner_is_dead(token: str) -> bool:
    """True only when the owner is surely gone; False when alive or not ours to judge."""
    host, _, rest = token.partition("/")
    pid, _, started = rest.partition("/")
    if host != host_id() or not pid.isdigit() or not started or started == "unknown":
        return False
    return start_time(int(pid)) != started


def remove_run(client, run_id: str) -> dict[str, int]:
    """Force-remove every container (with its anonymous volumes), then every
    network and volume, labelled with this run id; counts of what was removed."""
    return _remove_labelled(client, f"{RUN_LABEL}={run_id}")


def _remove_labelled(client, selector: str) -> dict[str, int]:
    removed = {"containers": 0, "networks": 0, "volumes": 0}
    kinds = (("containers", client.containers, {"all": True, "sparse": True}, {"force": True, "v": True}),
             ("networks", client.networks, {}, {}),
             ("volumes", client.volumes, {}, {"force": True}))
    for kind, collection, list_options, remove_options in kinds:  # containers first: they hold the rest
        try:
            found = collection.list(filters={"label": selector}, **list_options)
        except Exception:
            continue  # the engine went away: the next smlint reaps the rest
        for item in found:
            try:
                item.remove(**remove_options)
                removed[kind] += 1
            except Exception:
                pass  # already gone, or still in use
    return removed


def kill_run(client, run_id: str) -> int:
    """SIGKILL every running container of the run (MaxRuntime backstop)."""
    killed = 0
    try:
        running = client.containers.list(filters={"label": f"{RUN_LABEL}={run_id}"}, sparse=True)
    except Exception:
        return 0
    for container in running:
        try:
            container.kill(signal="SIGKILL")
            killed += 1
        except Exception:
            pass
    return killed


def remove_temp_dirs(run_id: str) -> None:
    """The run's temporary directory (`$TMPDIR/smlint-run-<run id>-*`)."""
    if not run_id.isalnum():
        return
    for path in glob.glob(os.path.join(tempfile.gettempdir(), f"{TEMP_PREFIX}{run_id}-*")):
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)


def reap_orphans(client) -> dict[str, dict[str, int]]:
    """Remove the runs whose owner is dead, found by their labels; run id -> counts."""
    owners: dict[str, str] = {}
    for collection, options in ((client.containers, {"all": True, "sparse": True}), (client.networks, {}), (client.volumes, {})):
        try:
            found = collection.list(filters={"label": OWNER_LABEL}, **options)
        except Exception:
            continue
        for item in found:
            labels = _labels(item)
            run_id, token = labels.get(RUN_LABEL), labels.get(OWNER_LABEL)
            if run_id and token:
                owners.setdefault(run_id, token)
    reaped = {}
    for run_id, token in owners.items():
        if owner_is_dead(token):
            reaped[run_id] = remove_run(client, run_id)
            remove_temp_dirs(run_id)
    return reaped


def _labels(item) -> dict:
    attrs = getattr(item, "attrs", None) or {}
    return attrs.get("Labels") or (attrs.get("Config") or {}).get("Labels") or {}
