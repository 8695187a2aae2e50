"""smlint run/probe without Docker: the plan, the config files, /proc parsing, the checks."""
import json
import os

import pytest
from conftest import FIXTURES

from smlint.findings import Severity
from smlint.run import checks, probe_checks, procfs
from smlint.run.plan import PlanError, build_plan, parse_pairs, processing_job_config, resource_config, shard
from smlint.run.request import load_request

JOB = os.path.join(FIXTURES, "run", "processing-job.json")


def test_config_file_has_nulls_and_download_mode():
    config = processing_job_config(load_request(JOB))
    app = config["AppSpecification"]
    assert app["ContainerEntrypoint"] is None and app["ContainerArguments"] is not None
    assert config["ProcessingOutputConfig"]["KmsKeyId"] is None
    assert config["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"] is None
    assert [i["S3Input"]["S3DownloadMode"] for i in config["ProcessingInputs"]] == ["StartOfJob"]
    json.dumps(config)  # serialisable as written


def test_config_file_does_not_change_the_request():
    request = load_request(JOB)
    processing_job_config(request)
    assert "S3DownloadMode" not in request["ProcessingInputs"][0]["S3Input"]


def test_resource_config_names_algo_hosts():
    assert resource_config() == {"current_host": "algo-1", "hosts": ["algo-1"]}
    assert resource_config(3)["hosts"] == ["algo-1", "algo-2", "algo-3"]


def test_plan_from_request_maps_inputs_outputs_and_environment():
    plan = build_plan("img", load_request(JOB), ["/entry"], ["cmd"], inputs={"data": "/tmp"},
                      env={"EXTRA": "1", "MODE": "override"})
    assert [(i.name, i.local_path, i.host_dir) for i in plan.inputs] == [("data", "/opt/ml/processing/input/data", "/tmp")]
    assert [(o.name, o.local_path) for o in plan.outputs] == [("result", "/opt/ml/processing/output/result")]
    assert plan.environment == {"MODE": "override", "EXTRA": "1"}
    assert plan.argv == ["/entry", "--rows", "10"]  # arguments replace CMD
    assert plan.max_runtime == 120
    assert plan.notes == []


def test_plan_without_request_invents_local_paths():
    plan = build_plan("img", None, None, ["run"], inputs={"a": "/x"}, outputs={"b": "/y"})
    assert plan.inputs[0].local_path == "/opt/ml/processing/input/a"
    assert plan.outputs[0].local_path == "/opt/ml/processing/output/b"
    assert plan.outputs[0].destination == "/y"
    assert plan.max_runtime == 86400
    assert plan.request["AppSpecification"]["ImageUri"] == "img"


@pytest.mark.parametrize("entrypoint, arguments, argv", [
    (None, None, ["ep", "cmd"]),
    (["new"], None, ["new"]),
    (None, ["arg"], ["ep", "arg"]),
    (["new"], ["arg"], ["new", "arg"]),
])
def test_plan_uses_the_four_case_table(entrypoint, arguments, argv):
    plan = build_plan("img", None, ["ep"], ["cmd"], entrypoint=entrypoint, arguments=arguments)
    assert plan.argv == argv
    config = processing_job_config(plan.request)["AppSpecification"]
    assert config["ContainerEntrypoint"] == entrypoint and config["ContainerArguments"] == arguments


def test_instance_count_comes_from_the_request_unless_given():
    request = load_request(JOB)
    request["ProcessingResources"]["ClusterConfig"]["InstanceCount"] = 2
    plan = build_plan("img", request, ["ep"], None)
    assert plan.instance_count == 2 and plan.hosts == ["algo-1", "algo-2"]
    plan = build_plan("img", request, ["ep"], None, instance_count=3)
    assert processing_job_config(plan.request)["ProcessingResources"]["ClusterConfig"]["InstanceCount"] == 3
    assert resource_config(3, "algo-2") == {"current_host": "algo-2", "hosts": ["algo-1", "algo-2", "algo-3"]}


@pytest.mark.parametrize("count", [0, 101, True, "2"])
def test_instance_count_outside_the_api_range_is_refused(count):
    with pytest.raises(PlanError, match="from 1 to 100"):
        build_plan("img", None, ["ep"], None, instance_count=count)


