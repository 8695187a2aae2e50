"""Layered configuration: defaults < config file < command line.

The file is `.smlint.yaml`/`.smlint.yml` or `[tool.smlint]` in
`pyproject.toml`, found by walking up from the working directory and stopping
at the repository root, or named with `--config`. It is validated against
`SCHEMA`; any problem is a `ConfigError` (exit 2) naming the file, the key and
the reason. `jsonschema` and `yaml` are imported only when a file is found.
"""
from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from .findings import Severity
from .inputs import MAX_CONFIG_BYTES, MAX_INT_DIGITS, InputError, read_bounded

FILE_NAMES = (".smlint.yaml", ".smlint.yml", "pyproject.toml")
LEVELS = ["error", "warning", "info"]
_RULE_LIST = {"type": "array", "items": {"type": "string", "minLength": 1}}

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "smlint configuration",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "select": {**_RULE_LIST, "description": "only these rules (ids, names or id prefixes such as SM1)"},
        "ignore": {**_RULE_LIST, "description": "never these rules"},
        "severity": {
            "type": "object",
            "additionalProperties": {"enum": LEVELS},
            "description": "rule -> error|warning|info",
        },
        "fail-on": {"enum": LEVELS + ["never"]},
        "per-path-ignores": {
            "type": "object",
            "additionalProperties": _RULE_LIST,
            "description": "glob -> rules ignored in matching files",
        },
        "disable-inline-ignores": {"type": "boolean"},
        "warn-unused-ignores": {"type": "boolean"},
        "build-args": {
            "type": "object",
            "additionalProperties": {"type": "string"},
            "description": "ARG values used when resolving variables, like --build-arg",
        },
        "job-files": {**_RULE_LIST, "description": "globs of CreateProcessingJob request files"},
        "grace-period": {"type": "number", "exclusiveMinimum": 0, "description": "seconds (SM403)"},
        # Rule options (large-image-size, ...) are declared in their rule's
        # catalog file and added by schema().
    },
}


class ConfigError(Exception):
    """A bad configuration file or option: reported on one line, exit 2."""


def parse_size(value: int | str, where: str = "size") -> int:
    if isinstance(value, int):
        return value
    text = value.strip().upper().removesuffix("B").strip()
    units = {"K": 1000, "M": 1000**2, "G": 1000**3, "T": 1000**4, "KI": 1024, "MI": 1024**2, "GI": 1024**3, "TI": 1024**4}
    try:
        for suffix in sorted(units, key=len, reverse=True):
            if text.endswith(suffix):
                return int(float(text[: -len(suffix)]) * units[suffix])
        return int(float(text))
    except (OverflowError, ValueError):
        raise ConfigError(f"{where}: not a size: {str(value)[:40]!r}") from None


# The kinds of value a rule option may declare: (JSON schema, parser).
OPTION_KINDS: dict[str, tuple[dict[str, Any], Callable[..., Any]]] = {
    "size": ({"oneOf": [{"type": "integer", "minimum": 1},
                        {"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*([KMGT]i?B?|B)?\s*$"}]}, parse_size),
}


def schema() -> dict[str, Any]:
    """SCHEMA plus every rule option the catalog declares."""
    from . import catalog

    properties = dict(SCHEMA["properties"])
    for option in catalog.options().values():
        properties[option.name] = {**OPTION_KINDS[option.kind][0],
                                   "description": f"{option.rule_id}: {option.description} ({option.kind})"}
    return {**SCHEMA, "properties": properties}


def option_value(name: str, value: Any, where: str) -> Any:
    """A rule option's value, parsed by its declared kind."""
    from . import catalog

    return OPTION_KINDS[catalog.options()[name].kind][1](value, f"{where}: {name}")


