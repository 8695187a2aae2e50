"""The watchdog: a run's containers never outlive the smlint that started them.

smlint starts `python -m smlint.run.watchdog RUN_ID` in a new session (so a
Ctrl-C or a hang-up of the terminal does not reach it) with one end of a
socket pair as its stdin; only smlint holds the other end. When smlint ends
in any way, SIGKILL included, the kernel closes smlint's end and the watchdog
reads end-of-file: it then force-removes everything labelled with the run id
(containers, then networks and volumes) and the run's temporary directory,
looks again a moment later for a container whose creation was in flight, and
exits. The pattern is testcontainers' reaper ("ryuk"), without a container.

smlint writes two messages on the socket:
- `deadline SECONDS`: from now on, SIGKILL the run's running containers once
  SECONDS have passed (MaxRuntime's backstop for a smlint that is alive but
  stuck: stopped, suspended, blocked on a full pipe);
- `done`: smlint cleaned up itself; exit at once without touching the engine.

The watchdog lives exactly as long as smlint, plus its cleanup (at most
CLEANUP_SECONDS when the engine does not answer).
"""
from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import time

CLEANUP_SECONDS = 30  # the most a cleanup waits for an engine that does not answer
SECOND_LOOK_SECONDS = 2  # a create in flight when smlint died lands within this
MESSAGE_LIMIT = 4096


class Watchdog:
    """smlint's side: the socket end whose closing means 'smlint is gone'."""

    def __init__(self, process: subprocess.Popen, channel: socket.socket) -> None:
        self.process = process
        self._channel = channel

    @classmethod
    def start(cls, run_id: str) -> "Watchdog | None":
        """Start the watchdog for `run_id`; None when it cannot start (the
        orphan reaping of the next smlint is then the only safety net)."""
        if not sys.executable or not run_id.isalnum():
            return None
        ours, theirs = socket.socketpair()
        package_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", "smlint.run.watchdog", run_id],
                stdin=theirs.fileno(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True, close_fds=True, cwd="/", env=env,
            )
        except OSError:
            ours.close()
            return None
        finally:
            theirs.close()
        return cls(process, ours)

    def deadline(self, seconds: float) -> None:
        self._send(f"deadline {seconds:.3f}\n")

    def done(self) -> None:
        """smlint has cleaned up: the watchdog exits without doing anything."""
        self._send("done\n")
        self._channel.close()
        try:
            self.process.wait(timeout=5)  # reap it: no zombie in a long-lived caller
        except subprocess.TimeoutExpired:
            pass

    def _send(self, message: str) -> None:
        try:  # never SIGPIPE: a dead watchdog must not take smlint with it
            self._channel.sendall(message.encode(), getattr(socket, "MSG_NOSIGNAL", 0))
        except OSError:
            pass


def watch(run_id: str, channel: int = 0) -> str:
    """Wait on `channel` until smlint says done or disappears; the reason."""
    deadline: float | None = None
    pending = b""
    while True:
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        readable, _, _ = select.select([channel], [], [], timeout)
        if not readable:
            _with_engine(lambda client: _kill(client, run_id), time.monotonic() + CLEANUP_SECONDS)
            deadline = None
            continue
        try:
            data = os.read(channel, MESSAGE_LIMIT)
        except OSError:  # a reset connection: smlint is gone just the same
            data = b""
        if not data:
            cleanup(run_id)
            return "smlint is gone"
        pending = (pending + data)[-MESSAGE_LIMIT:]
        *lines, pending = pending.split(b"\n")
        for line in lines:
            word, _, value = line.decode("ascii", "replace").partition(" ")
            if word == "done":
                return "done"
            if word == "deadline":
                try:
                    deadline = time.monotonic() + float(value)
                except ValueError:
                    pass


def cleanup(run_id: str) -> None:
    """Remove the run's containers, networks, volumes and temporary directory;
    an engine that does not answer is given up on after CLEANUP_SECONDS."""
    from .owner import remove_run, remove_temp_dirs

    give_up = time.monotonic() + CLEANUP_SECONDS
    if _with_engine(lambda client: remove_run(client, run_id), give_up):
        time.sleep(SECOND_LOOK_SECONDS)
        _with_engine(lambda client: remove_run(client, run_id), give_up)
    remove_temp_dirs(run_id)


def _kill(client, run_id: str) -> None:
    from .owner import kill_run

    kill_run(client, run_id)


def _with_engine(action, give_up: float) -> bool:
    """Run `action(client)`, retrying an engine that does not answer until
    `give_up` (time.monotonic()); whether it ran."""
    while True:
        remaining = give_up - time.monotonic()
        try:
            import docker

            client = docker.from_env(timeout=max(1, int(remaining)))
            try:
                client.ping()
                action(client)
            finally:
                client.close()
            return True
        except Exception:
            if remaining <= 1:
                return False
            time.sleep(1)


def main(argv: list[str]) -> int:
    # Its own session already shields it from the terminal; be explicit anyway.
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(sig, signal.SIG_IGN)
    if len(argv) != 1 or not argv[0].isalnum():
        return 2
    watch(argv[0])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
