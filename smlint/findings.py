"""The values every check produces and every formatter consumes."""
from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Severity(enum.IntEnum):
    """Ordered so that `finding.severity >= threshold` reads naturally."""

    INFO = 1
    WARNING = 2
    ERROR = 3

    @classmethod
    def parse(cls, text: str) -> "Severity":
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise ValueError(f"unknown severity {text!r} (error, warning or info)") from None

    def __str__(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class Span:
    """A region of a text file: 1-based lines and columns, end column exclusive."""

    line: int = 1
    column: int = 1
    end_line: int | None = None
    end_column: int | None = None


@dataclass(frozen=True)
class Edit:
    """Replace the text from (line, column) up to (end_line, end_column), 1-based
    and end exclusive, columns in code points of the line without its CR/LF."""

    line: int
    column: int
    end_line: int
    end_column: int
    text: str


@dataclass(frozen=True)
class Fix:
    """A rewrite that removes a finding. `safe`: it keeps what the image runs
    (or does what its author evidently meant); an unsafe fix changes behaviour
    and is only applied with --unsafe-fixes. `description` says what it does."""

    description: str
    edits: tuple[Edit, ...]
    safe: bool = True


@dataclass(frozen=True)
class Problem:
    """What a check yields: where and what. The engine adds the rule's identity."""

    message: str
    span: Span | None = None
    # Where in a structured target the problem is: a JSON pointer for a request,
    # a path in the image filesystem, a config field.
    pointer: str | None = None
    # Rule-specific facts for machine-readable output (e.g. the files found).
    data: dict = field(default_factory=dict)
    # A check may lower or raise its rule's default (SM104 is info for an
    # unknown base image); configuration still overrides it.
    severity: Severity | None = None
    fix: Fix | None = None


@dataclass(frozen=True)
class Finding:
    rule_id: str
    rule_name: str
    severity: Severity
    message: str
    path: str
    span: Span | None = None
    pointer: str | None = None
    data: dict = field(default_factory=dict)
    help_uri: str = ""
    fix: Fix | None = None

    @property
    def line(self) -> int:
        return self.span.line if self.span else 1

    @property
    def column(self) -> int:
        return self.span.column if self.span else 1

    def sort_key(self) -> tuple:
        return (self.path, self.line, self.column, self.rule_id, self.message)
