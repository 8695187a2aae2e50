"""`smlint lint --fix` and `--diff`: fix Dockerfiles, byte for byte elsewhere.

A file is read as bytes; only UTF-8 text is rewritten (a BOM is kept), so
that every byte outside the rewritten instructions comes back unchanged.
Fixing goes in rounds: lint, apply the non-overlapping fixes, lint again,
until no fix applies; a round whose result Docker could not build (SM001)
is undone, as a guard against a fix going wrong.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field

from .. import fixing
from ..config import Policy
from ..findings import Finding
from ..report import Report
from .lint import _read, _targets, lint_text

_BOM = b"\xef\xbb\xbf"
_MAX_ROUNDS = 4


@dataclass
class FixOutcome:
    """What fixing did, for the report and the command line."""

    report: Report
    diff: str = ""
    stdin_text: str | None = None  # the fixed standard input (`--fix -`)
    changed: list[str] = field(default_factory=list)
    applied: int = 0


def fix_text(text: str, path: str, policy: Policy, unsafe: bool = False, target: str | None = None,
             context_dir: str | None = None) -> tuple[str, list[Finding], list[Finding]]:
    """(fixed text, findings whose fix was applied, findings that remain)."""
    applied: list[Finding] = []
    findings = lint_text(text, path, policy, target, context_dir)
    for _ in range(_MAX_ROUNDS):
        new_text, done = fixing.apply(text, findings, unsafe)
        if not done:
            break
        new_findings = lint_text(new_text, path, policy, target, context_dir)
        if any(f.rule_id == "SM001" for f in new_findings):
            break  # never hand back a file Docker could not build
        text, findings = new_text, new_findings
        applied.extend(done)
    return text, applied, findings


def fix_paths(paths: list[str], policy: Policy, write: bool, unsafe: bool = False, target: str | None = None,
              stdin_filename: str | None = None, context_dir: str | None = None) -> FixOutcome:
    """Fix every target: in place when `write` (standard input: the text comes
    back in `stdin_text`), else only a unified diff."""
    outcome = FixOutcome(Report(command="lint"))
    report = outcome.report
    for path in paths:
        if path == "-":
            display = stdin_filename or "<stdin>"
            findings = _fix_one(display, None, sys.stdin.buffer.read(), write, unsafe, policy, target,
                                context_dir, outcome)
            report.targets.append(display)
            report.findings.extend(findings)
            continue
        for display, file_path, _, problem in _targets([path], None):
            report.targets.append(display)
            data, reason = (None, problem) if problem else _read_bytes(file_path)
            if reason is not None:
                report.findings.extend(_unreadable(display, reason))
                continue
            report.findings.extend(_fix_one(display, file_path, data, write, unsafe, policy, target,
                                            context_dir, outcome))
    _summarise(outcome, write, unsafe)
    return outcome


def _read_bytes(path: str) -> tuple[bytes | str | None, str | None]:
    """The file's bytes; its decoded text when it is no regular file (read
    once: a pipe has nothing left for a second read); or (None, reason)."""
    text, reason = _read(path)  # its checks and messages for directories, permissions, NUL bytes
    if reason is not None or not os.path.isfile(path):
        return text, reason
    try:
        with open(path, "rb") as handle:
            return handle.read(), None
    except OSError as error:
        return None, f"cannot read: {error.strerror or error}"


def _unreadable(display: str, reason: str) -> list[Finding]:
    from ..engine import unreadable

    return [unreadable(display, reason)]


def _fix_one(display: str, file_path: str | None, data: bytes | str, write: bool, unsafe: bool, policy: Policy,
             target: str | None, context_dir: str | None, outcome: FixOutcome) -> list[Finding]:
    if isinstance(data, str):
        outcome.report.summary_lines.append(f"{display}: not fixed: not a regular file")
        return lint_text(data, display, policy, target, context_dir)
    bom = _BOM if data.startswith(_BOM) else b""
    try:
        before = data[len(bom):].decode("utf-8")
    except UnicodeDecodeError:
        from .lint import decode

        outcome.report.summary_lines.append(f"{display}: not fixed: not UTF-8 text")
        return lint_text(decode(data), display, policy, target, context_dir)
    after, applied, findings = fix_text(before, display, policy, unsafe, target, context_dir)
    if findings:
        outcome.report.sources[display] = after.split("\n")
    outcome.applied += len(applied)
    if file_path is None and write:
        outcome.stdin_text = after
    if after == before:
        return findings
    outcome.changed.append(display)
    if not write:
        outcome.diff += fixing.unified_diff(os.path.normpath(display), before, after)
    elif file_path is not None:
        try:
            with open(file_path, "r+b") as handle:  # in place: the file keeps its mode and owner
                handle.write(bom + after.encode("utf-8"))
                handle.truncate()
        except OSError as error:
            return _unreadable(display, f"cannot write the fixed file: {error.strerror or error}") + findings
    return findings


def _summarise(outcome: FixOutcome, write: bool, unsafe: bool) -> None:
    report = outcome.report
    remaining = len(report.findings)
    hidden = sum(1 for f in report.findings if f.fix is not None and not f.fix.safe and not unsafe)
    files = len(outcome.changed)
    verb = "fixed" if write else "would fix"
    line = (f"{verb} {outcome.applied} finding{'s' if outcome.applied != 1 else ''} in {files} "
            f"file{'s' if files != 1 else ''}; {remaining} remain{'s' if remaining == 1 else ''}")
    if hidden:
        line += f" ({hidden} fixable with --unsafe-fixes)"
    report.summary_lines.append(line)
    report.result = {"fixes": {"applied": outcome.applied, "remaining": remaining, "unsafe_available": hidden,
                               "changed": list(outcome.changed), "written": write}}
