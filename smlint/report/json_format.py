"""Versioned JSON for scripts; the schema is `findings.schema.json` beside this."""
from __future__ import annotations

import json

from .. import __version__
from . import Report

SCHEMA_VERSION = 2


def finding_dict(finding) -> dict:
    span = finding.span
    return {
        "rule": finding.rule_id,
        "name": finding.rule_name,
        "severity": str(finding.severity),
        "message": finding.message,
        "path": finding.path,
        "line": span.line if span else None,
        "column": span.column if span else None,
        "end_line": (span.end_line or span.line) if span else None,
        "end_column": span.end_column if span else None,
        "pointer": finding.pointer,
        "help_uri": finding.help_uri,
        "data": finding.data,
        "fix": fix_dict(finding.fix),
    }


def fix_dict(fix) -> dict | None:
    """The edits that remove the finding (what `smlint lint --fix` applies)."""
    if fix is None:
        return None
    return {
        "description": fix.description,
        "safe": fix.safe,
        "edits": [
            {"line": e.line, "column": e.column, "end_line": e.end_line, "end_column": e.end_column, "text": e.text}
            for e in fix.edits
        ],
    }


def document(report: Report) -> dict:
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "smlint", "version": __version__},
        "command": report.command,
        "targets": report.targets,
        "findings": [finding_dict(f) for f in report.sorted_findings()],
        "summary": report.counts(),
        "result": report.result,
    }


def render(report: Report) -> str:
    return json.dumps(document(report), indent=2, ensure_ascii=False, default=str) + "\n"
