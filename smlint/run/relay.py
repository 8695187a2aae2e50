"""The live relay of a container's output, and the count of what it dropped.

The relay attaches to the container before it starts: the attach stream
carries the job's writes as they are made, while the engine's log (capped,
see `sandbox.LOG_CONFIG`) is decoded line by line and read back at about
10 MB/s here, slower than a job can print, and rotates away what was not read
yet. A job may also print faster than smlint can show it (a slow terminal, a
pipe nobody reads): output then waits in a bounded buffer; past it, it is
dropped, and the report says how much.
"""
from __future__ import annotations

import codecs
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass

# Output waiting for a slow reader (a terminal, a pipe nobody reads) is held
# up to this many bytes; past it, output is dropped and counted, so memory
# stays bounded and the job is never slowed by smlint.
RELAY_BUFFER_BYTES = 16 << 20
TAIL_LINE_BYTES = 8192  # of a line without end, the tail keeps this much


@dataclass
class RelayCount:
    """What the live relay showed and what it had to drop, per stream."""

    relayed_bytes: int = 0
    dropped_bytes: int = 0
    dropped_lines: int = 0


class LogPump:
    """Streams the container's output live and keeps the last lines.

    Create it before the container starts: it attaches then, and sees every
    byte (created later, it follows the engine's log instead). One reader per
    stream takes the output as fast as it comes and queues it; one writer
    relays the queue to `stream`. When the writer falls RELAY_BUFFER_BYTES
    behind, or is still behind when `finish` gives up, output is dropped and
    counted (`counts`, `dropped_note`)."""

    def __init__(self, container, stream, tail: int = 50) -> None:
        self.lines: deque[str] = deque(maxlen=tail)
        self.counts = {"stdout": RelayCount(), "stderr": RelayCount()}
        self._lock = threading.Lock()
        self._moved = threading.Condition(self._lock)
        self._queue: deque[tuple[str, bytes]] = deque()
        self._queued = 0  # bytes queued or being written
        self._in_flight: tuple[str, bytes] | None = None
        self._closed = False
        self._reading = 2  # readers still running
        self._partial = {"stdout": b"", "stderr": b""}
        # For a text sink: a character split between two chunks is decoded whole.
        self._decoders = {which: codecs.getincrementaldecoder("utf-8")("replace") for which in self._partial}
        self.threads = [  # the sources open here, before the caller starts the container
            threading.Thread(target=self._read, args=(which, _source(container, which)), daemon=True)
            for which in ("stdout", "stderr")
        ]
        self._writer = threading.Thread(target=self._relay, args=(stream,), daemon=True)
        for thread in (*self.threads, self._writer):
            thread.start()

    def _read(self, which: str, source) -> None:
        try:
            for chunk in source:
                self._remember(which, chunk)
                self._offer(which, chunk)
        except Exception:
            pass  # the container went away: nothing more to stream
        self._remember(which, b"\n")
        with self._lock:
            self._reading -= 1
            self._moved.notify_all()  # the writer ends once the last reader has and the queue is empty

    def _offer(self, which: str, chunk: bytes) -> None:
        with self._lock:
            if not self._closed and self._queued + len(chunk) <= RELAY_BUFFER_BYTES:
                self._queue.append((which, chunk))
                self._queued += len(chunk)
                self._moved.notify_all()
                return
            first = not self._closed and not any(count.dropped_bytes for count in self.counts.values())
            self._drop(which, chunk)
        if first:  # outside the lock: stderr may be as slow as the relay
            notice("the job prints faster than its output can be shown: dropping output (the report says how much)")

    def _drop(self, which: str, chunk: bytes) -> None:
        count = self.counts[which]
        count.dropped_bytes += len(chunk)
        count.dropped_lines += chunk.count(b"\n")

    def _relay(self, stream) -> None:
        while True:
            with self._lock:
                while not self._queue and not self._closed and self._reading:
                    self._moved.wait()
                if not self._queue:
                    return
                which, chunk = self._in_flight = self._queue.popleft()
            target = stream[which] if isinstance(stream, dict) else stream
            _write(target, chunk, self._decoders[which], flush=not self._queue)  # behind: the buffer batches
            with self._lock:
                self._queued -= len(chunk)
                self._in_flight = None
                if self._closed:  # finish() already counted this chunk as dropped
                    continue
                self.counts[which].relayed_bytes += len(chunk)
                self._moved.notify_all()

    def _remember(self, which: str, chunk: bytes) -> None:
        with self._lock:
            data = self._partial[which] + chunk
            *complete, partial = data.split(b"\n")
            self._partial[which] = partial[-TAIL_LINE_BYTES:]
            self.lines.extend(line[-TAIL_LINE_BYTES:].decode("utf-8", "replace").rstrip("\r")
                              for line in complete[-self.lines.maxlen:] if line.strip())

    def finish(self, timeout: float = 5.0) -> list[str]:
        """Wait up to `timeout` for the output to be read and relayed; what is
        still waiting then is dropped and counted. The last lines."""
        give_up = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(max(0.0, give_up - time.monotonic()))
        with self._lock:
            while self._queue or self._queued:
                if not self._moved.wait(max(0.0, give_up - time.monotonic())) and time.monotonic() >= give_up:
                    break
            self._closed = True
            for which, chunk in [self._in_flight, *self._queue] if self._in_flight else self._queue:
                self._drop(which, chunk)
            self._queue.clear()
            self._moved.notify_all()
            return list(self.lines)

    def dropped_note(self) -> str | None:
        """One line for the report when output was dropped, else None."""
        dropped = sum(count.dropped_bytes for count in self.counts.values())
        if not dropped:
            return None
        lines = sum(count.dropped_lines for count in self.counts.values())
        shown = sum(count.relayed_bytes for count in self.counts.values())
        return (f"live output: {dropped} bytes ({lines} lines) not shown, of {dropped + shown}: "
                f"the job printed faster than they could be relayed")

    def summary(self) -> dict:
        return {which: vars(count).copy() for which, count in self.counts.items()}


def _source(container, which: str):
    """The container's `which` stream: attached before the start, else the log."""
    streams = {"stdout": which == "stdout", "stderr": which == "stderr"}
    if getattr(container, "status", None) == "created":
        try:
            return container.attach(stream=True, logs=False, **streams)
        except Exception:
            pass  # the log still has it
    try:
        return container.logs(stream=True, follow=True, **streams)
    except Exception:
        return iter(())  # the container went away: nothing to stream


def report_relay(report, pump: LogPump) -> None:
    """What the live relay showed and dropped, in the result and, if any was
    dropped, as a line of the text report."""
    report.result["live_output"] = pump.summary()
    note = pump.dropped_note()
    if note:
        report.summary_lines.append(f"  {note}")


def _write(target, chunk: bytes, decoder, flush: bool = True) -> None:
    try:
        buffer = getattr(target, "buffer", None)
        if buffer is not None:
            buffer.write(chunk)
            if flush:
                buffer.flush()
        else:
            target.write(decoder.decode(chunk))
            if flush:
                target.flush()
    except (OSError, ValueError):
        pass


def notice(text: str) -> None:
    print(f"smlint: {text}", file=sys.stderr, flush=True)
