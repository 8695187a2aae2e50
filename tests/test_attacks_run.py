"""Attacks on the container lifecycle (issue 11 items 1, 3, 5 and 8).

Killing smlint must not leave containers, networks or volumes behind; an
orphan of a dead smlint is reaped by the next one, a live smlint's never;
the job runs without the capabilities it has no use for, with a capped log;
output dropped by a slow reader is counted; a request of the wrong shape is
refused before anything runs.
"""
import io
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid

import pytest
from conftest import ROOT, FIXTURES
from dockerutil import BUSYBOX_BASE, build_image, docker_cli, engine_or_skip, remove_image

from smlint.report import Report
from smlint.run import owner, watchdog
from smlint.run.plan import PlanError, build_plan
from smlint.run.relay import LogPump, report_relay
from smlint.run.sandbox import DROPPED_CAPABILITIES, LABEL, LOG_MAX_FILES, LOG_MAX_SIZE, OWNER_LABEL

HUNG = 90  # seconds: past this, a cleanup that should take a few seconds is hung
PASSWD = "root:x:0:0::/:/bin/sh\nnobody:x:65534:65534::/:/bin/sh\n"
SLEEPER = '["/bin/sh", "-c", "echo started; sleep 300"]'
# Capability numbers (linux/capability.h) for the bits of CapEff.
CAP_BITS = {"CHOWN": 0, "DAC_OVERRIDE": 1, "FOWNER": 3, "KILL": 5, "SETGID": 6, "SETUID": 7, "NET_RAW": 13,
            "MKNOD": 27, "AUDIT_WRITE": 29, "SETFCAP": 31}


@pytest.fixture(scope="module")
def client():
    return engine_or_skip()


@pytest.fixture(scope="module")
def image(client):
    tag = build_image(client, BUSYBOX_BASE + "COPY passwd /etc/passwd\nVOLUME /scratch\n", {"passwd": PASSWD})
    yield tag
    remove_image(client, tag)


def _cli(*args, **popen):
    return subprocess.Popen([sys.executable, "-m", "smlint", *args], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **popen)


def _left(selector: str) -> list[str]:
    """Containers, networks and volumes still carrying the label `selector`."""
    found = []
    for kind in ("ps -a", "network ls", "volume ls"):
        args = [*kind.split(), "-q", "--filter", f"label={selector}"]
        found += [f"{kind.split()[0]} {name}" for name in docker_cli(*args).stdout.split()]
    return found


def _wait_until(predicate, what: str):
    give_up = time.monotonic() + HUNG
    while time.monotonic() < give_up:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"hung: {what} after {HUNG} s")


def _watchdogs(run_id: str) -> list[int]:
    listing = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True, check=True).stdout
    return [int(line.split()[0]) for line in listing.splitlines()
            if "smlint.run.watchdog" in line and line.split()[-1] == run_id]


def _owned_by(pid: int) -> list[dict]:
    """The containers whose owner label names `pid`."""
    ids = docker_cli("ps", "-a", "-q", "--filter", f"label={OWNER_LABEL}").stdout.split()
    if not ids:
        return []
    found = json.loads(docker_cli("inspect", *ids, check=False).stdout or "[]")
    return [c for c in found if (c["Config"]["Labels"].get(OWNER_LABEL) or "").split("/")[1:2] == [str(pid)]]


def _start_sleeping_run(image, tmp_path, *options):
    temp = tmp_path / "tmp"
    temp.mkdir()
    process = _cli("run", "--image", image, *options, "--entrypoint", SLEEPER, env={**os.environ, "TMPDIR": str(temp)})
    assert process.stdout.readline() == "started\n"  # the job runs
    notices = [process.stderr.readline()]
    while notices[-1] and not notices[-1].startswith("smlint: run "):  # after any reaping notice
        notices.append(process.stderr.readline())
    assert notices[-1], f"no run started: {notices}"
    run_id = notices[-1].split()[2].rstrip(":")
    return process, run_id, temp