@pytest.mark.parametrize("keys, count", [([], 3), (["a"], 3), ([f"k{i:03d}" for i in range(10)], 3),
                                         ([f"f/{i}" for i in range(100)], 7), (["b", "a", "c"], 1)])
def test_shard_gives_each_key_to_exactly_one_host_evenly_in_key_order(keys, count):
    shards = shard(keys, count)
    assert len(shards) == count
    assert [key for part in shards for key in part] == sorted(keys)  # contiguous, in key order
    sizes = [len(part) for part in shards]
    assert max(sizes) - min(sizes) <= 1


def test_config_carries_a_processing_job_arn_and_pipe_inputs_are_noted():
    request = load_request(JOB)
    request["ProcessingInputs"][0]["S3Input"]["S3InputMode"] = "Pipe"
    plan = build_plan("img", request, ["ep"], None)
    assert "Pipe mode, which is not emulated" in plan.notes[0]
    arn = processing_job_config(plan.request)["ProcessingJobArn"]
    assert arn.startswith("arn:aws:sagemaker:") and arn.endswith(":processing-job/" + request["ProcessingJobName"].lower())


@pytest.mark.parametrize("kwargs, reason", [
    ({"inputs": {"nope": "/tmp"}}, "no input with that InputName"),
    ({"outputs": {"nope": "/tmp"}}, "no output with that OutputName"),
])
def test_plan_rejects_unknown_names(kwargs, reason):
    with pytest.raises(PlanError, match=reason):
        build_plan("img", load_request(JOB), ["ep"], None, **kwargs)


