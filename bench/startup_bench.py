"""Cold start of `smlint lint` on one file, against the bare interpreter.

Runs, interleaved (so load on the machine hits both alike), `python -I -c pass`
and `smlint lint FILE` from the same virtual environment, each ROUNDS times,
and prints the medians and their ratio. The target is a ratio of at most 5.

    .venv/bin/python bench/startup_bench.py [--rounds 15] [--file Dockerfile]

`--imports` prints the modules `smlint lint` imports instead (python -X importtime,
cumulative microseconds, largest first), to see what the lint path pays for.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

GOOD = 'FROM python:3.12-slim\nCOPY job.py /app/\nENTRYPOINT ["python3", "/app/job.py"]\n'


def smlint_command(path: str) -> list[str]:
    script = os.path.join(os.path.dirname(sys.executable), "smlint")
    if os.path.exists(script):  # the console script, as a user runs it
        return [script, "lint", path]
    return [sys.executable, "-m", "smlint", "lint", path]


# As a user runs it: bytecode cached (the warm-up run writes it), whatever this
# shell says; `python -I` ignores PYTHON* variables anyway.
ENV = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}


def timed(command: list[str], cwd: str) -> float:
    start = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=ENV)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{command[0]} failed ({result.returncode}): {result.stderr.decode()[-400:]}")
    return elapsed


def measure(path: str, rounds: int, cwd: str) -> tuple[float, float]:
    bare, lint = [sys.executable, "-I", "-c", "pass"], smlint_command(path)
    timed(bare, cwd), timed(lint, cwd)  # warm the page cache, not the process
    bare_times, lint_times = [], []
    for _ in range(rounds):
        bare_times.append(timed(bare, cwd))
        lint_times.append(timed(lint, cwd))
    return statistics.median(bare_times), statistics.median(lint_times)


def imports(path: str, cwd: str, top: int = 30) -> None:
    command = [sys.executable, "-X", "importtime", "-m", "smlint", "lint", path]
    result = subprocess.run(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=ENV)
    rows = []
    for line in result.stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            rows.append((int(parts[1]), parts[2].rstrip()))
    print(f"{len(rows)} modules imported; largest cumulative import times (us):")
    for cumulative, name in sorted(rows, reverse=True)[:top]:
        print(f"{cumulative:>8}  {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--file", default=None, help="Dockerfile to lint (default: a clean three-line one)")
    parser.add_argument("--imports", action="store_true", help="print the import profile instead")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as cwd:  # no config file is found from here
        path = args.file and os.path.abspath(args.file)
        if path is None:
            path = os.path.join(cwd, "Dockerfile")
            with open(path, "w") as handle:
                handle.write(GOOD)
        if args.imports:
            imports(path, cwd)
            return
        bare, lint = measure(path, args.rounds, cwd)
    print(f"python -I -c pass   median of {args.rounds}: {bare * 1000:.1f} ms")
    print(f"smlint lint (1 file) median of {args.rounds}: {lint * 1000:.1f} ms")
    print(f"ratio: {lint / bare:.1f}x (target: at most 5x)")


if __name__ == "__main__":
    main()
