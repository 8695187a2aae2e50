"""`smlint lint`: find Dockerfiles, read them safely, run the SM1xx checks."""
from __future__ import annotations

import fnmatch
import os
import re
import sys

from .. import catalog, parallel
from ..config import Policy
from ..engine import Suppression, apply_suppressions, run_checks, unreadable
from ..findings import Finding, Span
from ..inputs import MAX_DOCKERFILE_BYTES, InputError, read_bounded, read_stream
from ..report import Report
from .checks import registry
from .facts import Subject
from .model import build
from .parser import DockerfileError, ParsedDockerfile

DOCKERFILE_PATTERNS = ("Dockerfile", "Dockerfile.*", "*.Dockerfile", "*.dockerfile", "Containerfile", "Containerfile.*")
SKIPPED_DIRS = frozenset({
    ".git", ".hg", ".svn", "node_modules", "vendor", "third_party", "third-party", ".venv", "venv", ".tox",
    ".nox", "__pycache__", "site-packages", ".mypy_cache", ".pytest_cache", ".ruff_cache", "bower_components",
})
_IGNORE = re.compile(
    r"^smlint\s+(ignore|ignore-file)\s*=\s*([A-Za-z0-9_,\s-]+?)\s*(?:reason\s*=\s*(\"[^\"]*\"|'[^']*'|\S+))?\s*$"
)
# `Dockerfile.*` also matches files that sit beside a Dockerfile but are not
# one: BuildKit's per-Dockerfile ignore file and documents, scripts and data.
NOT_DOCKERFILE_SUFFIXES = (
    ".dockerignore", ".md", ".markdown", ".rst", ".txt", ".adoc", ".html", ".pdf",
    ".sh", ".bash", ".py", ".ps1", ".bat", ".cmd", ".js", ".ts", ".rb", ".go",
    ".json", ".yaml", ".yml", ".toml", ".ini", ".cfg", ".conf", ".env", ".csv", ".xml", ".lock",
    ".orig", ".rej", ".bak", ".swp", ".tmp", "~",
)
_DOCKERFILE_NAME = re.compile("|".join(fnmatch.translate(pattern) for pattern in DOCKERFILE_PATTERNS))


def is_dockerfile_name(name: str) -> bool:
    """Whether directory discovery takes a file of this name."""
    return _DOCKERFILE_NAME.match(name) is not None and not name.lower().endswith(NOT_DOCKERFILE_SUFFIXES)


def find_dockerfiles(directory: str) -> list[str]:
    """Dockerfiles under `directory`, in sorted walk order; like os.walk, symlinked
    directories are not entered (a walk through many folders is start-up time)."""
    found: list[str] = []
    pending = [directory]
    while pending:
        try:
            with os.scandir(pending.pop()) as scan:
                entries = sorted(scan, key=lambda entry: entry.name)
        except OSError:
            continue
        subdirectories = []
        for entry in entries:
            try:
                is_dir = entry.is_dir()
            except OSError:
                is_dir = False
            if not is_dir:
                if is_dockerfile_name(entry.name):
                    found.append(entry.path)
            elif entry.name not in SKIPPED_DIRS and not entry.is_symlink():
                subdirectories.append(entry.path)
        pending.extend(reversed(subdirectories))  # depth first, in name order
    return found


