"""`smlint rules` and `smlint rule X`: the catalog, for people and scripts."""
from __future__ import annotations

import json

from . import catalog


def list_rules(fmt: str = "text") -> str:
    docs = catalog.load().values()
    if fmt == "json":
        rows = [
            {"id": d.id, "name": d.name, "severity": str(d.severity), "scope": d.scope, "summary": d.summary,
             "help_uri": d.help_uri}
            for d in docs
        ]
        return json.dumps(rows, indent=2) + "\n"
    width = max(len(d.name) for d in docs)
    return "".join(f"{d.id}  {d.name:<{width}}  {str(d.severity):<7}  {d.summary}\n" for d in docs)


def show_rule(key: str) -> str | None:
    doc = catalog.resolve(key)
    if doc is None:
        return None
    header = f"{doc.id} {doc.name} ({doc.severity}, {doc.scope})\n{doc.summary}\n\n"
    return header + doc.body() + f"\n\n{doc.help_uri}\n"
