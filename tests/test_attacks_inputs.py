"""Hostile inputs (issue 11, items 4, 5 and 7): special files, huge files,
exploding variables and YAML, over-long integers, control characters in names.

Each attack runs smlint in a child process under a 1 GiB address-space limit
and a timeout that means "hung", never "slow" (figures: bench/attack_bench.py).
Each checks the promise itself: the exit code, a one-line SM001 naming the
file, and that the other targets on the command line are still reported.
"""
from __future__ import annotations

import json
import os
import resource
import socket
import subprocess
import sys

import pytest
from click.testing import CliRunner

from smlint.cli import cli
from smlint.dockerfile.model import expand
from smlint.inputs import MAX_CONFIG_BYTES, MAX_DOCKERFILE_BYTES, MAX_YAML_REQUEST_BYTES

HUNG = 120  # seconds: far past any of these inputs' real cost, which is well under one second
MEMORY_LIMIT = 1024**3
GOOD_DOCKERFILE = "FROM busybox\nCMD [\"sh\"]\n"  # SM140 (info), no SM001
ROLE = "arn:aws:iam::123456789012:role/SageMakerProcessing"


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def smlint(*args, input=None) -> subprocess.CompletedProcess:
    """smlint in a child with bounded memory; a timeout here means it hung."""
    env = {**os.environ, "NO_COLOR": "1"}
    stdin = {"input": input} if input is not None else {"stdin": subprocess.DEVNULL}
    return subprocess.run([sys.executable, "-m", "smlint", *map(str, args)], capture_output=True, text=True,
                          timeout=HUNG, preexec_fn=_limit_memory, env=env, **stdin)


def sm001_lines(result, path) -> list[str]:
    output = result.stdout if hasattr(result, "stdout") else result.output
    return [line for line in output.splitlines() if "SM001" in line and str(path) in line]


@pytest.fixture
def good(tmp_path):
    path = tmp_path / "good.Dockerfile"
    path.write_text(GOOD_DOCKERFILE)
    return path


def assert_other_target_checked(result, good) -> None:
    output = result.stdout if hasattr(result, "stdout") else result.output
    assert any(str(good) in line and "SM140" in line for line in output.splitlines()), output


# ---------------------------------------------------------------- special files


def test_dev_zero_is_sm001_unread_and_the_other_file_is_checked(good):
    result = smlint("lint", "/dev/zero", good)
    assert result.returncode == 2, result.stderr
    [line] = sm001_lines(result, "/dev/zero")
    assert "character device" in line and "not read" in line
    assert_other_target_checked(result, good)
    assert result.stderr == ""


def test_fifo_on_the_command_line_and_in_a_directory_never_blocks(tmp_path, good):
    named = tmp_path / "named.Dockerfile"
    os.mkfifo(named)
    folder = tmp_path / "project"
    folder.mkdir()
    os.mkfifo(folder / "Dockerfile")
    result = smlint("lint", named, folder, good)
    assert result.returncode == 2
    assert "FIFO" in sm001_lines(result, named)[0]
    assert "FIFO" in sm001_lines(result, folder / "Dockerfile")[0]
    assert_other_target_checked(result, good)


def test_a_fifo_in_the_build_context_is_skipped_not_opened(tmp_path):
    (tmp_path / "app").mkdir()
    os.mkfifo(tmp_path / "app" / "pipe")
    (tmp_path / "Dockerfile").write_text('FROM busybox\nCOPY app /app\nCMD ["sh"]\n')
    result = smlint("lint", "--context", tmp_path, tmp_path / "Dockerfile")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SM140" in result.stdout


