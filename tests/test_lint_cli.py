"""`smlint lint` end to end: targets, bad input, exit codes, suppression, stdin."""
import json
import os
import subprocess
import sys
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smlint import lint_text

SMLINT = [sys.executable, "-m", "smlint", "lint"]
BAD = 'FROM python:3.12-slim\nENTRYPOINT python3 /app/job.py\n'
GOOD = 'FROM python:3.12-slim\nCOPY job.py /app/\nENTRYPOINT ["python3", "/app/job.py"]\n'


def run(*args, cwd=None, stdin=None):
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    return subprocess.run([*SMLINT, *args], capture_output=True, text=True, cwd=cwd, input=stdin, env=env)


def write(path, text, mode="w"):
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode == "wb":
        path.write_bytes(text)
    else:
        path.write_text(text)
    return str(path)


def test_clean_file_exits_0_with_a_one_line_summary(tmp_path):
    result = run(write(tmp_path / "Dockerfile", GOOD))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == "no findings in 1 file\n"
    quiet = run("-q", str(tmp_path / "Dockerfile"))
    assert quiet.returncode == 0 and quiet.stdout == ""


def test_finding_line_shape_and_exit_1(tmp_path):
    path = write(tmp_path / "Dockerfile", BAD)
    result = run(path)
    assert result.returncode == 1
    first = result.stdout.splitlines()[0]
    assert first.startswith(f"{path}:2:1: error SM101 entrypoint-shell-form: ")
    assert "  2 | ENTRYPOINT python3 /app/job.py" in result.stdout
    assert '["python3", "/app/job.py"]' in first  # the fix is suggested
    assert "\033[" not in result.stdout  # no colour when not a terminal


def test_fail_on_threshold(tmp_path):
    path = write(tmp_path / "Dockerfile", "FROM python\nENTRYPOINT [\"python3\"]\n")  # SM140 is info
    assert run(path).returncode == 0
    assert run(path, "--fail-on", "info").returncode == 1
    assert run(write(tmp_path / "b" / "Dockerfile", BAD), "--fail-on", "never").returncode == 0


def test_directory_search_skips_vendored_folders(tmp_path):
    write(tmp_path / "svc" / "Dockerfile", BAD)
    write(tmp_path / "svc" / "gpu.Dockerfile", BAD)
    write(tmp_path / "Containerfile", GOOD)
    write(tmp_path / "node_modules" / "x" / "Dockerfile", BAD)
    write(tmp_path / ".git" / "Dockerfile", BAD)
    result = run("-f", "json", str(tmp_path))
    report = json.loads(result.stdout)
    names = sorted(os.path.relpath(t, tmp_path) for t in report["targets"])
    assert names == ["Containerfile", "svc/Dockerfile", "svc/gpu.Dockerfile"]


BAD_INPUTS = {
    "missing": None,
    "empty": b"",
    "binary": b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR",
    "garbage": b"this is not a Dockerfile at all\n",
    "no-from": b"RUN echo hi\n",
}


@pytest.mark.parametrize("kind", sorted(BAD_INPUTS))
def test_bad_input_is_sm001_and_others_still_linted(tmp_path, kind):
    bad = tmp_path / f"{kind}.Dockerfile"
    if BAD_INPUTS[kind] is not None:
        bad.write_bytes(BAD_INPUTS[kind])
    good = write(tmp_path / "other" / "Dockerfile", BAD)
    result = run("-f", "json", str(bad), good)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    report = json.loads(result.stdout)
    sm001 = [f for f in report["findings"] if f["rule"] == "SM001"]
    assert len(sm001) == 1 and sm001[0]["path"] == str(bad)
    assert str(bad) not in sm001[0]["message"]  # the finding's path names it; the message is the reason
    assert any(f["rule"] == "SM101" and f["path"] == good for f in report["findings"])
    assert f"smlint: {str(bad)}" in result.stderr  # one line on stderr for machine formats


def test_directory_given_as_file(tmp_path):
    (tmp_path / "Dockerfile").mkdir()
    result = run(str(tmp_path / "Dockerfile"))
    assert result.returncode == 2
    assert "is a directory" in result.stdout


def test_latin1_is_linted_with_replacement(tmp_path):
    path = tmp_path / "Dockerfile"
    path.write_bytes(b'FROM python:3.12-slim\nLABEL author="Jos\xe9"\nENTRYPOINT python3 job.py\n')
    result = run(str(path))
    assert result.returncode == 1
    assert "SM101" in result.stdout