def _kill_and_expect_nothing_left(process, run_id: str) -> None:
    process.kill()
    process.wait(timeout=HUNG)
    _wait_until(lambda: not _left(f"{LABEL}={run_id}"), f"what run {run_id} created remains")


# --------------------------------------------------------------- killed smlint


@pytest.mark.docker
@pytest.mark.parametrize("signum, code", [(signal.SIGKILL, -signal.SIGKILL), (signal.SIGHUP, 130),
                                          (signal.SIGQUIT, 130)])
def test_killed_run_leaves_no_container_network_or_volume(client, image, tmp_path, signum, code):
    process, run_id, temp = _start_sleeping_run(image, tmp_path)
    name = f"smlint-test-{uuid.uuid4().hex[:8]}"
    try:
        # What a multi-instance run creates: a network and a volume with the run's label.
        docker_cli("network", "create", "--internal", "-o", "com.docker.network.bridge.inhibit_ipv4=true",
                   "--label", f"{LABEL}={run_id}", name)
        docker_cli("volume", "create", "--label", f"{LABEL}={run_id}", name)
        assert len(_left(f"{LABEL}={run_id}")) == 4 and os.listdir(temp)  # and the /opt/ml/output volume
        mounts = json.loads(docker_cli("inspect", "-f", "{{json .Mounts}}", f"smlint-{run_id}-algo-1").stdout)
        [anonymous] = [m["Name"] for m in mounts  # the image's VOLUME: the engine names it, not smlint
                       if m["Type"] == "volume" and not m["Name"].startswith("smlint-")]
        [watchdog] = _watchdogs(run_id)
        process.send_signal(signum)
        assert process.wait(timeout=HUNG) == code
        _wait_until(lambda: not _left(f"{LABEL}={run_id}"), "the run's container, network and volume remain")
        assert docker_cli("volume", "inspect", anonymous, check=False).returncode != 0
        _wait_until(lambda: not _watchdogs(run_id), f"the watchdog {watchdog} still runs")
        assert os.listdir(temp) == []
    finally:
        process.kill()
        process.communicate()
        docker_cli("network", "rm", name, check=False)
        docker_cli("volume", "rm", name, check=False)


@pytest.mark.docker
def test_killed_probe_leaves_neither_container(client, image, tmp_path):
    # sleep as PID 1 ignores both signals: the probe waits out the grace period.
    process = _cli("probe", image, "--grace", "120", "--entrypoint", '["sleep", "300"]')

    def both_running():
        found = _owned_by(process.pid)
        return found if len(found) == 2 and all(c["State"]["Running"] for c in found) else None

    try:
        containers = _wait_until(both_running, "the probe's two containers never ran")
        _kill_and_expect_nothing_left(process, containers[0]["Config"]["Labels"][LABEL])
    finally:
        process.kill()
        process.communicate()


@pytest.mark.docker
def test_watchdog_enforces_max_runtime_when_smlint_is_stuck(client, image, tmp_path):
    process, run_id, _ = _start_sleeping_run(image, tmp_path, "--max-runtime", "1", "--grace", "1")
    try:
        process.send_signal(signal.SIGSTOP)  # smlint can no longer stop its job itself
        [container] = docker_cli("ps", "-a", "-q", "--filter", f"label={LABEL}={run_id}").stdout.split()
        _wait_until(lambda: docker_cli("inspect", "-f", "{{.State.Status}}", container).stdout.strip() == "exited",
                    "the job still runs past MaxRuntime with smlint stopped")
        assert process.poll() is None  # smlint is still there, stopped: the watchdog did it
        assert docker_cli("inspect", "-f", "{{.State.ExitCode}}", container).stdout.strip() == "137"
        _kill_and_expect_nothing_left(process, run_id)
    finally:
        process.kill()
        process.communicate()


# --------------------------------------------------------------- orphans


def _dead_owner() -> str:
    child = subprocess.Popen(["sleep", "60"])
    token = owner.owner_token(child.pid)
    child.kill()
    child.wait()
    return token


