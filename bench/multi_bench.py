"""What does a 3-instance `smlint run` add over a 1-instance run of the same job?

Builds one busybox image whose job writes one output file and exits, then runs
it alternately with 1 and with 3 instances (so machine drift hits both alike)
and prints the median and best wall time of each, and the difference (target:
under 1.5 s). The job itself takes no measurable time: what is measured is
smlint's setup (volumes, network, containers), supervision, read-back and
cleanup.

    .venv/bin/python bench/multi_bench.py [--runs 5]
"""
from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))

from dockerutil import BUSYBOX_BASE, build_image, engine_or_skip, remove_image  # noqa: E402

from smlint.config import Policy  # noqa: E402
from smlint.run.runner import RunOptions, run  # noqa: E402

JOB = ["/bin/sh", "-c", "hostname > /opt/ml/processing/output/result/$(hostname).txt"]


def _once(client, tag: str, count: int) -> float:
    with tempfile.TemporaryDirectory() as folder:
        options = RunOptions(outputs={"result": os.path.join(folder, "out")}, entrypoint=JOB, instance_count=count)
        started = time.perf_counter()
        report = run(tag, None, options, Policy(), stream=io.StringIO(), client=client)
        elapsed = time.perf_counter() - started
        assert report.result.get("status") == "Completed", report.summary_lines
        assert len(os.listdir(os.path.join(folder, "out"))) == count
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    client = engine_or_skip()
    tag = build_image(client, BUSYBOX_BASE)
    times: dict[int, list[float]] = {1: [], 3: []}
    try:
        _once(client, tag, 1)  # warm the engine and the imports
        for _ in range(args.runs):
            for count in (1, 3):
                times[count].append(_once(client, tag, count))
    finally:
        remove_image(client, tag)
    for count, values in times.items():
        print(f"{count} instance(s): median {statistics.median(values):.2f} s, best {min(values):.2f} s "
              f"over {len(values)} runs")
    added = statistics.median(times[3]) - statistics.median(times[1])
    print(f"3 instances add {added:.2f} s (median), {min(times[3]) - min(times[1]):.2f} s (best); target < 1.5 s")


if __name__ == "__main__":
    main()
