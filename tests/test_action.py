"""The composite GitHub Action in action.yml.

The steps' `run:` scripts are taken from action.yml and executed with bash the
way the runner would: the step's `env:` with its `${{ inputs.* }}`,
`${{ github.* }}` and `${{ runner.* }}` expressions substituted, GITHUB_OUTPUT
and GITHUB_ENV files, and the workspace as working directory.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from test_report_formats import sarif_errors

ROOT = Path(__file__).resolve().parent.parent
ACTION = yaml.safe_load((ROOT / "action.yml").read_text())
EXPRESSION = re.compile(r"\$\{\{\s*(inputs|github|runner)\.([A-Za-z0-9_-]+)\s*\}\}")
SMLINT = str(Path(sys.executable).with_name("smlint"))

DIGEST = "sha256:" + "0" * 64
BAD = f"FROM python:3.12-slim@{DIGEST}\nENTRYPOINT python3 /app/job.py\n"
GOOD = f'FROM python:3.12-slim@{DIGEST}\nENTRYPOINT ["python3", "/app/job.py"]\n'
NETWORK_ERRORS = ("NewConnectionError", "Temporary failure in name resolution", "Network is unreachable",
                  "No matching distribution found", "Could not find a version")


def step(name: str) -> dict:
    return next(s for s in ACTION["runs"]["steps"] if s.get("name") == name)


def expand(value: str, inputs: dict, context: dict) -> str:
    def one(match):
        scope, key = match.groups()
        return str(inputs[key] if scope == "inputs" else context[f"{scope}.{key}"])

    return EXPRESSION.sub(one, str(value))


class Runner:
    """Runs action steps in a workspace the way GitHub's runner does."""

    def __init__(self, workspace: Path, temp: Path):
        self.workspace, self.temp = workspace, temp
        self.github_env: dict[str, str] = {}
        self.context = {"github.action_path": str(ROOT), "github.workspace": str(workspace), "runner.temp": str(temp)}

    def inputs(self, **given) -> dict:
        values = {name: spec.get("default", "") for name, spec in ACTION["inputs"].items()}
        for key, value in given.items():
            name = key.replace("_", "-")
            assert name in values, f"action.yml has no input {name}"
            values[name] = value
        return values

    def run(self, name: str, timeout: int = 120, **given) -> tuple[subprocess.CompletedProcess, dict]:
        spec = step(name)
        assert spec["shell"] == "bash"
        inputs = self.inputs(**given)
        output_file = self.temp / "github_output"
        env_file = self.temp / "github_env"
        output_file.write_text("")
        env_file.write_text("")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("INPUT_", "SMLINT", "GITHUB_"))}
        env.update(self.github_env)
        env.update({key: expand(value, inputs, self.context) for key, value in spec.get("env", {}).items()})
        env.update(GITHUB_OUTPUT=str(output_file), GITHUB_ENV=str(env_file), GITHUB_ACTIONS="true",
                   GITHUB_WORKSPACE=str(self.workspace), RUNNER_TEMP=str(self.temp), NO_COLOR="1")
        # actions/setup-python puts its python first on PATH: use this test's.
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        script = self.temp / "step.sh"
        script.write_text(spec["run"])
        # GitHub runs `shell: bash` as `bash --noprofile --norc -eo pipefail {0}`.
        result = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)], cwd=self.workspace,
                                env=env, capture_output=True, text=True, timeout=timeout)
        for line in env_file.read_text().splitlines():
            key, _, value = line.partition("=")
            self.github_env[key] = value
        outputs = dict(line.partition("=")[::2] for line in output_file.read_text().splitlines() if "=" in line)
        return result, outputs


@pytest.fixture
def runner(tmp_path):
    workspace, temp = tmp_path / "workspace", tmp_path / "runner-temp"
    workspace.mkdir()
    temp.mkdir()
    r = Runner(workspace, temp)
    r.github_env["SMLINT"] = SMLINT  # what the install step leaves in GITHUB_ENV
    return r


def lint(runner, **inputs):
    return runner.run("Run smlint", **inputs)


# ------------------------------------------------------------ action.yml shape


def test_action_is_composite_with_the_documented_inputs():
    assert ACTION["runs"]["using"] == "composite"
    inputs = ACTION["inputs"]
    assert inputs["paths"]["default"] == "."
    assert inputs["fail-on"]["default"] == "warning"
    assert inputs["format"]["default"] == "github"
    assert inputs["sarif-file"]["default"] == ""
    assert "version" in inputs
    uses = [s.get("uses", "") for s in ACTION["runs"]["steps"]]
    assert any(u.startswith("actions/setup-python@") for u in uses)
    assert "github.action_path" in str(step("Install smlint")["env"])


def test_inputs_never_reach_a_script_as_an_expression():
    for spec in ACTION["runs"]["steps"]:
        if "run" in spec:
            assert "${{" not in spec["run"], f"step {spec['name']!r} interpolates an expression into its script"
    used = {key for scope, key in EXPRESSION.findall(str(ACTION["runs"]["steps"])) if scope == "inputs"}
    assert used == set(ACTION["inputs"]), "every input is used, and only declared inputs are"


# ---------------------------------------------------------------- the lint step


def test_clean_workspace_passes(runner):
    (runner.workspace / "Dockerfile").write_text(GOOD)
    result, outputs = lint(runner)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""
    assert outputs["exit-code"] == "0"