def test_a_fifo_as_dockerfile_option_is_sm001(tmp_path):
    fifo = tmp_path / "Dockerfile"
    os.mkfifo(fifo)
    request = tmp_path / "processing-job.json"
    request.write_text(json.dumps({"ProcessingJobName": "a b"}))
    for command in (["image", "--dockerfile", fifo, f"docker-archive:{tmp_path / 'missing.tar'}"],
                    ["job", "--dockerfile", fifo, request], ["explain", "--dockerfile", fifo, request]):
        result = smlint(*command)
        assert result.returncode == 2, result.stdout + result.stderr
        assert "FIFO" in sm001_lines(result, fifo)[0]


def test_socket_and_fifo_requests_are_sm001(tmp_path):
    sock_path = tmp_path / "processing-job.json"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(sock_path))
    fifo = tmp_path / "processing-job.yaml"
    os.mkfifo(fifo)
    try:
        result = smlint("job", sock_path, fifo)
    finally:
        server.close()
    assert result.returncode == 2
    assert "is a socket" in sm001_lines(result, sock_path)[0]
    assert "FIFO" in sm001_lines(result, fifo)[0]


def test_fifo_as_config_file_is_a_one_line_config_error(tmp_path, good):
    fifo = tmp_path / "smlint.yaml"
    os.mkfifo(fifo)
    result = smlint("lint", "--config", fifo, good)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert str(fifo) in result.stderr and "FIFO" in result.stderr


# ---------------------------------------------------------------- size bounds


def test_a_50_mb_dockerfile_is_sm001_and_the_other_is_checked(tmp_path, good):
    huge = tmp_path / "huge.Dockerfile"
    with open(huge, "w") as handle:
        handle.write("FROM busybox\n")
        chunk = "RUN echo hi\n" * 100_000
        while handle.tell() < 50 * 1024 * 1024:
            handle.write(chunk)
    result = smlint("lint", huge, good)
    assert result.returncode == 2
    [line] = sm001_lines(result, huge)
    assert f"larger than {MAX_DOCKERFILE_BYTES // 1024 // 1024} MiB" in line
    assert_other_target_checked(result, good)


