"""The one place that decides how smlint starts containers, and removes them.

Every container: no network unless asked, `no-new-privileges`, the
capabilities a processing job has no use for dropped (`DROPPED_CAPABILITIES`),
a pids and a memory limit, a capped engine log (`LOG_CONFIG`), the labels of
`Session.labels()` and a unique name. A `Session` owns the run's temporary
directory and its containers (and the networks and volumes labelled with its
run id) and removes them on every way out: normal return, exception, Ctrl-C,
SIGTERM, SIGHUP or SIGQUIT (turned into the same KeyboardInterrupt so one
`finally` covers all). For the ways out no `finally` sees (SIGKILL, a crash of
the interpreter) a watchdog process removes them (`watchdog.py`), and every
new Session first reaps what a dead smlint left behind (`owner.py`).
"""
from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
import uuid
from dataclasses import dataclass, field

from . import owner
from .watchdog import Watchdog

LABEL = owner.RUN_LABEL  # smlint.run=<run id>, on every container, network and volume of a run
OWNER_LABEL = owner.OWNER_LABEL  # smlint.owner=<host>/<pid>/<start>: which smlint created it
TEMP_PREFIX = owner.TEMP_PREFIX

# Capabilities Docker grants by default that a processing job has no use for,
# each one a way to reach beyond the job's own files:
DROPPED_CAPABILITIES = {
    "MKNOD": "device nodes: a job reads and writes files; a node left in an output or a "
             "volume is a door to a host device",
    "NET_RAW": "raw and packet sockets: forged packets and ARP spoofing on the job's network; "
               "jobs use TCP and UDP (only `ping` needs it)",
    "SETFCAP": "file capabilities: a binary given one is a setuid bit under another name, "
               "and copies that keep extended attributes carry it to the host",
    "AUDIT_WRITE": "writes to the host kernel's audit log; only login daemons use it",
}
# Kept, because real jobs use them: SETUID/SETGID (gosu, su-exec, setpriv, apt's
# _apt user), CHOWN, DAC_OVERRIDE, FOWNER, FSETID (installs and chowns as
# root), KILL (an init or a gosu'd parent signalling a child of another user),
# SETPCAP (entrypoints that drop capabilities), NET_BIND_SERVICE (a server on a
# low port between instances), SYS_CHROOT (build and packaging tools).
#
# no-new-privileges: exec can no longer gain privileges (setuid bits, file
# capabilities). gosu, su-exec and setpriv run as root and drop privileges with
# setuid(2), which needs CAP_SETUID, not a setuid bit: they keep working. What
# stops working is a non-root user gaining root through sudo or su, which a
# processing job should not need.
SECURITY_OPTIONS = ["no-new-privileges"]

# The engine keeps at most LOG_MAX_FILES x LOG_MAX_SIZE of the job's output on
# the host's disk (json-file counts its JSON framing, so about half of that is
# the job's bytes). smlint relays the output live and reads only the last lines
# at the end, so nothing needs more; a job printing without end can no longer
# fill the engine's disk.
LOG_MAX_SIZE = "16m"
LOG_MAX_FILES = 2
LOG_CONFIG = {"type": "json-file", "config": {"max-size": LOG_MAX_SIZE, "max-file": str(LOG_MAX_FILES)}}
# The watchdog SIGKILLs what still runs this long after smlint's own stop
# (MaxRuntime, then the grace period) should have ended the job.
DEADLINE_MARGIN_SECONDS = 5
# Signals that end smlint through the same cleanup as Ctrl-C.
CLEANUP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP", "SIGQUIT") if hasattr(signal, name))


@dataclass(frozen=True)
class Limits:
    memory: str = "2g"
    pids: int = 1024
    network: str = "none"
    read_only: bool = False


class EngineError(RuntimeError):
    """The Docker engine is unreachable or refused: a one-line reason (SM001)."""


def connect():
    """A docker SDK client (imported here so lint paths never load it)."""
    try:
        import docker

        client = docker.from_env(timeout=120)
        client.ping()
        return client
    except Exception as error:
        raise EngineError(f"no Docker engine reachable: {type(error).__name__}: {error}") from None


def new_run_id() -> str:
    return uuid.uuid4().hex[:12]


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