def test_bad_dockerfile_fails_with_annotations(runner):
    (runner.workspace / "docker").mkdir()
    (runner.workspace / "docker" / "Dockerfile").write_text(BAD)
    result, outputs = lint(runner)
    assert result.returncode == 1, result.stdout + result.stderr
    assert outputs["exit-code"] == "1"
    annotations = [line for line in result.stdout.splitlines() if line.startswith("::")]
    assert any(line.startswith("::error file=docker/Dockerfile,line=2,") and "SM101" in line for line in annotations), \
        result.stdout


def test_fail_on_never_and_text_format(runner):
    (runner.workspace / "Dockerfile").write_text(BAD)
    result, outputs = lint(runner, fail_on="never", format="text")
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"^(\./)?Dockerfile:2:1: error SM101 entrypoint-shell-form: ", result.stdout, re.M), result.stdout
    assert outputs["exit-code"] == "0"


def test_sarif_file_is_written_and_valid(runner):
    (runner.workspace / "Dockerfile").write_text(GOOD)
    (runner.workspace / "gpu.Dockerfile").write_text(BAD)
    result, outputs = lint(runner, sarif_file="reports/smlint.sarif")
    assert result.returncode == 1, result.stdout + result.stderr
    sarif = runner.workspace / "reports" / "smlint.sarif"
    assert outputs["sarif-file"] == "reports/smlint.sarif"
    import json

    log = json.loads(sarif.read_text())
    assert sarif_errors(log) == []
    results = log["runs"][0]["results"]
    assert [(r["ruleId"], r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]) for r in results
            if r["ruleId"] == "SM101"] == [("SM101", "gpu.Dockerfile")]


def test_sarif_file_records_findings_even_when_the_step_passes(runner):
    (runner.workspace / "Dockerfile").write_text(BAD)
    result, _ = lint(runner, sarif_file="out.sarif", fail_on="never")
    assert result.returncode == 0, result.stdout + result.stderr
    import json

    log = json.loads((runner.workspace / "out.sarif").read_text())
    assert any(r["ruleId"] == "SM101" for r in log["runs"][0]["results"])


def test_several_paths_on_lines_and_no_globbing(runner):
    for name in ("a", "b", "c"):
        (runner.workspace / name).mkdir()
        (runner.workspace / name / "Dockerfile").write_text(GOOD if name != "c" else BAD)
    # Only a/ and b/ are named: the bad c/Dockerfile is not linted. "*" must not be globbed.
    result, _ = lint(runner, paths="a/Dockerfile\n  b  \n")
    assert result.returncode == 0, result.stdout + result.stderr
    result, _ = lint(runner, paths="*", sarif_file="s.sarif")
    assert result.returncode == 2, result.stdout + result.stderr  # no file called '*': SM001


def test_unreadable_input_is_exit_2_and_recorded_in_sarif(runner):
    (runner.workspace / "Dockerfile").write_text(GOOD)
    result, outputs = lint(runner, paths="Dockerfile missing.Dockerfile", sarif_file="r.sarif")
    assert result.returncode == 2, result.stdout + result.stderr
    assert outputs["exit-code"] == "2"
    import json

    log = json.loads((runner.workspace / "r.sarif").read_text())
    notes = log["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert [n["descriptor"]["id"] for n in notes] == ["SM001"]
    assert sarif_errors(log) == []


def test_config_input(runner):
    (runner.workspace / "Dockerfile").write_text(BAD)
    (runner.workspace / "ci-smlint.yaml").write_text("ignore: [SM101]\n")
    result, _ = lint(runner, config="ci-smlint.yaml")
    assert result.returncode == 0, result.stdout + result.stderr
    (runner.workspace / "ci-smlint.yaml").write_text("bogus: 1\n")
    result, _ = lint(runner, config="ci-smlint.yaml")
    assert result.returncode == 2 and "config error" in result.stderr


def test_inputs_are_not_shell_code(runner):
    (runner.workspace / "Dockerfile").write_text(GOOD)
    result, _ = lint(runner, paths="Dockerfile $(touch pwned) `touch pwned2`", fail_on="never")
    assert not (runner.workspace / "pwned").exists() and not (runner.workspace / "pwned2").exists()
    assert result.returncode == 2  # those words were taken as (missing) file names


# ------------------------------------------------------------- the install step


def _snapshot(target: Path) -> Path:
    """The action's checkout: this working tree's tracked and untracked files."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True)
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    for name in filter(None, listed.stdout.decode().split("\0")):
        if (ROOT / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target / name)
    return target


@pytest.mark.network  # pip installs smlint's dependencies from the package index
def test_install_step_installs_the_actions_checkout_and_lints(tmp_path):
    workspace, temp = tmp_path / "workspace", tmp_path / "runner-temp"
    workspace.mkdir()
    temp.mkdir()
    runner = Runner(workspace, temp)
    runner.context["github.action_path"] = str(_snapshot(tmp_path / "action"))
    result, _ = runner.run("Install smlint", timeout=900)
    output = result.stdout + result.stderr
    if result.returncode != 0 and any(m in output for m in NETWORK_ERRORS) \
            and os.environ.get("CI", "").lower() != "true":
        pytest.skip("no package index reachable to install smlint's dependencies")
    assert result.returncode == 0, output
    assert re.search(r"smlint, version \d", output), output
    installed = runner.github_env["SMLINT"]
    assert installed.startswith(str(temp)) and os.access(installed, os.X_OK)
    (workspace / "Dockerfile").write_text(BAD)
    result, outputs = lint(runner)
    assert result.returncode == 1 and "SM101" in result.stdout, result.stdout + result.stderr