def test_oversized_stdin_is_sm001():
    result = smlint("lint", "-", input="FROM busybox\n" + "RUN echo\n" * (MAX_DOCKERFILE_BYTES // 9))
    assert result.returncode == 2
    assert "larger than" in sm001_lines(result, "<stdin>")[0]


def _yaml_request(lines: int) -> str:
    return "ProcessingJobName: big\nRoleArn: " + ROLE + "\nEnvironment:\n" + "".join(
        f"  K{i}: value{i}\n" for i in range(lines))


def test_a_3_8_mb_yaml_request_is_sm001_and_the_other_request_is_checked(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text(_yaml_request(180_000))
    assert big.stat().st_size > 3.5 * 1024 * 1024
    small = tmp_path / "small.json"
    small.write_text(json.dumps({"ProcessingJobName": "small job"}))  # SM301: a space in the name
    result = smlint("job", big, small)
    assert result.returncode == 2
    [line] = sm001_lines(result, big)
    assert f"up to {MAX_YAML_REQUEST_BYTES // 1024 // 1024} MiB" in line
    assert any(str(small) in l and "SM301" in l for l in result.stdout.splitlines())


def test_a_config_over_the_bound_is_a_config_error(tmp_path, good):
    config = tmp_path / ".smlint.yaml"
    config.write_text("# padding\n" * (MAX_CONFIG_BYTES // 10 + 1))
    result = smlint("lint", "--config", config, good)
    assert result.returncode == 2
    assert str(config) in result.stderr and "larger than" in result.stderr


# ---------------------------------------------------------------- variable expansion


def test_arg_doubling_chain_is_sm001_at_its_line_not_memory_error(tmp_path, good):
    chain = tmp_path / "chain.Dockerfile"
    lines = ["FROM busybox", "ARG a0=xx"] + [f"ARG a{i}=$a{i - 1}$a{i - 1}" for i in range(1, 41)]
    chain.write_text("\n".join(lines) + "\n")
    result = smlint("lint", chain, good)
    assert result.returncode == 2
    [line] = sm001_lines(result, chain)
    assert "variables expand to more than" in line
    assert "MemoryError" not in result.stdout + result.stderr
    assert_other_target_checked(result, good)


def test_20k_nested_defaults_lint_normally(tmp_path):
    depth = 20_000
    word = "".join(f"${{v{i}:-" for i in range(depth)) + "/app" + "}" * depth
    nested = tmp_path / "nested.Dockerfile"
    nested.write_text(f"FROM scratch\nARG DIR={word}\nWORKDIR $DIR\nENTRYPOINT [\"/app/run\"]\n")
    result = smlint("lint", "-f", "json", nested)
    assert result.returncode in (0, 1), result.stdout + result.stderr
    assert not [f for f in json.loads(result.stdout)["findings"] if f["rule"] in ("SM001", "SM003")]


def test_nested_expansion_follows_docker():
    variables = {"SET": "s", "EMPTY": ""}
    assert expand("${A:-${B:-${SET}x}}y", variables) == "sxy"
    assert expand("${SET:+${EMPTY:-e}}", variables) == "e"
    assert expand("${EMPTY-${SET}}|${EMPTY:-${SET}}", variables) == "|s"
    assert expand("${1} ${a%b} ${A:-unclosed", variables) == "${1} ${a%b} ${A:-unclosed"
    assert expand("\\$SET $SET", variables) == "$SET s"


def test_many_variables_are_refused_before_they_are_copied_quadratically(tmp_path):
    many = tmp_path / "args.Dockerfile"
    many.write_text("FROM busybox\n" + "".join(f"ARG a{i}=1\n" for i in range(60_000)))
    result = smlint("lint", many)
    assert result.returncode == 2
    assert "too many variables" in sm001_lines(result, many)[0]


# ---------------------------------------------------------------- YAML aliases and big integers


def test_config_alias_bomb_is_refused_naming_the_file(tmp_path, good):
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for previous, name in zip("abcdefgh", "bcdefghi"):
        lines.append(f"{name}: &{name} [{','.join('*' + previous for _ in range(9))}]")
    config = tmp_path / ".smlint.yaml"
    config.write_text("\n".join(lines) + "\n")
    assert config.stat().st_size < 400
    result = smlint("lint", "--config", config, good)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert str(config) in result.stderr and "YAML aliases" in result.stderr


def test_small_aliases_in_a_config_still_work(tmp_path, good):
    config = tmp_path / ".smlint.yaml"
    config.write_text("ignore: &quiet [SM140]\nper-path-ignores:\n  '*.Dockerfile': *quiet\n")
    result = smlint("lint", "--config", config, "-f", "json", good)
    assert result.returncode in (0, 1), result.stderr
    assert "SM140" not in {f["rule"] for f in json.loads(result.stdout)["findings"]}


@pytest.mark.parametrize("syntax", ["json", "yaml"])
def test_a_5000_digit_integer_is_sm001_naming_the_field(tmp_path, syntax):
    digits = "9" * 5000
    request = tmp_path / f"huge.{syntax}"
    if syntax == "json":
        request.write_text('{"ProcessingJobName": "a", "StoppingCondition": {"MaxRuntimeInSeconds": ' + digits + "}}")
    else:
        request.write_text(f"ProcessingJobName: a\nStoppingCondition:\n  MaxRuntimeInSeconds: {digits}\n")
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"ProcessingJobName": "other job"}))
    for command in (["job", request, other], ["explain", request, "--dockerfile", other]):
        result = smlint(*command)
        assert result.returncode == 2, result.stdout + result.stderr
        assert "internal error" not in result.stderr and "Traceback" not in result.stderr
        [line] = sm001_lines(result, request)
        assert "/StoppingCondition/MaxRuntimeInSeconds" in line and "5000 digits" in line
    assert any(str(other) in l and "SM301" in l for l in smlint("job", request, other).stdout.splitlines())


def test_a_5000_digit_integer_in_a_config_is_a_config_error(tmp_path, good):
    config = tmp_path / ".smlint.yaml"
    config.write_text("grace-period: " + "9" * 5000 + "\n")
    result = smlint("lint", "--config", config, good)
    assert result.returncode == 2
    assert result.stderr.startswith(f"smlint: config error: {config}") and result.stderr.count("\n") == 1


@pytest.mark.parametrize("app", [
    {"ContainerArguments": "echo hi"}, {"ContainerEntrypoint": {"a": 1}}, {"ContainerArguments": [1, None]},
    {"ImageUri": 5}, "not an object",
])
def test_explain_and_job_with_wrong_types_never_trace(tmp_path, app):
    request = tmp_path / "processing-job.json"
    request.write_text(json.dumps({"ProcessingJobName": "a", "RoleArn": ROLE, "AppSpecification": app,
                                   "Environment": ["A=1"]}))
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text('FROM scratch\nENTRYPOINT ["/run"]\n')
    for command in (["job", request], ["explain", request, "--dockerfile", dockerfile]):
        result = smlint(*command)
        assert result.returncode in (0, 1, 2), result.stdout + result.stderr
        assert "internal error" not in result.stderr and "Traceback" not in result.stderr
        assert "SM003" not in result.stdout


# ---------------------------------------------------------------- unreadable targets


def test_an_unreadable_file_on_the_command_line_is_sm001_and_the_rest_is_checked(tmp_path, monkeypatch):
    (tmp_path / "good.Dockerfile").write_text(GOOD_DOCKERFILE)
    for name in ("secret.Dockerfile", "secret.json"):
        (tmp_path / name).write_text("FROM busybox\n")
        (tmp_path / name).chmod(0)
    monkeypatch.chdir(tmp_path)
    if os.geteuid() == 0:  # root reads anything: fail its checks and opens as they fail for a user
        real_access, real_open = os.access, os.open
        monkeypatch.setattr(os, "access", lambda path, *a, **k: "secret" not in str(path) and real_access(path, *a, **k))

        def denying_open(path, *args, **kwargs):
            if "secret" in str(path):
                raise PermissionError(13, "Permission denied", str(path))
            return real_open(path, *args, **kwargs)

        monkeypatch.setattr(os, "open", denying_open)
    runner = CliRunner()
    result = runner.invoke(cli, ["lint", "secret.Dockerfile", "good.Dockerfile"])
    assert result.exit_code == 2, result.output
    assert "Usage" not in result.output
    assert "permission denied" in sm001_lines(result, "secret.Dockerfile")[0]
    assert_other_target_checked(result, "good.Dockerfile")
    result = runner.invoke(cli, ["job", "secret.json"])
    assert result.exit_code == 2 and "permission denied" in sm001_lines(result, "secret.json")[0]


def test_a_file_even_root_cannot_read_is_sm001(good):
    result = smlint("lint", "/proc/self/mem", good)  # opens, but reading at offset 0 fails (EIO)
    assert result.returncode == 2
    assert "cannot read" in sm001_lines(result, "/proc/self/mem")[0]
    assert_other_target_checked(result, good)


# ---------------------------------------------------------------- control characters (report forgery)

FORGED = "Dockerfile.x\r\n0 findings; all clean\x1b[2K\x1b]0;owned\x07"


def test_control_characters_in_file_names_are_escaped_in_the_text_report(tmp_path):
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / FORGED).write_text("FROM busybox\x1b[31m\nCMD [\"sh\"]\n")
    result = smlint("lint", folder)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "\x1b" not in result.stdout and "\r" not in result.stdout and "\x07" not in result.stdout
    finding_lines = [line for line in result.stdout.splitlines() if "SM140" in line]
    assert finding_lines and all("Dockerfile.x\\r\\n0 findings; all clean\\x1b[2K\\x1b]0;owned\\x07" in line
                                 for line in finding_lines)
    assert not any(line.startswith("0 findings") for line in result.stdout.splitlines())
    assert "busybox\\x1b[31m" in result.stdout  # the source line shown under the finding


def test_github_format_keeps_its_own_escaping(tmp_path):
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / FORGED).write_text("FROM busybox\nCMD [\"sh\"]\n")
    result = smlint("lint", "-f", "github", folder)
    [line] = [line for line in result.stdout.splitlines() if "SM140" in line]
    assert line.startswith("::notice file=") and "Dockerfile.x%0D%0A0 findings; all clean" in line
    assert "\r" not in result.stdout and "\\x" not in result.stdout  # its %-escapes, not the text report's