def test_owner_tokens_judge_only_what_is_surely_dead():
    live = owner.owner_token()
    host, pid, started = live.split("/")
    assert not owner.owner_is_dead(live)
    assert owner.owner_is_dead(_dead_owner())
    assert owner.owner_is_dead(f"{host}/{pid}/{started}0")  # the pid was reused by a later process
    assert not owner.owner_is_dead(f"another-host.4026531836/{pid}/1")  # not ours to judge
    assert not owner.owner_is_dead(f"{host}/{pid}/unknown") and not owner.owner_is_dead("garbage")


@pytest.mark.docker
def test_next_smlint_reaps_orphans_of_a_dead_owner_only(client, image, tmp_path):
    dead, alive = uuid.uuid4().hex[:12], uuid.uuid4().hex[:12]
    dead_labels = ["--label", f"{LABEL}={dead}", "--label", f"{OWNER_LABEL}={_dead_owner()}"]
    live_labels = ["--label", f"{LABEL}={alive}", "--label", f"{OWNER_LABEL}={owner.owner_token()}"]
    try:
        for labels in (dead_labels, live_labels):
            docker_cli("run", "-d", "--network", "none", *labels, image, "sleep", "300")
        docker_cli("network", "create", "--internal", "-o", "com.docker.network.bridge.inhibit_ipv4=true",
                   *dead_labels, f"smlint-test-{dead}")
        docker_cli("volume", "create", *dead_labels, f"smlint-test-{dead}")
        process = _cli("run", "--image", image, "--entrypoint", "true")
        _, stderr = process.communicate(timeout=HUNG)
        assert process.returncode == 0, stderr
        assert _left(f"{LABEL}={dead}") == []
        assert f"removed what run {dead} left behind" in stderr and "1 container, 1 network, 1 volume" in stderr
        assert len(_left(f"{LABEL}={alive}")) == 1  # its owner (this test) is alive: untouched
    finally:
        owner.remove_run(client, dead)
        owner.remove_run(client, alive)


# --------------------------------------------------------------- the watchdog alone


def test_watchdog_told_done_exits_without_touching_the_engine(monkeypatch):
    calls = []
    monkeypatch.setattr(watchdog, "_with_engine", lambda *args: calls.append(args))
    ours, theirs = socket.socketpair()
    with ours, theirs:
        ours.sendall(b"deadline 100\ndone\n")
        assert watchdog.watch("abc123", theirs.fileno()) == "done" and calls == []


def test_watchdog_gives_up_on_a_dead_engine_and_still_removes_the_temp_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(watchdog, "CLEANUP_SECONDS", 2)
    (tmp_path / "smlint-run-abc123-x1" / "outputs").mkdir(parents=True)
    (tmp_path / "smlint-run-other1-x1").mkdir()
    ours, theirs = socket.socketpair()
    with theirs:
        ours.close()  # smlint is gone
        assert watchdog.watch("abc123", theirs.fileno()) == "smlint is gone"
    assert sorted(os.listdir(tmp_path)) == ["smlint-run-other1-x1"]


class _Running:
    def __init__(self):
        self.signals = []

    def kill(self, signal):
        self.signals.append(signal)


def test_watchdog_kills_the_run_at_its_deadline(monkeypatch):
    container = _Running()
    listed = []

    class Containers:
        def list(self, filters, sparse):
            listed.append(filters)
            return [container]

    ours, theirs = socket.socketpair()

    def with_engine(action, give_up):
        action(type("Client", (), {"containers": Containers()})())
        ours.sendall(b"done\n")

    monkeypatch.setattr(watchdog, "_with_engine", with_engine)
    with ours, theirs:
        ours.sendall(b"deadline 0\n")
        assert watchdog.watch("abc123", theirs.fileno()) == "done"
    assert listed == [{"label": f"{LABEL}=abc123"}] and container.signals == ["SIGKILL"]


# --------------------------------------------------------------- the sandbox


