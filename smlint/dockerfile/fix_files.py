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

from .. import fixing, parallel
from ..config import Policy
from ..engine import unreadable
from ..findings import Finding
from ..report import Report
from .lint import _read, _targets, decode, lint_text, prepare_workers, too_deep

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
              stdin_filename: str | None = None, context_dir: str | None = None, jobs: int = 1) -> FixOutcome:
    """Fix every target: in place when `write` (standard input: the text comes
    back in `stdin_text`), else only a unified diff. Workers compute the fixes
    (`jobs` as for lint); this process alone writes files and the report."""
    outcome = FixOutcome(Report(command="lint"))
    items = list(_fix_targets(paths, stdin_filename))
    workers = prepare_workers(jobs, len(items))
    fixed = parallel.map_indexed(lambda i: _fix_one(*items[i], unsafe, policy, target, context_dir), len(items),
                                 workers)
    for file_fix in fixed:
        outcome.report.targets.append(file_fix.display)
        outcome.report.findings.extend(_record(file_fix, write, outcome))
    _summarise(outcome, write, unsafe)
    return outcome


def _fix_targets(paths: list[str], stdin_filename: str | None):
    """(display, path, bytes read already, problem) of each file; standard input read here."""
    for path in paths:
        if path == "-":
            yield stdin_filename or "<stdin>", None, sys.stdin.buffer.read(), None
            continue
        for display, file_path, _, problem in _targets([path], None):
            yield display, file_path, None, problem


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


@dataclass
class _FileFix:
    """What fixing one file computed; `before` is None when it was not fixed."""

    display: str
    file_path: str | None
    findings: list[Finding]
    note: str | None = None  # why it was not fixed
    before: str | None = None
    after: str = ""
    bom: bytes = b""
    applied: int = 0


def _fix_one(display: str, file_path: str | None, data: bytes | None, problem: str | None, unsafe: bool,
             policy: Policy, target: str | None, context_dir: str | None) -> _FileFix:
    """Read and fix one file, writing nothing (it may run in a worker)."""
    if data is None and problem is None:
        data, problem = _read_bytes(file_path)
    if problem is not None:
        return _FileFix(display, file_path, [unreadable(display, problem)])
    try:
        if isinstance(data, str):
            return _FileFix(display, file_path, lint_text(data, display, policy, target, context_dir),
                            note="not fixed: not a regular file")
        bom = _BOM if data.startswith(_BOM) else b""
        try:
            before = data[len(bom):].decode("utf-8")
        except UnicodeDecodeError:
            return _FileFix(display, file_path, lint_text(decode(data), display, policy, target, context_dir),
                            note="not fixed: not UTF-8 text")
        after, applied, findings = fix_text(before, display, policy, unsafe, target, context_dir)
    except (MemoryError, RecursionError) as error:  # a last resort: the other targets are still fixed
        return _FileFix(display, file_path, [too_deep(display, error)])
    return _FileFix(display, file_path, findings, before=before, after=after, bom=bom, applied=len(applied))


def _record(fixed: _FileFix, write: bool, outcome: FixOutcome) -> list[Finding]:
    """Write one file's fix (or add it to the diff) and note it; its findings."""
    report = outcome.report
    if fixed.note:
        report.summary_lines.append(f"{fixed.display}: {fixed.note}")
    if fixed.before is None:
        return fixed.findings
    if fixed.findings:
        report.sources[fixed.display] = fixed.after.split("\n")
    outcome.applied += fixed.applied
    if fixed.file_path is None and write:
        outcome.stdin_text = fixed.after
    if fixed.after == fixed.before:
        return fixed.findings
    outcome.changed.append(fixed.display)
    if not write:
        outcome.diff += fixing.unified_diff(os.path.normpath(fixed.display), fixed.before, fixed.after)
    elif fixed.file_path is not None:
        try:
            with open(fixed.file_path, "r+b") as handle:  # in place: the file keeps its mode and owner
                handle.write(fixed.bom + fixed.after.encode("utf-8"))
                handle.truncate()
        except OSError as error:
            return [unreadable(fixed.display, f"cannot write the fixed file: {error.strerror or error}"),
                    *fixed.findings]
    return fixed.findings


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
