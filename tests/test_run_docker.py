"""smlint run against real containers built from busybox."""
import io
import json
import os
import signal
import subprocess
import sys

import pytest
from conftest import FIXTURES, ROOT
from dockerutil import BUSYBOX_BASE, build_image, docker_cli, engine_or_skip, remove_image

from smlint.config import Policy
from smlint.run.runner import RunOptions, run
from smlint.run.sandbox import LABEL

pytestmark = pytest.mark.docker

ARGV_SCRIPT = """#!/bin/sh
for arg in "$0" "$@"; do echo "$arg"; done > /opt/ml/processing/output/result/argv.txt
"""
OUT = "/opt/ml/processing/output/result"


@pytest.fixture(scope="module")
def client():
    return engine_or_skip()


@pytest.fixture(scope="module")
def image(client):
    """ENTRYPOINT + CMD that write their own argv into the `result` output."""
    dockerfile = BUSYBOX_BASE + (
        "COPY argv.sh /argv.sh\n"
        "VOLUME /scratch\n"
        'ENTRYPOINT ["/argv.sh", "from-entrypoint"]\n'
        'CMD ["from-cmd"]\n'
    )
    tag = build_image(client, dockerfile, {"argv.sh": (ARGV_SCRIPT, 0o755)})
    yield tag
    remove_image(client, tag)


@pytest.fixture(scope="module")
def cmd_only_image(client):
    tag = build_image(client, BUSYBOX_BASE + 'COPY argv.sh /argv.sh\nCMD ["/argv.sh", "from-cmd"]\n',
                      {"argv.sh": (ARGV_SCRIPT, 0o755)})
    yield tag
    remove_image(client, tag)


def _run(client, image, tmp_path, script=None, policy=None, **options):
    """Run with a `result` output copied to tmp_path/result; `script` becomes
    the entrypoint `sh -c SCRIPT`."""
    options.setdefault("outputs", {"result": str(tmp_path / "result")})
    if script is not None:
        options["entrypoint"] = ["/bin/sh", "-c", script]
    stream = io.StringIO()
    report = run(image, None, RunOptions(**options), policy or Policy(grace_period=2), stream=stream, client=client)
    return report, stream.getvalue()


def _rules(report):
    return sorted(f.rule_id for f in report.findings)


def test_exit_zero_is_completed_and_outputs_are_copied(client, image, tmp_path):
    report, streamed = _run(client, image, tmp_path, f"echo hello; echo data > {OUT}/a.csv; mkdir {OUT}/sub; "
                                                     f"echo 12345 > {OUT}/sub/b.csv")
    assert report.result["status"] == "Completed" and report.result["exit_code"] == 0
    assert _rules(report) == []
    assert "hello" in streamed
    [output] = report.result["outputs"]
    assert (output["files"], output["bytes"]) == (2, 11)
    assert (tmp_path / "result" / "sub" / "b.csv").read_text() == "12345\n"


def test_exit_three_is_failed_with_the_last_lines(client, image, tmp_path):
    report, _ = _run(client, image, tmp_path, f"echo partial > {OUT}/a; echo 'no input files' >&2; exit 3")
    assert report.result["status"] == "Failed" and report.result["exit_code"] == 3
    [finding] = report.findings
    assert finding.rule_id == "SM407" and "no input files" in finding.message
    # A failed job's outputs are not uploaded, so they are not copied either.
    assert report.result["outputs"][0]["copied_to"] is None and not (tmp_path / "result").exists()


def test_non_utf8_message_fails_the_job(client, image, tmp_path):
    report, _ = _run(client, image, tmp_path, r"printf 'caf\351' > /opt/ml/output/message")
    assert report.result["status"] == "Failed" and report.result["exit_code"] == 0
    assert report.result["exit_message_valid_utf8"] is False
    [finding] = report.findings
    assert finding.rule_id == "SM404" and str(finding.severity) == "error"


