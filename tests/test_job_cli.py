"""`smlint job` and `smlint explain` through the command line."""
from __future__ import annotations

import json
import os
import shutil

import pytest
from click.testing import CliRunner

from conftest import FIXTURES
from smlint.cli import cli

JOBS = os.path.join(FIXTURES, "jobs")
ROLE = "arn:aws:iam::123456789012:role/SageMakerProcessing"


def run(*args):
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout


def write_request(tmp_path, name="processing-job.json", instance="ml.m5.xlarge", **app):
    data = {"ProcessingJobName": "explain-me", "RoleArn": ROLE,
            "AppSpecification": {"ImageUri": "img:1", **app},
            "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": instance, "VolumeSizeInGB": 30}}}
    path = tmp_path / name
    path.write_text(json.dumps(data, indent=2))
    return str(path)


def write_dockerfile(tmp_path, body):
    path = tmp_path / "Dockerfile"
    path.write_text("FROM scratch\nCOPY busybox /bin/busybox\n" + body)
    return str(path)


def test_explain_the_guides_worked_example(tmp_path):
    dockerfile = write_dockerfile(tmp_path, 'ENTRYPOINT ["/app/run"]\nCMD ["--default"]\n')
    request = write_request(tmp_path, ContainerEntrypoint=["python3", "-v", "/"], ContainerArguments=["data-format", "csv"])
    code, out = run("explain", request, "--dockerfile", dockerfile)
    assert code == 0, out
    assert "python3 -v / data-format csv" in out.splitlines()
    assert "python3 -v /     <- request ContainerEntrypoint" in out
    assert "data-format csv  <- request ContainerArguments" in out
    code, out = run("explain", request, "--dockerfile", dockerfile, "--format", "json")
    result = json.loads(out)["result"]
    assert result["argv"] == ["python3", "-v", "/", "data-format", "csv"]
    assert result["parts"] == [{"source": "request ContainerEntrypoint", "args": ["python3", "-v", "/"]},
                               {"source": "request ContainerArguments", "args": ["data-format", "csv"]}]
    assert "image ENTRYPOINT and CMD ignored" in result["case"]


@pytest.mark.parametrize("app,argv,sources", [
    ({}, ["/app/run", "--default"], ["image ENTRYPOINT", "image CMD"]),
    ({"ContainerEntrypoint": ["python3", "job.py"]}, ["python3", "job.py"], ["request ContainerEntrypoint"]),
    ({"ContainerArguments": ["--mode", "batch"]}, ["/app/run", "--mode", "batch"], ["image ENTRYPOINT", "request ContainerArguments"]),
    ({"ContainerEntrypoint": ["sh", "-c"], "ContainerArguments": ["exec job"]}, ["sh", "-c", "exec job"],
     ["request ContainerEntrypoint", "request ContainerArguments"]),
], ids=["neither", "entrypoint-only", "arguments-only", "both"])
def test_explain_four_cases(tmp_path, app, argv, sources):
    dockerfile = write_dockerfile(tmp_path, 'ENTRYPOINT ["/app/run"]\nCMD ["--default"]\n')
    request = write_request(tmp_path, **app)
    code, out = run("explain", request, "--dockerfile", dockerfile, "-f", "json")
    assert code == 0, out
    result = json.loads(out)["result"]
    assert result["argv"] == argv
    assert [p["source"] for p in result["parts"]] == sources


def test_sm305_trap_through_the_cli(tmp_path):
    dockerfile = write_dockerfile(tmp_path, 'CMD ["/bin/busybox", "sh", "/app/job.sh"]\n')
    request = write_request(tmp_path, ContainerArguments=["--mode", "batch"])
    code, out = run("job", request, "--dockerfile", dockerfile)
    assert code == 1
    assert "SM305 arguments-become-executable" in out and "'--mode' runs as the program" in out
    code, out = run("explain", request, "--dockerfile", dockerfile)
    assert code == 1, out  # SM305 is a finding in explain too, at the same severity as in job
    assert "--mode batch" in out.splitlines()
    assert "error SM305 arguments-become-executable" in out and "'--mode' runs as the program" in out
    code, out = run("explain", request, "--dockerfile", dockerfile, "-f", "json", "--fail-on", "never")
    assert code == 0
    assert [(f["rule"], f["severity"]) for f in json.loads(out)["findings"]] == [("SM305", "error")]
    code, out = run("explain", request, "--dockerfile", dockerfile, "--ignore", "SM305")
    assert code == 0 and "SM305" not in out
    # the fix: an ENTRYPOINT in the image
    fixed = write_dockerfile(tmp_path, 'ENTRYPOINT ["/bin/busybox", "sh", "/app/job.sh"]\n')
    code, out = run("job", request, "--dockerfile", fixed)
    assert "SM305" not in out


