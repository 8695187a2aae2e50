"""Output channel faults (issue 11, item 6): a reader that leaves, a closed
stdout, a full disk. A broken pipe or closed stdout ends smlint quietly with
141 (what a shell shows for SIGPIPE); any other write error is one line on
stderr and exit 2. Never a traceback, never "Exception ignored".
"""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

HUNG = 120  # seconds: a timeout here means smlint hung on its output


def _project(tmp_path, files: int = 400):
    """Enough findings that the report is far past a pipe's 64 KiB buffer."""
    folder = tmp_path / "project"
    folder.mkdir()
    for index in range(files):
        (folder / f"{index}.Dockerfile").write_text('FROM busybox\nCMD ["sh"]\n')
    return folder


def _command(*args) -> list[str]:
    return [sys.executable, "-m", "smlint", *map(str, args)]


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_a_reader_that_leaves_ends_smlint_quietly_with_141(tmp_path, fmt):
    folder = _project(tmp_path)
    child = subprocess.Popen(_command("lint", "-j", "1", "-f", fmt, folder), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
    first = child.stdout.readline()  # `| head -1`
    child.stdout.close()
    stderr = child.stderr.read()
    assert child.wait(timeout=HUNG) == 141
    assert first
    assert stderr == b""


def test_a_closed_stdout_ends_smlint_quietly_with_141(tmp_path):
    folder = _project(tmp_path, files=3)
    result = subprocess.run(_command("lint", folder), stderr=subprocess.PIPE, timeout=HUNG,
                            preexec_fn=lambda: os.close(1))
    assert result.returncode == 141
    assert result.stderr == b""


def test_a_closed_stdout_with_nothing_to_say_keeps_the_exit_code(tmp_path):
    clean = tmp_path / "Dockerfile"
    clean.write_text('FROM busybox:1.36\nCMD ["sh"]\n')
    # -q: a clean lint prints nothing at all, so there is nothing to fail to write.
    result = subprocess.run(_command("lint", "-q", "--ignore", "SM1", clean), stderr=subprocess.PIPE, timeout=HUNG,
                            preexec_fn=lambda: os.close(1))
    assert (result.returncode, result.stderr) == (0, b"")


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
@pytest.mark.parametrize("args", [["lint", "-j", "1"], ["rules"]])
def test_a_full_disk_is_one_line_and_exit_2(tmp_path, args):
    folder = _project(tmp_path, files=3)
    with open("/dev/full", "w") as full:
        result = subprocess.run(_command(*args, *([folder] if args[0] == "lint" else [])), stdout=full,
                                stderr=subprocess.PIPE, text=True, timeout=HUNG)
    assert result.returncode == 2
    assert result.stderr == "smlint: cannot write to standard output: No space left on device\n"


def test_a_report_written_with_o_is_unaffected_by_a_closed_stdout(tmp_path):
    folder = _project(tmp_path, files=3)
    report = tmp_path / "report.txt"
    result = subprocess.run(_command("lint", "-o", report, folder), stderr=subprocess.PIPE, timeout=HUNG,
                            preexec_fn=lambda: os.close(1))
    assert result.returncode == 0, result.stderr
    assert "SM140" in report.read_text()