def test_plan_rejects_nothing_to_run_and_bad_local_path():
    with pytest.raises(PlanError, match="nothing to run"):
        build_plan("img", None, None, None)
    request = load_request(JOB)
    request["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["LocalPath"] = "/data/out"
    with pytest.raises(PlanError, match="SM302"):
        build_plan("img", request, ["ep"], None)


def test_parse_pairs():
    assert parse_pairs(["A=1", "B=x=y"], "--env") == {"A": "1", "B": "x=y"}
    with pytest.raises(PlanError):
        parse_pairs(["novalue"], "--env")


@pytest.mark.parametrize("content, reason", [(b"", "empty"), (b"[1]", "top level"), (b"{", "not valid")])
def test_load_request_refuses_non_requests(tmp_path, content, reason):
    path = tmp_path / "job.json"
    path.write_bytes(content)
    with pytest.raises(PlanError, match=reason):
        load_request(str(path))


# ------------------------------------------------------------------ /proc

STATUS = "Name:\tsh\nSigQ:\t0/1\nSigPnd:\t0000000000000000\nSigBlk:\t0000000000000000\nSigIgn:\t0000000000000004\nSigCgt:\t0000000000010002\n"


def test_masks_and_dispositions():
    masks = procfs.parse_status(STATUS)
    assert masks.disposition(2).caught and masks.disposition(2).handled  # SIGINT
    term = masks.disposition(15)
    assert not term.handled and "ignored in practice" in term.describe()
    assert masks.disposition(3).ignored  # SIGQUIT
    blocked = procfs.parse_status(STATUS.replace("SigBlk:\t0000000000000000", "SigBlk:\t0000000000004002"))
    assert blocked.disposition(15).handled and "sigwait" in blocked.disposition(15).describe()
    with pytest.raises(ValueError):
        procfs.parse_status("Name: x\n")


def test_cmdline_and_program_kinds():
    assert procfs.parse_cmdline(b"/bin/sh\0-c\0sleep 1\0") == ["/bin/sh", "-c", "sleep 1"]
    assert procfs.parse_cmdline(b"") == []
    assert procfs.is_shell(["/bin/bash", "-c", "x"]) and procfs.is_shell(["busybox", "sh", "-c", "x"])
    assert not procfs.is_shell(["python3", "job.py"])
    assert procfs.is_init(["/sbin/docker-init", "--", "sleep"]) and not procfs.is_init(["sleep"])


# ------------------------------------------------------------------ checks

def _ids(registry, subject):
    return [p for rule, check in registry.checks.items() for p in [(rule, x) for x in check(subject)]]


def test_exit_message_checks():
    assert checks.status(checks.RunOutcome(exit_code=0, message=b"ok")) == "Completed"
    bad = checks.RunOutcome(exit_code=0, message=b"caf\xe9")
    assert checks.status(bad) == "Failed"
    [(rule, problem)] = _ids(checks.registry, bad)
    assert rule == "SM404" and problem.severity is None and "byte 3" in problem.message
    long = checks.RunOutcome(exit_code=0, message="é".encode() * 600)  # 1200 bytes
    [(rule, problem)] = _ids(checks.registry, long)
    assert rule == "SM404" and problem.severity == Severity.INFO
    shown = checks.exit_message(long.message)
    assert len(shown.encode()) == 1024 and shown == "é" * 512
    # A cut through a character drops the half character.
    assert checks.exit_message(b"a" + "é".encode() * 600) == "a" + "é" * 511


def test_failed_stopped_and_symlink_checks():
    failed = checks.RunOutcome(exit_code=3, log_tail=["boom"])
    [(rule, problem)] = _ids(checks.registry, failed)
    assert rule == "SM407" and "code 3" in problem.message and "boom" in problem.message
    stopped = checks.RunOutcome(exit_code=137, stopped=True)
    assert checks.status(stopped) == "Stopped" and _ids(checks.registry, stopped) == []
    linked = checks.RunOutcome(exit_code=0, outputs=[checks.OutputResult("r", "/opt/ml/processing/r", "/h", symlinks=["l"])])
    assert [rule for rule, _ in _ids(checks.registry, linked)] == ["SM405"]


def test_undeclared_writes_ignores_mount_parents_and_declared_paths():
    declared = ["/opt/ml/processing/output/result", "/opt/ml/processing/input/data"]
    changes = ["/opt", "/opt/ml", "/opt/ml/processing", "/opt/ml/processing/output",
               "/opt/ml/processing/output/result", "/opt/ml/processing/results",
               "/opt/ml/processing/results/m.json", "/opt/ml/processing/output/x.csv", "/tmp/a"]
    assert checks.undeclared_writes(changes, declared) == ["/opt/ml/processing/results", "/opt/ml/processing/output/x.csv"]


def _probe(argv, handled, exited, children=(), disposition="d"):
    trial = probe_checks.SignalTrial("SIGINT", disposition, handled, exited, 0.1 if exited else None)
    term = probe_checks.SignalTrial("SIGTERM", disposition, handled, exited, 0.1 if exited else None)
    return probe_checks.ProbeOutcome(pid1_argv=argv, pid1_is_shell=procfs.is_shell(argv), children=list(children),
                               trials={"SIGINT": trial, "SIGTERM": term}, grace=2)


def test_probe_checks_one_finding_per_defect():
    ignored = _ids(probe_checks.registry, _probe(["sleep", "300"], False, False))
    assert [(r, p.severity) for r, p in ignored] == [("SM401", None), ("SM401", Severity.WARNING)]
    shell = _ids(probe_checks.registry, _probe(["/bin/sh", "-c", "x; y"], True, False, ["sleep 300"]))
    assert [r for r, _ in shell] == ["SM402"]
    slow = _ids(probe_checks.registry, _probe(["python3", "job.py"], True, False))
    assert sorted(r for r, _ in slow) == ["SM403", "SM403"]
    trapping_shell = _probe(["/bin/sh", "-c", "trap"], True, True, ["sleep 300"])
    assert _ids(probe_checks.registry, trapping_shell) == []
    inconclusive = _probe(["sleep"], False, False)
    inconclusive.inconclusive = "exited"
    assert _ids(probe_checks.registry, inconclusive) == []


def test_gpu_check_fires_only_on_failure():
    probe = _probe(["x"], True, True)
    for status, expected in (("skipped", []), ("passed", []), ("failed", ["SM408"])):
        probe.gpu = {"status": status, "reason": "r"}
        assert [r for r, _ in _ids(probe_checks.registry, probe)] == expected
