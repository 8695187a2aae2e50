"""`path:line:col: severity SMxxx name: message`, with the offending lines.

Every field that comes from input (paths, messages, pointers, source lines,
summaries) has its control characters written as C-style escapes (`\\n`,
`\\r`, `\\x1b`): a file name holding a newline or a terminal escape must not
forge a report line or drive the terminal. Backslashes are left as they are,
so Dockerfile continuation lines read as written.
"""
from __future__ import annotations

from . import Report

_COLOURS = {"error": "\033[31m", "warning": "\033[33m", "info": "\033[36m"}
_BOLD, _DIM, _RESET = "\033[1m", "\033[2m", "\033[0m"
_MAX_CONTEXT = 6  # lines of an instruction shown under its finding
_MAX_SHOWN_WIDTH = 200  # characters of one source line shown: a minified request is one huge line

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\0": "\\x00"}
# C0 and C1 controls, DEL, the Unicode line separators, and the bidirectional
# overrides that reorder text on screen.
_CONTROLS = [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0), 0x2028, 0x2029, *range(0x202A, 0x202F),
             *range(0x2066, 0x206A)]
_ESCAPES = {code: _NAMED.get(chr(code)) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
            for code in _CONTROLS}
# Bytes of a file name that are not UTF-8 (surrogateescape): written raw, 0x9b is a terminal's CSI.
_ESCAPES.update({code: f"\\x{code - 0xDC00:02x}" for code in range(0xDC80, 0xDD00)})
_ESCAPES_KEEP_TAB = {code: text for code, text in _ESCAPES.items() if code != ord("\t")}


def escape(text: str) -> str:
    """`text` with every control character as a C-style escape."""
    return text.translate(_ESCAPES)


def _escape_source(line: str) -> str:
    """A source line: tabs stay (indentation), other controls are escaped."""
    return line.translate(_ESCAPES_KEEP_TAB)


def _clip(line: str, column: int) -> str:
    """At most _MAX_SHOWN_WIDTH characters of `line`, around `column`."""
    if len(line) <= _MAX_SHOWN_WIDTH:
        return line
    start = max(0, min(column - 1 - _MAX_SHOWN_WIDTH // 4, len(line) - _MAX_SHOWN_WIDTH))
    clipped = line[start: start + _MAX_SHOWN_WIDTH]
    return ("..." if start else "") + clipped + ("..." if start + _MAX_SHOWN_WIDTH < len(line) else "")


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
            f"{paint(escape(where), _BOLD)}: {paint(level, _COLOURS[level])} "
            f"{finding.rule_id} {finding.rule_name}: {escape(finding.message)}"
        )
        lines = report.sources.get(finding.path)
        if show_source and lines and finding.span:
            last = finding.span.end_line or finding.span.line
            shown = range(finding.span.line, min(last, finding.span.line + _MAX_CONTEXT - 1) + 1)
            width = len(str(shown[-1])) if shown else 1
            for number in shown:
                if 1 <= number <= len(lines):
                    column = finding.column if number == finding.span.line else 1
                    text = _clip(lines[number - 1].rstrip("\r\n"), column or 1)
                    out.append(paint(f"  {number:>{width}} | ", _DIM) + _escape_source(text))
            if last > shown[-1]:
                out.append(paint(f"  {'':>{width}} | ...", _DIM))
    out.extend(escape(line) for line in report.summary_lines)
    if report.findings and totals:
        counts = report.counts()
        parts = [f"{n} {level}{'s' if n != 1 and level != 'info' else ''}" for level, n in counts.items() if n]
        files = len({f.path for f in report.findings})
        noun = "finding" if len(report.findings) == 1 else "findings"
        out.append(f"{len(report.findings)} {noun} ({', '.join(parts)}) in {files} {'target' if files == 1 else 'targets'}")
    return "\n".join(out) + ("\n" if out else "")
