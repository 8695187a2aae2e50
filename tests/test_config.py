"""Layered configuration: discovery, file formats, validation, rule keys,
per-path ignores, command-line precedence and the CLI's exit code 2."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from smlint import catalog
from smlint.config import ConfigError, build_policy, discover, expand_rules, load_policy, read_file
from smlint.engine import make_finding
from smlint.findings import Problem, Severity


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def repo(tmp_path):
    """A repository root (it has .git) with a nested working directory."""
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    (root / "a" / "b").mkdir(parents=True)
    return root


# ----------------------------------------------------------------- discovery


def test_discovery_walks_up_to_the_nearest_file(repo):
    found = write(repo / ".smlint.yaml", "fail-on: error\n")
    assert discover(str(repo / "a" / "b")) == str(found)
    nearer = write(repo / "a" / ".smlint.yml", "fail-on: info\n")
    assert discover(str(repo / "a" / "b")) == str(nearer)


def test_discovery_stops_at_the_repository_root(tmp_path, repo):
    write(tmp_path / ".smlint.yaml", "fail-on: error\n")  # above the repo: not ours
    assert discover(str(repo / "a" / "b")) is None
    assert discover(str(repo)) is None


def test_discovery_finds_a_file_in_the_repository_root_itself(repo):
    found = write(repo / ".smlint.yaml", "{}\n")
    assert discover(str(repo)) == str(found)


def test_discovery_skips_pyproject_without_a_tool_table(repo):
    write(repo / "a" / "pyproject.toml", "[project]\nname = 'x'\n")
    found = write(repo / "pyproject.toml", "[project]\nname = 'x'\n\n[tool.smlint]\nfail-on = 'error'\n")
    assert discover(str(repo / "a" / "b")) == str(found)


def test_discovery_prefers_smlint_yaml_over_pyproject_in_one_directory(repo):
    write(repo / "pyproject.toml", "[tool.smlint]\nfail-on = 'error'\n")
    found = write(repo / ".smlint.yaml", "fail-on: info\n")
    assert discover(str(repo)) == str(found)


def test_load_policy_uses_the_discovered_file(repo, monkeypatch):
    write(repo / ".smlint.yaml", "fail-on: info\nignore: [SM003]\n")
    monkeypatch.chdir(repo / "a" / "b")
    policy = load_policy()
    assert policy.fail_on == Severity.INFO
    assert not policy.enabled("SM003")
    assert policy.source == str(repo / ".smlint.yaml")


def test_no_file_gives_the_defaults(repo, monkeypatch):
    monkeypatch.chdir(repo / "a")
    policy = load_policy()
    assert policy.source is None and policy.fail_on == Severity.WARNING
    assert all(policy.enabled(rule_id) for rule_id in catalog.load())


# ---------------------------------------------------------- the two formats


def test_yaml_and_pyproject_give_the_same_settings(tmp_path):
    yaml_file = write(tmp_path / ".smlint.yaml", """\
select: [SM0]
ignore: [unused-suppression]
severity: {rule-crashed: warning}
fail-on: error
per-path-ignores:
  "legacy/*": [SM003]
warn-unused-ignores: true
build-args: {PYTHON: "3.12"}
large-image-size: 5GiB
""")
    toml_file = write(tmp_path / "pyproject.toml", """\
[tool.smlint]
select = ["SM0"]
ignore = ["unused-suppression"]
severity = {rule-crashed = "warning"}
fail-on = "error"
warn-unused-ignores = true
build-args = {PYTHON = "3.12"}
large-image-size = "5GiB"

