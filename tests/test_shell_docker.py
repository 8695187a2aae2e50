"""The shell facts SM105, SM107 and SM207 rest on, shown on real shells in
containers: which shells exec the final command of a `-c` script (PID 1 is
then the program), and that a trap alone forwards no stop signal while
"trap, job in the background, wait" does (its shell exits on the signal
while the trap-only shell still waits on its child's sleep).

The image holds this host's bash and dash (with their shared libraries) and
the static busybox, FROM scratch. Timing is only compared with generous
margins: the child sleeps far longer than anything the test waits for.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid

import pytest

from dockerutil import BUSYBOX_BASE, build_image, docker_cli, docker_required, engine_or_skip, remove_image
from smlint.dockerfile.shell_questions import left_running, parse

pytestmark = pytest.mark.docker

LONG_SLEEP = 40  # seconds the job sleeps: far beyond every wait below
HUNG = 120  # a container still running after this long is hung


def _host_shell_files() -> dict[str, tuple[bytes, int]]:
    """/bin/bash, /bin/dash and the shared libraries they load, by image path."""
    files: dict[str, tuple[bytes, int]] = {}
    for shell in ("bash", "dash"):
        binary = shutil.which(shell)
        if binary is None or shutil.which("ldd") is None:
            message = f"{shell} or ldd is not installed on this host"
            if docker_required():
                pytest.fail(message)
            pytest.skip(message)
        files[f"rootfs/bin/{shell}"] = (open(os.path.realpath(binary), "rb").read(), 0o755)
        listing = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
        for line in listing.splitlines():
            path = line.split("=>")[-1].split("(")[0].strip()
            if path.startswith("/"):
                files["rootfs" + path] = (open(os.path.realpath(path), "rb").read(), 0o755)
    return files


@pytest.fixture(scope="module")
def shells_image():
    client = engine_or_skip()
    tag = build_image(client, BUSYBOX_BASE + "COPY rootfs/ /\n", _host_shell_files())
    yield client, tag
    remove_image(client, tag)


def _start(tag: str, argv: list[str]) -> str:
    name = f"smlint-shell-{uuid.uuid4().hex[:10]}"
    docker_cli("run", "-d", "--network", "none", "--name", name, "--label", "smlint.test=1",
               "--entrypoint", argv[0], tag, *argv[1:])
    return name


def _pid1(name: str) -> str:
    """PID 1's command line once the shell has started its `sleep`."""
    _wait_for_child(name)
    return " ".join(w for w in docker_cli("exec", name, "cat", "/proc/1/cmdline").stdout.split("\0") if w)


def _as_job(script: str) -> str:
    """The script with its `sleep` (a status-neutral command to smlint) as a job."""
    return script.replace(f"sleep {LONG_SLEEP}", "python3 job.py")


def _remove(*names: str) -> None:
    for name in names:
        docker_cli("rm", "-f", name, check=False)


SELF_EXEC = [
    # (argv of the container, does PID 1 become `sleep`?, what smlint says for that shell)
    (["/bin/bash", "-c", "cd / && sleep 40"], True, "bash"),
    (["/bin/bash", "-ec", "cd /; sleep 40"], True, "bash"),
    (["/bin/bash", "-c", "if true; then sleep 40; fi"], False, "bash"),
    (["/bin/bash", "-c", "sleep 40 >/dev/null"], False, "bash"),
    (["/bin/busybox", "sh", "-c", "cd / && sleep 40"], True, "busybox"),
    (["/bin/busybox", "sh", "-c", "if true; then sleep 40; fi"], True, "busybox"),
    (["/bin/dash", "-c", "cd / && sleep 40"], False, "dash"),
    (["/bin/dash", "-c", "sleep 40"], False, "dash"),
    (["/bin/bash", "-c", "trap 'exit 1' TERM; sleep 40"], False, "bash"),
]


def test_which_shells_exec_the_final_command(shells_image):
    client, tag = shells_image
    names = [_start(tag, argv) for argv, _, _ in SELF_EXEC]
    try:
        for name, (argv, execs, shell) in zip(names, SELF_EXEC):
            pid1 = _pid1(name)
            assert pid1.startswith("sleep") is execs, (argv, pid1)
            # smlint's reading of the same script agrees with the shell
            assert (not left_running(parse(_as_job(argv[-1])), shell, c_mode=True)) is execs, (argv, pid1)
    finally:
        _remove(*names)


def test_no_shell_execs_the_last_command_of_a_script_file(shells_image):
    client, tag = shells_image
    setup = "printf 'cd /\\nsleep 40\\n' > /s.sh && exec "
    argvs = [["/bin/busybox", "sh", "-c", setup + shell + " /s.sh"] for shell in ("/bin/bash", "/bin/dash", "sh")]
    names = [_start(tag, argv) for argv in argvs]
    try:
        for name, argv in zip(names, argvs):
            pid1 = _pid1(name)
            assert pid1.endswith("/s.sh"), (argv, pid1)
    finally:
        _remove(*names)


TRAP_ONLY = f"trap 'exit 143' TERM\nsleep {LONG_SLEEP}\n"
TRAP_AND_WAIT = f"trap 'kill -TERM $child; exit 143' TERM\nsleep {LONG_SLEEP} &\nchild=$!\nwait $child\n"


def test_a_trap_alone_forwards_nothing_trap_and_wait_does(shells_image):
    client, tag = shells_image
    cases = []
    for shell in ("/bin/bash", "/bin/dash", "/bin/sh"):
        for script, forwards in ((TRAP_ONLY, False), (TRAP_AND_WAIT, True)):
            assert (not left_running(parse(_as_job(script)), "", c_mode=False)) is forwards  # smlint agrees
            cases.append((_start(tag, [shell, "-c", script]), shell, forwards))
    try:
        for name, _, _ in cases:
            _wait_for_child(name)
        for name, _, _ in cases:
            docker_cli("kill", "--signal", "TERM", name)
        for name, shell, forwards in cases:
            if forwards:
                assert _exit_code(name) == 143, shell
        # The trap-and-wait shells are gone; the trap-only ones still wait on their sleep.
        for name, shell, forwards in cases:
            if not forwards:
                assert _running(name) and "sleep" in docker_cli("exec", name, "ps").stdout, shell
        # They end only once the child is done, and then run the trap.
        for name, shell, forwards in cases:
            if not forwards:
                assert _exit_code(name) == 143, shell
    finally:
        _remove(*(name for name, _, _ in cases))


def _wait_for_child(name: str) -> None:
    for _ in range(100):
        if "sleep" in docker_cli("exec", name, "ps", check=False).stdout:
            return
        time.sleep(0.1)


def _running(name: str) -> bool:
    return docker_cli("inspect", "-f", "{{.State.Running}}", name).stdout.strip() == "true"


def _exit_code(name: str) -> int:
    deadline = time.monotonic() + HUNG
    while time.monotonic() < deadline:
        if not _running(name):
            return int(docker_cli("inspect", "-f", "{{.State.ExitCode}}", name).stdout.strip())
        time.sleep(0.2)
    raise AssertionError(f"{name} hung")
