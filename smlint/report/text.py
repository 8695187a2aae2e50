"""`path:line:col: severity SMxxx name: message`, with the offending lines."""
from __future__ import annotations

from . import Report

_COLOURS = {"error": "\033[31m", "warning": "\033[33m", "info": "\033[36m"}
_BOLD, _DIM, _RESET = "\033[1m", "\033[2m", "\033[0m"
_MAX_CONTEXT = 6  # lines of an instruction shown under its finding


def render(report: Report, colour: bool = False, show_source: bool = True, totals: bool = True) -> str:
    def paint(text: str, code: str) -> str:
        return f"{code}{text}{_RESET}" if colour else text

    out: list[str] = []
    for finding in report.sorted_findings():
        level = str(finding.severity)
        where = f"{finding.path}:{finding.line}:{finding.column}" if finding.span else finding.path
        if finding.pointer and not finding.span:
            where += f" ({finding.pointer})"
        out.append(
            f"{paint(where, _BOLD)}: {paint(level, _COLOURS[level])} "
            f"{finding.rule_id} {finding.rule_name}: {finding.message}"
        )
        lines = report.sources.get(finding.path)
        if show_source and lines and finding.span:
            last = finding.span.end_line or finding.span.line
            shown = range(finding.span.line, min(last, finding.span.line + _MAX_CONTEXT - 1) + 1)
            width = len(str(shown[-1])) if shown else 1
            for number in shown:
                if 1 <= number <= len(lines):
                    out.append(paint(f"  {number:>{width}} | ", _DIM) + lines[number - 1].rstrip("\r\n"))
            if last > shown[-1]:
                out.append(paint(f"  {'':>{width}} | ...", _DIM))
    out.extend(report.summary_lines)
    if report.findings and totals:
        counts = report.counts()
        parts = [f"{n} {level}{'s' if n != 1 and level != 'info' else ''}" for level, n in counts.items() if n]
        files = len({f.path for f in report.findings})
        noun = "finding" if len(report.findings) == 1 else "findings"
        out.append(f"{len(report.findings)} {noun} ({', '.join(parts)}) in {files} {'target' if files == 1 else 'targets'}")
    return "\n".join(out) + ("\n" if out else "")