[tool.smlint.per-path-ignores]
"legacy/*" = ["SM003"]
""")
    from_yaml, from_toml = read_file(str(yaml_file)), read_file(str(toml_file))
    assert from_yaml == from_toml
    policy = build_policy(from_yaml, str(yaml_file))
    assert policy.select == frozenset({"SM001", "SM002", "SM003"})
    assert policy.ignore == frozenset({"SM002"})
    assert policy.severities == {"SM003": Severity.WARNING}
    assert policy.fail_on == Severity.ERROR
    assert policy.warn_unused_ignores is True
    assert policy.build_args == {"PYTHON": "3.12"}
    assert policy.option("large-image-size") == 5 * 1024**3


def test_empty_yaml_file_is_the_defaults(tmp_path):
    assert read_file(str(write(tmp_path / ".smlint.yaml", "\n"))) == {}


def test_fail_on_never(tmp_path):
    policy = build_policy(read_file(str(write(tmp_path / ".smlint.yaml", "fail-on: never\n"))))
    assert policy.fail_on is None


# ---------------------------------------------------------------- validation


def test_unknown_key_names_the_file_and_the_key(tmp_path):
    path = write(tmp_path / ".smlint.yaml", "fail-on: error\nselectt: [SM101]\n")
    with pytest.raises(ConfigError) as error:
        read_file(str(path))
    message = str(error.value)
    assert message.startswith(str(path) + ":")
    assert "selectt" in message and "unknown key" in message


def test_unknown_key_in_pyproject_names_the_file_and_the_key(tmp_path):
    path = write(tmp_path / "pyproject.toml", "[tool.smlint]\nfailon = 'error'\n")
    with pytest.raises(ConfigError, match=r"pyproject\.toml.*failon"):
        read_file(str(path))


@pytest.mark.parametrize(
    "text, key, reason",
    [
        ("fail-on: sometimes\n", "fail-on", "sometimes"),
        ("severity: {SM003: fatal}\n", "severity.SM003", "fatal"),
        ("select: SM101\n", "select", "not of type 'array'"),
        ("per-path-ignores: {'x/*': SM101}\n", "per-path-ignores.x/*", "not of type 'array'"),
        ("disable-inline-ignores: 'yes'\n", "disable-inline-ignores", "not of type 'boolean'"),
        ("large-image-size: lots\n", "large-image-size", "lots"),
        ("grace-period: 0\n", "grace-period", "0"),
    ],
)
def test_bad_values_name_the_key_and_the_reason(tmp_path, text, key, reason):
    path = write(tmp_path / ".smlint.yaml", text)
    with pytest.raises(ConfigError) as error:
        read_file(str(path))
    message = str(error.value)
    assert message.startswith(f"{path}: key {key}:"), message
    assert reason in message


def test_top_level_must_be_a_mapping(tmp_path):
    with pytest.raises(ConfigError, match="not of type 'object'"):
        read_file(str(write(tmp_path / ".smlint.yaml", "- SM101\n")))


def test_invalid_yaml_gives_the_position(tmp_path):
    path = write(tmp_path / ".smlint.yaml", "select: [SM101\nignore: x\n")
    with pytest.raises(ConfigError, match=r"not valid YAML at line \d+, column \d+"):
        read_file(str(path))


def test_invalid_toml(tmp_path):
    with pytest.raises(ConfigError, match="not valid TOML"):
        read_file(str(write(tmp_path / "pyproject.toml", "[tool.smlint\nfail-on = 'x'\n")))


def test_unreadable_named_config(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config"):
        load_policy(str(tmp_path / "missing.yaml"))


# ----------------------------------------------------------------- rule keys


def test_rule_keys_ids_names_and_prefixes():
    assert expand_rules(["SM003"], "x") == {"SM003"}
    assert expand_rules(["sm003"], "x") == {"SM003"}
    assert expand_rules(["rule-crashed"], "x") == {"SM003"}
    assert expand_rules(["Unused-Suppression"], "x") == {"SM002"}
    assert expand_rules(["SM00"], "x") == {"SM001", "SM002", "SM003"}
    every_sm0 = {rule_id for rule_id in catalog.load() if rule_id.startswith("SM0")}
    assert expand_rules(["SM0"], "x") == every_sm0


@pytest.mark.parametrize("key", ["SM999", "SM9", "no-such-rule", "DL3000", "SM"])
def test_unknown_rule_keys_are_errors(key):
    with pytest.raises(ConfigError, match=rf"where: unknown rule '{key}'"):
        expand_rules([key], "where")


def test_unknown_rule_in_a_file_names_the_file_and_the_key(tmp_path):
    path = write(tmp_path / ".smlint.yaml", "ignore: [SM003, not-a-rule]\n")
    with pytest.raises(ConfigError, match=rf"{path}: ignore: unknown rule 'not-a-rule'"):
        load_policy(str(path))
    path = write(tmp_path / ".smlint.yaml", "per-path-ignores: {'a/*': [SM9]}\n")
    with pytest.raises(ConfigError, match=r"per-path-ignores\.a/\*: unknown rule 'SM9'"):
        load_policy(str(path))


def test_select_and_ignore():
    policy = build_policy({"select": ["SM00"], "ignore": ["rule-crashed"]})
    assert policy.enabled("SM002") and not policy.enabled("SM003")
    assert not any(policy.enabled(rule_id) for rule_id in catalog.load() if not rule_id.startswith("SM00"))


def test_sm001_cannot_be_turned_off():
    policy = build_policy({"select": ["SM003"], "ignore": ["SM001"], "per-path-ignores": {"*": ["SM001"]}})
    assert policy.enabled("SM001", "Dockerfile")


def test_per_path_ignores():
    policy = build_policy({"per-path-ignores": {"legacy/*.Dockerfile": ["rule-crashed"], "**/vendor/**": ["SM002"]}})
    assert not policy.enabled("SM003", "legacy/gpu.Dockerfile")
    assert not policy.enabled("SM003", "./legacy/gpu.Dockerfile")
    assert policy.enabled("SM003", "current/gpu.Dockerfile")
    assert policy.enabled("SM002", "legacy/gpu.Dockerfile")
    assert not policy.enabled("SM002", "src/vendor/x/Dockerfile")
    assert policy.enabled("SM002", "src/x/Dockerfile")


def test_per_path_ignores_take_a_dot_slash_prefix_off_not_characters():
    policy = build_policy({"per-path-ignores": {".devcontainer/**": ["SM101"], "odd/*": ["SM111"]}})
    assert not policy.enabled("SM101", "./.devcontainer/Dockerfile")
    assert not policy.enabled("SM101", "././.devcontainer/Dockerfile")
    assert not policy.enabled("SM101", ".devcontainer/Dockerfile")
    assert policy.enabled("SM101", "./devcontainer/Dockerfile")
    # lstrip("./") would have made "./.odd/x" match "odd/*"
    assert policy.enabled("SM111", "./.odd/Dockerfile")
    assert not policy.enabled("SM111", "./odd/Dockerfile")


def test_ignoring_sm003_silences_a_crashing_rule():
    from smlint.engine import Registry, run_checks

    registry = Registry()

    @registry.check("SM101")
    def crashes(subject):
        raise ZeroDivisionError("boom")

    crashed = run_checks(registry, object(), "Dockerfile", build_policy({}))
    assert [f.rule_id for f in crashed] == ["SM003"] and "rule SM101 crashed" in crashed[0].message
    assert run_checks(registry, object(), "Dockerfile", build_policy({"ignore": ["SM003"]})) == []
    per_path = build_policy({"per-path-ignores": {"legacy/*": ["rule-crashed"]}})
    assert run_checks(registry, object(), "legacy/Dockerfile", per_path) == []
    assert [f.rule_id for f in run_checks(registry, object(), "Dockerfile", per_path)] == ["SM003"]


def test_severity_override_reaches_the_finding():
    policy = build_policy({"severity": {"rule-crashed": "info"}})
    finding = make_finding("SM003", "Dockerfile", Problem("boom"), policy)
    assert finding.severity == Severity.INFO
    assert make_finding("SM003", "Dockerfile", Problem("boom")).severity == Severity.ERROR


# ------------------------------------------------------ command line wins


def test_command_line_overrides_the_file(tmp_path):
    path = write(tmp_path / ".smlint.yaml", "fail-on: info\nselect: [SM002]\nignore: [SM002]\n"
                 "build-args: {A: '1', B: '2'}\n")
    policy = load_policy(str(path), {"fail-on": "error", "select": ["SM00"], "ignore": ["SM003"],
                                     "build-args": {"B": "3"}})
    assert policy.fail_on == Severity.ERROR
    assert policy.select == frozenset({"SM001", "SM002", "SM003"})
    # ignore adds to the file's list rather than replacing it
    assert policy.ignore == frozenset({"SM002", "SM003"})
    assert policy.build_args == {"A": "1", "B": "3"}


def test_options_not_given_keep_the_file_values(tmp_path):
    path = write(tmp_path / ".smlint.yaml", "fail-on: info\nwarn-unused-ignores: true\n")
    policy = load_policy(str(path), {"fail-on": None, "select": None, "ignore": [], "warn-unused-ignores": None})
    assert policy.fail_on == Severity.INFO and policy.warn_unused_ignores is True


def test_named_config_wins_over_discovery(repo, monkeypatch):
    write(repo / ".smlint.yaml", "fail-on: info\n")
    named = write(repo / "other.yaml", "fail-on: error\n")
    monkeypatch.chdir(repo)
    assert load_policy(str(named)).fail_on == Severity.ERROR


# ----------------------------------------------------------------------- CLI

def smlint(*args, cwd):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMLINT_")}
    return subprocess.run([sys.executable, "-m", "smlint", *args], cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=60)


def assert_config_error(result, *fragments):
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("smlint: config error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0]
    assert "Traceback" not in result.stderr


GOOD = 'FROM python:3.12-slim@sha256:' + "0" * 64 + '\nENTRYPOINT ["python3", "/app/job.py"]\n'
BAD = "FROM python:3.12-slim@sha256:" + "0" * 64 + "\nENTRYPOINT python3 /app/job.py\n"


def test_cli_unknown_key_is_exit_2_with_one_line(repo):
    write(repo / ".smlint.yaml", "fail-on: error\nbogus-key: 1\n")
    write(repo / "a" / "Dockerfile", GOOD)
    result = smlint("lint", "Dockerfile", cwd=repo / "a")
    assert_config_error(result, str(repo / ".smlint.yaml"), "bogus-key")
    assert result.stdout == ""


def test_cli_bad_value_is_exit_2(repo):
    write(repo / "pyproject.toml", "[tool.smlint]\nfail-on = 'sometimes'\n")
    write(repo / "Dockerfile", GOOD)
    assert_config_error(smlint("lint", "Dockerfile", cwd=repo), "pyproject.toml", "fail-on", "sometimes")


def test_cli_unknown_rule_on_the_command_line_is_exit_2(repo):
    write(repo / "Dockerfile", GOOD)
    assert_config_error(smlint("lint", "--select", "SM999", "Dockerfile", cwd=repo), "select", "SM999")


def test_cli_missing_named_config_is_exit_2(repo):
    write(repo / "Dockerfile", GOOD)
    assert_config_error(smlint("lint", "--config", "nope.yaml", "Dockerfile", cwd=repo), "nope.yaml")


def test_cli_command_line_wins_over_the_file(repo):
    write(repo / ".smlint.yaml", "fail-on: never\n")
    write(repo / "Dockerfile", BAD)
    relaxed = smlint("lint", "Dockerfile", cwd=repo)
    assert relaxed.returncode == 0, relaxed.stdout + relaxed.stderr
    assert "SM101" in relaxed.stdout
    strict = smlint("lint", "--fail-on", "error", "Dockerfile", cwd=repo)
    assert strict.returncode == 1, strict.stdout + strict.stderr
    write(repo / ".smlint.yaml", "fail-on: error\nignore: [entrypoint-shell-form]\n")
    ignored = smlint("lint", "Dockerfile", cwd=repo)
    assert "SM101" not in ignored.stdout
    selected = smlint("lint", "--select", "SM101", "--config", str(repo / "none.yaml"), "Dockerfile", cwd=repo)
    assert selected.returncode == 2  # the named file is missing: exit 2, never linted with defaults
