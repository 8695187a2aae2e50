"""smlint run with several instances, against real busybox containers (N = 3)."""
import io
import ipaddress
import json
import os
import subprocess
import sys

import pytest
from conftest import ROOT
from dockerutil import docker_cli

from smlint.config import Policy
from smlint.run.runner import RunOptions, run
from smlint.run.sandbox import LABEL

pytestmark = pytest.mark.docker

OUT = "/opt/ml/processing/output/result"
SHARDS = "/opt/ml/processing/input/shards"
ALL = "/opt/ml/processing/input/all"
# Wait until every peer resolves (the guide's retry), at most about 90 s. A
# host that exits drops out of its peers' DNS, so jobs below stay up a few
# seconds after resolving, for peers that started later.
RESOLVE_PEERS = ("for peer in algo-1 algo-2 algo-3; do n=0; until nslookup -timeout=1 -retry=1 $peer >/dev/null 2>&1;"
                 " do n=$((n+1)); [ $n -gt 60 ] && exit 9; sleep 0.5; done; done")


@pytest.fixture(scope="module")
def image(busybox_image):
    return busybox_image


def _request(entrypoint, count=3, sharded=True):
    def s3_input(name, local, distribution):
        return {"InputName": name, "S3Input": {"S3Uri": f"s3://b/{name}", "LocalPath": local, "S3DataType": "S3Prefix",
                                               "S3InputMode": "File", "S3DataDistributionType": distribution}}
    return {
        "ProcessingJobName": "multi-host", "RoleArn": "arn:aws:iam::123456789012:role/r",
        "AppSpecification": {"ImageUri": "x", "ContainerEntrypoint": ["/bin/sh", "-c", entrypoint]},
        "ProcessingInputs": [s3_input("shards", SHARDS, "ShardedByS3Key" if sharded else "FullyReplicated"),
                             s3_input("all", ALL, "FullyReplicated")],
        "ProcessingOutputConfig": {"Outputs": [{"OutputName": "result", "S3Output": {
            "S3Uri": "s3://b/out", "LocalPath": OUT, "S3UploadMode": "EndOfJob"}}]},
        "ProcessingResources": {"ClusterConfig": {"InstanceCount": count, "InstanceType": "ml.m5.xlarge",
                                                  "VolumeSizeInGB": 1}},
    }


def _data(tmp_path, files=10):
    shards, everything = tmp_path / "shards", tmp_path / "all"
    for index in range(files):
        path = shards / f"part-{index // 4}" / f"f{index:02d}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{index}\n")
    everything.mkdir()
    (everything / "lookup.csv").write_text("k,v\n")
    return {"shards": str(shards), "all": str(everything)}


def _run(client, image, tmp_path, script, policy=None, **options):
    options.setdefault("outputs", {"result": str(tmp_path / "result")})
    options.setdefault("inputs", _data(tmp_path))
    request = _request("true", sharded=options.pop("sharded", True))
    options["entrypoint"] = ["/bin/sh", "-c", script]  # as --entrypoint: longer than a request element may be
    stream = io.StringIO()
    report = run(image, request, RunOptions(**options), policy or Policy(grace_period=2), stream=stream, client=client)
    return report, stream.getvalue()


def _left_behind(run_id):
    selector = f"label={LABEL}={run_id}"
    return [docker_cli(kind, "ls", *(["-a"] if kind == "container" else []), "-q", "--filter", selector).stdout.strip()
            for kind in ("container", "network", "volume")]