def test_a_shown_source_line_is_clipped(tmp_path):
    request = tmp_path / "processing-job.json"
    request.write_text(json.dumps({"ProcessingJobName": "a b", "Tags": [{"Key": f"k{i}", "Value": "v"}
                                                                       for i in range(40)]}))
    result = smlint("job", request)
    shown = [line for line in result.stdout.splitlines() if line.startswith("  1 | ")]
    assert shown and all(len(line) < 220 for line in shown)


def test_every_input_field_of_the_text_report_is_escaped():
    """An image's file names reach the report through messages, pointers and summaries."""
    from smlint.engine import make_finding
    from smlint.findings import Problem
    from smlint.report import Report
    from smlint.report.text import render

    name = "/app/run\n1 finding (1 error) in 1 target\x1b[1A\u202e"
    finding = make_finding("SM205", "docker-archive:img\r.tar", Problem(f"{name} has no #! line", pointer=name))
    report = Report(command="image", findings=[finding], summary_lines=[f"image: {name}"])
    text = render(report)
    assert "\x1b" not in text and "\r" not in text and "\u202e" not in text
    assert text.count("\n") == 3  # the finding, the summary line, the count: nothing forged
    assert "/app/run\\n1 finding (1 error) in 1 target\\x1b[1A\\u202e has no #! line" in text
    assert "docker-archive:img\\r.tar (/app/run\\n1 finding" in text
    assert text.splitlines()[1] == "image: /app/run\\n1 finding (1 error) in 1 target\\x1b[1A\\u202e"


