"""The rule catalog: one Markdown file per rule under the top-level `rules/`.

The files are the single source of every rule's identity and documentation:
the engine reads id, name, default severity and summary from their front
matter; `smlint rule`, SARIF `fullDescription` and `helpUri` use the rest; the
test-suite runs the examples. Only the front matter is read on the lint path
(a few hundred bytes per file, no YAML parser) so start-up stays fast.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache

from .findings import Severity

DOCS_URL = "https://github.com/smlint/smlint/blob/main/rules/{id}.md"

_FENCE = re.compile(r"^```([\w+-]*)[^\n]*\n(.*?)^```[ \t]*$", re.M | re.S)


@dataclass(frozen=True)
class RuleOption:
    """A setting a rule reads, declared in its catalog file's front matter as
    `option.NAME: KIND = DEFAULT; description` (KIND: see config.OPTION_KINDS)."""

    name: str
    kind: str
    default: str
    description: str
    rule_id: str


@dataclass(frozen=True)
class RuleDoc:
    id: str
    name: str
    severity: Severity
    scope: str
    summary: str
    path: str
    options: tuple[RuleOption, ...] = ()

    @property
    def help_uri(self) -> str:
        return DOCS_URL.format(id=self.id)

    def body(self) -> str:
        with open(self.path, encoding="utf-8") as handle:
            return handle.read().split("\n---", 1)[1].split("\n", 1)[1].strip()

    def sections(self) -> dict[str, str]:
        """`## Heading` -> text, in file order."""
        parts = re.split(r"^## +(.+?)\s*$", self.body(), flags=re.M)
        return {parts[i]: parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)}

    def examples(self, heading: str) -> list[tuple[str, str]]:
        """(language, text) of each fenced block under `heading`."""
        return [(m.group(1), m.group(2)) for m in _FENCE.finditer(self.sections().get(heading, ""))]


def catalog_dir() -> str:
    """Where the catalog files are: beside the package in a checkout, or
    installed as the `smlint._rules` package data."""
    here = os.path.dirname(os.path.abspath(__file__))
    for candidate in (os.path.join(os.path.dirname(here), "rules"), os.path.join(here, "_rules")):
        if os.path.isfile(os.path.join(candidate, "SM001.md")):
            return candidate
    raise RuntimeError("smlint's rule catalog is missing: reinstall smlint")


def _front_matter(path: str) -> dict[str, str]:
    with open(path, encoding="utf-8") as handle:
        head = handle.read(4096)
    if not head.startswith("---\n"):
        raise ValueError(f"{path}: catalog file must start with '---' front matter")
    fields = {}
    for line in head[4:].split("\n---", 1)[0].splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    return fields


@lru_cache(maxsize=1)
def load() -> dict[str, RuleDoc]:
    """Every rule, keyed by id, in id order."""
    directory = catalog_dir()
    rules = {}
    for entry in sorted(os.listdir(directory)):
        if not re.fullmatch(r"SM\d{3}\.md", entry):
            continue
        path = os.path.join(directory, entry)
        meta = _front_matter(path)
        doc = RuleDoc(
            id=meta["id"],
            name=meta["name"],
            severity=Severity.parse(meta["severity"]),
            scope=meta["scope"],
            summary=meta["summary"],
            path=path,
            options=_options(meta, path),
        )
        rules[doc.id] = doc
    return rules


def _options(meta: dict[str, str], path: str) -> tuple[RuleOption, ...]:
    declared = []
    for key, value in meta.items():
        if key.startswith("option."):
            kind_default, sep, description = value.partition(";")
            kind, equals, default = kind_default.partition("=")
            if not (sep and equals):
                raise ValueError(f"{path}: {key}: write 'KIND = DEFAULT; description'")
            declared.append(RuleOption(key[len("option."):], kind.strip(), default.strip(), description.strip(),
                                       meta["id"]))
    return tuple(declared)


def options() -> dict[str, RuleOption]:
    """Every rule option, by its config key."""
    return {option.name: option for doc in load().values() for option in doc.options}


def by_name() -> dict[str, RuleDoc]:
    return {doc.name: doc for doc in load().values()}


def resolve(key: str) -> RuleDoc | None:
    """A rule by id (any case) or kebab-case name."""
    rules = load()
    return rules.get(key.strip().upper()) or by_name().get(key.strip().lower())


def with_prefix(prefix: str) -> list[RuleDoc]:
    """Rules whose id (`SM1`, `sm12`) or name (`entrypoint-`) starts with `prefix`."""
    key = prefix.strip()
    return [doc for doc in load().values() if doc.id.startswith(key.upper()) or doc.name.startswith(key.lower())]


def suggestion(key: str) -> str:
    """Why `key` names no rule, and what it might have meant, for error messages."""
    from .suggest import did_you_mean

    if key.strip():
        prefixed = with_prefix(key)
        if prefixed:
            shown = ", ".join(f"{doc.id} {doc.name}" for doc in prefixed[:4])
            more = f" and {len(prefixed) - 4} more" if len(prefixed) > 4 else ""
            return f" ({key!r} starts {len(prefixed)} rule{'s' if len(prefixed) != 1 else ''}: {shown}{more})"
    rules = load()
    return did_you_mean(key, [*rules, *(doc.name for doc in rules.values())])
