"""Faults of the output channel: what smlint does when standard output goes away.

- A reader that left (`smlint lint . | head -1`) or a closed stdout: exit
  quietly with 141, the status a shell shows for a process ended by SIGPIPE,
  so pipelines treat it as a writer that was cut off, not as an error.
- Any other write error (`> /dev/full`): one line on stderr and exit 2.

Python ignores SIGPIPE, so a broken pipe is an OSError from some write deep
in the command, or from the flush at exit. sys.stdout is therefore rebuilt on
a descriptor wrapper that remembers the first error it met: whoever catches
the exception, main() knows stdout failed. Once handled, writes are dropped,
so the flush at exit cannot print "Exception ignored".
"""
from __future__ import annotations

import errno
import io
import os
import sys
from typing import Callable

SIGPIPE_STATUS = 128 + 13  # what a shell reports for a process killed by SIGPIPE
WRITE_ERROR_STATUS = 2


class _WatchedStdout(io.RawIOBase):
    """Descriptor 1 (None: it was closed at start, a broken pipe), recording its first write error."""

    def __init__(self, descriptor: int | None) -> None:
        super().__init__()
        self.descriptor = descriptor
        self.fault: OSError | None = None
        self.silenced = False

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return self.descriptor is not None and os.isatty(self.descriptor)

    def fileno(self) -> int:
        if self.descriptor is None:
            raise io.UnsupportedOperation("standard output is closed")
        return self.descriptor

    def write(self, data) -> int:
        if self.silenced:
            return len(data)
        try:
            if self.descriptor is None:
                raise BrokenPipeError(errno.EPIPE, "standard output is closed")
            return os.write(self.descriptor, data)
        except OSError as error:
            self.fault = self.fault or error
            raise


def guard_standard_streams() -> _WatchedStdout | None:
    """Descriptors 0-2 that are closed get /dev/null, so no file smlint opens
    later takes their number; sys.stdout becomes a watched stream."""
    closed = []
    for descriptor in (0, 1, 2):
        try:
            os.fstat(descriptor)
        except OSError:
            closed.append(descriptor)
    for descriptor in closed:  # open() takes the lowest free number: 0, then 1, then 2
        opened = os.open(os.devnull, os.O_RDWR)
        if opened != descriptor:
            os.dup2(opened, descriptor)
            os.close(opened)
    current = sys.stdout
    if current is not None and current is not sys.__stdout__:
        return None  # someone (a test harness) already redirected it
    watched = _WatchedStdout(None if 1 in closed else 1)
    sys.stdout = io.TextIOWrapper(
        io.BufferedWriter(watched), encoding=getattr(current, "encoding", None) or "utf-8",
        errors=getattr(current, "errors", None) or "strict",
        line_buffering=bool(getattr(current, "line_buffering", False)),
    )
    return watched


def _fault(watched: _WatchedStdout | None) -> OSError | None:
    """The error stdout met, flushing what is left first."""
    stream = sys.stdout
    if type(stream).__name__ == "PacifyFlushWrapper":  # click met EPIPE itself and exits 1
        return BrokenPipeError(errno.EPIPE, "broken pipe")
    try:
        if stream is not None:
            stream.flush()
    except (OSError, ValueError):
        pass
    return watched.fault if watched is not None else None


def _exit_for(fault: OSError, watched: _WatchedStdout | None) -> None:
    """Never returns: 141 silently for a broken pipe, else one line and 2."""
    if watched is not None:
        watched.silenced = True
    if isinstance(fault, BrokenPipeError) or fault.errno == errno.EPIPE:
        sys.exit(SIGPIPE_STATUS)
    sys.stderr.write(f"smlint: cannot write to standard output: {fault.strerror or fault}\n")
    sys.exit(WRITE_ERROR_STATUS)


def stdout_failed() -> bool:
    """Whether a write to the watched stdout has failed (for main's handlers)."""
    raw = getattr(getattr(sys.stdout, "buffer", None), "raw", None)
    return type(sys.stdout).__name__ == "PacifyFlushWrapper" or (
        isinstance(raw, _WatchedStdout) and raw.fault is not None)


def run_guarded(main: Callable[[], None]) -> None:
    """Run `main` (which ends with sys.exit), then handle any stdout fault
    it met, whoever caught the exception, or that the final flush meets."""
    watched = guard_standard_streams()
    try:
        main()
    except SystemExit:
        fault = _fault(watched)
        if fault is not None:
            _exit_for(fault, watched)
        raise
    except OSError:
        fault = _fault(watched)
        if fault is None:
            raise
        _exit_for(fault, watched)
    fault = _fault(watched)
    if fault is not None:
        _exit_for(fault, watched)