@dataclass
class Policy:
    """Which rules run where, at which severity, and what fails the run."""

    select: frozenset[str] | None = None
    ignore: frozenset[str] = frozenset()
    severities: dict[str, Severity] = field(default_factory=dict)
    per_path_ignores: list[tuple[str, frozenset[str]]] = field(default_factory=list)
    fail_on: Severity | None = Severity.WARNING
    disable_inline_ignores: bool = False
    warn_unused_ignores: bool = False
    build_args: dict[str, str] = field(default_factory=dict)
    job_files: list[str] = field(default_factory=lambda: ["**/processing-job*.json", "**/processing-job*.y*ml"])
    grace_period: float = 10.0
    options: dict[str, Any] = field(default_factory=dict)  # rule options given; the rest have their defaults
    source: str | None = None  # the file it came from, for messages

    def option(self, name: str) -> Any:
        """A rule option (declared in its rule's catalog file): as configured, or its default."""
        if name not in self.options:
            from . import catalog

            self.options[name] = option_value(name, catalog.options()[name].default, "default")
        return self.options[name]

    def enabled(self, rule_id: str, path: str = "") -> bool:
        if rule_id == "SM001":
            return True
        if self.select is not None and rule_id not in self.select:
            return False
        if rule_id in self.ignore:
            return False
        if not self.per_path_ignores:
            return True
        normalised = path.replace(os.sep, "/")
        return not any(
            rule_id in rules and _glob_match(normalised, pattern) for pattern, rules in self.per_path_ignores
        )

    def severity(self, rule_id: str, default: Severity) -> Severity:
        return self.severities.get(rule_id, default)


def _glob_match(path: str, pattern: str) -> bool:
    relative = path
    while relative.startswith("./"):  # a prefix, not the characters '.' and '/'
        relative = relative[2:]
    candidates = {path, relative, os.path.basename(path)}
    return any(fnmatch.fnmatchcase(c, pattern) or fnmatch.fnmatchcase(c, pattern.replace("**/", "")) for c in candidates)


def expand_rules(keys: Iterable[str], where: str) -> frozenset[str]:
    """Ids, names or id prefixes (`SM1`, `SM12`) -> ids; unknown ones are errors."""
    from . import catalog

    rules = catalog.load()
    names = catalog.by_name()
    ids: set[str] = set()
    for key in keys:
        token = key.strip()
        upper = token.upper()
        if upper in rules:
            ids.add(upper)
        elif token.lower() in names:
            ids.add(names[token.lower()].id)
        elif upper.startswith("SM") and upper[2:].isdigit() and any(r.startswith(upper) for r in rules):
            ids.update(r for r in rules if r.startswith(upper))
        else:
            hint = catalog.suggestion(token) or " (see `smlint rules`)"
            raise ConfigError(f"{where}: unknown rule {token!r}{hint}")
    return frozenset(ids)


def discover(start: str | None = None) -> str | None:
    """The nearest config file from `start` up to the repository root."""
    directory = os.path.abspath(start or os.getcwd())
    while True:
        for name in FILE_NAMES:
            candidate = os.path.join(directory, name)
            if os.path.isfile(candidate) and (name != "pyproject.toml" or _has_tool_table(candidate)):
                return candidate
        parent = os.path.dirname(directory)
        if os.path.exists(os.path.join(directory, ".git")) or parent == directory:
            return None
        directory = parent


def _has_tool_table(path: str) -> bool:
    try:
        return b"[tool.smlint]" in read_bounded(path, MAX_CONFIG_BYTES)
    except InputError:
        return False  # an unreadable pyproject.toml is not taken for a config


def read_file(path: str) -> dict[str, Any]:
    """The raw settings of a config file, validated against SCHEMA."""
    try:
        raw = read_bounded(path, MAX_CONFIG_BYTES, "config file")
    except InputError as error:
        raise ConfigError(f"{path}: cannot read config: {error}") from None
    data = _load_toml(raw, path) if path.endswith(".toml") else _load_yaml(raw, path)
    validate(data, path)
    return data


def _load_toml(raw: bytes, path: str) -> Any:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    try:
        data = tomllib.loads(raw.decode("utf-8")).get("tool", {}).get("smlint", {})
    except (ValueError, UnicodeDecodeError) as error:  # int-str digit limit is a ValueError too
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    _refuse_huge_numbers(data, path)
    return data


def _load_yaml(raw: bytes, path: str) -> Any:
    import yaml

    if not raw.strip():
        return {}
    loader_class = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        loader = loader_class(raw)
        try:
            root = loader.get_single_node()
            _check_yaml_tree(root, path)
            data = loader.construct_document(root) if root is not None else {}
        finally:
            loader.dispose()
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{where}: {getattr(error, 'problem', None) or error}") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to be a smlint config") from None
    except ValueError as error:  # an integer past Python's int-str digit limit
        raise ConfigError(f"{path}: not a valid config value: {error}") from None
    return data