def test_a_non_utf8_byte_in_a_file_name_is_escaped_not_written_raw(tmp_path):
    folder = tmp_path / "project"
    folder.mkdir()
    with open(os.path.join(os.fsencode(folder), b"Dockerfile.\x9b2J"), "w") as handle:  # 0x9b: an 8-bit CSI
        handle.write('FROM busybox\nCMD ["sh"]\n')
    result = subprocess.run([sys.executable, "-m", "smlint", "lint", str(folder)], capture_output=True,
                            timeout=HUNG, preexec_fn=_limit_memory)
    assert result.returncode == 0, result.stderr
    assert b"\x9b" not in result.stdout
    assert b"Dockerfile.\\x9b2J:1:1: info SM140" in result.stdout


def test_a_memory_error_in_one_target_leaves_the_others_checked(tmp_path, monkeypatch):
    from smlint.config import Policy
    from smlint.dockerfile import lint

    real = lint.lint_text

    def exhausting(text, path, *args):
        if "bomb" in path:
            raise MemoryError
        return real(text, path, *args)

    monkeypatch.setattr(lint, "lint_text", exhausting)
    (tmp_path / "bomb.Dockerfile").write_text("FROM busybox\n")
    (tmp_path / "good.Dockerfile").write_text(GOOD_DOCKERFILE)
    report = lint.lint_paths([str(tmp_path / "bomb.Dockerfile"), str(tmp_path / "good.Dockerfile")], Policy(), jobs=1)
    rules = {(os.path.basename(f.path), f.rule_id) for f in report.findings}
    assert ("bomb.Dockerfile", "SM001") in rules and ("good.Dockerfile", "SM140") in rules
