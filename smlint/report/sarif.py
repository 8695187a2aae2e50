"""SARIF 2.1.0 as GitHub code scanning accepts it.

Rules carry helpUri and default levels; results carry ruleIndex, a region,
a relative artifactLocation against %SRCROOT%, and a partialFingerprint that
survives unrelated edits (it hashes the rule, file and offending text, not the
line number). Unreadable inputs are recorded as tool execution notifications.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from urllib.parse import quote

from .. import __version__, catalog
from . import Report

_LEVELS = {"error": "error", "warning": "warning", "info": "note"}
SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"


def _uri(path: str) -> str:
    normalised = path.replace(os.sep, "/")
    if normalised.startswith("./"):
        normalised = normalised[2:]
    return quote(normalised, safe="/:@+-._~")


def _rule_descriptor(doc: catalog.RuleDoc) -> dict:
    sections = doc.sections()
    why = sections.get("Why it matters for Processing", "")
    return {
        "id": doc.id,
        "name": doc.name,
        "shortDescription": {"text": doc.summary},
        "fullDescription": {"text": why or doc.summary},
        "helpUri": doc.help_uri,
        "help": {"text": f"{doc.summary}\n\n{why}\n\n{doc.help_uri}".strip(), "markdown": doc.body()},
        "defaultConfiguration": {"level": _LEVELS[str(doc.severity)]},
        "properties": {"tags": ["sagemaker-processing", doc.scope], "precision": "high"},
    }


def _fingerprint(finding, lines: list[str] | None, occurrence: int) -> str:
    text = ""
    if lines and finding.span and 1 <= finding.line <= len(lines):
        text = " ".join(lines[finding.line - 1].split())
    key = "\0".join([finding.rule_id, finding.path, text or finding.pointer or finding.message, str(occurrence)])
    return hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()[:32]


def _artifact(path: str) -> dict:
    """Relative to %SRCROOT% (the working directory); an absolute path outside
    it becomes an absolute file URI, which must not carry a uriBaseId."""
    if os.path.isabs(path):
        try:
            relative = os.path.relpath(path)
        except ValueError:  # another drive on Windows
            return {"uri": Path(path).as_uri()}
        if relative == os.pardir or relative.startswith(os.pardir + os.sep):
            return {"uri": Path(path).as_uri()}
        path = relative
    return {"uri": _uri(path), "uriBaseId": "%SRCROOT%"}


def _location(finding) -> dict:
    physical: dict = {"artifactLocation": _artifact(finding.path)}
    span = finding.span
    if span:
        region = {"startLine": span.line, "startColumn": span.column}
        if span.end_line:
            region["endLine"] = span.end_line
        if span.end_column:
            region["endColumn"] = span.end_column
        physical["region"] = region
    location: dict = {"physicalLocation": physical}
    if finding.pointer:
        location["logicalLocations"] = [{"fullyQualifiedName": finding.pointer}]
    return location


def _fix(finding) -> dict:
    """A SARIF fix: regions by line and column, in the run's columnKind
    (unicodeCodePoints, as the spans are); an unsafe one says so."""
    fix = finding.fix
    replacements = [
        {
            "deletedRegion": {"startLine": e.line, "startColumn": e.column, "endLine": e.end_line,
                              "endColumn": e.end_column},
            "insertedContent": {"text": e.text},
        }
        for e in fix.edits
    ]
    return {
        "description": {"text": fix.description},
        "artifactChanges": [{"artifactLocation": _artifact(finding.path), "replacements": replacements}],
        "properties": {"safe": fix.safe},
    }


def document(report: Report) -> dict:
    docs = list(catalog.load().values())
    index = {doc.id: i for i, doc in enumerate(docs)}
    results, notifications, seen = [], [], {}
    for finding in report.sorted_findings():
        if finding.rule_id == "SM001":
            notifications.append(
                {
                    "level": "error",
                    "message": {"text": finding.message},
                    "locations": [_location(finding)],
                    "descriptor": {"id": "SM001", "index": index["SM001"]},
                }
            )
        key = (finding.rule_id, finding.path, finding.line)
        seen[key] = seen.get(key, -1) + 1
        result = {
            "ruleId": finding.rule_id,
            "ruleIndex": index[finding.rule_id],
            "level": _LEVELS[str(finding.severity)],
            "message": {"text": finding.message},
            "locations": [_location(finding)],
            "partialFingerprints": {
                "smlint/v1": _fingerprint(finding, report.sources.get(finding.path), seen[key])
            },
        }
        if finding.data:
            result["properties"] = finding.data
        if finding.fix is not None:
            result["fixes"] = [_fix(finding)]
        results.append(result)
    return {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "smlint",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "informationUri": "https://github.com/smlint/smlint",
                        "rules": [_rule_descriptor(doc) for doc in docs],
                    }
                },
                "automationDetails": {"id": f"smlint/{report.command}/"},
                "originalUriBaseIds": {"%SRCROOT%": {"uri": Path(os.getcwd()).as_uri() + "/"}},
                "invocations": [
                    {
                        "executionSuccessful": not notifications,
                        "toolExecutionNotifications": notifications,
                    }
                ],
                "results": results,
                "columnKind": "unicodeCodePoints",
            }
        ],
    }


def render(report: Report) -> str:
    return json.dumps(document(report), indent=2, ensure_ascii=False) + "\n"
