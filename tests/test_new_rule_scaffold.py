"""scripts/new-rule, run in a temporary copy of the project: it writes a catalog
file, a check stub and a test row that the registries and catalog agree on."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = "scripts/new-rule"


@pytest.fixture
def copy(tmp_path):
    target = tmp_path / "project"
    for folder in ("smlint", "rules", "scripts"):
        shutil.copytree(ROOT / folder, target / folder, ignore=shutil.ignore_patterns("__pycache__"))
    (target / "tests").mkdir()
    shutil.copy2(ROOT / "tests" / "test_dockerfile_rules.py", target / "tests")
    return target


def scaffold(copy: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(copy / SCRIPT), *args], capture_output=True, text=True, cwd=copy,
                          timeout=120)


def in_copy(copy: Path, code: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(copy)}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=copy, env=env,
                          timeout=120)


def test_new_dockerfile_rule_is_registered_documented_and_tested(copy):
    result = scaffold(copy, "SM199", "example-new-rule")
    assert result.returncode == 0, result.stderr
    assert "wrote rules/SM199.md" in result.stdout and "wrote tests/test_dockerfile_rules.py" in result.stdout
    text = (copy / "rules" / "SM199.md").read_text()
    assert text.startswith("---\nid: SM199\nname: example-new-rule\nseverity: warning\nscope: dockerfile\n")
    assert '("SM199", P + EP, False),' in (copy / "tests" / "test_dockerfile_rules.py").read_text()
    checked = in_copy(copy, (
        "import smlint; assert smlint.__file__.startswith(%r), smlint.__file__\n"
        "from smlint import catalog, lint_text\n"
        "from smlint.dockerfile.lint import registry\n"
        "doc = catalog.load()['SM199']\n"
        "assert doc.scope == 'dockerfile' and 'SM199' in registry.checks\n"
        "for _, example in doc.examples('Example') + doc.examples('Use instead'):\n"
        "    assert not [f for f in lint_text(example) if f.rule_id in ('SM001', 'SM003')]\n"
        "print('ok')\n") % str(copy))
    assert checked.stdout == "ok\n", checked.stderr
    row = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "SM199",
                          "tests/test_dockerfile_rules.py"], capture_output=True, text=True, cwd=copy,
                         env={**os.environ, "PYTHONPATH": str(copy)}, timeout=300)
    assert row.returncode == 0 and "1 passed" in row.stdout, row.stdout + row.stderr


@pytest.mark.parametrize("args, scope, registry", [
    (("SM299", "example-image-rule"), "image", "smlint.image.checks:registry"),
    (("SM399", "example-job-rule", "--severity", "error"), "job", "smlint.job.checks:registry"),
    (("SM499", "example-probe-rule", "--probe"), "probe", "smlint.run.probe_checks:registry"),
])
def test_new_rule_in_each_area(copy, args, scope, registry):
    assert scaffold(copy, *args).returncode == 0
    module, name = registry.split(":")
    checked = in_copy(copy, (
        f"from smlint import catalog\nimport {module} as m\n"
        f"doc = catalog.load()[{args[0]!r}]\n"
        f"assert doc.scope == {scope!r}, doc.scope\nassert {args[0]!r} in m.{name}.checks\nprint('ok')\n"))
    assert checked.stdout == "ok\n", checked.stderr


@pytest.mark.parametrize("args, message", [
    (("SM101", "another-name"), "rules/SM101.md exists"),
    (("SM198", "entrypoint-shell-form"), "the name 'entrypoint-shell-form' belongs to SM101"),
    (("SM001", "x"), "ids are SM100-SM499"),
    (("SM198", "Bad_Name"), "kebab-case"),
    (("SM198", "x", "--probe"), "--probe goes with an SM4xx id"),
])
def test_new_rule_refuses_what_would_clash(copy, args, message):
    before = sorted(os.listdir(copy / "rules"))
    result = scaffold(copy, *args)
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert sorted(os.listdir(copy / "rules")) == before
