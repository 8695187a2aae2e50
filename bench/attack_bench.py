"""Peak RSS and seconds of smlint on hostile inputs (issue 11, item 4).

    python bench/attack_bench.py [--only NAME]

Each case writes its input into a temporary folder, runs `smlint` on it in a
child process and prints the child's peak RSS (from wait4) and wall seconds,
the exit code and the first line of its report. The promise: every case ends
within 30 s and 512 MB with SM001 or a normal result. Figures go here, not in
tests (tests/test_attacks_inputs.py only checks that nothing hangs or blows up).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

from smlint.inputs import MAX_DOCKERFILE_BYTES, MAX_REQUEST_BYTES, MAX_YAML_REQUEST_BYTES, MIB


def _write(folder: str, name: str, text: str | bytes) -> str:
    path = os.path.join(folder, name)
    with open(path, "wb") as handle:
        handle.write(text.encode() if isinstance(text, str) else text)
    return path


def arg_chain(folder: str) -> list[str]:
    lines = ["FROM scratch", "ARG a0=xx"] + [f"ARG a{i}=$a{i - 1}$a{i - 1}" for i in range(1, 41)] + ['CMD ["x"]']
    return ["lint", _write(folder, "chain.Dockerfile", "\n".join(lines) + "\n")]


def nested_defaults(folder: str) -> list[str]:
    depth = 20_000
    word = "".join(f"${{v{i}:-" for i in range(depth)) + "x" + "}" * depth
    return ["lint", _write(folder, "nested.Dockerfile", f'FROM scratch\nARG z={word}\nCMD ["x"]\n')]


def many_args(folder: str) -> list[str]:
    """Just under the Dockerfile bound, all ARGs: each copies the ones before it."""
    body = "".join(f"ARG a{i}=1\n" for i in range(MAX_DOCKERFILE_BYTES // 8))
    return ["lint", _write(folder, "args.Dockerfile", ("FROM scratch\n" + body)[: MAX_DOCKERFILE_BYTES - 16] + '\nCMD ["x"]\n')]


def big_run(folder: str) -> list[str]:
    """Just under the Dockerfile bound: one long RUN of many commands."""
    body = "RUN " + " && \\\n    ".join(f"echo {i} > /tmp/f{i}" for i in range(MAX_DOCKERFILE_BYTES // 24))
    return ["lint", _write(folder, "run.Dockerfile", ("FROM busybox\n" + body)[: MAX_DOCKERFILE_BYTES - 16] + "\n")]


def many_lines(folder: str) -> list[str]:
    """Just under the bound: the most instructions a Dockerfile can hold."""
    body = "RUN a\n" * (MAX_DOCKERFILE_BYTES // 6)
    return ["lint", _write(folder, "lines.Dockerfile", ("FROM busybox\n" + body)[: MAX_DOCKERFILE_BYTES - 6] + "\n")]


def fifty_mb(folder: str) -> list[str]:
    return ["lint", _write(folder, "huge.Dockerfile", "FROM busybox\n" + "RUN echo hi\n" * (50 * MIB // 12))]


def dev_zero(folder: str) -> list[str]:
    return ["lint", "/dev/zero"]


def fifo(folder: str) -> list[str]:
    os.mkfifo(os.path.join(folder, "Dockerfile"))
    return ["lint", folder]


def config_aliases(folder: str) -> list[str]:
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for previous, name in zip("abcdefgh", "bcdefghi"):
        lines.append(f"{name}: &{name} [{','.join('*' + previous for _ in range(9))}]")
    config = _write(folder, ".smlint.yaml", "\n".join(lines) + "\n")
    dockerfile = _write(folder, "Dockerfile", 'FROM scratch\nCMD ["x"]\n')
    return ["lint", "--config", config, dockerfile]


def yaml_request(folder: str) -> list[str]:
    """Just under the YAML request bound and the value bound: many variables."""
    lines = ["ProcessingJobName: big", "Environment:"]
    lines += [f"  K{i}: {'v' * 50}" for i in range(MAX_YAML_REQUEST_BYTES // 60)]
    return ["job", _write(folder, "processing-job.yaml", "\n".join(lines)[: MAX_YAML_REQUEST_BYTES - 1] + "\n")]


def yaml_request_over(folder: str) -> list[str]:
    """The issue's 3.8 MB YAML request."""
    lines = ["ProcessingJobName: big", "Environment:"] + [f"  K{i}: v{i}" for i in range(270_000)]
    return ["job", _write(folder, "processing-job.yaml", "\n".join(lines) + "\n")]


def json_request_over(folder: str) -> list[str]:
    """Just under the JSON request bound, far past the value bound."""
    items = ",".join(["1"] * (MAX_REQUEST_BYTES // 2 - 64))
    return ["job", _write(folder, "processing-job.json", '{"ProcessingJobName": "big", "Tags": [' + items + "]}")]


def json_request(folder: str) -> list[str]:
    """Under the JSON request bound and the value bound: an array of small numbers."""
    from smlint.job.source import MAX_VALUES

    items = ",".join(["1"] * (MAX_VALUES - 8))
    return ["job", _write(folder, "processing-job.json", '{"ProcessingJobName": "big", "Tags": [' + items + "]}")]


CASES = {function.__name__: function for function in (
    arg_chain, nested_defaults, many_args, big_run, many_lines, fifty_mb, dev_zero, fifo, config_aliases,
    yaml_request, yaml_request_over, json_request, json_request_over,
)}


# Runs smlint and reports its rusage. A process started from this (large)
# bench would inherit the bench's RSS high-water mark through fork + exec, so
# a small launcher starts smlint and reads its peak with wait4.
_LAUNCHER = """
import json, os, subprocess, sys, time
timeout, out_path, argv = float(sys.argv[1]), sys.argv[2], sys.argv[3:]
started = time.monotonic()
with open(out_path, "wb") as out:
    child = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
while True:
    pid, status, usage = os.wait4(child.pid, os.WNOHANG)
    if pid:
        break
    if time.monotonic() - started > timeout:
        child.kill()
        pid, status, usage = os.wait4(child.pid, 0)
        break
    time.sleep(0.02)
print(json.dumps([usage.ru_maxrss / 1024, time.monotonic() - started, os.waitstatus_to_exitcode(status)]))
"""


def measure(argv: list[str], timeout: float = 120) -> tuple[float, float, int, str]:
    """(peak RSS MiB, seconds, exit code, first report line)."""
    with tempfile.NamedTemporaryFile() as out:
        launched = subprocess.run([sys.executable, "-c", _LAUNCHER, str(timeout), out.name, sys.executable, "-m",
                                   "smlint", *argv], capture_output=True, text=True, check=True)
        rss, seconds, code = json.loads(launched.stdout)
        first = out.read(400).decode("utf-8", "replace").splitlines()[:1]
    return rss, seconds, code, (first or [""])[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(CASES))
    options = parser.parse_args()
    print(f"{'case':<20} {'peak MiB':>9} {'seconds':>8} {'exit':>5}  report")
    for name, make in CASES.items():
        if options.only and name != options.only:
            continue
        with tempfile.TemporaryDirectory() as folder:
            rss, seconds, code, first = measure(make(folder))
        print(f"{name:<20} {rss:>9.1f} {seconds:>8.2f} {code:>5}  {first[:110]}")


if __name__ == "__main__":
    main()