@pytest.mark.docker
def test_job_lacks_dropped_capabilities_and_gosu_style_switch_still_works(client, image, tmp_path):
    out = tmp_path / "out"
    script = ("d=/opt/ml/processing/output/r; grep CapEff /proc/1/status > $d/caps; "
              "mknod /n c 1 3 2>/dev/null; echo $? > $d/mknod; su nobody -c 'id -u' > $d/su")
    process = _cli("run", "--image", image, "--output", f"r={out}", "--entrypoint", json.dumps(["sh", "-c", script]))
    stdout, stderr = process.communicate(timeout=HUNG)
    assert process.returncode == 0, stdout + stderr
    effective = int((out / "caps").read_text().split()[1], 16)
    held = {name for name, bit in CAP_BITS.items() if effective & (1 << bit)}
    assert held.isdisjoint(DROPPED_CAPABILITIES) and {"MKNOD", "NET_RAW"} <= set(DROPPED_CAPABILITIES)
    assert {"CHOWN", "DAC_OVERRIDE", "FOWNER", "KILL", "SETGID", "SETUID"} <= held
    assert (out / "mknod").read_text().strip() != "0"  # mknod fails
    assert (out / "su").read_text().strip() == "65534"  # root -> user as gosu does, under no-new-privileges


@pytest.mark.docker
def test_created_container_has_the_log_cap_and_the_security_options(client, image, tmp_path):
    process, run_id, _ = _start_sleeping_run(image, tmp_path)
    try:
        # -a: the job's first line can come before the engine lists it as running
        [container] = docker_cli("ps", "-a", "-q", "--filter", f"label={LABEL}={run_id}").stdout.split()
        host = json.loads(docker_cli("inspect", "-f", "{{json .HostConfig}}", container).stdout)
        assert host["LogConfig"] == {"Type": "json-file",
                                     "Config": {"max-size": LOG_MAX_SIZE, "max-file": str(LOG_MAX_FILES)}}
        assert sorted(host["CapDrop"]) == sorted(DROPPED_CAPABILITIES)
        assert host["SecurityOpt"] == ["no-new-privileges"]
        labels = json.loads(docker_cli("inspect", "-f", "{{json .Config.Labels}}", container).stdout)
        assert labels[LABEL] == run_id and labels[OWNER_LABEL].split("/")[1] == str(process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=HUNG)
    assert not _left(f"{LABEL}={run_id}")


# --------------------------------------------------------------- live output

LINE = "x" * 999 + "\n"
LINES = 40_000  # 40 MB: more than the relay buffer and a pipe hold


@pytest.mark.docker
def test_fast_printer_with_a_reader_that_lags_reports_what_was_dropped(client, image, tmp_path):
    report_path = tmp_path / "report.json"
    script = f"yes $(printf '%0999d' 0 | tr 0 x) | head -n {LINES}"
    process = _cli("run", "--image", image, "-f", "json", "-o", str(report_path),
                   "--entrypoint", json.dumps(["sh", "-c", script]))
    watchdog = threading.Timer(HUNG, process.kill)
    watchdog.start()
    try:
        # Nobody reads stdout until smlint says it drops output.
        notices = []
        while not any("dropping output" in line for line in notices):
            notices.append(process.stderr.readline())
            assert notices[-1], f"smlint ended without dropping: {notices}"
        shown = process.stdout.read()
        process.wait()
    finally:
        watchdog.cancel()
        process.kill()
        process.communicate()
    assert process.returncode == 0
    counts = json.loads(report_path.read_text())["result"]["live_output"]["stdout"]
    assert counts["dropped_bytes"] > 0 and counts["relayed_bytes"] == len(shown)
    assert counts["relayed_bytes"] + counts["dropped_bytes"] == LINES * len(LINE)  # every byte accounted for
    assert shown.count("\n") + counts["dropped_lines"] == LINES
    assert set(shown) == {"x", "\n"}  # whole chunks dropped (attach chunks are writes, not lines)


class _Created:
    """A container not started yet whose attach stream yields `chunks`."""

    status = "created"

    def __init__(self, chunks):
        self.chunks = chunks

    def attach(self, stdout, stderr, stream, logs):
        return iter(self.chunks if stdout else [])


class _StuckSink(io.StringIO):
    """A terminal that accepts one write and then hangs until released."""

    def __init__(self):
        super().__init__()
        self.release = threading.Event()

    def write(self, text):
        if self.tell():
            self.release.wait(HUNG)
        return super().write(text)