# A real config holds a few dozen values; aliases may share nodes, but an alias
# bomb (a few hundred bytes that expand to billions of values) is refused.
_MAX_CONFIG_VALUES = 100_000


def _check_yaml_tree(root, path: str) -> None:
    """Counts the values the document expands to, aliases included, without
    building it; refuses a bomb and integers too long to be a setting."""
    import yaml

    pending, count = ([root] if root is not None else []), 0
    while pending:
        node = pending.pop()
        count += 1
        if count > _MAX_CONFIG_VALUES:
            raise ConfigError(f"{path}: expands to more than {_MAX_CONFIG_VALUES} values (YAML aliases?); "
                              "not a smlint config")
        if isinstance(node, yaml.ScalarNode):
            if node.tag.endswith(":int") and len(node.value) > MAX_INT_DIGITS:
                raise ConfigError(f"{path}: line {node.start_mark.line + 1}: integer of {len(node.value)} digits "
                                  "is too large for any setting")
        elif isinstance(node, yaml.MappingNode):
            pending.extend(part for pair in node.value for part in pair)
        else:
            pending.extend(node.value)


def _refuse_huge_numbers(data: Any, path: str) -> None:
    pending = [data]
    while pending:
        value = pending.pop()
        if isinstance(value, dict):
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
        elif isinstance(value, int) and abs(value) >= 10**MAX_INT_DIGITS:
            raise ConfigError(f"{path}: an integer too large for any setting")


def validate(data: Any, path: str) -> None:
    import jsonschema

    full = schema()
    validator = jsonschema.Draft202012Validator(full)
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        error = errors[0]
        key = ".".join(str(p) for p in error.absolute_path) or "(top level)"
        reason = error.message
        if error.validator == "additionalProperties" and not error.absolute_path:
            from .suggest import did_you_mean

            unknown = sorted(set(data) - set(full["properties"]))
            hint = did_you_mean(str(unknown[0]), full["properties"]) if unknown else ""
            reason = reason.replace("Additional properties are not allowed", "unknown key") + hint
        raise ConfigError(f"{path}: key {key}: {reason}")


def build_policy(settings: dict[str, Any], source: str | None = None) -> Policy:
    where = source or "command line"
    policy = Policy(source=source)
    if "select" in settings and settings["select"] is not None:
        policy.select = expand_rules(settings["select"], f"{where}: select")
    policy.ignore = expand_rules(settings.get("ignore") or (), f"{where}: ignore")
    for key, level in (settings.get("severity") or {}).items():
        for rule_id in expand_rules([key], f"{where}: severity"):
            policy.severities[rule_id] = Severity.parse(level)
    fail_on = settings.get("fail-on")
    if fail_on is not None:
        policy.fail_on = None if fail_on == "never" else Severity.parse(fail_on)
    policy.per_path_ignores = [
        (pattern, expand_rules(rules, f"{where}: per-path-ignores.{pattern}"))
        for pattern, rules in (settings.get("per-path-ignores") or {}).items()
    ]
    policy.disable_inline_ignores = bool(settings.get("disable-inline-ignores", False))
    policy.warn_unused_ignores = bool(settings.get("warn-unused-ignores", False))
    policy.build_args = dict(settings.get("build-args") or {})
    if settings.get("job-files"):
        policy.job_files = list(settings["job-files"])
    if "grace-period" in settings:
        policy.grace_period = float(settings["grace-period"])
    policy.options = _rule_options(settings, where)
    return policy


def _rule_options(settings: dict[str, Any], where: str) -> dict[str, Any]:
    known = set(SCHEMA["properties"])
    given = [key for key in settings if key not in known]
    if not given:
        return {}
    from . import catalog

    declared = catalog.options()
    return {key: option_value(key, settings[key], where) for key in given if key in declared}


def load_policy(config_path: str | None = None, overrides: dict[str, Any] | None = None) -> Policy:
    """The policy for this run: the config file (named or discovered), then
    command-line overrides (keys as in the file; None means not given)."""
    path = config_path or discover()
    settings = read_file(path) if path else {}
    for key, value in (overrides or {}).items():
        if value is None or value == () or value == []:
            continue
        if key in ("build-args",):
            settings[key] = {**(settings.get(key) or {}), **value}
        elif key == "ignore":
            settings[key] = list(settings.get(key) or ()) + list(value)
        else:
            settings[key] = value
    return build_policy(settings, path)
