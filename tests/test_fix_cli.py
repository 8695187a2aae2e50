"""`smlint lint --fix / --diff / --unsafe-fixes` end to end, and the fixes in
the JSON and SARIF reports (validated, and applied by an independent reader)."""
import json
import shutil
import subprocess
import sys

import pytest

from test_report_formats import _json_validator, sarif_errors

SMLINT = [sys.executable, "-m", "smlint", "lint"]
DIGEST = "sha256:" + "0" * 64
FROM = f"FROM python:3.12-slim@{DIGEST}\n"
SHELL_FORM = FROM + "COPY job.py /app/\nENTRYPOINT python3 /app/job.py --fast\n"
FIXED = FROM + 'COPY job.py /app/\nENTRYPOINT ["python3", "/app/job.py", "--fast"]\n'
TRAPPED = FROM + 'ENTRYPOINT python3 /app/job.py\nCMD ["--input", "/x"]\n'
PIPELINE = FROM + "ENTRYPOINT python3 /app/job.py | tee /tmp/log\n"


def run(*args, cwd=None, stdin=None):
    return subprocess.run([*SMLINT, *args], capture_output=True, cwd=cwd, input=stdin, timeout=300)


def write(path, data):
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return str(path)


def test_fix_rewrites_in_place_and_exits_on_what_remains(tmp_path):
    path = write(tmp_path / "Dockerfile", SHELL_FORM)
    result = run("--fix", path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "Dockerfile").read_text() == FIXED
    assert b"fixed 1 finding in 1 file; 0 remain" in result.stdout
    again = run("--fix", path)
    assert again.returncode == 0 and b"fixed 0 findings in 0 files" in again.stdout
    assert (tmp_path / "Dockerfile").read_text() == FIXED


def test_fix_exit_1_when_an_unfixable_finding_remains(tmp_path):
    write(tmp_path / "Dockerfile", SHELL_FORM)
    write(tmp_path / "b.Dockerfile", PIPELINE)
    result = run("--fix", str(tmp_path))
    assert result.returncode == 1
    out = result.stdout.decode()
    assert "fixed 1 finding in 1 file; 2 remain" in out and "SM101" in out and "SM106" in out
    assert (tmp_path / "b.Dockerfile").read_text() == PIPELINE


def test_unsafe_fixes_only_on_request(tmp_path):
    path = write(tmp_path / "Dockerfile", TRAPPED)
    result = run("--fix", path)
    assert result.returncode == 1 and (tmp_path / "Dockerfile").read_text() == TRAPPED
    assert b"(1 fixable with --unsafe-fixes)" in result.stdout
    result = run("--fix", "--unsafe-fixes", path)
    assert result.returncode == 0, result.stdout
    assert 'ENTRYPOINT ["python3", "/app/job.py"]\n' in (tmp_path / "Dockerfile").read_text()


def test_diff_writes_nothing_and_applies_with_patch(tmp_path):
    path = write(tmp_path / "Dockerfile", SHELL_FORM.replace("\n", "\r\n"))
    result = run("--diff", "Dockerfile", cwd=tmp_path)
    assert result.returncode == 1
    assert (tmp_path / "Dockerfile").read_bytes() == SHELL_FORM.replace("\n", "\r\n").encode()
    assert result.stdout.startswith(b"--- a/Dockerfile\n+++ b/Dockerfile\n")
    assert b"would fix 1 finding in 1 file" in result.stderr
    if shutil.which("git"):
        subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
        applied = subprocess.run(["git", "apply", "-"], cwd=tmp_path, input=result.stdout, capture_output=True)
        assert applied.returncode == 0, applied.stderr
        assert (tmp_path / "Dockerfile").read_bytes() == FIXED.replace("\n", "\r\n").encode()
    clean = run("--diff", path)
    assert clean.returncode == 0 and clean.stdout == b""


def test_diff_exit_2_on_a_missing_file(tmp_path):
    result = run("--diff", str(tmp_path / "nope" / "Dockerfile"))
    assert result.returncode == 2 and b"no such file" in result.stderr


def test_fix_stdin_prints_the_fixed_text_and_reports_on_stderr():
    result = run("--fix", "-", stdin=SHELL_FORM.encode())
    assert result.returncode == 0
    assert result.stdout == FIXED.encode()
    assert b"fixed 1 finding" in result.stderr


def test_bom_crlf_and_trailing_blanks_survive_on_disk(tmp_path):
    original = ("\ufeff# escape=`\r\n" + FROM.replace("\n", "\r\n") + "RUN echo a `\r\n  b  \r\n"
                "ENTRYPOINT python3 /app/job.py\r\n# end \t\r\n").encode()
    path = write(tmp_path / "Dockerfile", original)
    assert run("--fix", path).returncode == 0
    assert (tmp_path / "Dockerfile").read_bytes() == original.replace(
        b"ENTRYPOINT python3 /app/job.py", b'ENTRYPOINT ["python3", "/app/job.py"]')


def test_non_utf8_files_are_reported_not_rewritten(tmp_path):
    original = (FROM + "LABEL x=caf\xe9\nENTRYPOINT python3 /app/job.py\n").encode("latin-1")
    path = write(tmp_path / "Dockerfile", original)
    result = run("--fix", path)
    assert result.returncode == 1 and b"not fixed: not UTF-8 text" in result.stdout
    assert (tmp_path / "Dockerfile").read_bytes() == original


