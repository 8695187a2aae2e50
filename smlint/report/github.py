"""GitHub Actions workflow commands: one annotation per finding."""
from __future__ import annotations

from . import Report

_LEVELS = {"error": "error", "warning": "warning", "info": "notice"}


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def render(report: Report) -> str:
    out = []
    for finding in report.sorted_findings():
        # Annotations are matched to the repository's files by relative path.
        path = finding.path[2:] if finding.path.startswith("./") else finding.path
        props = [f"file={_property(path)}"]
        if finding.span:
            span = finding.span
            props += [f"line={span.line}", f"col={span.column}"]
            if span.end_line:
                props.append(f"endLine={span.end_line}")
            if span.end_column and (span.end_line in (None, span.line)):
                props.append(f"endColumn={span.end_column}")
        props.append(f"title={_property(f'{finding.rule_id} {finding.rule_name}')}")
        message = f"{finding.message} ({finding.help_uri})" if finding.help_uri else finding.message
        out.append(f"::{_LEVELS[str(finding.severity)]} {','.join(props)}::{_data(message)}")
    return "\n".join(out) + ("\n" if out else "")