def test_long_message_is_cut_at_1024_bytes(client, image, tmp_path):
    report, _ = _run(client, image, tmp_path, "i=0; while [ $i -lt 150 ]; do printf 'line%04d\\n' $i; i=$((i+1)); done"
                                              " > /opt/ml/output/message")
    assert report.result["status"] == "Completed"
    assert report.result["exit_message_bytes"] == 150 * 9
    assert len(report.result["exit_message"].encode()) == 1024
    assert report.result["exit_message"].startswith("line0000\nline0001")
    [finding] = report.findings
    assert finding.rule_id == "SM404" and str(finding.severity) == "info"


def test_symlink_in_output_is_reported_and_not_copied(client, image, tmp_path):
    report, _ = _run(client, image, tmp_path, f"echo 1 > {OUT}/real; ln -s real {OUT}/link")
    assert _rules(report) == ["SM405"] and report.findings[0].pointer == f"{OUT}/link"
    assert (tmp_path / "result" / "real").exists() and not os.path.lexists(tmp_path / "result" / "link")


def test_write_outside_declared_outputs(client, image, tmp_path):
    report, _ = _run(client, image, tmp_path, "mkdir -p /opt/ml/processing/results && echo 1 > /opt/ml/processing/results/m")
    assert _rules(report) == ["SM406"] and report.findings[0].pointer == "/opt/ml/processing/results"


@pytest.mark.parametrize("entrypoint, arguments, argv", [
    (None, None, ["/argv.sh", "from-entrypoint", "from-cmd"]),
    (["/argv.sh", "given-entrypoint"], None, ["/argv.sh", "given-entrypoint"]),
    (None, ["given-argument"], ["/argv.sh", "from-entrypoint", "given-argument"]),
    (["/argv.sh", "given-entrypoint"], ["given-argument"], ["/argv.sh", "given-entrypoint", "given-argument"]),
])
def test_four_entrypoint_cases_as_the_container_sees_them(client, image, tmp_path, entrypoint, arguments, argv):
    report, _ = _run(client, image, tmp_path, entrypoint=entrypoint, arguments=arguments)
    assert report.result["status"] == "Completed", report.summary_lines
    assert (tmp_path / "result" / "argv.txt").read_text().splitlines() == argv


def test_arguments_without_entrypoint_replace_a_cmd_only_image(client, cmd_only_image, tmp_path):
    report, _ = _run(client, cmd_only_image, tmp_path, arguments=["/argv.sh", "first-argument-runs"])
    assert (tmp_path / "result" / "argv.txt").read_text().splitlines() == ["/argv.sh", "first-argument-runs"]


def test_request_config_files_inputs_and_environment(client, image, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "rows.csv").write_text("1,2\n")
    with open(os.path.join(FIXTURES, "run", "processing-job.json")) as handle:
        request = json.load(handle)
    script = (f"cp /opt/ml/config/*.json {OUT}/; cat /opt/ml/processing/input/data/rows.csv > {OUT}/seen.csv; "
              f"echo \"$MODE $EXTRA $(hostname)\" > {OUT}/env.txt; "
              f"touch /opt/ml/processing/input/data/new 2>/dev/null && echo writable > {OUT}/ro.txt; true")
    report = run(image, request, RunOptions(inputs={"data": str(data)}, outputs={"result": str(tmp_path / "out")},
                                            env={"EXTRA": "x"}, entrypoint=["/bin/sh", "-c", script]),
                 Policy(), stream=io.StringIO(), client=client)
    assert report.result["status"] == "Completed", report.summary_lines
    out = tmp_path / "out"
    config = json.loads((out / "processingjobconfig.json").read_text())
    assert config["AppSpecification"]["ContainerArguments"] == ["--rows", "10"]
    assert config["ProcessingInputs"][0]["S3Input"]["S3DownloadMode"] == "StartOfJob"
    assert config["ProcessingOutputConfig"]["KmsKeyId"] is None
    assert json.loads((out / "resourceconfig.json").read_text()) == {"current_host": "algo-1", "hosts": ["algo-1"]}
    assert (out / "seen.csv").read_text() == "1,2\n"
    assert (out / "env.txt").read_text() == "fast x algo-1\n"
    assert not (out / "ro.txt").exists() and not (data / "new").exists()  # inputs are read-only