@dataclass
class Session:
    """A run's containers, networks, volumes and temporary directory, removed on exit."""

    client: object
    run_id: str = field(default_factory=new_run_id)
    temp_dir: str = ""
    names: list[str] = field(default_factory=list)
    reaped: dict = field(default_factory=dict)  # run id -> counts, left by a dead smlint
    _previous_handlers: dict = field(default_factory=dict)
    _watchdog: Watchdog | None = None
    _owner: str = ""

    def __enter__(self) -> "Session":
        # SIGTERM, SIGHUP and SIGQUIT must clean up exactly like Ctrl-C does.
        if _in_main_thread():
            self._previous_handlers = {sig: signal.signal(sig, _raise_interrupt) for sig in CLEANUP_SIGNALS}
        self._owner = owner.owner_token()
        self.temp_dir = tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{self.run_id}-")
        self._watchdog = Watchdog.start(self.run_id)
        self.reaped = _reap(self.client)
        return self

    def __exit__(self, *exc) -> None:
        # A second Ctrl-C (or a hang-up) must not cut the cleanup short.
        saved = _ignore_signals()
        try:
            self.cleanup()
            if self._watchdog is not None:
                self._watchdog.done()
        finally:
            _restore_signals(saved)
            _restore_signals(self._previous_handlers)

    def labels(self) -> dict[str, str]:
        """The labels for everything this run creates (containers, networks,
        volumes): cleanup, the watchdog and the orphan reaping find it by them."""
        return {LABEL: self.run_id, OWNER_LABEL: self._owner or owner.owner_token()}

    def watch_deadline(self, max_runtime: float, grace: float) -> None:
        """From now on the watchdog SIGKILLs the run's containers once
        MaxRuntime, the grace period and a margin have passed, even if smlint
        is stuck or stopped."""
        if self._watchdog is not None:
            self._watchdog.deadline(max_runtime + grace + DEADLINE_MARGIN_SECONDS)

    def name(self, role: str) -> str:
        """A unique container name, registered for cleanup before it exists."""
        name = f"smlint-{self.run_id}-{role}"
        self.names.append(name)
        return name

    def create(self, image: str, role: str, limits: Limits, **options):
        """Create (not start) a container in the sandbox."""
        labels = {**options.pop("labels", {}), **self.labels()}
        if limits.read_only:
            options["read_only"] = True
            options.setdefault("tmpfs", {"/tmp": "rw,nosuid,nodev,size=256m"})
        try:
            return self.client.containers.create(
                image,
                name=self.name(role),
                labels=labels,
                network_mode=limits.network,
                security_opt=list(SECURITY_OPTIONS),
                cap_drop=sorted(DROPPED_CAPABILITIES),
                log_config=LOG_CONFIG,
                pids_limit=limits.pids,
                mem_limit=limits.memory,
                detach=True,
                **options,
            )
        except Exception as error:
            raise EngineError(f"cannot create the container: {_api_reason(error)}") from None

    def cleanup(self) -> None:
        """Remove every container of this run (with its anonymous volumes), the
        networks and volumes labelled with its run id, and the temp dir."""
        owner.remove_run(self.client, self.run_id)
        for name in self.names:  # one whose labels the engine never listed
            try:
                _remove(self.client.containers.get(name))
            except Exception:
                pass  # never created, or already gone
        if self.temp_dir and os.path.isdir(self.temp_dir):
            shutil.rmtree(self.temp_dir, ignore_errors=True)


def _reap(client) -> dict:
    """Remove what killed smlints left behind, and say so on stderr."""
    try:
        reaped = owner.reap_orphans(client)
    except Exception:
        return {}
    for run_id, counts in reaped.items():
        found = ", ".join(f"{count} {kind if count > 1 else kind[:-1]}" for kind, count in counts.items() if count)
        if found:  # nothing: its watchdog was faster
            print(f"smlint: removed what run {run_id} left behind when its smlint was killed: {found}",
                  file=sys.stderr, flush=True)
    return reaped


def _remove(container) -> None:
    container.remove(force=True, v=True)


def _api_reason(error: Exception) -> str:
    explanation = getattr(error, "explanation", None)
    return str(explanation or error).splitlines()[0] if str(explanation or error) else type(error).__name__


def _in_main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _ignore_signals() -> dict:
    if not _in_main_thread():
        return {}
    return {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, *CLEANUP_SIGNALS)}


def _restore_signals(saved: dict) -> None:
    for sig, handler in saved.items():
        if handler is not None:  # None: a handler not set from Python, nothing to restore
            signal.signal(sig, handler)


def nvidia_runtime(client) -> str | None:
    """Why GPUs can't be used here, or None when the NVIDIA runtime is present."""
    try:
        runtimes = client.info().get("Runtimes") or {}
    except Exception as error:
        return f"cannot read the engine's runtimes: {_api_reason(error)}"
    if "nvidia" in runtimes:
        return None
    return f"the Docker engine has no NVIDIA runtime (runtimes: {', '.join(sorted(runtimes)) or 'none'})"


def gpu_request():
    import docker

    return [docker.types.DeviceRequest(count=-1, capabilities=[["gpu"]])]


def image_config(client, image: str) -> dict:
    """The image's config (Entrypoint, Cmd, ...), or EngineError if it is not here."""
    try:
        return client.images.get(image).attrs.get("Config") or {}
    except Exception as error:
        raise EngineError(f"image {image!r} not found in the engine: {_api_reason(error)}") from None