def test_explain_notes_an_unknown_base_image(tmp_path):
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text('FROM python:3.12-slim\nCMD ["python3", "job.py"]\n')
    request = write_request(tmp_path)
    code, out = run("explain", request, "--dockerfile", str(dockerfile))
    assert code == 0
    assert "python:3.12-slim may add its own ENTRYPOINT" in out


def test_bad_inputs_give_sm001_exit_2_and_other_targets_are_still_checked(tmp_path):
    bad_json = tmp_path / "broken.json"
    bad_json.write_text('{\n  "ProcessingJobName": "x",\n  "RoleArn": \n}\n')
    array = tmp_path / "array.json"
    array.write_text("[1, 2]")
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 10_000 + "]" * 10_000)
    huge = tmp_path / "huge.json"
    huge.write_text(json.dumps({"Environment": {f"K{i}": "v" * 100 for i in range(100_000)}}))
    good_but_big_volume = write_request(tmp_path, name="other.json")
    data = json.loads(open(good_but_big_volume).read())
    data["ProcessingResources"]["ClusterConfig"]["VolumeSizeInGB"] = 2048
    open(good_but_big_volume, "w").write(json.dumps(data))
    paths = [str(p) for p in (bad_json, array, empty, deep, huge)] + [good_but_big_volume, str(tmp_path / "missing.json")]
    code, out = run("job", *paths, "-f", "json")
    assert code == 2
    document = json.loads(out)
    by_rule = {}
    for finding in document["findings"]:
        by_rule.setdefault(finding["rule"], []).append(finding)
    assert len(by_rule["SM001"]) == 6
    syntax = next(f for f in by_rule["SM001"] if f["path"].endswith("broken.json"))
    assert (syntax["line"], syntax["column"]) == (4, 1) and "not valid JSON" in syntax["message"]
    assert [f["path"] for f in by_rule["SM308"]] == [good_but_big_volume]
    assert "Traceback" not in out


def test_sarif_output_of_a_job_run_locates_findings(tmp_path):
    bad = os.path.join(JOBS, "processing-job-bad.yaml")
    code, out = run("job", bad, "--format", "sarif")
    assert code == 1
    sarif = json.loads(out)
    assert sarif["version"] == "2.1.0"
    run0 = sarif["runs"][0]
    rule_ids = [r["id"] for r in run0["tool"]["driver"]["rules"]]
    results = run0["results"]
    assert {r["ruleId"] for r in results} >= {"SM301", "SM302", "SM303", "SM304", "SM308"}
    for result in results:
        assert rule_ids[result["ruleIndex"]] == result["ruleId"]
        location = result["locations"][0]
        region = location["physicalLocation"]["region"]
        assert region["startLine"] >= 2 and region["startColumn"] >= 1
        assert location["physicalLocation"]["artifactLocation"]["uri"].endswith("processing-job-bad.yaml")
        assert location["logicalLocations"][0]["fullyQualifiedName"].startswith("/")
    instance = next(r for r in results if "ml.m5.2xlarg" in r["message"]["text"])
    assert instance["locations"][0]["physicalLocation"]["region"]["startLine"] == 35


def test_github_format_annotates_the_line():
    code, out = run("job", os.path.join(JOBS, "processing-job-bad.yaml"), "--format", "github")
    assert code == 1
    assert any(line.startswith("::error file=") and "line=36" not in line and "SM301" in line for line in out.splitlines())
    assert any("line=36" in line and "SM308" in line for line in out.splitlines())


def test_good_fixtures_are_clean_in_both_syntaxes():
    for name in ("processing-job.json", "processing-job.yaml"):
        code, out = run("job", os.path.join(JOBS, name))
        assert code == 0, out
        assert "SM305-SM307 not checked: no --image or --dockerfile given" in out


