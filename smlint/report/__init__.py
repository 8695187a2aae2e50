"""Output formats, one module each behind `render(report) -> str`.

Formatters are looked up by name and imported only when used, so the text
path never pays for SARIF or JSON.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field

from ..findings import Finding, Severity

FORMATS = {
    "text": "smlint.report.text",
    "json": "smlint.report.json_format",
    "sarif": "smlint.report.sarif",
    "github": "smlint.report.github",
}


@dataclass
class Report:
    """Everything one command found, in the order it should be shown."""

    command: str
    findings: list[Finding] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)
    # Text of each checked file, for showing offending lines and fingerprints.
    sources: dict[str, list[str]] = field(default_factory=dict)
    # Command-specific results for people (text) and scripts (json "result").
    summary_lines: list[str] = field(default_factory=list)
    result: dict = field(default_factory=dict)

    def sorted_findings(self) -> list[Finding]:
        return sorted(self.findings, key=Finding.sort_key)

    def counts(self) -> dict[str, int]:
        counts = {str(level): 0 for level in sorted(Severity, reverse=True)}
        for finding in self.findings:
            counts[str(finding.severity)] += 1
        return counts

    @property
    def input_errors(self) -> list[Finding]:
        return [f for f in self.findings if f.rule_id == "SM001"]


def render(report: Report, fmt: str, **options) -> str:
    return importlib.import_module(FORMATS[fmt]).render(report, **options)
