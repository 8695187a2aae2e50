"""SM301: the request against the API model, as a JSON Schema (draft 2020-12).

The schema is data (`processing-job.schema.json`, beside this file; its
`x-api-model` says which botocore model it follows). This module only turns
jsonschema's errors into one humane message per violation: what was found,
what is allowed, and where (a JSON pointer). `jsonschema` is imported here
only, so `smlint lint` never pays for it.
"""
from __future__ import annotations

import difflib
import json
import os
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterator

from ..inputs import json_kind
from .source import pointer_join

SCHEMA_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "processing-job.schema.json")
_ANCHOR_START, _ANCHOR_END = "^(?:", ")$(?![\\s\\S])"


@dataclass(frozen=True)
class Violation:
    pointer: str
    message: str
    keyword: str


@lru_cache(maxsize=1)
def load_schema() -> dict:
    with open(SCHEMA_PATH, encoding="utf-8") as handle:
        return json.load(handle)


@lru_cache(maxsize=1)
def _validator():
    import jsonschema

    return jsonschema.Draft202012Validator(load_schema())


def api_model() -> dict:
    return load_schema()["x-api-model"]


def violations(data: dict) -> list[Violation]:
    """Every schema violation of `data`, one per defect, in document order."""
    found: dict[tuple[str, str], Violation] = {}
    errors = sorted(_validator().iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])
    for error in errors:
        for violation in _explain(error):
            found.setdefault((violation.pointer, violation.message), violation)
    # An empty string breaks minLength and, with it, any pattern: one defect.
    too_short = {v.pointer for v in found.values() if v.keyword == "minLength"}
    return [v for v in found.values() if not (v.keyword == "pattern" and v.pointer in too_short)]


def _pointer(path) -> str:
    pointer = ""
    for token in path:
        pointer = pointer_join(pointer, token)
    return pointer


def label(path) -> str:
    """`ProcessingInputs[0].S3Input.LocalPath`: how people name a field."""
    text = ""
    for token in path:
        text += f"[{token}]" if isinstance(token, int) else (f".{token}" if text else str(token))
    return text or "the request"


_EXPECTED = {"string": "a string", "integer": "an integer", "number": "a number", "boolean": "true or false",
             "array": "a list", "object": "an object (a mapping of fields)"}


def _show(value: object, limit: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 3] + '..."'


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _display_pattern(pattern: str) -> str:
    if pattern.startswith(_ANCHOR_START) and pattern.endswith(_ANCHOR_END):
        return pattern[len(_ANCHOR_START): -len(_ANCHOR_END)]
    return pattern


def _suggest(word: object, choices) -> str:
    if not isinstance(word, str):
        return ""
    close = difflib.get_close_matches(word, [c for c in choices if isinstance(c, str)], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _explain(error) -> Iterator[Violation]:
    path = list(error.absolute_path)
    keyword = error.validator
    value, instance, schema = error.validator_value, error.instance, error.schema
    name = label(path)
    pointer = _pointer(path)
    if "propertyNames" in error.relative_schema_path:  # the error is about a key, not a value
        pointer = pointer_join(pointer, instance)
        name = f"{name} key"

    custom = (schema.get("x-smlint-messages") or {}).get(keyword) if isinstance(schema, dict) else None
    if custom:
        found = _show(instance) if not isinstance(instance, dict) else ""
        yield Violation(pointer, custom.format(found=found, label=name), keyword)
        return

    if keyword == "required":
        for field in value:
            if isinstance(instance, dict) and field not in instance:
                yield Violation(pointer, f"{name} is missing the required field {field}", keyword)
        return
    if keyword == "additionalProperties" and isinstance(instance, dict):
        known = schema.get("properties", {})
        for key in instance:
            if key not in known:
                where = "the request" if not path else name
                yield Violation(pointer_join(pointer, key),
                                f"unknown field {key!r} in {where}{_suggest(key, known)}; the API rejects it", keyword)
        return
    if keyword == "oneOf":
        choices = [branch["required"][0] for branch in value if "required" in branch]
        present = [c for c in choices if isinstance(instance, dict) and c in instance]
        alternatives = " or ".join(choices)
        if len(present) > 1:
            message = f"{name} has both {' and '.join(present)}; give exactly one of {alternatives}"
        else:
            message = f"{name} has neither {' nor '.join(choices)}; give exactly one of them"
        yield Violation(pointer, message, keyword)
        return
    yield Violation(pointer, _simple_message(keyword, value, instance, schema, name), keyword)


def _simple_message(keyword: str, value, instance, schema: dict, name: str) -> str:
    hint = schema.get("x-smlint-hint") if isinstance(schema, dict) else None
    if keyword == "type":
        expected = " or ".join(_EXPECTED.get(t, t) for t in ([value] if isinstance(value, str) else value))
        return f"{name} is {json_kind(instance)} ({_show(instance)}); expected {expected}"
    if keyword == "maxLength":
        return f"{name} is {_plural(len(instance), 'character')}; at most {value}"
    if keyword == "minLength":
        if instance == "":
            return f"{name} is empty; at least {_plural(value, 'character')}"
        return f"{name} is {_plural(len(instance), 'character')}; at least {value}"
    if keyword == "pattern":
        allowed = f"{hint} " if hint else ""
        return f"{name} {_show(instance)} is not allowed: expected {allowed}(pattern {_display_pattern(value)})"
    if keyword == "enum":
        if len(value) <= 8:
            return f"{name} is {_show(instance)}; allowed: {', '.join(map(str, value))}{_suggest(instance, value)}"
        return f"{name} {_show(instance)} is not {hint or 'an allowed value'}{_suggest(instance, value)}"
    if keyword == "const":
        return f"{name} is {_show(instance)}; expected {_show(value)}"
    if keyword == "maxItems":
        return f"{name} has {_plural(len(instance), 'item')}; at most {value}"
    if keyword == "minItems":
        if not instance:
            return f"{name} is an empty list; give at least {_plural(value, 'item')} or leave it out (the API rejects [])"
        return f"{name} has {_plural(len(instance), 'item')}; at least {value}"
    if keyword == "maxProperties":
        return f"{name} has {_plural(len(instance), 'entry')}; at most {value}".replace("entrys", "entries")
    if keyword in ("maximum", "exclusiveMaximum"):
        return f"{name} is {instance}; at most {value}"
    if keyword in ("minimum", "exclusiveMinimum"):
        return f"{name} is {instance}; at least {value}"
    return f"{name}: {keyword} constraint not met ({value!r})"
