"""SM309 (arguments swallowed by a shell-form ENTRYPOINT) and SM310 (the
entrypoint's file is provided by no input), and explain's lost-arguments line."""
from __future__ import annotations

import json

import pytest
from test_job_checks import GOOD, fake_image, findings, request
from test_job_cli import run, write_dockerfile, write_request

from smlint.container_command import swallowed_arguments
from smlint.job.checks import entrypoint_programs

SHELL_FORM = ["/bin/sh", "-c", "python3 /app/job.py"]


def test_sm309_fires_on_a_shell_form_entrypoint_and_lists_every_lost_argument():
    [found] = findings(request(ContainerArguments=["--ratio", "0.2"]), fake_image(entrypoint=SHELL_FORM), "SM309")
    assert "'--ratio' is lost as $0" in found.message and "lost: --ratio 0.2" in found.message
    assert found.data["lost"] == ["--ratio", "0.2"]


def test_sm309_when_the_script_reads_its_arguments_only_the_first_is_lost():
    facts = fake_image(entrypoint=["/bin/sh", "-c", 'exec python3 /app/job.py "$@"'])
    [found] = findings(request(ContainerArguments=["--ratio", "0.2"]), facts, "SM309")
    assert found.data["lost"] == ["--ratio"]


@pytest.mark.parametrize("entrypoint,app", [
    (["python3", "/app/job.py"], {"ContainerArguments": ["--ratio", "0.2"]}),  # exec form
    (SHELL_FORM, {"ContainerEntrypoint": ["python3", "/app/job.py"], "ContainerArguments": ["--ratio"]}),
    (SHELL_FORM, {}),  # no arguments
    (["/bin/sh", "-c", 'python3 /app/job.py "$@"', "job"], {"ContainerArguments": ["--ratio"]}),  # $0 given
    (None, {"ContainerArguments": ["--ratio"]}),  # SM305's case, not this one
])
def test_sm309_quiet(entrypoint, app):
    assert findings(request(**app), fake_image(entrypoint=entrypoint), "SM309") == []


def test_sm309_needs_the_image():
    assert findings(request(ContainerArguments=["--ratio", "0.2"]), None, "SM309") == []


def test_sm309_reads_a_custom_shell():
    swallowed = swallowed_arguments(["/bin/bash", "-o", "pipefail", "-c", "run"], None, ["a"])
    assert swallowed is not None and swallowed.shell == "bash" and swallowed.lost == ("a",)


def test_sm309_from_a_dockerfile_through_job_and_explain(tmp_path):
    dockerfile = write_dockerfile(tmp_path, "ENTRYPOINT python3 /app/job.py\n")
    path = write_request(tmp_path, ContainerArguments=["--ratio", "0.2"])
    code, out = run("job", path, "--dockerfile", dockerfile)
    assert code == 1 and "SM309 arguments-ignored-by-shell-entrypoint" in out
    code, out = run("explain", path, "--dockerfile", dockerfile)
    assert "'--ratio' becomes $0 and is lost" in out and "Lost: --ratio 0.2 (SM309)" in out
    code, out = run("explain", path, "--dockerfile", dockerfile, "-f", "json")
    assert json.loads(out)["result"]["lost_arguments"] == ["--ratio", "0.2"]


@pytest.mark.parametrize("entrypoint,programs", [
    (["python3", "/opt/ml/processing/input/code/a.py", "--out", "/opt/ml/processing/output"],
     ["python3", "/opt/ml/processing/input/code/a.py"]),
    (["python3", "-u", "/opt/ml/processing/code/a.py"], ["python3", "/opt/ml/processing/code/a.py"]),
    (["python3", "-m", "pkg", "/opt/ml/processing/x"], ["python3"]),
    (["Rscript", "/opt/ml/processing/r/a.R"], ["Rscript", "/opt/ml/processing/r/a.R"]),
    (["/bin/sh", "-c", "exec /opt/ml/processing/x.sh --a"], ["/bin/sh", "/opt/ml/processing/x.sh"]),
    (["bash", "-c", "cd /opt/ml/processing/input && ./run"], ["bash", "cd"]),
    (["/opt/ml/processing/input/code/run.sh"], ["/opt/ml/processing/input/code/run.sh"]),
])
def test_entrypoint_programs(entrypoint, programs):
    assert [program for _, program in entrypoint_programs(entrypoint)] == programs


def test_sm310_fires_when_no_input_holds_the_script():
    data = request(ContainerEntrypoint=["python3", "/opt/ml/processing/input/code/preprocess.py"])
    [found] = findings(data, None, "SM310")
    assert "'/opt/ml/processing/input/code/preprocess.py'" in found.message
    assert found.data["program"] == "/opt/ml/processing/input/code/preprocess.py"


def test_sm310_quiet_when_an_input_provides_it_and_for_option_values():
    data = request(ContainerEntrypoint=["python3", "/opt/ml/processing/input/code/preprocess.py"])
    data["ProcessingInputs"] = [dict(GOOD["ProcessingInputs"][0])]
    data["ProcessingInputs"][0]["S3Input"] = dict(data["ProcessingInputs"][0]["S3Input"],
                                                  LocalPath="/opt/ml/processing/input/code/")
    assert findings(data, None, "SM310") == []
    data = request(ContainerEntrypoint=["python3", "/app/job.py", "--out", "/opt/ml/processing/output/x"])
    assert findings(data, None, "SM310") == []


def test_sm310_an_output_path_does_not_provide_the_file():
    local = GOOD["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["LocalPath"].rstrip("/")
    data = request(ContainerEntrypoint=["sh", f"{local}/run.sh"])
    assert len(findings(data, None, "SM310")) == 1
