"""smlint probe against real containers: the PID-1 table of contract section 2."""
import json
import subprocess
import sys

import pytest
from conftest import ROOT
from dockerutil import BUSYBOX_BASE, build_image, docker_cli, engine_or_skip, remove_image

from smlint.config import Policy
from smlint.run.probe import MAX_SETTLE, START_ALLOWANCE, ProbeOptions, probe, probe_runtime
from smlint.run.sandbox import LABEL, Session, nvidia_runtime

pytestmark = pytest.mark.docker

GRACE = 2.0
TRAP = '["/bin/sh", "-c", "trap \'exit 0\' INT TERM; sleep 300 & wait"]'


@pytest.fixture(scope="module")
def client():
    return engine_or_skip()


@pytest.fixture
def image_of(client):
    built = []

    def build(entrypoint: str) -> str:
        tag = build_image(client, BUSYBOX_BASE + f"ENTRYPOINT {entrypoint}\n")
        built.append(tag)
        return tag

    yield build
    for tag in built:
        remove_image(client, tag)


def _probe(client, image, **options):
    report = probe(image, None, ProbeOptions(grace=GRACE, **options), Policy(), client=client)
    return report, [(f.rule_id, str(f.severity)) for f in report.findings]


@pytest.mark.parametrize("entrypoint, init, expected", [
    # exec-form busybox sleep: no handler, PID 1 drops SIGINT and SIGTERM
    ('["sleep", "300"]', False, [("SM401", "error"), ("SM401", "warning")]),
    # shell form with a command after the program: the shell stays PID 1
    ("sleep 300; echo done", False, [("SM402", "error")]),
    # a busybox trap handler that waits for its child: stops at once
    (TRAP, False, []),
    # a shell that ignores the signals on purpose: SM401 with the trap as the cause, not SM402's "use exec form"
    ('["/bin/sh", "-c", "trap \'\' INT TERM; sleep 300 & wait"]', False, [("SM401", "error"), ("SM401", "warning")]),
    # docker run --init (tini) forwards the signal to sleep, which dies of it
    ('["sleep", "300"]', True, []),
])
def test_pid1_table(client, image_of, entrypoint, init, expected):
    report, findings = _probe(client, image_of(entrypoint), init=init)
    assert findings == expected, report.summary_lines
    result = report.result
    assert result["verdict"] == ("passed" if not expected else "failed")
    assert result["source"] == "host /proc"
    assert result["verdict_seconds"] > 0  # how soon: bench/probe_bench.py, not a timed assertion
    signals = result["signals"]
    assert signals["SIGINT"]["exited"] == (not expected)
    if not expected:
        assert signals["SIGINT"]["seconds_to_exit"] < GRACE


def test_pid1_reading_shows_what_was_read(client, image_of):
    report, _ = _probe(client, image_of("sleep 300; echo done"))
    result = report.result
    assert result["pid1"] == ["/bin/sh", "-c", "sleep 300; echo done"]
    assert result["pid1_children"] == ["sleep 300"] and result["pid1_is_shell"]
    assert int(result["masks"]["SIGINT"]["SigCgt"], 16) & 0b10  # ash catches SIGINT, yet does not exit
    assert any("PID 1:" in line for line in report.summary_lines)


def test_handler_slower_than_grace_is_stop_timeout(client, image_of):
    # tini forwards SIGINT to the shell, whose trap takes 30 s: handled, but too slow
    slow = '["/bin/sh", "-c", "trap \'sleep 30; exit 0\' INT TERM; sleep 300 & wait"]'
    report, findings = _probe(client, image_of(slow), init=True)
    assert findings == [("SM403", "error"), ("SM403", "warning")], report.summary_lines


def test_container_that_exits_first_is_inconclusive(client, image_of):
    report, findings = _probe(client, image_of('["/bin/sh", "-c", "echo cannot start >&2; exit 4"]'))
    assert findings == []
    assert report.result["verdict"] == "inconclusive"
    assert "exit code 4" in report.result["inconclusive"] and "cannot start" in report.result["inconclusive"]


def test_cli_inconclusive_never_passes(client, image_of):
    image = image_of('["true"]')
    process = subprocess.run([sys.executable, "-m", "smlint", "probe", image, "-f", "json"], cwd=ROOT,
                             capture_output=True, text=True, timeout=120)
    assert process.returncode == 1
    assert json.loads(process.stdout)["result"]["verdict"] == "inconclusive"


def test_gpu_probe_without_nvidia_runtime_is_skipped(client, image_of):
    reason = nvidia_runtime(client)
    if reason is None:
        pytest.skip("this engine has the NVIDIA runtime: the skipped verdict cannot be observed here")
    report, findings = _probe(client, image_of(TRAP), gpus=True)
    assert report.result["gpu"]["status"] == "skipped" and "NVIDIA runtime" in report.result["gpu"]["reason"]
    assert findings == []
    assert any("GPU:     skipped" in line for line in report.summary_lines)


def test_probe_cleans_up(client, image_of, tmp_path, monkeypatch):
    # an output: the probe mounts it as run does, on a root-owned volume of the run
    from smlint.run import hosts

    created, real = [], hosts.create_volume
    monkeypatch.setattr(hosts, "create_volume", lambda c, s, name: (created.append(name), real(c, s, name))[1])
    report, _ = _probe(client, image_of(TRAP), outputs={"out": str(tmp_path / "out")})
    assert len(created) == 2  # /opt/ml/output and the output
    assert report.result["verdict"] == "passed"
    run_id = report.result["run_id"]
    assert docker_cli("ps", "-a", "-q", "--filter", f"label={LABEL}={run_id}").stdout.strip() == ""
    assert docker_cli("volume", "ls", "-q", "--filter", f"label={LABEL}={run_id}").stdout.strip() == ""
    assert not (tmp_path / "out").exists()  # nothing is copied back


def test_probe_gives_the_watchdog_a_deadline(client, image_of, monkeypatch):
    """If smlint hangs mid-probe, the watchdog still kills the containers: the
    probe hands it a deadline (start + settle + grace, plus the GPU checks with --gpus)."""
    deadlines = []
    real = Session.watch_deadline
    monkeypatch.setattr(Session, "watch_deadline",
                        lambda self, runtime, grace: (deadlines.append((runtime, grace)), real(self, runtime, grace)))
    report, _ = _probe(client, image_of(TRAP))
    assert report.result["verdict"] == "passed"
    assert deadlines == [(START_ALLOWANCE + MAX_SETTLE, GRACE)]
    assert probe_runtime(ProbeOptions(gpus=True)) > probe_runtime(ProbeOptions()) == START_ALLOWANCE + MAX_SETTLE
