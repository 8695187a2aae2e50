"""The `smlint` hook of `.pre-commit-hooks.yaml`, run by the real pre-commit.

pre-commit installs a hook repository by cloning it at a revision, so a
snapshot of this working tree (tracked and untracked, not ignored, files) is
committed to a temporary "hook repository"; a temporary project repository
points its `.pre-commit-config.yaml` at that snapshot, installs the git hook
with `pre-commit install`, and then commits Dockerfiles: a bad one (shell-form
ENTRYPOINT) must be refused, a good one accepted. This exercises the hook
definition, the package's installation from source (`language: python`) and
the `types: [dockerfile]` filter, all from the working tree under test.

pre-commit builds its environment with pip, so this needs the package index:
offline it skips (in CI it fails).
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

import smlint

ROOT = Path(__file__).resolve().parent.parent
PRE_COMMIT = [sys.executable, "-m", "pre_commit"]
NETWORK_ERRORS = (
    "NewConnectionError", "Temporary failure in name resolution", "Network is unreachable",
    "No matching distribution found", "Could not find a version", "ConnectTimeout", "ReadTimeout",
)

DIGEST = "sha256:" + "0" * 64
BAD = f"FROM python:3.12-slim@{DIGEST}\nCOPY job.py /app/job.py\nENTRYPOINT python3 /app/job.py\n"
GOOD = f'FROM python:3.12-slim@{DIGEST}\nCOPY job.py /app/job.py\nENTRYPOINT ["python3", "/app/job.py"]\n'


def _required() -> bool:
    return os.environ.get("CI", "").lower() == "true" or os.environ.get("SMLINT_REQUIRE_DOCKER") == "1"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    home = tmp_path_factory.mktemp("pre-commit-home")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "SMLINT_", "PRE_COMMIT"))}
    env.update(
        PRE_COMMIT_HOME=str(home),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_AUTHOR_NAME="smlint test", GIT_AUTHOR_EMAIL="test@example.invalid",
        GIT_COMMITTER_NAME="smlint test", GIT_COMMITTER_EMAIL="test@example.invalid",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        NO_COLOR="1",
    )
    return env


def git(*args, cwd, env, check=True):
    return subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=check)


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory, env):
    """A one-commit git repository holding this working tree; returns (path, sha)."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, capture_output=True)
    if listed.returncode != 0:
        pytest.skip("not a git checkout: cannot snapshot the working tree")
    snapshot = tmp_path_factory.mktemp("hook-repo")
    for name in filter(None, listed.stdout.decode().split("\0")):
        source = ROOT / name
        if source.is_file():  # skip deleted files and nested repositories
            target = snapshot / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    assert (snapshot / ".pre-commit-hooks.yaml").is_file()
    git("init", "-q", cwd=snapshot, env=env)
    git("add", "-A", cwd=snapshot, env=env)
    git("commit", "-q", "-m", "snapshot", cwd=snapshot, env=env)
    git("tag", f"v{smlint.__version__}", cwd=snapshot, env=env)  # the release tag the README's snippet names
    sha = git("rev-parse", "HEAD", cwd=snapshot, env=env).stdout.strip()
    return snapshot, sha