def test_config_per_path_ignores_for_request_files(tmp_path):
    config = tmp_path / ".smlint.yaml"
    config.write_text("per-path-ignores:\n  'processing-job-bad.yaml': [SM308, overlapping-paths]\n")
    code, out = run("job", os.path.join(JOBS, "processing-job-bad.yaml"), "--config", str(config), "-f", "json")
    rules = {f["rule"] for f in json.loads(out)["findings"]}
    assert "SM308" not in rules and "SM304" not in rules and "SM302" in rules


def test_default_targets_follow_job_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    os.makedirs("jobs")
    shutil.copy(os.path.join(JOBS, "processing-job-bad.yaml"), "jobs/processing-job-nightly.yaml")
    shutil.copy(os.path.join(JOBS, "processing-job.json"), "unrelated.json")
    code, out = run("job", "-f", "json")
    document = json.loads(out)
    assert document["targets"] == ["jobs/processing-job-nightly.yaml"]
    assert code == 1


def test_option_errors_exit_2(tmp_path):
    request = write_request(tmp_path)
    assert run("explain", request)[0] == 2
    assert run("job", request, "--image", "x", "--dockerfile", "Dockerfile")[0] == 2
    assert run("job", request, "--target", "build")[0] == 2


def test_unreadable_dockerfile_is_sm001_and_the_request_is_still_checked(tmp_path):
    request = write_request(tmp_path, ContainerArguments=["x"])
    code, out = run("job", request, "--dockerfile", str(tmp_path / "nope" / "Dockerfile"), "-f", "json")
    assert code == 2
    document = json.loads(out)
    assert [f["rule"] for f in document["findings"]] == ["SM001"]
    assert document["result"]["checked"]["requests"] == [request]


def test_lint_path_does_not_import_jsonschema():
    import subprocess
    import sys

    code = ("import sys, smlint.cli, smlint.job.command, smlint.job.source, smlint.job.checks; "
            "print('jsonschema' in sys.modules, 'docker' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


@pytest.mark.docker
def test_job_and_explain_with_a_built_image(tmp_path):
    from dockerutil import BUSYBOX_BASE, build_image, engine_or_skip, remove_image

    client = engine_or_skip()
    tag = build_image(client, BUSYBOX_BASE + 'COPY job.sh /app/job.sh\nCMD ["/bin/sh", "/app/job.sh"]\n',
                      {"job.sh": "echo processing\n"})
    try:
        trap = write_request(tmp_path, name="trap.json", instance="ml.g5.xlarge", ContainerArguments=["--mode", "batch"])
        missing = write_request(tmp_path, name="missing.json", ContainerEntrypoint=["python3", "/app/job.py"])
        present = write_request(tmp_path, name="present.json", ContainerEntrypoint=["sh", "/app/job.sh"])
        not_exec = write_request(tmp_path, name="noexec.json", ContainerEntrypoint=["/app/job.sh"])
        code, out = run("job", trap, missing, present, not_exec, "--image", tag, "-f", "json")
        assert code == 1, out
        found = {(os.path.basename(f["path"]), f["rule"], f["severity"]) for f in json.loads(out)["findings"]}
        assert found == {
            ("trap.json", "SM305", "error"),
            ("trap.json", "SM307", "warning"),  # a GPU type, and busybox has no libcudart
            ("missing.json", "SM306", "error"),
            ("noexec.json", "SM306", "error"),
        }
        code, out = run("explain", present, "--image", tag)
        assert code == 0 and out.splitlines()[0] == "sh /app/job.sh"
        code, out = run("explain", write_request(tmp_path), "--image", tag, "-f", "json")
        result = json.loads(out)["result"]
        assert result["argv"] == ["/bin/sh", "/app/job.sh"] and result["parts"][0]["source"] == "image CMD"
    finally:
        remove_image(client, tag)


@pytest.mark.docker
def test_unknown_image_is_sm001(tmp_path):
    from dockerutil import engine_or_skip

    engine_or_skip()
    code, out = run("job", write_request(tmp_path), "--image", "smlint-test-does-not-exist:never", "-f", "json")
    assert code == 2
    assert [f["rule"] for f in json.loads(out)["findings"]] == ["SM001"]
