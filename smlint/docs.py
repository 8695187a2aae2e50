"""`smlint rules` and `smlint rule X`: the catalog, for people and scripts."""
from __future__ import annotations

import json
from typing import Iterable

from . import catalog


def list_rules(fmt: str = "text", ids: Iterable[str] | None = None, ids_only: bool = False) -> str:
    """All rules, or those in `ids`, in id order."""
    wanted = set(ids) if ids is not None else None
    docs = [d for d in catalog.load().values() if wanted is None or d.id in wanted]
    if fmt == "json":
        rows = [
            {"id": d.id, "name": d.name, "severity": str(d.severity), "scope": d.scope, "summary": d.summary,
             "help_uri": d.help_uri}
            for d in docs
        ]
        return json.dumps(rows, indent=2) + "\n"
    if ids_only:
        return "".join(f"{d.id}\n" for d in docs)
    width = max((len(d.name) for d in docs), default=0)
    return "".join(f"{d.id}  {d.name:<{width}}  {str(d.severity):<7}  {d.summary}\n" for d in docs)


def show_rule(key: str, header_only: bool = False) -> str | None:
    doc = catalog.resolve(key)
    if doc is None:
        return None
    header = f"{doc.id} {doc.name} ({doc.severity}, {doc.scope})\n{doc.summary}\n"
    if header_only:
        return header
    options = "".join(f"option {o.name} ({o.kind}, default {o.default}): {o.description}\n" for o in doc.options)
    return header + options + "\n" + doc.body() + f"\n\n{doc.help_uri}\n"


def unknown_rule(key: str) -> str:
    """The usage error for `smlint rule KEY` when KEY names no rule."""
    prefixed = catalog.with_prefix(key) if key.strip() else []
    if prefixed:
        return (f"{key!r} is not one rule but starts {len(prefixed)}: "
                f"{', '.join(d.id for d in prefixed[:8])}{' ...' if len(prefixed) > 8 else ''}; "
                f"`smlint rules {key}` lists them")
    return f"no rule {key!r}{catalog.suggestion(key)} (see `smlint rules`)"