def readme_config() -> str:
    """The README's `.pre-commit-config.yaml` snippet, as written."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = next(b for b in re.findall(r"^```yaml\n(.*?)^```", text, re.M | re.S) if ".pre-commit-config.yaml" in b)
    assert f"rev: v{smlint.__version__}" in block, "the snippet names the current release tag"
    return block


@pytest.fixture(scope="module")
def project(tmp_path_factory, env, hook_repo):
    """A project repository with the smlint hook installed as its git pre-commit hook."""
    return _project(tmp_path_factory, env, hook_repo, ["smlint", "smlint-job"])


@pytest.fixture(scope="module")
def fix_project(tmp_path_factory, env, hook_repo):
    """A project repository with the smlint-fix hook installed."""
    return _project(tmp_path_factory, env, hook_repo, ["smlint-fix"])


def _project(tmp_path_factory, env, hook_repo, hook_ids):
    repo_path, sha = hook_repo
    project = tmp_path_factory.mktemp("project")
    git("init", "-q", cwd=project, env=env)
    # The README's snippet, only pointed at the local snapshot instead of GitHub (no network).
    config = yaml.safe_load(readme_config().replace("https://github.com/smlint/smlint", str(repo_path)))
    assert {hook["id"] for hook in config["repos"][0]["hooks"]} == {"smlint", "smlint-job"}
    config["repos"][0]["hooks"] = [{"id": i} for i in hook_ids]
    (project / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config))
    (project / "job.py").write_text("print('hello')\n")
    git("add", ".pre-commit-config.yaml", "job.py", cwd=project, env=env)
    git("commit", "-q", "--no-verify", "-m", "initial", cwd=project, env=env)
    installed = subprocess.run([*PRE_COMMIT, "install", "--install-hooks"], cwd=project, env=env,
                               capture_output=True, text=True, timeout=900)
    if installed.returncode != 0:
        output = installed.stdout + installed.stderr
        log = Path(env["PRE_COMMIT_HOME"]) / "pre-commit.log"
        if log.is_file():
            output += log.read_text(errors="replace")
        if any(marker in output for marker in NETWORK_ERRORS) and not _required():
            pytest.skip("pre-commit could not install the hook environment (no package index?)")
        pytest.fail(f"pre-commit install failed:\n{output[-4000:]}")
    return project


def commit(project, env, name, text, message):
    (project / name).write_text(text)
    git("add", name, cwd=project, env=env)
    return git("commit", "-m", message, cwd=project, env=env, check=False)


def test_hook_definitions():
    hooks = {h["id"]: h for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    assert set(hooks) == {"smlint", "smlint-fix", "smlint-job"}
    assert hooks["smlint-fix"]["entry"] == "smlint lint --fix"
    assert hooks["smlint-fix"]["types"] == ["dockerfile"] and hooks["smlint-fix"]["language"] == "python"
    assert hooks["smlint"]["language"] == "python"
    assert hooks["smlint"]["entry"] == "smlint lint"
    assert hooks["smlint"]["types"] == ["dockerfile"]
    assert hooks["smlint-job"]["language"] == "python"
    assert hooks["smlint-job"]["entry"] == "smlint job"


def test_manifest_is_valid_for_pre_commit(env):
    result = subprocess.run([*PRE_COMMIT, "validate-manifest", str(ROOT / ".pre-commit-hooks.yaml")], env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.network  # pre-commit builds the hook's environment with pip
def test_hook_refuses_a_bad_dockerfile_and_accepts_a_good_one(project, env):
    refused = commit(project, env, "Dockerfile", BAD, "bad")
    output = refused.stdout + refused.stderr
    assert refused.returncode != 0, output
    assert "Failed" in output and "SM101" in output, output
    assert git("rev-list", "--count", "HEAD", cwd=project, env=env).stdout.strip() == "1"

    accepted = commit(project, env, "Dockerfile", GOOD, "good")
    output = accepted.stdout + accepted.stderr
    assert accepted.returncode == 0, output
    assert "Passed" in output, output
    assert git("rev-list", "--count", "HEAD", cwd=project, env=env).stdout.strip() == "2"


@pytest.mark.network  # pre-commit builds the hook's environment with pip
def test_hook_matches_other_dockerfile_names(project, env):
    refused = commit(project, env, "gpu.Dockerfile", BAD, "bad gpu")
    assert refused.returncode != 0 and "SM101" in refused.stdout + refused.stderr
    git("reset", "-q", "HEAD", "gpu.Dockerfile", cwd=project, env=env)
    (project / "gpu.Dockerfile").unlink()


@pytest.mark.network  # pre-commit builds the hook's environment with pip
def test_hook_skips_files_that_are_not_dockerfiles(project, env):
    # Not a Dockerfile at all: smlint would call it unreadable (SM001), but
    # `types: [dockerfile]` keeps pre-commit from passing it.
    skipped = commit(project, env, "notes.txt", "ENTRYPOINT python3 job.py\n", "notes")
    output = skipped.stdout + skipped.stderr
    assert skipped.returncode == 0, output
    assert "Skipped" in output, output


@pytest.mark.network  # pre-commit builds the hook's environment with pip
def test_run_all_files_reports_the_bad_file(project, env):
    (project / "Dockerfile.train").write_text(BAD)
    git("add", "Dockerfile.train", cwd=project, env=env)
    run = subprocess.run([*PRE_COMMIT, "run", "--all-files"], cwd=project, env=env, capture_output=True,
                         text=True, timeout=300)
    git("rm", "-q", "--cached", "Dockerfile.train", cwd=project, env=env)
    (project / "Dockerfile.train").unlink()
    output = run.stdout + run.stderr
    assert run.returncode == 1, output
    assert "Dockerfile.train" in output and "SM101" in output
    assert "Dockerfile:" not in output.replace("Dockerfile.train", "")  # the good one is clean


@pytest.mark.network  # pre-commit builds the hook's environment with pip
def test_job_hook_refuses_a_bad_request_and_accepts_a_good_one(project, env):
    jobs = ROOT / "fixtures" / "jobs"
    (project / "deploy").mkdir(exist_ok=True)
    refused = commit(project, env, "deploy/processing-job.yaml", (jobs / "processing-job-bad.yaml").read_text(),
                     "bad job")
    output = refused.stdout + refused.stderr
    assert refused.returncode != 0, output
    assert "SM301" in output and "deploy/processing-job.yaml" in output, output
    git("rm", "-q", "--cached", "deploy/processing-job.yaml", cwd=project, env=env)
    (project / "deploy" / "processing-job.yaml").unlink()
    accepted = commit(project, env, "deploy/processing-job.json", (jobs / "processing-job.json").read_text(),
                      "good job")
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    # A Dockerfile-only commit leaves the job hook out, and a JSON file not
    # named like a request is not passed to it.
    skipped = commit(project, env, "package.json", "{}\n", "not a request")
    assert skipped.returncode == 0, skipped.stdout + skipped.stderr


def test_fix_hook_fixes_the_file_and_fails_then_passes(fix_project, env):
    refused = commit(fix_project, env, "Dockerfile", BAD, "bad")
    output = refused.stdout + refused.stderr
    assert refused.returncode != 0, output
    assert "files were modified by this hook" in output, output
    assert (fix_project / "Dockerfile").read_text() == GOOD
    git("add", "Dockerfile", cwd=fix_project, env=env)
    accepted = git("commit", "-m", "fixed", cwd=fix_project, env=env, check=False)
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    # What --fix cannot fix still fails the hook, and the file is left as it is.
    unfixable = BAD.replace("/app/job.py", "/app/job.py | tee /tmp/log")
    refused = commit(fix_project, env, "Dockerfile.train", unfixable, "pipeline")
    assert refused.returncode != 0 and "SM101" in refused.stdout + refused.stderr
    assert (fix_project / "Dockerfile.train").read_text() == unfixable
