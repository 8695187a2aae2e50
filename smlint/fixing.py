"""Applying the fixes findings carry: any domain, plain text in, text out.

Edits are located by line and column (1-based, end exclusive; columns count
code points of a line without its CR/LF, as the parser's spans do). Lines
end at LF only, as in the Dockerfile parser; everything outside an edit is
copied unchanged, CR bytes and trailing blanks included.
"""
from __future__ import annotations

import difflib
from typing import Iterable

from .findings import Edit, Finding, Fix


def usable(finding: Finding, unsafe: bool) -> bool:
    return finding.fix is not None and (finding.fix.safe or unsafe)


def line_starts(text: str) -> list[int]:
    """Offset of each line's first character (line 1 after a BOM)."""
    starts = [1 if text.startswith("\ufeff") else 0]
    position = text.find("\n")
    while position >= 0:
        starts.append(position + 1)
        position = text.find("\n", position + 1)
    return starts


def offsets(edit: Edit, starts: list[int]) -> tuple[int, int] | None:
    """(start, end) offsets of `edit` in the text; None when it is out of range."""
    if not (1 <= edit.line <= edit.end_line <= len(starts)):
        return None
    return starts[edit.line - 1] + edit.column - 1, starts[edit.end_line - 1] + edit.end_column - 1


def apply(text: str, findings: Iterable[Finding], unsafe: bool = False) -> tuple[str, list[Finding]]:
    """The text with every usable fix applied whose edits overlap no fix
    applied before it (in file order), and the findings whose fix was applied."""
    starts = line_starts(text)
    chosen: list[tuple[int, int, str]] = []
    applied: list[Finding] = []
    taken: list[tuple[int, int]] = []
    for finding in sorted((f for f in findings if usable(f, unsafe)), key=Finding.sort_key):
        located = _locate(finding.fix, starts, len(text))
        if located is None or any(s < end and start < e for start, end, _ in located for s, e in taken):
            continue
        if all(text[start:end] == replacement for start, end, replacement in located):
            continue  # nothing would change
        chosen.extend(located)
        taken.extend((start, end) for start, end, _ in located)
        applied.append(finding)
    for start, end, replacement in sorted(chosen, reverse=True):
        text = text[:start] + replacement + text[end:]
    return text, applied


def _locate(fix: Fix, starts: list[int], length: int) -> list[tuple[int, int, str]] | None:
    located = []
    for edit in fix.edits:
        span = offsets(edit, starts)
        if span is None or not (0 <= span[0] <= span[1] <= length):
            return None
        located.append((*span, edit.text))
    return located


def unified_diff(path: str, before: str, after: str) -> str:
    """A unified diff git can apply; lines keep their own endings."""
    lines = difflib.unified_diff(_lines(before), _lines(after), f"a/{path}", f"b/{path}")
    out = []
    for line in lines:
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)


def _lines(text: str) -> list[str]:
    """Lines split at LF only (str.splitlines also splits at FF, U+2028...)."""
    parts = [part + "\n" for part in text.split("\n")]
    parts[-1] = parts[-1][:-1]
    return parts if parts[-1] else parts[:-1]
