"""Runs checks and owns identity and policy.

Checks are small pure functions that yield `Problem`s. The engine stamps each
with its rule's id, name, severity and documentation link, applies the
configuration (selection, severity overrides, per-path ignores, inline
suppressions) and turns a check that raises into an SM003 finding instead of
a crash. Nothing else decides what is reported.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

from . import catalog
from .config import Policy
from .findings import Finding, Problem, Severity, Span

Check = Callable[..., Iterable[Problem]]


class Registry:
    """The checks of one domain (Dockerfile, image, job, run), by rule id.

    A check may belong to a named group, so that a command can run a part of
    its domain (`explain` runs the job checks about the command and image)."""

    def __init__(self) -> None:
        self.checks: dict[str, Check] = {}
        self.groups: dict[str, set[str]] = {}

    def check(self, rule_id: str, group: str | None = None) -> Callable[[Check], Check]:
        def register(function: Check) -> Check:
            if rule_id in self.checks:
                raise ValueError(f"two checks registered for {rule_id}")
            self.checks[rule_id] = function
            if group is not None:
                self.groups.setdefault(group, set()).add(rule_id)
            return function

        return register

    def group(self, name: str) -> "Registry":
        """A registry of this one's checks in group `name`."""
        part = Registry()
        part.checks = {rule_id: check for rule_id, check in self.checks.items() if rule_id in self.groups[name]}
        return part


@dataclass
class Suppression:
    """An inline `# smlint ignore=...` (or `ignore-file=`) comment."""

    rule_ids: frozenset[str]
    comment: Span
    lines: range | None  # None: the whole file
    reason: str = ""
    used: set[str] = field(default_factory=set)

    def scope(self) -> str:
        if self.lines is None:
            return "this file"
        return "the next instruction" if self.lines else "the end of the file (no instruction follows)"

    def covers(self, finding: Finding) -> bool:
        if finding.rule_id not in self.rule_ids:
            return False
        return self.lines is None or finding.line in self.lines


class MissingRuleDoc(LookupError):
    """A check fired for a rule without a catalog file: a bug in smlint itself."""


def rule_doc(rule_id: str) -> catalog.RuleDoc:
    try:
        return catalog.load()[rule_id]
    except KeyError:
        raise MissingRuleDoc(f"rule {rule_id} has a check but no catalog file rules/{rule_id}.md "
                             "(scripts/new-rule writes one)") from None


def make_finding(rule_id: str, path: str, problem: Problem, policy: Policy | None = None) -> Finding:
    doc = rule_doc(rule_id)
    default = problem.severity or doc.severity
    severity = policy.severity(rule_id, default) if policy else default
    return Finding(
        rule_id=rule_id,
        rule_name=doc.name,
        severity=severity,
        message=problem.message,
        path=path,
        span=problem.span,
        pointer=problem.pointer,
        data=problem.data,
        help_uri=doc.help_uri,
        fix=problem.fix,
    )


def unreadable(path: str, reason: str, span: Span | None = None) -> Finding:
    """SM001: always reported, whatever the configuration: it is an input error.
    The finding's path names the input, so the message is only the reason."""
    return make_finding("SM001", path, Problem(reason, span))


def run_checks(registry: Registry, subject: object, path: str, policy: Policy) -> list[Finding]:
    """Every enabled check of `registry` on `subject`, after the policy (suppressions
    are the caller's: only Dockerfiles hold them, see apply_suppressions)."""
    return list(_raw_findings(registry, subject, path, policy))


def _raw_findings(registry: Registry, subject: object, path: str, policy: Policy) -> Iterator[Finding]:
    for rule_id, check in registry.checks.items():
        if not policy.enabled(rule_id, path):
            continue
        try:
            problems = list(check(subject))
        except Exception as error:  # a rule's bug must not end the run: SM003
            if not policy.enabled("SM003", path):
                continue
            import traceback  # only here: it pulls in linecache, tokenize and textwrap

            where = traceback.extract_tb(error.__traceback__)[-1]
            yield make_finding(
                "SM003",
                path,
                Problem(
                    f"rule {rule_id} crashed on this input: {type(error).__name__}: {error} "
                    f"({where.filename.rsplit('/', 1)[-1]}:{where.lineno}); please report it",
                    data={"rule": rule_id},
                ),
                policy,
            )
            continue
        for problem in problems:
            yield make_finding(rule_id, path, problem, policy)


def apply_suppressions(
    findings: list[Finding], suppressions: list[Suppression], path: str, policy: Policy
) -> list[Finding]:
    if policy.disable_inline_ignores or not suppressions:
        return findings
    kept = []
    for finding in findings:
        covering = [s for s in suppressions if s.covers(finding)]
        for suppression in covering:
            suppression.used.add(finding.rule_id)
        if not covering:
            kept.append(finding)
    if policy.warn_unused_ignores and policy.enabled("SM002", path):
        for suppression in suppressions:
            for rule_id in sorted(suppression.rule_ids - suppression.used):
                scope = suppression.scope()
                kept.append(
                    make_finding(
                        "SM002",
                        path,
                        Problem(f"ignore for {rule_id} suppresses nothing on {scope}", suppression.comment),
                        policy,
                    )
                )
    return kept


def exit_code(findings: Iterable[Finding], fail_on: Severity | None) -> int:
    """0 clean, 1 a finding at or above the threshold, 2 an input error."""
    findings = list(findings)
    if any(f.rule_id == "SM001" for f in findings):
        return 2
    if fail_on is not None and any(f.severity >= fail_on for f in findings):
        return 1
    return 0