def decode(data: bytes) -> str:
    """UTF-8 with bad bytes replaced (Docker reads Latin-1 text too)."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    return data.decode("utf-8", "replace")


def lint_text(text: str, path: str = "Dockerfile", policy: Policy | None = None, target: str | None = None,
              context_dir: str | None = None) -> list[Finding]:
    """Lint Dockerfile text; the library entry point the CLI uses too."""
    policy = policy or Policy()
    if "\0" in text:
        return [unreadable(path, "binary file (contains a NUL byte), not a Dockerfile")]
    if not text.strip():
        return [unreadable(path, "empty file")]
    try:
        dockerfile = build(text, policy.build_args)
        final = dockerfile.final_stage(target)
    except DockerfileError as error:
        return [unreadable(path, str(error), Span(error.line, 1))]
    subject = Subject(dockerfile, final, context_dir)
    findings = run_checks(registry, subject, path, policy)
    return apply_suppressions(findings, suppressions(dockerfile.parsed, policy), path, policy)


def suppressions(parsed: ParsedDockerfile, policy: Policy) -> list[Suppression]:
    """`# smlint ignore=SM101,name reason="..."` above an instruction, or
    `# smlint ignore-file=SM140` anywhere."""
    from ..config import ConfigError, expand_rules

    result = []
    starts = sorted((i.line, i.end_line) for i in parsed.instructions)
    for comment in parsed.comments:
        match = _IGNORE.match(comment.text)
        if not match:
            continue
        keys = [k for k in re.split(r"[\s,]+", match.group(2)) if k]
        ids = set()
        for key in keys:
            try:
                ids |= expand_rules([key], "ignore comment")
            except ConfigError:
                ids.add(key.upper())  # unknown: suppresses nothing, SM002 says so
        span = Span(comment.line, comment.column)
        reason = (match.group(3) or "").strip("\"'")
        if match.group(1) == "ignore-file":
            result.append(Suppression(frozenset(ids), span, None, reason))
            continue
        # The next instruction, comments and blank lines in between allowed; at
        # the end of the file it covers nothing (SM002 with --warn-unused-ignores).
        start, end = next(((start, end) for start, end in starts if start > comment.line), (0, -1))
        result.append(Suppression(frozenset(ids), span, range(start, end + 1), reason))
    return result


def _read(path: str) -> tuple[str | None, str | None]:
    """(text, None) or (None, reason); special files are refused unread."""
    try:
        data = read_bounded(path, MAX_DOCKERFILE_BYTES, "Dockerfile")
    except InputError as error:
        return None, str(error)
    if b"\0" in data:
        return None, "binary file (contains a NUL byte), not a Dockerfile"
    return decode(data), None


def _read_stdin(display: str) -> Target:
    if sys.stdin is None:  # descriptor 0 was closed
        return display, None, None, "standard input is closed"
    try:
        return display, None, decode(read_stream(sys.stdin.buffer, MAX_DOCKERFILE_BYTES)), None
    except InputError as error:
        return display, None, None, str(error)


def lint_paths(paths: list[str], policy: Policy, target: str | None = None, stdin_filename: str | None = None,
               context_dir: str | None = None, jobs: int = 0) -> Report:
    """Lint every target; `jobs` worker processes (0: one per CPU, used only
    when there are enough files to pay for starting them)."""
    report = Report(command="lint")
    targets = list(_targets(paths, stdin_filename, report.summary_lines))
    results = _lint_all(targets, policy, target, context_dir, jobs)
    for (display, _, _, _), (findings, lines) in zip(targets, results):
        report.targets.append(display)
        if lines is not None:
            report.sources[display] = lines
        report.findings.extend(findings)
    if targets and not report.findings:
        count = len(targets)
        report.summary_lines.append(f"no findings in {count} {'file' if count == 1 else 'files'}")
    _note_fixable(report)
    return report


def _note_fixable(report: Report) -> None:
    """Say, after the findings, how many `--fix` would repair (as ruff does)."""
    safe = sum(1 for f in report.findings if f.fix is not None and f.fix.safe)
    unsafe = sum(1 for f in report.findings if f.fix is not None and not f.fix.safe)
    if safe or unsafe:
        more = f" ({unsafe} more with --unsafe-fixes)" if unsafe and safe else ""
        which = f"{safe} fixable with --fix{more}" if safe else f"{unsafe} fixable with --fix --unsafe-fixes"
        report.summary_lines.append(f"{which}; --diff shows the changes")


# (display path, file path to read, text already read, why it can't be linted)
Target = tuple[str, str | None, str | None, str | None]
# (findings, the file's lines when there are findings to show them with)
Result = tuple[list[Finding], list[str] | None]

# Below this many files, starting workers costs more than it saves.
_PARALLEL_MIN_FILES = 48


def prepare_workers(jobs: int, targets: int) -> int:
    """How many processes `-j N` means for this many files (0: one per CPU,
    once there are enough files to pay for the forks)."""
    if jobs == 0:
        jobs = parallel.cpu_count() if targets >= _PARALLEL_MIN_FILES else 1
    if jobs > 1:
        catalog.load()  # once, before forking, not once per worker
    return jobs


def _lint_all(targets: list[Target], policy: Policy, stage: str | None, context_dir: str | None,
              jobs: int) -> list[Result]:
    jobs = prepare_workers(jobs, len(targets))
    return parallel.map_indexed(lambda i: _lint_target(*targets[i], policy, stage, context_dir), len(targets), jobs)


def _lint_target(display: str, path: str | None, text: str | None, problem: str | None, policy: Policy,
                 stage: str | None, context_dir: str | None) -> Result:
    if text is None and problem is None:
        text, problem = _read(path)  # here, so that workers read in parallel too
    if problem is not None:
        return [unreadable(display, problem)], None
    try:
        findings = lint_text(text, display, policy, stage, context_dir)
    except (MemoryError, RecursionError) as error:  # a last resort: the other targets are still checked
        return [too_deep(display, error)], None
    return findings, (text.splitlines() if findings else None)


def too_deep(display: str, error: BaseException) -> Finding:
    """SM001 for a file that exhausted memory or the stack (the other files go on)."""
    return unreadable(display, f"too large or too deeply nested to lint ({type(error).__name__})")


def _targets(paths: list[str], stdin_filename: str | None, notes: list[str] | None = None):
    """Each file to lint, directories expanded; nothing is read yet but stdin.
    A directory without Dockerfiles is nothing to check, not an error: a note
    (appended to `notes` when given)."""
    for path in paths:
        if path == "-":
            yield _read_stdin(stdin_filename or "<stdin>")
        elif os.path.isdir(path) and not is_dockerfile_name(os.path.basename(os.path.normpath(path))):
            found = find_dockerfiles(path)
            if not found and notes is not None:
                notes.append(f"note: no Dockerfile found in {path} (names taken: {', '.join(DOCKERFILE_PATTERNS)})")
            for file_path in found:
                yield file_path, file_path, None, None
        else:
            yield path, path, None, None