def test_three_hosts_shard_replicate_resolve_and_stay_isolated(client, image, tmp_path):
    script = (f"find {SHARDS} -type f | sort > {OUT}/$(hostname).shard; ls {ALL} > {OUT}/$(hostname).all; "
              f"{RESOLVE_PEERS}; echo resolved > {OUT}/$(hostname).dns; "
              f"nslookup no-such-peer >/dev/null 2>&1 || echo failed > {OUT}/$(hostname).unknown; "
              f"ip route > {OUT}/$(hostname).route; grep nameserver /etc/resolv.conf > {OUT}/$(hostname).resolv; "
              f"cat /proc/net/udp /proc/net/tcp > {OUT}/$(hostname).sockets; "
              f"cp /opt/ml/config/resourceconfig.json {OUT}/$(hostname).json; "
              f"touch {SHARDS}/new 2>/dev/null && echo writable > {OUT}/$(hostname).ro; sleep 6")
    report, streamed = _run(client, image, tmp_path, script)
    assert report.result.get("status") == "Completed", (report.summary_lines, report.findings)
    out = tmp_path / "result"
    seen = {host: (out / f"{host}.shard").read_text().split() for host in ("algo-1", "algo-2", "algo-3")}
    every = sorted(f"{SHARDS}/part-{i // 4}/f{i:02d}.csv" for i in range(10))
    assert sorted(sum(seen.values(), [])) == every  # the union: every file
    assert sum(len(files) for files in seen.values()) == len(every)  # disjoint: each file once
    assert sorted(len(files) for files in seen.values()) == [3, 3, 4]
    assert report.result["inputs"][0]["files_per_host"] == [4, 3, 3]
    for host in ("algo-1", "algo-2", "algo-3"):
        assert (out / f"{host}.all").read_text() == "lookup.csv\n"  # replicated
        assert (out / f"{host}.dns").read_text() == "resolved\n"
        assert (out / f"{host}.unknown").read_text() == "failed\n"
        assert not (out / f"{host}.ro").exists()
        assert json.loads((out / f"{host}.json").read_text()) == {"current_host": host,
                                                                  "hosts": ["algo-1", "algo-2", "algo-3"]}
        _assert_isolated(out, host)
    assert _left_behind(report.result["run_id"]) == ["", "", ""]


def _assert_isolated(out, host):
    """Routes and sockets, read, never tested by sending: no route leaves the
    job network, and the only resolver is Docker's, whose upstream is the
    container's own loopback."""
    routes = (out / f"{host}.route").read_text().splitlines()
    gateways = [line.split()[2] for line in routes if line.startswith("default via")]
    host_addresses = subprocess.run(["ip", "-4", "-o", "addr"], capture_output=True, text=True).stdout
    for gateway in gateways:  # a default route may exist, but nothing on this machine holds its address
        assert f" {gateway}/" not in host_addresses
    assert (out / f"{host}.resolv").read_text().split() == ["nameserver", "127.0.0.11"]
    subnet = ipaddress.ip_network(next(line.split()[0] for line in routes if "/" in line.split()[0]))
    for line in (out / f"{host}.sockets").read_text().splitlines():
        fields = line.split()
        if len(fields) < 3 or not fields[0].endswith(":") or fields[2] == "00000000:0000":
            continue  # a header, or a socket with no peer
        remote = ipaddress.ip_address(bytes.fromhex(fields[2].split(":")[0])[::-1])
        assert remote.is_loopback or remote in subnet, line


def test_collision_is_sm409_and_identical_copies_are_not(client, image, tmp_path):
    script = (f"hostname > {OUT}/same-name.txt; echo same > {OUT}/identical.txt; mkdir -p {OUT}/dir; "
              f"hostname > {OUT}/dir/$(hostname).txt")
    report, _ = _run(client, image, tmp_path, script)
    assert report.result["status"] == "Completed"
    [finding] = [f for f in report.findings if f.rule_id == "SM409"]
    assert finding.data["count"] == 1
    assert finding.data["paths"] == [{"path": "same-name.txt", "kept": "algo-1", "others": ["algo-2", "algo-3"]}]
    out = tmp_path / "result"
    assert (out / "same-name.txt").read_text() == "algo-1\n"  # the lowest-numbered host's copy
    assert sorted(os.listdir(out / "dir")) == ["algo-1.txt", "algo-2.txt", "algo-3.txt"]


def test_one_failing_host_fails_the_job_and_stops_the_others(client, image, tmp_path):
    script = ("printf \"msg-$(hostname);\" > /opt/ml/output/message; "
              "if [ $(hostname) = algo-2 ]; then echo broken >&2; exit 3; fi; sleep 300")
    report, streamed = _run(client, image, tmp_path, script)
    result = report.result
    assert result["status"] == "Failed" and result["exit_code"] == 3
    assert result["exit_message"] == "msg-algo-1;msg-algo-2;msg-algo-3;"  # in host order
    hosts = {h["host"]: h for h in result["hosts"]}
    assert hosts["algo-2"]["exit_code"] == 3 and not hosts["algo-2"]["stopped_by_smlint"]
    assert hosts["algo-1"]["stopped_by_smlint"] and hosts["algo-3"]["stopped_by_smlint"]
    [finding] = [f for f in report.findings if f.rule_id == "SM407"]
    assert finding.data["host"] == "algo-2" and "broken" in finding.message
    assert "algo-2 | broken" in streamed
    assert _left_behind(result["run_id"]) == ["", "", ""]