def test_max_runtime_exceeded_is_stopped(client, image, tmp_path):
    report, _ = _run(client, image, tmp_path, "sleep 60", max_runtime=1, grace=1)
    assert report.result["status"] == "Stopped" and report.result["stopped_after_max_runtime"]
    assert report.result["exit_code"] == 137  # sh ignores SIGINT as PID 1: SIGKILL after the grace
    assert _rules(report) == []  # sleep 60 ending on its own would be Completed, exit 0


def test_sandbox_settings_and_removal(client, image, tmp_path):
    report, _ = _run(client, image, tmp_path, f"cat /proc/self/status | grep NoNewPrivs > {OUT}/nnp; "
                                              f"ls /sys/class/net > {OUT}/net")
    assert (tmp_path / "result" / "nnp").read_text().split() == ["NoNewPrivs:", "1"]
    assert (tmp_path / "result" / "net").read_text().split() == ["lo"]  # --network none
    left = docker_cli("ps", "-a", "-q", "--filter", f"label={LABEL}={report.result['run_id']}").stdout.strip()
    assert left == ""


def test_missing_image_is_sm001(client, tmp_path):
    report = run("smlint-no-such-image:nope", None, RunOptions(), Policy(), stream=io.StringIO(), client=client)
    assert [f.rule_id for f in report.findings] == ["SM001"]
    assert "no such image in the local Docker engine" in report.findings[0].message


def _cli(*args, env=None):
    return subprocess.Popen([sys.executable, "-m", "smlint", *args], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 130)])
def test_interrupted_run_leaves_nothing_behind(client, image, tmp_path, signum, code):
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {**os.environ, "TMPDIR": str(temp)}
    process = _cli("run", "--image", image, "--entrypoint", '["/bin/sh", "-c", "echo started; sleep 300"]', env=env)
    try:
        line = process.stdout.readline()  # the container's first line, streamed live
        assert line == "started\n"
        run_id = process.stderr.readline().split()[2].rstrip(":")
        [container_id] = docker_cli("ps", "-a", "-q", "--filter", f"label={LABEL}={run_id}").stdout.split()
        mounts = json.loads(docker_cli("inspect", "-f", "{{json .Mounts}}", container_id).stdout)
        volumes = [m["Name"] for m in mounts if m["Type"] == "volume"]  # engine volumes: root-owned, removed at the end
        assert len(volumes) == 2  # the image VOLUME, /opt/ml/output
        assert os.listdir(temp)  # the run's temp dir exists while it runs
        process.send_signal(signum)
        assert process.wait(timeout=60) == code
    finally:
        process.kill()
        process.communicate()
    assert docker_cli("ps", "-a", "-q", "--filter", f"label={LABEL}={run_id}").stdout.strip() == ""
    for volume in volumes:
        assert docker_cli("volume", "inspect", volume, check=False).returncode != 0
    assert os.listdir(temp) == []


def test_cli_json_report_keeps_stdout_clean(client, image, tmp_path):
    process = _cli("run", "--image", image, "-f", "json", "--output", f"result={tmp_path / 'r'}",
                   "--entrypoint", "sh -c 'echo to-the-log; exit 3'")
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 1
    document = json.loads(stdout)
    assert document["result"]["status"] == "Failed" and document["findings"][0]["rule"] == "SM407"
    assert "to-the-log" in stderr


def test_cli_failed_job_exits_one_even_with_fail_on_never(client, image):
    process = _cli("run", "--image", image, "--fail-on", "never", "--entrypoint", "sh -c 'exit 3'")
    stdout, _ = process.communicate(timeout=60)
    assert process.returncode == 1 and "status:       Failed (exit code 3)" in stdout


def test_cli_bad_input_is_exit_two(tmp_path):
    process = _cli("run", "--image", "whatever", "--job", str(tmp_path / "missing.json"))
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 2 and "Traceback" not in stderr
