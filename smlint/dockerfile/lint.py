"""`smlint lint`: find Dockerfiles, read them safely, run the SM1xx checks."""
from __future__ import annotations

import fnmatch
import os
import re
import sys

from .. import catalog
from ..config import Policy
from ..engine import Suppression, apply_suppressions, run_checks, unreadable
from ..findings import Finding, Span
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


def is_dockerfile_name(name: str) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in DOCKERFILE_PATTERNS)


def find_dockerfiles(directory: str) -> list[str]:
    found = []
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
        found.extend(os.path.join(root, name) for name in sorted(files) if is_dockerfile_name(name))
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
        following = next(((start, end) for start, end in starts if start > comment.line), None)
        if following is None:
            continue
        between = [c for c in parsed.comments if comment.line < c.line < following[0]]
        blank_gap = following[0] - comment.line - 1 - len(between)
        if blank_gap == 0:  # only comments between the ignore and its instruction
            result.append(Suppression(frozenset(ids), span, range(following[0], following[1] + 1), reason))
    return result


def _read(path: str) -> tuple[str | None, str | None]:
    """(text, None) or (None, reason)."""
    try:
        if os.path.isdir(path):
            return None, "is a directory, not a Dockerfile"
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        return None, "no such file"
    except PermissionError:
        return None, "permission denied"
    except OSError as error:
        return None, f"cannot read: {error.strerror or error}"
    if b"\0" in data:
        return None, "binary file (contains a NUL byte), not a Dockerfile"
    return decode(data), None


def lint_paths(paths: list[str], policy: Policy, target: str | None = None, stdin_filename: str | None = None,
               context_dir: str | None = None, jobs: int = 0) -> Report:
    """Lint every target; `jobs` worker processes (0: one per CPU, used only
    when there are enough files to pay for starting them)."""
    report = Report(command="lint")
    inputs = list(_inputs(paths, stdin_filename))
    texts = [text for _, text, problem in inputs if problem is None]
    names = [display for display, _, problem in inputs if problem is None]
    per_file = iter(_lint_all(texts, names, policy, target, context_dir, jobs))
    for display, text, problem in inputs:
        report.targets.append(display)
        if problem is not None:
            report.findings.append(unreadable(display, problem))
            continue
        findings = next(per_file)
        if findings:
            report.sources[display] = text.splitlines()
        report.findings.extend(findings)
    return report


# Below this many files a pool costs more to start than it saves.
_PARALLEL_MIN_FILES = 48
# What forked workers lint: set just before the pool forks, so the texts are
# inherited rather than pickled to each worker.
_WORK: tuple = ()


def _lint_all(texts: list[str], names: list[str], policy: Policy, target: str | None,
              context_dir: str | None, jobs: int) -> list[list[Finding]]:
    workers = _worker_count(jobs, len(texts))
    global _WORK
    _WORK = (texts, names, policy, target, context_dir)
    try:
        if workers <= 1:
            return _lint_range((0, len(texts)))
        import multiprocessing

        catalog.load()  # once, before forking, not once per worker
        # Several chunks per worker even out files of very different sizes.
        size = max(1, -(-len(texts) // (workers * 4)))
        chunks = [(start, min(start + size, len(texts))) for start in range(0, len(texts), size)]
        with multiprocessing.get_context("fork").Pool(workers, initializer=_ignore_sigint) as pool:
            return [findings for chunk in pool.imap(_lint_range, chunks) for findings in chunk]
    finally:
        _WORK = ()


def _worker_count(jobs: int, files: int) -> int:
    if jobs == 0:
        if files < _PARALLEL_MIN_FILES or not sys.platform.startswith("linux"):
            return 1  # fork is only safe to rely on on Linux
        jobs = len(os.sched_getaffinity(0))
    return max(1, min(jobs, files))


def _lint_range(bounds: tuple[int, int]) -> list[list[Finding]]:
    texts, names, policy, target, context_dir = _WORK
    return [lint_text(texts[i], names[i], policy, target, context_dir) for i in range(*bounds)]


def _ignore_sigint() -> None:
    """Workers leave Ctrl-C to the parent, which stops the pool: one message, no tracebacks."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _inputs(paths: list[str], stdin_filename: str | None):
    """(display path, text, None) for each target, or (path, None, why unreadable)."""
    for path in paths:
        if path == "-":
            yield stdin_filename or "<stdin>", decode(sys.stdin.buffer.read()), None
        elif os.path.isdir(path) and not is_dockerfile_name(os.path.basename(os.path.normpath(path))):
            found = find_dockerfiles(path)
            if not found:
                yield path, None, "no Dockerfile found in this directory"
            for file_path in found:
                yield (file_path, *_read(file_path))
        else:
            yield (path, *_read(path))
