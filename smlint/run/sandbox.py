"""The one place that decides how smlint starts containers, and removes them.

Every container: no network unless asked, `no-new-privileges`, a pids and a
memory limit, a label `smlint.run=<run id>` and a unique name. A `Session`
owns the run's temporary directory and its containers and removes them on
every way out: normal return, exception, Ctrl-C, or SIGTERM (turned into the
same KeyboardInterrupt so one `finally` covers all).
"""
from __future__ import annotations

import os
import shutil
import signal
import tempfile
import uuid
from dataclasses import dataclass, field

LABEL = "smlint.run"
TEMP_PREFIX = "smlint-run-"


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
    """A run's containers and temporary directory, removed on exit."""

    client: object
    run_id: str = field(default_factory=new_run_id)
    temp_dir: str = ""
    names: list[str] = field(default_factory=list)
    _previous_handler: object = None

    def __enter__(self) -> "Session":
        # SIGTERM to smlint must clean up exactly like Ctrl-C does.
        if _in_main_thread():
            self._previous_handler = signal.signal(signal.SIGTERM, _raise_interrupt)
        self.temp_dir = tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{self.run_id}-")
        return self

    def __exit__(self, *exc) -> None:
        # A second Ctrl-C must not cut the cleanup short.
        saved = _ignore_signals()
        try:
            self.cleanup()
        finally:
            _restore_signals(saved)
            if self._previous_handler is not None:
                signal.signal(signal.SIGTERM, self._previous_handler)

    def name(self, role: str) -> str:
        """A unique container name, registered for cleanup before it exists."""
        name = f"smlint-{self.run_id}-{role}"
        self.names.append(name)
        return name

    def create(self, image: str, role: str, limits: Limits, **options):
        """Create (not start) a container in the sandbox."""
        labels = {**options.pop("labels", {}), LABEL: self.run_id}
        security = ["no-new-privileges"]
        if limits.read_only:
            options["read_only"] = True
            options.setdefault("tmpfs", {"/tmp": "rw,nosuid,nodev,size=256m"})
        try:
            return self.client.containers.create(
                image,
                name=self.name(role),
                labels=labels,
                network_mode=limits.network,
                security_opt=security,
                pids_limit=limits.pids,
                mem_limit=limits.memory,
                detach=True,
                **options,
            )
        except Exception as error:
            raise EngineError(f"cannot create the container: {_api_reason(error)}") from None

    def cleanup(self) -> None:
        """Remove every container of this run (with its anonymous volumes) and the temp dir."""
        seen = set()
        try:
            for container in self.client.containers.list(all=True, filters={"label": f"{LABEL}={self.run_id}"}):
                seen.add(container.name)
                _remove(container)
        except Exception:
            pass
        for name in self.names:
            if name not in seen:
                try:
                    _remove(self.client.containers.get(name))
                except Exception:
                    pass  # never created, or already gone
        if self.temp_dir and os.path.isdir(self.temp_dir):
            shutil.rmtree(self.temp_dir, ignore_errors=True)


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
    return {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}


def _restore_signals(saved: dict) -> None:
    for sig, handler in saved.items():
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
        if type(error).__name__ == "ImageNotFound":  # the finding names the image: say why only once
            raise EngineError("no such image in the local Docker engine (docker build or docker pull it first)") from None
        raise EngineError(f"cannot read the image from the engine: {_api_reason(error)}") from None