def test_stdin_with_filename():
    result = run("-", "--stdin-filename", "svc/Dockerfile", stdin=BAD)
    assert result.returncode == 1
    assert result.stdout.startswith("svc/Dockerfile:2:1: error SM101")


def test_target_stage(tmp_path):
    text = "FROM python:3.12-slim AS build\nENTRYPOINT python3 x\nFROM python:3.12-slim\nENTRYPOINT [\"python3\"]\n"
    path = write(tmp_path / "Dockerfile", text)
    assert run(path).returncode == 0
    assert "SM101" in run(path, "--target", "build").stdout
    missing = run(path, "--target", "nope")
    assert missing.returncode == 2 and "no build stage named 'nope'" in missing.stdout


def test_inline_ignore_with_reason_and_unused_report(tmp_path):
    text = (
        "FROM python:3.12-slim\n"
        "# smlint ignore=SM101 reason=\"legacy wrapper, tracked in JIRA-1\"\n"
        "ENTRYPOINT python3 job.py\n"
        "# smlint ignore=workdir-under-opt-ml\n"
        "WORKDIR /app\n"
    )
    path = write(tmp_path / "Dockerfile", text)
    assert run(path).returncode == 0
    assert "SM101" in run(path, "--disable-inline-ignores").stdout
    unused = run(path, "--warn-unused-ignores", "--fail-on", "info")
    assert unused.returncode == 1
    assert ":4:1: info SM002 unused-suppression: ignore for SM111" in unused.stdout
    assert "SM101" not in unused.stdout.replace("SM002", "")


def test_ignore_file_and_ignore_across_blank_lines(tmp_path):
    text = "# smlint ignore-file=SM140\nFROM python\n# smlint ignore=SM101\n\n# note\n\nENTRYPOINT python3 job.py\n"
    path = write(tmp_path / "Dockerfile", text)
    result = run(path, "--fail-on", "info")
    assert "SM140" not in result.stdout
    assert "SM101" not in result.stdout  # blank lines between the comment and its instruction are allowed
    assert "SM002" not in run(path, "--warn-unused-ignores", "--fail-on", "info").stdout
    assert "SM101" in run(path, "--disable-inline-ignores").stdout


def test_ignore_covers_only_the_next_instruction(tmp_path):
    text = "FROM python\n# smlint ignore=SM111\n\nWORKDIR /app\nENTRYPOINT python3 job.py\n"
    result = run(write(tmp_path / "Dockerfile", text), "--warn-unused-ignores", "--fail-on", "info")
    assert ":5:1: error SM101" in result.stdout
    assert ":2:1: info SM002 unused-suppression: ignore for SM111 suppresses nothing on the next instruction" \
        in result.stdout


def test_ignore_at_the_end_of_the_file_is_reported_unused(tmp_path):
    text = "FROM python\nENTRYPOINT python3 job.py\n# smlint ignore=SM101\n\n"
    path = write(tmp_path / "Dockerfile", text)
    assert "SM101" in run(path).stdout  # it covers nothing
    assert "SM002" not in run(path, "--fail-on", "info").stdout
    unused = run(path, "--warn-unused-ignores", "--fail-on", "info")
    assert ":3:1: info SM002 unused-suppression: ignore for SM101 suppresses nothing on the end of the file" \
        in unused.stdout


def test_select_and_ignore_options(tmp_path):
    path = write(tmp_path / "Dockerfile", BAD + "WORKDIR /opt/ml/code\n")
    assert "SM111" not in run(path, "--select", "SM101").stdout
    only = run(path, "--ignore", "entrypoint-shell-form", "-f", "json")
    rules = {f["rule"] for f in json.loads(only.stdout)["findings"]}
    assert "SM101" not in rules and "SM111" in rules
    assert run(path, "--select", "SM999").returncode == 2


def test_output_file_and_formats(tmp_path):
    path = write(tmp_path / "Dockerfile", BAD)
    out = tmp_path / "report.sarif"
    result = run(path, "-f", "sarif", "-o", str(out))
    assert result.returncode == 1 and result.stdout == ""
    sarif = json.loads(out.read_text())
    assert sarif["runs"][0]["results"][0]["ruleId"] == "SM101"
    github = run(path, "-f", "github").stdout
    assert github.startswith("::error file=") and "title=SM101 entrypoint-shell-form" in github


