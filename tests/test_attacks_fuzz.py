"""Fuzzing request and config shapes (issue 11, items 4 and 5): whatever JSON or
YAML a job request or a .smlint.yaml holds, smlint answers with findings or
one clear error, never an internal error (an exception, SM003).

Requests start from a valid one and get a value somewhere replaced by any
JSON value (wrong types, huge integers, infinities, deep lists), or a known
field name added where it does not belong.
"""
from __future__ import annotations

import copy
import json
import math
import os

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import FIXTURES
from smlint.config import ConfigError, load_policy
from smlint.job.command import ImageSource, check_requests, explain
from smlint.report import render

with open(os.path.join(FIXTURES, "jobs", "processing-job.json"), encoding="utf-8") as handle:
    VALID_REQUEST = json.load(handle)
with open(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "smlint", "job",
                       "processing-job.schema.json"), encoding="utf-8") as handle:
    _SCHEMA_TEXT = handle.read()


def _field_names(schema: object) -> list[str]:
    names, pending = set(), [schema]
    while pending:
        value = pending.pop()
        if isinstance(value, dict):
            names.update(k for k in (value.get("properties") or {}) if isinstance(k, str))
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return sorted(names)


FIELD_NAMES = _field_names(json.loads(_SCHEMA_TEXT))
CONFIG_KEYS = ["select", "ignore", "severity", "fail-on", "per-path-ignores", "disable-inline-ignores",
               "warn-unused-ignores", "build-args", "job-files", "large-image-size", "grace-period"]

_scalars = st.one_of(
    st.none(), st.booleans(),
    st.integers(), st.integers(min_value=10**18, max_value=10**40), st.just(10**200),
    st.floats(allow_nan=False, allow_infinity=False), st.sampled_from([1e308, -0.0, 1.5]),
    st.text(max_size=20), st.sampled_from(["", "SM1", "ml.m5.xlarge", "/opt/ml/processing/in", "s3://b/k",
                                           "echo hi", "error", "10GiB", "1e999GB", "\n\x1b[2J", "*"]),
)
_values = st.recursive(
    _scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(FIELD_NAMES), st.text(max_size=8)), children, max_size=4),
    ),
    max_leaves=12,
)


def _paths(value: object, prefix: tuple = ()) -> list[tuple]:
    """Every path to a value in `value`, the root too."""
    found, pending = [], [(prefix, value)]
    while pending:
        path, item = pending.pop()
        found.append(path)
        if isinstance(item, dict):
            pending.extend((path + (key,), child) for key, child in item.items())
        elif isinstance(item, list):
            pending.extend((path + (index,), child) for index, child in enumerate(item))
    return sorted(found, key=lambda p: [str(t) for t in p])


REQUEST_PATHS = _paths(VALID_REQUEST)


@st.composite
def mutated_requests(draw) -> object:
    request = copy.deepcopy(VALID_REQUEST)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        path = draw(st.sampled_from(REQUEST_PATHS))
        new = draw(_values)
        if not path:
            return new
        parent = request
        try:
            for token in path[:-1]:
                parent = parent[token]
            if draw(st.booleans()) and isinstance(parent, dict):
                parent[draw(st.sampled_from(FIELD_NAMES))] = new
            else:
                parent[path[-1]] = new
        except (KeyError, IndexError, TypeError):
            continue  # an earlier change removed this path
    return request


def _dump(data: object, syntax: str) -> str:
    if syntax == "json":
        return json.dumps(data, allow_nan=True)
    return yaml.safe_dump(data, default_flow_style=False, allow_unicode=True)


def _no_internal_error(report, *, where: str) -> None:
    rules = {finding.rule_id for finding in report.findings}
    assert "SM003" not in rules, (where, [f.message for f in report.findings if f.rule_id == "SM003"])
    for fmt in ("text", "json", "sarif", "github"):
        render(report, fmt)  # renders without raising


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                                  HealthCheck.function_scoped_fixture])
@given(request=mutated_requests(), syntax=st.sampled_from(["json", "yaml"]))
def test_job_and_explain_never_fail_internally(tmp_path, request, syntax):
    path = tmp_path / f"processing-job.{syntax}"
    text = _dump(request, syntax)
    path.write_text(text, encoding="utf-8")
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text('FROM scratch\nENTRYPOINT ["/bin/run"]\nCMD ["--x"]\n', encoding="utf-8")
    source = ImageSource(dockerfile=str(dockerfile))
    policy = load_policy(None, {})
    _no_internal_error(check_requests([str(path)], policy, source), where=text)
    _no_internal_error(explain(str(path), source), where=text)


_config_values = st.one_of(
    _values,
    st.lists(st.sampled_from(["SM1", "SM101", "unpinned-base-image", "nope", ""]), max_size=3),
    st.dictionaries(st.sampled_from(["SM101", "SM1", "*.Dockerfile", "x"]),
                    st.sampled_from(["error", "warning", "info", "loud", 1, None, ["SM101"]]), max_size=3),
)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(config=st.one_of(st.dictionaries(st.sampled_from(CONFIG_KEYS), _config_values, max_size=4), _values),
       syntax=st.sampled_from(["yaml", "toml"]))
def test_config_files_never_fail_internally(tmp_path, config, syntax):
    from smlint.dockerfile.lint import lint_text

    if syntax == "toml":
        path = tmp_path / "pyproject.toml"
        text = "[tool.smlint]\n" + "".join(f"{key} = {_toml(value)}\n" for key, value in
                                          (config.items() if isinstance(config, dict) else []))
    else:
        path = tmp_path / ".smlint.yaml"
        text = yaml.safe_dump(config)
    path.write_text(text, encoding="utf-8")
    try:
        policy = load_policy(str(path), {})
    except ConfigError as error:
        assert str(error) and "\n" not in str(error).strip(), text
        return
    findings = lint_text("FROM busybox\nRUN apt-get install -y curl\n", "Dockerfile", policy)
    assert not [f for f in findings if f.rule_id == "SM003"], text


def _toml(value: object) -> str:
    """A TOML value for `value`, as near as TOML allows (no null)."""
    if value is None:
        return '""'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else "inf"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    return "{" + ", ".join(f"{json.dumps(str(k))} = {_toml(v)}" for k, v in value.items()) + "}"
