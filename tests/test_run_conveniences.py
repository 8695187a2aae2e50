"""--code/--command/--entry, the GPU hint, probe's --input/--output and its
old --output FILE spelling."""
import io
import json
import os
import subprocess
import sys

import pytest
from conftest import ROOT
from dockerutil import BUSYBOX_BASE, build_image, remove_image

from smlint.config import Policy
from smlint.run.plan import PlanError, build_plan
from smlint.run.runner import RunOptions, code_option, run

OUT = "/opt/ml/processing/output/result"


def test_code_file_becomes_the_code_input_and_the_entrypoint(tmp_path):
    script = tmp_path / "prep.py"
    script.write_text("print(1)\n")
    plan = build_plan("img", None, None, None, code=code_option(RunOptions(code=str(script))))
    assert plan.argv == ["python3", "/opt/ml/processing/input/code/prep.py"]
    [code] = plan.inputs
    assert (code.name, code.local_path, code.single_file) == ("code", "/opt/ml/processing/input/code", True)
    assert plan.request["AppSpecification"]["ContainerEntrypoint"] == plan.argv


@pytest.mark.parametrize("options, reason", [
    ({"entry": "a.py"}, "need --code"),
    ({"code": "/no/such/path"}, "no such file or directory"),
    ({"code": "."}, "name the script to run with --entry"),
    ({"code": ".", "entry": "no-such.py"}, "no such file in"),
])
def test_code_option_mistakes_are_plan_errors(options, reason):
    with pytest.raises(PlanError, match=reason):
        code_option(RunOptions(**options))


@pytest.fixture(scope="module")
def image(busybox_image):
    return busybox_image


@pytest.mark.docker
def test_run_code_file_with_a_command(client, image, tmp_path):
    script = tmp_path / "job.sh"
    script.write_text(f'echo "$0" > {OUT}/ran; ls /opt/ml/processing/input/code > {OUT}/code\n')
    options = RunOptions(code=str(script), command=["sh"], outputs={"result": str(tmp_path / "out")})
    report = run(image, None, options, Policy(), stream=io.StringIO(), client=client)
    assert report.result["status"] == "Completed", report.summary_lines
    assert (tmp_path / "out" / "ran").read_text() == "/opt/ml/processing/input/code/job.sh\n"
    assert (tmp_path / "out" / "code").read_text() == "job.sh\n"  # the script alone, as ScriptProcessor uploads it


@pytest.mark.docker
def test_run_code_folder_with_entry_and_the_gpu_hint(client, image, tmp_path):
    source = tmp_path / "src"
    (source / "lib").mkdir(parents=True)
    (source / "lib" / "helper.sh").write_text("echo helped\n")
    (source / "main.sh").write_text(f'. /opt/ml/processing/input/code/lib/helper.sh > {OUT}/out\n')
    request = {"ProcessingJobName": "gpu-job", "RoleArn": "arn:aws:iam::123456789012:role/r",
               "AppSpecification": {"ImageUri": "x"},
               "ProcessingOutputConfig": {"Outputs": [{"OutputName": "result", "S3Output": {
                   "S3Uri": "s3://b/o", "LocalPath": OUT, "S3UploadMode": "EndOfJob"}}]},
               "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.g5.xlarge",
                                                         "VolumeSizeInGB": 5}}}
    options = RunOptions(code=str(source), entry="main.sh", command=["sh"], outputs={"result": str(tmp_path / "o")})
    report = run(image, request, options, Policy(), stream=io.StringIO(), client=client)
    assert report.result["status"] == "Completed", report.summary_lines
    assert (tmp_path / "o" / "out").read_text() == "helped\n"
    assert any("GPU instance type: add --gpus" in note for note in report.result["notes"])


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "smlint", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


@pytest.mark.docker
def test_probe_takes_inputs_and_reads_old_output_file_as_the_report(client, tmp_path):
    tag = build_image(client, BUSYBOX_BASE + 'ENTRYPOINT ["/bin/sh", "-c", "ls /opt/ml/processing/input/data/rows.csv '
                                             '&& exec sleep 300"]\n')
    data = tmp_path / "data"
    data.mkdir()
    (data / "rows.csv").write_text("1\n")
    try:
        done = _cli("probe", tag, "--grace", "1", "--input", f"data={data}", "--output", str(tmp_path / "r.json"),
                    "-f", "json")
        without = _cli("probe", tag, "--grace", "1", "-o", str(tmp_path / "r2.json"), "-f", "json")
    finally:
        remove_image(client, tag)
    assert "read as -o/--report" in done.stderr
    result = json.loads((tmp_path / "r.json").read_text())["result"]
    assert not result.get("inconclusive")  # the job found its data and lived to be probed
    missed = json.loads((tmp_path / "r2.json").read_text())["result"]
    assert "--input/--output NAME=DIR" in missed["inconclusive"] and without.returncode == 1
    assert not os.path.exists(tmp_path / "data" / "new")
