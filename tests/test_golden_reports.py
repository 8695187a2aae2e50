"""Golden files of the four report formats (tests/golden/report.*).

The report is test_report_formats' sample (meta rules SM002/SM003 only, so no
check's wording moves it). What changes with every release or new rule is
normalised first: the version, the working directory, and SARIF's driver rule table, cut to the rules
the results use after checking that each ruleIndex points at its rule.

Regenerate after an intended change, then review the diff:
    SMLINT_REGENERATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_golden_reports.py
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from test_report_formats import sample_report

import smlint
from smlint.report import FORMATS, render

GOLDEN = Path(__file__).resolve().parent / "golden"
REGENERATE = os.environ.get("SMLINT_REGENERATE_GOLDEN") == "1"
EXTENSIONS = {"text": "txt", "json": "json", "sarif": "sarif", "github": "github"}


def _normalised_sarif(text: str) -> str:
    sarif = json.loads(text)
    for run in sarif["runs"]:
        driver = run["tool"]["driver"]
        rules = driver["rules"]
        for result in run["results"]:
            assert rules[result.pop("ruleIndex")]["id"] == result["ruleId"]
        used = {result["ruleId"] for result in run["results"]}
        driver["rules"] = [rule for rule in rules if rule["id"] in used]
    return json.dumps(sarif, indent=2, sort_keys=True) + "\n"


def normalised(fmt: str, text: str) -> str:
    text = text.replace(f'"{smlint.__version__}"', '"<version>"')
    text = text.replace(f'"{Path.cwd().as_uri().rstrip("/")}/"', '"<working directory>/"')  # SARIF's %SRCROOT%
    return _normalised_sarif(text) if fmt == "sarif" else text


def test_every_format_has_a_golden_file():
    assert set(EXTENSIONS) == set(FORMATS)


@pytest.mark.parametrize("fmt", sorted(EXTENSIONS))
def test_format_matches_its_golden_file(fmt):
    path = GOLDEN / f"report.{EXTENSIONS[fmt]}"
    produced = normalised(fmt, render(sample_report(), fmt))
    if REGENERATE:
        path.write_text(produced, encoding="utf-8")
    assert path.is_file(), f"{path} is missing: regenerate it (see this module's docstring)"
    assert produced == path.read_text(encoding="utf-8"), f"{fmt} output differs from {path.name}"