def test_late_hosts_a_job_that_retries_completes(client, image, tmp_path):
    report, _ = _run(client, image, tmp_path, f"{RESOLVE_PEERS}; sleep 6", late_hosts=3)
    assert report.result.get("status") == "Completed", (report.summary_lines, report.findings)
    assert [f.rule_id for f in report.findings if f.rule_id == "SM410"] == []


def test_late_hosts_a_job_that_does_not_retry_is_sm410(client, image, tmp_path):
    script = "nslookup -timeout=1 -retry=1 algo-1 >/dev/null 2>&1 || { echo 'cannot resolve algo-1' >&2; exit 4; }"
    report, _ = _run(client, image, tmp_path, script, late_hosts=20)
    assert report.result["status"] == "Failed"
    found = [f for f in report.findings if f.rule_id == "SM410"]
    assert found and "retry" in found[0].message and found[0].data["exit_code"] == 4


def test_network_other_than_none_is_refused_with_several_hosts(client, image, tmp_path):
    from smlint.run.sandbox import Limits

    report, _ = _run(client, image, tmp_path, "true", limits=Limits(network="bridge"))
    [finding] = report.findings
    assert finding.rule_id == "SM001" and "isolated network" in finding.message


def _read_until(process, text):
    for line in process.stderr:
        if text in line:
            return
    raise AssertionError(f"smlint ended before printing {text!r}")


def test_ctrl_c_stops_three_hosts_reports_stopped_and_leaves_nothing(client, image, tmp_path):
    job = tmp_path / "job.json"
    job.write_text(json.dumps(_request("echo started; sleep 300")))
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {**os.environ, "TMPDIR": str(temp)}
    process = subprocess.Popen([sys.executable, "-m", "smlint", "run", "--image", image, "--job", str(job),
                                "--grace", "2", "-f", "json"], cwd=ROOT, env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        run_id = process.stderr.readline().split()[2].rstrip(":")
        _read_until(process, "Ctrl-C stops the job")  # every host runs: the job is under supervision
        network = json.loads(docker_cli("network", "inspect", f"smlint-{run_id}-net").stdout)[0]
        assert network["Internal"] and network["Options"]["com.docker.network.bridge.inhibit_ipv4"] == "true"
        for host in ("algo-1", "algo-2", "algo-3"):
            config = json.loads(docker_cli("inspect", f"smlint-{run_id}-{host}").stdout)[0]["HostConfig"]
            assert config["Dns"] == ["127.0.0.1"]  # unknown names go to the container's own loopback
        process.send_signal(2)
        stdout, _ = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 130
    assert json.loads(stdout)["result"]["status"] == "Stopped"
    assert _left_behind(run_id) == ["", "", ""]
    assert os.listdir(temp) == []


def test_a_second_ctrl_c_aborts_at_once_and_still_cleans_up(client, image, tmp_path):
    job = tmp_path / "job.json"
    job.write_text(json.dumps(_request("echo started; sleep 300")))  # sh ignores SIGINT: the grace would run out
    process = subprocess.Popen([sys.executable, "-m", "smlint", "run", "--image", image, "--job", str(job),
                                "--grace", "300", "-f", "json"], cwd=ROOT, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        run_id = process.stderr.readline().split()[2].rstrip(":")
        _read_until(process, "Ctrl-C stops the job")
        process.send_signal(2)
        _read_until(process, "interrupted (Ctrl-C)")
        process.send_signal(2)
        stdout, stderr = process.communicate(timeout=120)  # far below the 300 s grace: aborted
    finally:
        process.kill()
    assert process.returncode == 130 and stdout == ""  # no report after an abort
    assert _left_behind(run_id) == ["", "", ""]


def test_memory_warning_for_n_times_memory(capsys):
    from smlint.run.plan import build_plan
    from smlint.run.runner import _warn_memory
    from smlint.run.sandbox import Limits

    plan = build_plan("img", None, ["ep"], None, instance_count=100)
    _warn_memory(plan, RunOptions(limits=Limits(memory="1000g")))
    assert "100 hosts x --memory 1000g" in capsys.readouterr().err
    _warn_memory(build_plan("img", None, ["ep"], None), RunOptions(limits=Limits(memory="1m")))
    assert capsys.readouterr().err == ""
