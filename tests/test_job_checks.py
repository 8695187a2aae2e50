"""SM302-SM308 fire and don't fire; the image facts they rely on."""
from __future__ import annotations

import copy
import json
import os

import pytest

from conftest import FIXTURES
from smlint.config import Policy
from smlint.engine import run_checks
from smlint.findings import Severity
from smlint.job.checks import JobSubject, registry
from smlint.job.facts import ImageFacts, facts_from_dockerfile, looks_like_cuda_image
from smlint.job.source import parse_request

with open(os.path.join(FIXTURES, "jobs", "processing-job.json"), encoding="utf-8") as _handle:
    GOOD = json.load(_handle)


def findings(data, facts=None, rule=None, policy=None):
    request = parse_request(json.dumps(data, indent=2).encode(), "job.json")
    found = run_checks(registry, JobSubject(request, facts), "job.json", policy or Policy())
    return [f for f in found if rule is None or f.rule_id == rule]


def request(**app):
    data = copy.deepcopy(GOOD)
    data["AppSpecification"] = {"ImageUri": "img:1", **app}
    return data


def fake_image(files=None, entrypoint=None, cmd=None, cuda=False, path=None) -> ImageFacts:
    files = files or {}
    return ImageFacts(described="the image test:1", entrypoint=entrypoint, cmd=cmd, env_path=path,
                      cuda_runtime=cuda, filesystem=lambda p: files.get(p, "missing"))


def test_good_request_has_no_findings():
    facts = fake_image({"/usr/bin/python3": "file-exec"}, entrypoint=["python3", "/app/job.py"], cuda=True)
    assert findings(GOOD, facts) == []


@pytest.mark.parametrize("path,fires", [
    ("/data/in", True),
    ("/opt/ml/processing", True),
    ("/opt/ml/processing/", True),
    ("/opt/ml/processing/../input", True),
    ("/opt/ml/processingX/in", True),
    ("opt/ml/processing/in", True),
    ("/opt/ml/processing/in", False),
    ("/opt/ml/processing/a/./b/", False),
])
def test_sm302_local_path_prefix(path, fires):
    data = copy.deepcopy(GOOD)
    data["ProcessingInputs"][0]["S3Input"]["LocalPath"] = path
    found = findings(data, rule="SM302")
    assert len(found) == (1 if fires else 0)
    if fires:
        assert found[0].pointer == "/ProcessingInputs/0/S3Input/LocalPath"
        line = json.dumps(data, indent=2).splitlines()[found[0].span.line - 1]
        assert line.strip() == f'"LocalPath": {json.dumps(path)},'
        assert not findings(data, rule="SM301")


