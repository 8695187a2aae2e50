"""How fast does `smlint probe` reach its PID-1 verdict?

Builds two busybox images (exec-form `sleep`, and a trapping shell), probes
each N times and prints, per image, the time from the container's start to
the /proc verdict and the whole probe's wall time (which also includes the
behavioural check, bounded by the grace period, and the cleanup).

    .venv/bin/python bench/probe_bench.py [--runs 5] [--grace 2]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))

from dockerutil import BUSYBOX_BASE, build_image, engine_or_skip, remove_image  # noqa: E402

from smlint.config import Policy  # noqa: E402
from smlint.run.probe import ProbeOptions, probe  # noqa: E402

CASES = {
    "exec-form sleep (SM401)": '["sleep", "300"]',
    "trapping shell (passes)": '["/bin/sh", "-c", "trap \'exit 0\' INT TERM; sleep 300 & wait"]',
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--grace", type=float, default=2.0)
    args = parser.parse_args()
    client = engine_or_skip()
    for name, entrypoint in CASES.items():
        tag = build_image(client, BUSYBOX_BASE + f"ENTRYPOINT {entrypoint}\n")
        try:
            verdicts, walls = [], []
            for _ in range(args.runs):
                started = time.monotonic()
                report = probe(tag, None, ProbeOptions(grace=args.grace), Policy(), client=client)
                walls.append(time.monotonic() - started)
                verdicts.append(report.result["verdict_seconds"])
        finally:
            remove_image(client, tag)
        print(f"{name}: verdict after start: median {statistics.median(verdicts):.3f} s, "
              f"max {max(verdicts):.3f} s; whole probe (grace {args.grace:g} s): "
              f"median {statistics.median(walls):.2f} s, max {max(walls):.2f} s  ({args.runs} runs)")


if __name__ == "__main__":
    main()