def test_build_arg_changes_resolution(tmp_path):
    text = "FROM python:3.12-slim\nARG DEST=/app\nCOPY x ${DEST}/\nENTRYPOINT [\"python3\"]\n"
    path = write(tmp_path / "Dockerfile", text)
    assert "SM110" not in run(path).stdout
    assert "SM110" in run(path, "--build-arg", "DEST=/opt/ml/code").stdout


def test_lint_path_imports_neither_docker_nor_jsonschema(tmp_path):
    path = write(tmp_path / "Dockerfile", BAD)
    code = (
        "import sys, runpy; sys.argv=['smlint','lint',%r]\n"
        "try:\n    runpy.run_module('smlint', run_name='__main__')\n"
        "except SystemExit: pass\n"
        "print(sorted(m for m in ('docker','jsonschema','yaml') if m in sys.modules))" % path
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_long_continuations_are_linear(tmp_path):
    def lint_seconds(count):
        text = "FROM python:3.12-slim\nRUN echo start \\\n" + "".join(
            f"  && echo {i} \\\n" for i in range(count)) + "  && true\nENTRYPOINT [\"python3\"]\n"
        start = time.perf_counter()
        lint_text(text)
        return time.perf_counter() - start

    small, large = lint_seconds(2000), lint_seconds(20000)
    # Not a timing assertion on absolute speed: 10x the input must not take 50x the time.
    assert large < small * 50 + 1


_fragments = st.sampled_from([
    "FROM python:3.12", "FROM scratch AS s", "FROM s", "ARG X=/opt/ml", "ENV A=$X", "WORKDIR ${X}/w",
    "COPY a ${X}/b", "RUN <<EOF\nmkdir /opt/ml/x\nEOF", "ENTRYPOINT python3 x", 'ENTRYPOINT ["sh","-c","a; b"]',
    "CMD ['x']", "RUN apt-get install -y cuda-drivers", "USER nobody", "SHELL [\"/bin/bash\",\"-c\"]",
    "RUN a \\", "# smlint ignore=SM101", "VOLUME /opt/ml", "LABEL a=\"b", "RUN $(echo `x`) > /opt/ml/f",
    "onbuild run x", "\ufeff", "\x00", "\\", "[", "EXPOSE 80", "HEALTHCHECK CMD x",
])


@settings(max_examples=300, deadline=None)
@given(st.lists(_fragments, max_size=12), st.text(max_size=40), st.sampled_from(["\n", "\r\n"]))
def test_random_dockerfiles_never_crash(fragments, noise, newline):
    text = newline.join(fragments) + newline + noise
    for finding in lint_text(text):
        assert finding.rule_id != "SM003", finding.message


def test_context_scripts_are_scanned_for_host_files(tmp_path):
    write(tmp_path / "app" / "job.py", "import socket\nHOST = open('/etc/hostname').read()\n")
    path = write(tmp_path / "Dockerfile", 'FROM python:3.12-slim\nCOPY app/ /app/\nENTRYPOINT ["python3", "/app/job.py"]\n')
    assert "SM131" not in run(path).stdout
    with_context = run(path, "--context", str(tmp_path))
    assert "SM131" in with_context.stdout and "/app/job.py (copied on line 2), which reads /etc/hostname on its line 2" in with_context.stdout


def test_worker_processes_give_the_same_report_as_one(tmp_path):
    """Enough files to start the pool: findings, their order and SM001s match a serial run."""
    variants = [BAD, GOOD, BAD.replace("3.12", "latest") + "RUN mkdir -p /opt/ml/processing/input\n", None, b"\0"]
    for index in range(120):
        variant = variants[index % len(variants)]
        path = tmp_path / f"s{index:03d}" / "Dockerfile"
        if isinstance(variant, str):
            write(path, variant)
        elif variant is not None:
            write(path, variant, "wb")
    serial = run("-f", "json", "--jobs", "1", str(tmp_path))
    parallel = run("-f", "json", "--jobs", "2", str(tmp_path))
    assert serial.returncode == parallel.returncode == 2
    one, two = json.loads(serial.stdout), json.loads(parallel.stdout)
    assert len(two["targets"]) == 120 - 120 // len(variants)  # the missing ones are not found
    assert two["findings"] == one["findings"]
    assert {f["rule"] for f in two["findings"]} >= {"SM001", "SM101", "SM112"}
    assert "Traceback" not in parallel.stderr
