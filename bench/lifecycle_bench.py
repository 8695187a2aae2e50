"""Container lifecycle figures: cleanup after a killed smlint, session cost, relay speed.

- kill: starts `smlint run` (and `smlint probe`) on a sleeping busybox job,
  SIGKILLs smlint once its containers run, and times until no container of
  the run is left (the watchdog's work);
- session: the cost of a Session's start and end (watchdog process, orphan
  reaping, cleanup) with no container;
- relay: a job printing 100 MB of 100-byte lines, relayed to /dev/null:
  wall time, and bytes relayed and dropped.

    .venv/bin/python bench/lifecycle_bench.py [--runs 5]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests"))

from dockerutil import BUSYBOX_BASE, build_image, docker_cli, engine_or_skip, remove_image  # noqa: E402

from smlint.run.sandbox import LABEL, OWNER_LABEL, Session  # noqa: E402

SLEEP = '["sleep", "300"]'


def _smlint(*args, **popen) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "smlint", *args], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, **popen)


def _runs_of(pid: int) -> dict[str, int]:
    """Running containers whose owner label names `pid`, by run id."""
    ids = docker_cli("ps", "-q", "--filter", f"label={OWNER_LABEL}").stdout.split()
    runs: dict[str, int] = {}
    for container in json.loads(docker_cli("inspect", *ids, check=False).stdout or "[]") if ids else []:
        labels = container["Config"]["Labels"]
        if labels[OWNER_LABEL].split("/")[1] == str(pid):
            runs[labels[LABEL]] = runs.get(labels[LABEL], 0) + 1
    return runs


def kill_seconds(args: list[str], containers: int) -> float:
    process = _smlint(*args)
    try:
        while True:
            runs = _runs_of(process.pid)
            if runs and max(runs.values()) == containers:
                break
            time.sleep(0.1)
        [run_id] = runs
        process.kill()
        killed = time.monotonic()
        process.wait()
        while docker_cli("ps", "-a", "-q", "--filter", f"label={LABEL}={run_id}").stdout.strip():
            time.sleep(0.05)
        return time.monotonic() - killed
    finally:
        process.kill()
        process.wait()


def session_seconds(client) -> float:
    started = time.monotonic()
    with Session(client):
        pass
    return time.monotonic() - started


def relay(tag: str) -> str:
    with tempfile.TemporaryDirectory() as temp:
        report = os.path.join(temp, "report.json")
        script = "yes $(printf '%099d' 0) | head -n 1000000"
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "smlint", "run", "--image", tag, "-f", "json", "-o", report,
                        "--entrypoint", json.dumps(["sh", "-c", script])], cwd=ROOT, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=False)
        wall = time.monotonic() - started
        with open(report) as handle:
            counts = json.load(handle)["result"]["live_output"]["stdout"]
    return f"{wall:.1f} s, relayed {counts['relayed_bytes']} bytes, dropped {counts['dropped_bytes']}"


def _figures(values: list[float]) -> str:
    return f"median {statistics.median(values):.2f} s, max {max(values):.2f} s ({len(values)} runs)"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    client = engine_or_skip()
    tag = build_image(client, BUSYBOX_BASE)
    try:
        run_args = ["run", "--image", tag, "--entrypoint", SLEEP]
        probe_args = ["probe", tag, "--grace", "120", "--entrypoint", SLEEP]
        print("SIGKILL of smlint run -> its container gone:", _figures([kill_seconds(run_args, 1)
                                                                       for _ in range(runs)]))
        print("SIGKILL of smlint probe -> both containers gone:", _figures([kill_seconds(probe_args, 2)
                                                                           for _ in range(runs)]))
        print("Session start + end (watchdog, reaping, cleanup):", _figures([session_seconds(client)
                                                                            for _ in range(runs)]))
        print("relay of 100 MB of lines to /dev/null:", relay(tag))
    finally:
        remove_image(client, tag)


if __name__ == "__main__":
    main()