def test_sm302_covers_dataset_definitions_and_outputs():
    data = copy.deepcopy(GOOD)
    data["ProcessingInputs"][1]["DatasetDefinition"]["LocalPath"] = "/tmp/customers"
    data["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["LocalPath"] = "/output"
    pointers = [f.pointer for f in findings(data, rule="SM302")]
    assert pointers == ["/ProcessingInputs/1/DatasetDefinition/LocalPath",
                        "/ProcessingOutputConfig/Outputs/0/S3Output/LocalPath"]


def test_sm303_duplicate_inputs_and_outputs_but_not_across():
    data = copy.deepcopy(GOOD)
    data["ProcessingInputs"][1]["DatasetDefinition"]["LocalPath"] = "/opt/ml/processing/input/events/"
    second = copy.deepcopy(data["ProcessingOutputConfig"]["Outputs"][0])
    second["OutputName"] = "features-copy"
    data["ProcessingOutputConfig"]["Outputs"].append(second)
    found = findings(data, rule="SM303")
    assert [f.pointer for f in found] == ["/ProcessingInputs/1/DatasetDefinition/LocalPath",
                                          "/ProcessingOutputConfig/Outputs/1/S3Output/LocalPath"]
    assert "same LocalPath" in found[0].message and "'events'" in found[0].message
    assert "empty ValidationException" in found[0].message
    assert findings(GOOD, rule="SM303") == []


@pytest.mark.parametrize("output,fires", [
    ("/opt/ml/processing/input/events", True),
    ("/opt/ml/processing/input", True),
    ("/opt/ml/processing/input/events/part", True),
    ("/opt/ml/processing/input/eventsX", False),
    ("/opt/ml/processing/output", False),
])
def test_sm304_overlap(output, fires):
    data = copy.deepcopy(GOOD)
    data["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["LocalPath"] = output
    found = findings(data, rule="SM304")
    assert bool(found) == fires
    if fires:
        assert found[0].severity == Severity.WARNING


def test_sm305_arguments_become_the_executable():
    data = request(ContainerArguments=["--mode", "batch"])
    found = findings(data, fake_image(cmd=["python3", "/app/job.py"]), rule="SM305")
    assert len(found) == 1 and found[0].severity == Severity.ERROR
    assert "'--mode' runs as the program: --mode batch" in found[0].message
    assert found[0].pointer == "/AppSpecification/ContainerArguments"


@pytest.mark.parametrize("facts,app", [
    (fake_image(entrypoint=["python3", "/app/job.py"]), {"ContainerArguments": ["--mode", "batch"]}),
    (fake_image(cmd=["python3"]), {"ContainerEntrypoint": ["/bin/sh"], "ContainerArguments": ["-c", "true"]}),
    (fake_image(cmd=["python3"]), {}),
    (None, {"ContainerArguments": ["--mode"]}),
])
def test_sm305_does_not_fire(facts, app):
    assert findings(request(**app), facts, rule="SM305") == []


def test_sm305_unknown_base_image_is_info():
    facts = ImageFacts(described="the Dockerfile Dockerfile", cmd=["python3"], config_known=False,
                       base_image="python:3.12-slim")
    found = findings(request(ContainerArguments=["job.py"]), facts, rule="SM305")
    assert len(found) == 1 and found[0].severity == Severity.INFO
    assert "python:3.12-slim" in found[0].message and "unknown statically" in found[0].message


@pytest.mark.parametrize("files,entrypoint,path,expected", [
    ({}, ["python3", "x.py"], None, "does not exist"),
    ({"/usr/bin/python3": "file-noexec"}, ["python3"], None, "is not executable"),
    ({"/app/run.sh": "file-noexec"}, ["/app/run.sh"], None, "is not executable"),
    ({"/usr/bin/python3": "file-exec"}, ["python3"], None, None),
    ({"/opt/conda/bin/python3": "file-exec"}, ["python3"], "/opt/conda/bin:/usr/bin", None),
    ({"/opt/conda/bin/python3": "file-exec"}, ["python3"], None, "does not exist"),
    ({"/app/run.sh": "file-exec"}, ["/app/run.sh"], None, None),
])
def test_sm306_entrypoint_override(files, entrypoint, path, expected):
    found = findings(request(ContainerEntrypoint=entrypoint), fake_image(files, path=path), rule="SM306")
    if expected is None:
        assert found == []
    else:
        assert len(found) == 1 and expected in found[0].message and found[0].severity == Severity.ERROR
        assert found[0].pointer == "/AppSpecification/ContainerEntrypoint/0"


def test_sm306_without_the_filesystem_says_not_checked():
    facts = ImageFacts(described="the Dockerfile Dockerfile", filesystem_note="a Dockerfile does not show files")
    found = findings(request(ContainerEntrypoint=["python3"]), facts, rule="SM306")
    assert len(found) == 1 and found[0].severity == Severity.INFO and "was not checked" in found[0].message


@pytest.mark.parametrize("instance_type,cuda,expected", [
    ("ml.g5.xlarge", False, Severity.WARNING),
    ("ml.p3.2xlarge", False, Severity.WARNING),
    ("ml.g4dn.xlarge", None, Severity.INFO),
    ("ml.g5.xlarge", True, None),
    ("ml.m5.xlarge", False, None),
    ("ml.c5.xlarge", None, None),
])
def test_sm307_gpu_without_cuda(instance_type, cuda, expected):
    data = copy.deepcopy(GOOD)
    data["ProcessingResources"]["ClusterConfig"]["InstanceType"] = instance_type
    found = findings(data, fake_image(cuda=cuda), rule="SM307")
    assert [f.severity for f in found] == ([expected] if expected else [])


@pytest.mark.parametrize("size,fires", [(1024, False), (1025, True), (16384, True), (30, False)])
def test_sm308_volume_quota(size, fires):
    data = copy.deepcopy(GOOD)
    data["ProcessingResources"]["ClusterConfig"]["VolumeSizeInGB"] = size
    assert len(findings(data, rule="SM308")) == (1 if fires else 0)
    assert findings(data, rule="SM301") == []


def test_per_path_ignores_apply_to_request_files():
    data = copy.deepcopy(GOOD)
    data["ProcessingResources"]["ClusterConfig"]["VolumeSizeInGB"] = 2048
    policy = Policy(per_path_ignores=[("job*.json", frozenset({"SM308"}))])
    assert findings(data, rule="SM308", policy=policy) == []
    other = Policy(per_path_ignores=[("other*.json", frozenset({"SM308"}))])
    assert len(findings(data, rule="SM308", policy=other)) == 1


@pytest.mark.parametrize("base,cuda", [
    ("nvidia/cuda:12.4.1-runtime-ubuntu22.04", True),
    ("pytorch/pytorch:2.3.0-cuda12.1-cudnn8-runtime", True),
    ("763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.3.0-gpu-py311-cu121-ubuntu20.04-sagemaker", True),
    ("python:3.12-slim", False),
    ("ubuntu:22.04", False),
    (None, False),
])
def test_cuda_base_image_guess(base, cuda):
    assert looks_like_cuda_image(base) == cuda


def test_facts_from_dockerfile_use_the_static_model():
    text = 'FROM nvidia/cuda:12.4.1-runtime-ubuntu22.04\nENV PATH=/opt/venv/bin:/usr/bin\nWORKDIR /app\nCMD ["python3", "job.py"]\n'
    facts = facts_from_dockerfile("Dockerfile", text)
    assert facts.cmd == ["python3", "job.py"] and facts.entrypoint is None
    assert facts.config_known is False and facts.base_image.startswith("nvidia/cuda")
    assert facts.has_cuda_runtime is True and facts.env_path == "/opt/venv/bin:/usr/bin"
    assert facts.path_state("/usr/bin/python3") == "unknown"
    shell = facts_from_dockerfile("Dockerfile", "FROM scratch\nENTRYPOINT python3 job.py\n")
    assert shell.entrypoint == ["/bin/sh", "-c", "python3 job.py"] and shell.config_known is True
    assert shell.has_cuda_runtime is None
