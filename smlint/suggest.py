""""Did you mean ...?" for names a user can mistype: config keys, rules, inputs."""
from __future__ import annotations

import difflib
from typing import Iterable


def close_matches(word: str, candidates: Iterable[str], limit: int = 3) -> list[str]:
    """The candidates `word` was most likely meant to be; `_` and `-` and case count as one."""
    candidates = list(candidates)
    folded = {_fold(c): c for c in candidates}
    if _fold(word) in folded:
        return [folded[_fold(word)]]
    matches = difflib.get_close_matches(_fold(word), list(folded), n=limit, cutoff=0.6)
    return [folded[m] for m in matches]


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """' (did you mean 'x'?)', or '' when nothing is close."""
    matches = close_matches(word, candidates)
    if not matches:
        return ""
    return f" (did you mean {' or '.join(repr(m) for m in matches)}?)"


def _fold(name: str) -> str:
    return name.strip().lower().replace("_", "-")