def test_json_report_carries_the_fix_and_validates(tmp_path):
    path = write(tmp_path / "Dockerfile", TRAPPED)
    doc = json.loads(run("-f", "json", path).stdout)
    assert not list(_json_validator().iter_errors(doc))
    fix = next(f["fix"] for f in doc["findings"] if f["rule"] == "SM101")
    assert fix["safe"] is False and "CMD on line 3" in fix["description"]
    assert fix["edits"] == [{"line": 2, "column": 11, "end_line": 2, "end_column": 31,
                             "text": ' ["python3", "/app/job.py"]'}]
    after = json.loads(run("--fix", "-f", "json", path).stdout)
    assert not list(_json_validator().iter_errors(after))
    assert after["result"]["fixes"] == {"applied": 0, "remaining": 1, "unsafe_available": 1, "changed": [],
                                        "written": True}


def _apply_sarif(text: str, result: dict) -> str:
    """Apply one SARIF result's fix the way a code-scanning bot would:
    regions by line/column in Unicode code points (the run's columnKind)."""
    lines = text.split("\n")
    for change in result["fixes"][0]["artifactChanges"]:
        for replacement in sorted(change["replacements"], key=lambda r: -r["deletedRegion"]["startLine"]):
            region = replacement["deletedRegion"]
            first, last = lines[region["startLine"] - 1], lines[region["endLine"] - 1]
            joined = first[: region["startColumn"] - 1] + replacement["insertedContent"]["text"]
            joined += last[region["endColumn"] - 1:]
            lines[region["startLine"] - 1: region["endLine"]] = [joined]
    return "\n".join(lines)


@pytest.mark.parametrize("text", [
    SHELL_FORM,
    FROM + "COPY job.py /app/\nENTRYPOINT python3 /app/job.py \\\n    --fast \\\n    --né\n",
    FROM + "ENTRYPOINT ['python3', '/app/é.py']\n",
    FROM + 'ENTRYPOINT ["sh", "-c", "cd /app && python3 job.py"]\n',
])
def test_sarif_fixes_validate_and_apply_to_what_fix_writes(tmp_path, text):
    path = write(tmp_path / "Dockerfile", text)
    log = json.loads(run("-f", "sarif", "Dockerfile", cwd=tmp_path).stdout)
    assert sarif_errors(log) == []
    run_ = log["runs"][0]
    assert run_["columnKind"] == "unicodeCodePoints"
    fixable = [r for r in run_["results"] if "fixes" in r]
    assert len(fixable) == 1
    change = fixable[0]["fixes"][0]["artifactChanges"][0]
    assert change["artifactLocation"] == {"uri": "Dockerfile", "uriBaseId": "%SRCROOT%"}
    by_sarif = _apply_sarif(text, fixable[0])
    assert run("--fix", path).returncode in (0, 1)
    assert by_sarif == (tmp_path / "Dockerfile").read_text(encoding="utf-8") != text


def test_a_pipe_is_neither_read_nor_fixed(tmp_path):
    import os

    fifo = tmp_path / "Dockerfile"
    os.mkfifo(fifo)
    result = run("--fix", str(fifo))  # no writer: reading it would hang
    assert fifo.is_fifo()  # never replaced by a regular file
    assert result.returncode == 2 and b"SM001" in result.stdout + result.stderr


def test_unsafe_fixes_alone_is_a_usage_error(tmp_path):
    result = run("--unsafe-fixes", write(tmp_path / "Dockerfile", SHELL_FORM))
    assert result.returncode == 2 and b"--unsafe-fixes goes with --fix or --diff" in result.stderr


def test_plain_lint_says_how_many_findings_fix_would_repair(tmp_path):
    write(tmp_path / "Dockerfile", SHELL_FORM)
    write(tmp_path / "b.Dockerfile", TRAPPED)
    out = run(str(tmp_path)).stdout.decode()
    assert "1 fixable with --fix (1 more with --unsafe-fixes); --diff shows the changes" in out
    assert "fixable" not in run(write(tmp_path / "c.Dockerfile", PIPELINE)).stdout.decode()


def test_fix_in_workers_writes_what_one_process_writes(tmp_path):
    texts = [SHELL_FORM, PIPELINE, TRAPPED] * 20  # past the file count where -j 0 forks
    results = {}
    for jobs in ("1", "2", "0"):
        folder = tmp_path / f"j{jobs}"
        folder.mkdir()
        for index, text in enumerate(texts):
            write(folder / f"{index:02}.Dockerfile", text)
        result = run("--fix", "-j", jobs, str(folder))
        files = {path.name: path.read_text() for path in folder.iterdir()}
        results[jobs] = (result.returncode, result.stdout.decode().replace(str(folder), "F"), files)
    assert results["1"] == results["2"] == results["0"]
    code, out, files = results["2"]
    assert code == 1 and "fixed 20 findings in 20 files" in out
    assert files["00.Dockerfile"] == FIXED and files["01.Dockerfile"] == PIPELINE


def test_fix_goes_on_past_a_file_that_exhausts_the_stack(tmp_path, monkeypatch):
    from smlint.config import Policy
    from smlint.dockerfile import fix_files

    real = fix_files.fix_text

    def fix_text(text, path, *args):
        if path.endswith("deep.Dockerfile"):
            raise RecursionError("maximum recursion depth exceeded")
        return real(text, path, *args)

    monkeypatch.setattr(fix_files, "fix_text", fix_text)
    write(tmp_path / "deep.Dockerfile", SHELL_FORM)
    write(tmp_path / "good.Dockerfile", SHELL_FORM)
    outcome = fix_files.fix_paths([str(tmp_path)], Policy(), write=True, jobs=1)
    [error] = [f for f in outcome.report.findings if f.rule_id == "SM001"]
    assert error.path.endswith("deep.Dockerfile") and "too deeply nested" in error.message
    assert (tmp_path / "good.Dockerfile").read_text() == FIXED
    assert (tmp_path / "deep.Dockerfile").read_text() == SHELL_FORM