def test_text_report_says_how_much_output_was_dropped(monkeypatch):
    monkeypatch.setattr("smlint.run.relay.RELAY_BUFFER_BYTES", 100)
    sink = _StuckSink()
    chunks = [b"line %02d\n" % i * 5 for i in range(40)]  # 40 x 40 bytes, 5 lines each
    pump = LogPump(_Created(chunks), {"stdout": sink, "stderr": sink})
    for thread in pump.threads:
        thread.join(HUNG)
    tail = pump.finish(timeout=0.2)
    sink.release.set()
    counts = pump.counts["stdout"]
    assert counts.relayed_bytes == 40 and counts.dropped_bytes == 39 * 40 and counts.dropped_lines == 39 * 5
    assert tail[-1] == "line 39"  # the tail sees everything, shown or not
    report = Report(command="run", targets=["img"], result={})
    report_relay(report, pump)
    assert report.summary_lines == ["  live output: 1560 bytes (195 lines) not shown, of 1600: "
                                    "the job printed faster than they could be relayed"]


def test_relay_to_a_text_sink_keeps_a_character_split_between_writes():
    sink = io.StringIO()
    pump = LogPump(_Created([b"caf\xc3", b"\xa9\n"]), {"stdout": sink, "stderr": sink})
    for thread in pump.threads:
        thread.join(HUNG)
    pump._writer.join(HUNG)  # with the output ended the relay ends by itself, finish() or not
    assert not pump._writer.is_alive() and sink.getvalue() == "caf\u00e9\n"
    assert pump.finish(timeout=HUNG) == ["caf\u00e9"]


# --------------------------------------------------------------- malformed requests

BAD_REQUESTS = [
    ({"Environment": ["A=1"]}, "Environment is an array"),
    ({"ProcessingInputs": [5]}, "ProcessingInputs[0] is an integer"),
    ({"StoppingCondition": {"MaxRuntimeInSeconds": 10 ** 30}}, "MaxRuntimeInSeconds is 1" + "0" * 30),
    ({"StoppingCondition": {"MaxRuntimeInSeconds": True}}, "MaxRuntimeInSeconds is a boolean"),
    ({"AppSpecification": {"ContainerArguments": "echo hi"}}, "ContainerArguments is a string"),
]


@pytest.mark.parametrize("command", ["run", "probe"])
@pytest.mark.parametrize("patch, message", BAD_REQUESTS)
def test_malformed_request_is_sm001_naming_the_field_and_nothing_runs(tmp_path, command, patch, message):
    with open(os.path.join(FIXTURES, "run", "processing-job.json")) as handle:
        request = json.load(handle)
    for key, value in patch.items():
        request[key] = {**request[key], **value} if isinstance(value, dict) else value
    path = tmp_path / "job.json"
    path.write_text(json.dumps(request))
    image = ["--image", "smlint-no-such-image:1"] if command == "run" else ["smlint-no-such-image:1"]
    process = _cli(command, *image, "--job", str(path), "-f", "json")
    stdout, stderr = process.communicate(timeout=HUNG)
    assert process.returncode == 2 and "Traceback" not in stderr and "container" not in stderr
    [finding] = json.loads(stdout)["findings"]
    assert finding["rule"] == "SM001" and message in finding["message"] and finding["path"] == str(path)


def test_build_plan_refuses_a_request_of_the_wrong_shape_from_any_caller():
    with pytest.raises(PlanError, match=r"^the request: Environment is an array .*; not run$"):
        build_plan("img", {"Environment": ["A=1"]}, ["ep"], None)
    with pytest.raises(PlanError, match=r"^--max-runtime: .* at most 777600; not run$"):
        build_plan("img", None, ["ep"], None, max_runtime=10 ** 30)
    # Missing fields and fields run never reads are smlint job's business, not run's.
    plan = build_plan("img", {"RoleArn": "not-an-arn", "StoppingCondition": {"MaxRuntimeInSeconds": 5}}, ["ep"], None)
    assert plan.max_runtime == 5
