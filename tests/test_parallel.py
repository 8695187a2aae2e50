"""smlint.parallel: forked workers give the serial answer, and leave nothing behind."""
import os
import sys

import pytest

from smlint import parallel

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="forked workers are used on Linux only")


def _children() -> set[int]:
    """Live child processes of this one (zombies included) from /proc."""
    me = str(os.getpid())
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    if stat.read().rsplit(")", 1)[1].split()[1] == me:
                        found.add(int(entry))
            except OSError:
                pass
    return found


@pytest.mark.parametrize("workers", [1, 2, 3, 7])
def test_results_in_order_whatever_the_workers(workers):
    assert parallel.map_indexed(lambda i: (i, i * i), 20, workers) == [(i, i * i) for i in range(20)]


def test_work_really_runs_in_other_processes():
    pids = set(parallel.map_indexed(lambda i: os.getpid(), 10, 2))
    assert len(pids) == 2 and os.getpid() in pids


def test_a_failing_worker_has_its_share_redone_here():
    parent = os.getpid()

    def fragile(index):
        if os.getpid() != parent:
            raise RuntimeError("worker broke")
        return index

    assert parallel.map_indexed(fragile, 9, 3) == list(range(9))
    assert not _children()


def test_results_that_cannot_be_pickled_are_redone_here():
    parent = os.getpid()
    assert parallel.map_indexed(lambda i: (lambda: i) if os.getpid() != parent else i, 6, 2) == list(range(6))


def test_an_error_here_kills_and_reaps_the_workers():
    parent = os.getpid()

    def work(index):
        if os.getpid() == parent:
            raise KeyboardInterrupt  # as Ctrl-C would, while the worker is still busy
        import time
        time.sleep(30)
        return index

    with pytest.raises(KeyboardInterrupt):
        parallel.map_indexed(work, 4, 2)
    assert not _children()


def test_large_results_come_back_whole():
    blob = "x" * 200_000  # far beyond a pipe's buffer
    assert parallel.map_indexed(lambda i: blob + str(i), 4, 2) == [blob + str(i) for i in range(4)]


def test_no_fork_while_other_threads_run():
    import threading

    release = threading.Event()
    helper = threading.Thread(target=release.wait)
    helper.start()
    try:
        assert not parallel.can_fork()
        assert set(parallel.map_indexed(lambda i: os.getpid(), 6, 3)) == {os.getpid()}
    finally:
        release.set()
        helper.join()
    assert parallel.can_fork()


def test_a_worker_returning_a_short_share_has_it_redone_here(monkeypatch):
    parent, honest = os.getpid(), parallel._share
    monkeypatch.setattr(parallel, "_share", lambda *args: honest(*args) if os.getpid() == parent else [])
    assert parallel.map_indexed(lambda i: i * 3, 7, 2) == [i * 3 for i in range(7)]
