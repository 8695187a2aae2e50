"""Checks every fix test makes: only the rewritten instructions' lines change,
a second --fix changes nothing, and BuildKit's parser (PyPI `dockerfile`, when
installed) reads the fixed file as the same instructions except the rewritten
ones, which hold what the rewrite promises."""
from __future__ import annotations

import ast
import difflib
import shlex

from smlint.config import Policy
from smlint.dockerfile.fix_files import fix_text

try:
    import dockerfile as buildkit
except ImportError:  # no wheel for this platform: the other checks still run
    buildkit = None


def fixed(text: str, unsafe: bool = False, target: str | None = None):
    """(fixed text, applied findings, remaining findings), after the checks below."""
    after, applied, remaining = fix_text(text, "Dockerfile", Policy(), unsafe, target)
    again, applied_again, _ = fix_text(after, "Dockerfile", Policy(), unsafe, target)
    assert again == after and not applied_again, "a second --fix changed the file"
    assert_only_rewritten_lines_change(text, after, applied)
    assert_buildkit_agrees(text, after)
    return after, applied, remaining


def _lines(text: str) -> list[str]:
    parts = [part + "\n" for part in text.split("\n")]
    parts[-1] = parts[-1][:-1]
    return parts


def assert_only_rewritten_lines_change(before: str, after: str, applied) -> None:
    rewritten = set()
    for finding in applied:
        for edit in finding.fix.edits:
            rewritten.update(range(edit.line, edit.end_line + 1))
    matcher = difflib.SequenceMatcher(None, _lines(before), _lines(after), autojunk=False)
    for tag, start, end, _, _ in matcher.get_opcodes():
        if tag != "equal":
            changed = set(range(start + 1, end + 1))
            assert changed <= rewritten, (tag, sorted(changed), sorted(rewritten), before, after)


def assert_buildkit_agrees(before: str, after: str) -> None:
    """Same instructions in the same order; a rewritten one (different in
    BuildKit's reading) must be JSON and mean what its shell form meant."""
    if buildkit is None:
        return
    try:
        old = buildkit.parse_string(before)
    except buildkit.GoParseError:
        return  # BuildKit refuses the original (`["sleep", 5]`): nothing to compare
    new = buildkit.parse_string(after)
    assert [c.cmd for c in old] == [c.cmd for c in new]
    shell = ["/bin/sh", "-c"]
    for was, now in zip(old, new):
        if was.cmd.upper() == "SHELL" and was.json:
            shell = list(was.value)
        same = (was.json, was.value, was.flags, was.heredocs) == (now.json, now.value, now.flags, now.heredocs)
        if same:
            continue
        assert now.json, (was, now)
        assert now.cmd.upper() in ("ENTRYPOINT", "CMD", "SHELL"), (was, now)
        assert means_the_same(was, list(now.value), shell), (was, now)


def means_the_same(was, now: list[str], shell: list[str]) -> bool:
    """An independent reading of each rewrite (shlex for plain words, Python's
    literal syntax for a malformed array, a deleted `exec ` for a shell kept)."""
    if not was.json:
        text = was.value[0]
        if was.original.split(None, 1)[1].lstrip().startswith("["):
            return ast.literal_eval(text.strip()) == now  # SM102: what the author meant
        words = shlex.split(text)
        if now == (words[1:] if words[:1] == ["exec"] else words):
            return True  # plain words in exec form
        return now[:-1] == shell and (now[-1] == text or is_exec_insertion(text, now[-1]))
    # SM105: an exec-form array whose script gained `exec ` and nothing else
    changed = [(a, b) for a, b in zip(was.value, now) if a != b]
    return len(was.value) == len(now) and len(changed) == 1 and is_exec_insertion(*changed[0])


def is_exec_insertion(old: str, new: str) -> bool:
    if len(new) != len(old) + 5:
        return False
    return any(new[:i] + new[i + 5:] == old and new[i:i + 5] == "exec " for i in range(len(new) - 4))
