"""The conventions every command shares: `-` for standard input and output,
-q, --color, did-you-mean, discovery, notes for "nothing to check", help."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import FIXTURES, ROOT

JOBS = os.path.join(FIXTURES, "jobs")
BAD = "FROM python:3.12-slim\nENTRYPOINT python3 /app/job.py\n"
GOOD = 'FROM python:3.12-slim\nENTRYPOINT ["python3", "/app/job.py"]\n'
OVERRIDE = os.path.join(JOBS, "entrypoint-override.yaml")


def smlint(*args, stdin=None, cwd=None, env=None):
    environ = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    environ.update(env or {})
    return subprocess.run([sys.executable, "-m", "smlint", *args], capture_output=True, text=True,
                          input=stdin, cwd=cwd or ROOT, env=environ)


# ---------------------------------------------------------------- discovery


def test_discovery_skips_files_that_are_not_dockerfiles(tmp_path):
    for name in ("Dockerfile", "Dockerfile.gpu", "train.Dockerfile", "Containerfile"):
        (tmp_path / name).write_text(GOOD)
    for name in ("Dockerfile.dockerignore", "Dockerfile.md", "Dockerfile.sh", "Dockerfile.json",
                 "Dockerfile.yaml", "Dockerfile.txt", "Dockerfile.orig", "gpu.Dockerfile.dockerignore"):
        (tmp_path / name).write_text("node_modules\n*.md\n")  # not a Dockerfile: would be SM001
    result = smlint("lint", "-f", "json", str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    names = sorted(os.path.basename(t) for t in json.loads(result.stdout)["targets"])
    assert names == ["Containerfile", "Dockerfile", "Dockerfile.gpu", "train.Dockerfile"]


def test_a_file_named_on_the_command_line_is_linted_whatever_its_name(tmp_path):
    path = tmp_path / "Dockerfile.md"
    path.write_text(BAD)
    assert "SM101" in smlint("lint", str(path)).stdout


def test_empty_directory_and_empty_job_set_are_a_note_and_exit_0(tmp_path):
    result = smlint("lint", str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith(f"note: no Dockerfile found in {tmp_path}")
    result = smlint("job", cwd=str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("note: no request files found")
    assert smlint("lint", "-q", str(tmp_path)).stdout == ""


# ---------------------------------------------------------------- standard input and output


def test_job_and_explain_read_standard_input():
    text = open(OVERRIDE).read()
    result = smlint("explain", "-", "-f", "json", stdin=text)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["result"]["argv"] == ["python3", "-v", "/", "data-format", "csv"]
    bad = open(os.path.join(JOBS, "processing-job-bad.yaml")).read()
    result = smlint("job", "-", "--stdin-filename", "deploy/job.yaml", stdin=bad)
    assert result.returncode == 1
    assert result.stdout.startswith("deploy/job.yaml:2:1: error SM301")


def test_stdin_filename_implies_dash():
    result = smlint("lint", "--stdin-filename", "svc/Dockerfile", stdin=BAD)
    assert result.returncode == 1
    assert result.stdout.startswith("svc/Dockerfile:2:1: error SM101")
    result = smlint("job", "--stdin-filename", "x.yaml", "-f", "json", stdin=open(OVERRIDE).read())
    assert json.loads(result.stdout)["targets"] == ["x.yaml"]


def test_dockerfile_option_reads_standard_input():
    request = os.path.join(JOBS, "processing-job.json")
    dockerfile = open(os.path.join(JOBS, "Dockerfile")).read()
    result = smlint("explain", request, "--dockerfile", "-", "-f", "json", stdin=dockerfile)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["result"]["argv"][:2] == ["python3", "/app/process.py"]


@pytest.mark.parametrize("args", [("explain", "-", "--dockerfile", "-"), ("job", "-", "--dockerfile", "-"),
                                  ("lint", "-", "-")])
def test_standard_input_feeds_only_one_input(args):
    result = smlint(*args, stdin="")
    assert result.returncode == 2
    assert "standard input ('-') can feed only one input" in result.stderr
    assert "Traceback" not in result.stderr


def test_dash_output_is_standard_output(tmp_path):
    result = smlint("lint", "-f", "json", "-o", "-", os.path.join(FIXTURES, "dockerfiles", "example"), cwd=str(tmp_path))
    assert result.returncode == 1
    assert json.loads(result.stdout)["summary"]["error"] == 4
    assert not (tmp_path / "-").exists()


def test_output_long_name_is_output_for_the_static_commands(tmp_path):
    for command in ("lint", "job", "explain", "image"):
        help_text = smlint(command, "--help").stdout
        assert "-o, --output FILE" in help_text, command


# ---------------------------------------------------------------- quiet, colour, help


@pytest.mark.parametrize("command", ["lint", "job", "explain", "image", "run", "probe", "rules", "rule"])
def test_every_command_has_quiet_and_checking_commands_have_color(command):
    help_text = smlint(command, "--help").stdout
    assert "-q, --quiet" in help_text
    if command not in ("rules", "rule"):
        assert "--color [auto|always|never]" in help_text


def test_quiet_prints_only_findings():
    request = os.path.join(JOBS, "processing-job.json")
    dockerfile = os.path.join(JOBS, "cmd-only.Dockerfile")
    loud = smlint("explain", request, "--dockerfile", dockerfile).stdout
    quiet = smlint("explain", request, "--dockerfile", dockerfile, "-q").stdout
    assert "case:" in loud and "1 finding" in loud
    assert quiet.splitlines()[0].startswith(f"{request}:6:5: info SM305")
    assert "case:" not in quiet and "finding (" not in quiet


def test_color_option_and_environment():
    example = os.path.join(FIXTURES, "dockerfiles", "example")
    assert "\033[" not in smlint("lint", example).stdout  # not a terminal
    assert "\033[31m" in smlint("lint", example, "--color", "always").stdout
    assert "\033[31m" in smlint("lint", example, env={"FORCE_COLOR": "1"}).stdout
    assert "\033[" not in smlint("lint", example, "--color", "never", env={"FORCE_COLOR": "1"}).stdout
    assert "\033[" not in smlint("lint", example, env={"NO_COLOR": "1"}).stdout


def test_bare_smlint_prints_help_listing_every_command():
    result = smlint()
    assert result.returncode == 0
    assert result.stdout.startswith("Usage: smlint")
    for command in ("lint", "job", "explain", "image", "run", "probe", "rules", "rule"):
        assert f"smlint {command} " in result.stdout, command


# ---------------------------------------------------------------- rules and did-you-mean


def test_rules_with_a_prefix():
    result = smlint("rules", "SM1")
    ids = [line.split()[0] for line in result.stdout.splitlines()]
    assert result.returncode == 0 and ids and all(i.startswith("SM1") for i in ids)
    assert "SM101" in ids and "SM201" not in ids
    assert smlint("rules", "SM4", "-q").stdout.split()[0] == "SM401"
    unknown = smlint("rules", "SM9")
    assert unknown.returncode == 2 and "unknown rule 'SM9'" in unknown.stderr and "config" not in unknown.stderr


def test_rule_given_as_prefix_or_typo_gets_a_suggestion():
    result = smlint("rule", "SM1")
    assert result.returncode == 2 and "`smlint rules SM1` lists them" in result.stderr
    result = smlint("rule", "entrypoint-shel-form")
    assert result.returncode == 2 and "did you mean 'entrypoint-shell-form'" in result.stderr
    result = smlint("lint", "--select", "entrypoint", os.path.join(FIXTURES, "dockerfiles", "good"))
    assert result.returncode == 2 and "SM101 entrypoint-shell-form" in result.stderr


def test_unknown_config_key_gets_a_suggestion(tmp_path):
    config = tmp_path / ".smlint.yaml"
    config.write_text("fail_on: error\n")
    result = smlint("lint", "--config", str(config), os.path.join(FIXTURES, "dockerfiles", "good"))
    assert result.returncode == 2
    assert "unknown key" in result.stderr and "did you mean 'fail-on'?" in result.stderr


# ---------------------------------------------------------------- explain


def test_explain_needs_no_image_when_the_request_sets_container_entrypoint():
    result = smlint("explain", OVERRIDE)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "python3 -v / data-format csv"
    result = smlint("explain", os.path.join(JOBS, "processing-job.json"))
    assert result.returncode == 2
    assert "sets no ContainerEntrypoint" in result.stderr


def test_sm001_message_does_not_repeat_the_path(tmp_path):
    missing = str(tmp_path / "Dockerfile")
    result = smlint("lint", missing)
    assert result.returncode == 2
    assert result.stdout.splitlines()[0] == f"{missing}: error SM001 unreadable-input: no such file"


# ---------------------------------------------------------------- run and probe inputs


def test_unknown_input_name_lists_the_request_inputs():
    from smlint.run.plan import PlanError, build_plan
    from smlint.run.request import load_request

    request = load_request(os.path.join(FIXTURES, "run", "processing-job.json"))
    with pytest.raises(PlanError) as error:
        build_plan("img", request, None, ["run"], inputs={"dat": "/tmp"})
    assert str(error.value) == ("--input 'dat': the request has no input with that InputName "
                                "(did you mean 'data'?); its inputs: data")


@pytest.mark.docker
def test_a_missing_image_is_named_once():
    from dockerutil import engine_or_skip

    engine_or_skip()
    image = "smlint-ux-no-such-image:1"
    for command in (["probe", image], ["run", "--image", image]):
        result = smlint(*command)
        assert result.returncode == 2, result.stdout + result.stderr
        first = result.stdout.splitlines()[0]
        assert first.count(image) == 1, first
        assert "no such image in the local Docker engine" in first


def test_options_that_would_do_nothing_are_not_offered():
    """Inline `# smlint ignore=` comments exist only in Dockerfiles."""
    assert "--disable-inline-ignores" in smlint("lint", "--help").stdout
    for command in ("job", "explain", "image", "probe"):
        help_text = smlint(command, "--help").stdout
        assert "--disable-inline-ignores" not in help_text and "--warn-unused-ignores" not in help_text, command
        for option in ("--select", "--ignore", "--fail-on", "--config", "--format"):
            assert option in help_text, (command, option)


def test_run_output_that_is_not_name_dir_points_to_the_report_option():
    from smlint.run.plan import PlanError, parse_pairs

    with pytest.raises(PlanError) as error:
        parse_pairs(["report.json"], "--output")
    assert "use -o/--report FILE" in str(error.value)
    with pytest.raises(PlanError) as error:
        parse_pairs(["X"], "--env")
    assert "--report" not in str(error.value)


@pytest.mark.parametrize("command", [["job"], ["run", "--image", "img:1", "--job"], ["probe", "img:1", "--job"]])
def test_an_unreadable_request_is_named_once(tmp_path, command):
    missing = str(tmp_path / "processing-job.json")
    result = smlint(*command, missing)
    assert result.returncode == 2
    assert result.stdout.splitlines()[0] == f"{missing}: error SM001 unreadable-input: no such file"
