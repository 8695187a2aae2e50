"""Spread independent work over forked processes.

This process and `workers - 1` forked children each take every
`workers`-th item; a child sends its results back pickled through a pipe.
Forking shares everything loaded so far for free, and costs a few
milliseconds where `multiprocessing.Pool` costs about fifty (its import and
its threads), which matters for a command that runs in half a second.
A child that fails has its share redone here; on Ctrl-C or any error the
children are killed and reaped, so nothing is left behind.
"""
from __future__ import annotations

import gc
import os
import signal
import sys
from typing import BinaryIO, Callable, TypeVar

Result = TypeVar("Result")


def can_fork() -> bool:
    """fork is reliable on Linux only (macOS: unsafe with system frameworks), and
    only while this process has a single thread (a library caller may have more:
    a child could inherit a lock some other thread holds)."""
    threading = sys.modules.get("threading")
    single = threading is None or threading.active_count() == 1
    return sys.platform.startswith("linux") and hasattr(os, "fork") and single


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def map_indexed(function: Callable[[int], Result], count: int, workers: int) -> list[Result]:
    """[function(0), ..., function(count - 1)], computed by `workers` processes."""
    workers = max(1, min(workers, count))
    if workers == 1 or not can_fork():
        return [function(index) for index in range(count)]
    gc.freeze()  # children's collections skip inherited objects: no copy-on-write of their pages
    children: list[tuple[int, int, BinaryIO]] = []  # (pid, share, read end of its pipe)
    try:
        for share in range(1, workers):
            read_end, write_end = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(read_end)
                _child(function, share, workers, count, write_end)
            os.close(write_end)
            children.append((pid, share, os.fdopen(read_end, "rb")))
        results: list = [None] * count
        results[0::workers] = _share(function, 0, workers, count)
        while children:
            pid, share, stream = children[0]
            data = stream.read()
            _, status = os.waitpid(pid, 0)
            stream.close()
            children.pop(0)  # reaped: never signal its pid again
            expected = len(range(share, count, workers))
            done = _unpickle(data, expected) if status == 0 else None
            results[share::workers] = done if done is not None else _share(function, share, workers, count)
        return results
    finally:
        for pid, _, stream in children:  # only after an error or Ctrl-C
            _stop(pid)
            stream.close()
        gc.unfreeze()


def _share(function: Callable[[int], Result], share: int, workers: int, count: int) -> list[Result]:
    return [function(index) for index in range(share, count, workers)]


def _child(function: Callable, share: int, workers: int, count: int, write_end: int) -> None:
    """Never returns: the child computes its share, writes it, and exits."""
    import pickle  # here and in _unpickle: a one-file lint never forks

    status = 1
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
        with os.fdopen(write_end, "wb") as stream:
            pickle.dump(_share(function, share, workers, count), stream, protocol=pickle.HIGHEST_PROTOCOL)
        status = 0
    except BaseException:  # the parent redoes this share; never run the parent's code here
        pass
    finally:
        os._exit(status)


def _unpickle(data: bytes, expected: int) -> list | None:
    """The child's results, or None when they are not a whole share."""
    import pickle

    try:
        value = pickle.loads(data)
    except Exception:
        return None
    return value if isinstance(value, list) and len(value) == expected else None


def _stop(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass  # already reaped
