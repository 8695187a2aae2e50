"""The hosts of one job while it runs: waiting, stopping, late host names.

The job is one unit, as in the cloud: MaxRuntimeInSeconds bounds the whole
job; the first host to fail stops the others (contract section 7: SIGINT,
the grace period, SIGKILL) and the job is Failed; passing the disk bound
stops every host; so does the first Ctrl-C (as StopProcessingJob: status
Stopped). A second Ctrl-C raises through, and the session removes everything.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

STOP_SIGNAL = "SIGINT"  # what Processing sends (contract section 1)
POLL_SECONDS = 0.2

# Why the hosts were stopped; None: they all ended on their own.
HOST_FAILED = "a host failed"
MAX_RUNTIME = "MaxRuntimeInSeconds reached"
DISK_BOUND = "disk bound reached"
INTERRUPTED = "interrupted (Ctrl-C), as StopProcessingJob"


class Waiter:
    """container.wait() in a thread, so the main thread stays interruptible."""

    def __init__(self, container, changed: threading.Event | None = None) -> None:
        self.done = threading.Event()
        self.exit_code: int | None = None
        self.finished_at: float | None = None  # time.monotonic() when the exit was seen
        self._changed = changed
        threading.Thread(target=self._wait, args=(container,), daemon=True).start()

    def _wait(self, container) -> None:
        while not self.done.is_set():
            try:
                result = container.wait(timeout=60)
                self.exit_code = result.get("StatusCode")
                self.finished_at = time.monotonic()
                self._finish()
            except Exception as error:
                if type(error).__name__ == "NotFound":
                    self._finish()
                    return
                # a read timeout on a long job: wait again

    def _finish(self) -> None:
        self.done.set()
        if self._changed is not None:
            self._changed.set()

    def wait(self, seconds: float) -> bool:
        return self.done.wait(max(seconds, 0))


def _kill(container, signal: str) -> None:
    try:
        container.kill(signal=signal)
    except Exception:
        pass  # already exited


def stop_all(running: list, grace: float) -> None:
    """SIGINT to every (container, waiter) at once, one grace period for all, then SIGKILL."""
    running = [(c, w) for c, w in running if not w.done.is_set()]
    for container, _ in running:
        _kill(container, STOP_SIGNAL)
    deadline = time.monotonic() + grace
    for container, waiter in running:
        if not waiter.wait(deadline - time.monotonic()):
            _kill(container, "SIGKILL")
    for _, waiter in running:
        waiter.wait(10)


@dataclass
class HostRun:
    name: str
    container: object
    waiter: Waiter
    pump: object = None
    stopped_by_us: bool = False  # still running when the job was stopped

    @property
    def exit_code(self) -> int | None:
        return self.waiter.exit_code


@dataclass
class Supervision:
    """What happened while the hosts ran."""

    reason: str | None = None
    started: float = field(default_factory=time.monotonic)
    names_at: float | None = None  # when late host names became resolvable
    first_failure: str | None = None

    def seconds(self, at: float | None) -> float | None:
        return None if at is None else at - self.started


class Supervisor:
    def __init__(self, hosts: list[HostRun], changed: threading.Event, grace: float, max_runtime: float,
                 disk=None, late: tuple[float, callable] | None = None, notice=print) -> None:
        self.hosts, self.changed, self.grace = hosts, changed, grace
        self.max_runtime, self.disk, self.late, self.notice = max_runtime, disk, late, notice
        self.state = Supervision()

    def run(self) -> Supervision:
        """Until every host ended, or the job is stopped; a second Ctrl-C while
        stopping raises KeyboardInterrupt to the caller."""
        try:
            self.notice(f"{len(self.hosts)} host(s) running; Ctrl-C stops the job as StopProcessingJob does")
            reason = self._watch()
        except KeyboardInterrupt:
            reason = INTERRUPTED
            self.notice(f"{INTERRUPTED}: {STOP_SIGNAL} to every host, {self.grace:g} s grace, then SIGKILL; "
                        "Ctrl-C again aborts at once")
        if reason is not None:
            self._stop(reason)
        return self.state

    def _watch(self) -> str | None:
        deadline = self.state.started + self.max_runtime
        while True:
            self.changed.clear()
            self._maybe_publish_names()
            failed = [h for h in self.hosts if h.waiter.done.is_set() and h.exit_code != 0]
            if failed:
                self.state.first_failure = min(failed, key=lambda h: h.waiter.finished_at or 0).name
                return HOST_FAILED
            if all(h.waiter.done.is_set() for h in self.hosts):
                return None
            if self.disk is not None and self.disk.exceeded.is_set():
                return DISK_BOUND
            if time.monotonic() >= deadline:
                return MAX_RUNTIME
            self.changed.wait(min(POLL_SECONDS, max(deadline - time.monotonic(), 0)))

    def _maybe_publish_names(self) -> None:
        if self.late is None or self.state.names_at is not None:
            return
        seconds, publish = self.late
        if time.monotonic() - self.state.started >= seconds:
            publish()
            self.state.names_at = time.monotonic()

    def _stop(self, reason: str) -> None:
        self.state.reason = reason
        running = [h for h in self.hosts if not h.waiter.done.is_set()]
        for host in running:
            host.stopped_by_us = True
        if running and reason != INTERRUPTED:
            self.notice(f"{reason}: stopping {', '.join(h.name for h in running)}: {STOP_SIGNAL}, "
                        f"{self.grace:g} s grace, then SIGKILL")
        stop_all([(h.container, h.waiter) for h in running], self.grace)
