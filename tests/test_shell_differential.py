"""smlint's own shell grammar against tree-sitter-bash (a test dependency) on
every script of the catalog, the fixtures, and a generated corpus: both
must find the same simple commands, in the same order, and the same
compound commands (if, case, loops, functions, subshells, brace groups).
Command substitutions are words to smlint, so what is inside them is left
out on both sides; `[`/`[[`/`((` tests are left out too (tree-sitter makes
them test nodes)."""
from __future__ import annotations

import random
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from smlint import catalog
from smlint.dockerfile.facts import Subject, pid1_script_file, run_script_text
from smlint.dockerfile.model import build
from smlint.dockerfile.parser import DockerfileError
from smlint.dockerfile.shell_tree import Case, Function, Group, If, Loop, Simple, children, parse

ts = pytest.importorskip("tree_sitter")
tsb = pytest.importorskip("tree_sitter_bash")
PARSER = ts.Parser(ts.Language(tsb.language()))
ROOT = Path(__file__).resolve().parent.parent
_TESTS = frozenset({"[", "[[", "(("})
_OPAQUE = frozenset({"command_substitution", "process_substitution", "heredoc_body", "test_command",
                     "arithmetic_expansion", "expansion", "string"})
_LOOPS = frozenset({"while_statement", "for_statement", "c_style_for_statement"})


def _ours(text: str) -> tuple[list[str], Counter]:
    tree = parse(text)
    names, kinds, stack = [], Counter(), [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, Simple):
            if node.words and node.words[0] not in _TESTS and not node.words[0].startswith("(("):
                names.append(node.raw[len(node.assignments)])
            continue
        kind = {If: "if", Case: "case", Loop: "loop", Function: "function"}.get(type(node))
        if isinstance(node, Group):
            kind = "subshell" if node.subshell else "group"
        if kind:
            kinds[kind] += 1
        stack.extend(reversed(children(node)))
    return names, kinds


def _theirs(text: str, opaque: frozenset = _OPAQUE) -> tuple[list[str], Counter] | None:
    """Command names in text order and compound commands counted, as tree-sitter-bash
    reads `text` (nothing under an `opaque` node); None where it finds an error."""
    tree = PARSER.parse(text.encode())
    if tree.root_node.has_error:
        return None
    names, kinds, stack = [], Counter(), [tree.root_node]
    while stack:
        node = stack.pop()
        if node.type in opaque:
            continue
        if node.type == "command":
            name = node.child_by_field_name("name")
            if name is not None:
                names.append(name.text.decode())
        elif node.type in ("declaration_command", "unset_command"):
            names.append(node.children[0].text.decode())
        kind = {"if_statement": "if", "case_statement": "case", "function_definition": "function",
                "subshell": "subshell"}.get(node.type) or ("loop" if node.type in _LOOPS else None)
        if node.type == "compound_statement" and node.text.startswith(b"{"):
            kind = "group"
        if kind:
            kinds[kind] += 1
        stack.extend(reversed(node.named_children))
    return names, kinds


def _dockerfile_scripts(text: str):
    """The shell scripts a Dockerfile holds: RUN, the PID-1 script, COPY heredoc scripts
    (none for an example that is not a Dockerfile smlint models: SM001's)."""
    try:
        dockerfile = build(text)
    except DockerfileError:
        return
    for stage in dockerfile.stages:
        subject = Subject(dockerfile, stage)
        for step in stage.steps:
            if step.instruction.keyword == "RUN":
                yield run_script_text(step)
            for heredoc in step.instruction.heredocs:
                if step.instruction.keyword in ("COPY", "ADD"):
                    yield heredoc.body
        if subject.pid1 is not None:
            yield subject.pid1.text
        script = pid1_script_file(subject)
        if script is not None:
            yield script.text


def _catalog_and_fixture_scripts() -> list[tuple[str, str]]:
    found = []
    for doc in catalog.load().values():
        for number, (lang, text) in enumerate(doc.examples("Example") + doc.examples("Use instead")):
            if lang == "dockerfile":
                found += [(f"{doc.id}-{number}", script) for script in _dockerfile_scripts(text)]
            elif lang in ("sh", "bash", "shell"):
                found.append((f"{doc.id}-{number}", text))
    for path in sorted((ROOT / "fixtures").rglob("*")):
        if path.is_file() and "dockerfile" in path.name.lower():
            found += [(path.name, s) for s in _dockerfile_scripts(path.read_text())]
        elif path.is_file() and path.suffix == ".sh":
            found.append((path.name, path.read_text()))
    return [(name, script) for name, script in found if script.strip()]


CATALOG = _catalog_and_fixture_scripts()


def test_the_catalog_has_scripts_to_compare():
    assert len(CATALOG) > 50


READ_BY_BOTH = [(name, script) for name, script in CATALOG if _theirs(script) is not None]


@pytest.mark.parametrize("name, script", READ_BY_BOTH, ids=[n for n, _ in READ_BY_BOTH])
def test_catalog_and_fixture_scripts(name, script):
    assert _ours(script) == _theirs(script)


def test_tree_sitter_reads_nearly_every_catalog_script():
    # what it rejects: SM102's malformed exec forms, run as shell text (`['python3', 'x']`)
    assert len(READ_BY_BOTH) >= len(CATALOG) * 9 // 10, sorted(set(CATALOG) - set(READ_BY_BOTH))


# --- a generated corpus ----------------------------------------------------------------

_WORDS = ["a", "'b c'", '"$d"', "e\\ f", "${g:-h}", "$(date)", "x=1", "--flag", "\"i $(j k)\"", "'if'", "done"]
_NAMES = ["python3", "echo", "cd", "exec", "cat", "tee", "sleep", "/bin/run", "./job.sh", "env", "trap", "wait"]


_KEYWORDS = frozenset({"if", "case", "for", "while", "until", "{", "(", "f0()", "f1()", "f2()", "f3()"})


def _simple(rng: random.Random) -> str:
    words = [rng.choice(_NAMES)] + rng.sample(_WORDS, rng.randint(0, 3))
    if rng.random() < 0.2:
        words.insert(0, "A=1")
    if rng.random() < 0.3:
        words.append(rng.choice([">log", "2>&1", "<in", ">>out", "&>/dev/null", "2>/dev/null"]))
    return " ".join(words)


def _command(rng: random.Random, depth: int) -> str:
    if depth > 2 or rng.random() < 0.6:
        return _simple(rng)
    body = lambda: _list(rng, depth + 1)  # noqa: E731
    return rng.choice([
        lambda: f"if {body()}; then {body()}; fi",
        lambda: f"if {body()}; then {body()}; elif {body()}; then {body()}; else {body()}; fi",
        lambda: f"case \"$1\" in a|b) {body()};; *) {body()};; esac",
        lambda: f"for i in 1 2; do {body()}; done",
        lambda: f"while {body()}; do {body()}; done",
        lambda: f"until {body()}; do {body()}; done",
        lambda: f"{{ {body()}; }}",
        lambda: f"( {body()} )",
        lambda: f"f{depth}() {{ {body()}; }}",
    ])()


def _pipeline(rng: random.Random, depth: int) -> str:
    commands = [_command(rng, depth) for _ in range(rng.choice([1, 1, 1, 2]))]
    # `!` only before a simple command: tree-sitter-bash 0.25 reads `! if ...`, `! while ...` as commands
    # named `if`, `do`... (bash runs them as the compound commands; see test_negated_compound_commands).
    negate = rng.random() < 0.1 and not commands[0].split(" ", 1)[0] in _KEYWORDS
    return ("! " if negate else "") + " | ".join(commands)


def _list(rng: random.Random, depth: int) -> str:
    parts = []
    for index in range(rng.randint(1, 2)):
        and_or = _pipeline(rng, depth)
        for _ in range(rng.choice([0, 0, 1])):
            and_or += rng.choice([" && ", " || "]) + _pipeline(rng, depth)
        parts.append(and_or)
    separators = ["; ", "\n", " & "]
    return "".join(p + rng.choice(separators) for p in parts[:-1]) + parts[-1]


def _generated(count: int, seed: int = 9) -> list[str]:
    rng = random.Random(seed)
    scripts = []
    for _ in range(count):
        text = _list(rng, 0)
        if rng.random() < 0.2:
            text = "cat <<EOF >x\nbody $(y) `z`\nEOF\n" + text
        scripts.append(text)
    return scripts


GENERATED = _generated(400)


def test_generated_corpus():
    compared = 0
    for script in GENERATED:
        theirs = _theirs(script)
        if theirs is None:
            continue
        compared += 1
        assert _ours(script) == theirs, script
    assert compared >= len(GENERATED) * 9 // 10


def test_negated_compound_commands():
    """`! if ...` and `! while ...` are compound commands to bash (POSIX: a
    pipeline may start with `!` before any command); tree-sitter-bash 0.25
    reads their keywords as command names, so the generator avoids them and
    they are checked here against bash itself."""
    script = "! if false; then :; fi && ! while false; do :; done | cat"
    assert _ours(script) == (["false", ":", "false", ":", "cat"], Counter({"if": 1, "loop": 1}))
    if shutil.which("bash"):
        assert subprocess.run(["bash", "-n", "-c", script]).returncode == 0


if __name__ == "__main__":  # print the scripts that differ
    for script in GENERATED + [s for _, s in CATALOG]:
        theirs = _theirs(script)
        if theirs is not None and _ours(script) != theirs:
            print(repr(script), _ours(script), theirs, sep="\n  ", file=sys.stderr)


# --- RUN scripts: every command, inside compound commands and substitutions too ------------

_RUN_OPAQUE = frozenset({"heredoc_body", "arithmetic_expansion"})


def _run_view_ours(text: str) -> Counter:
    """The commands the RUN rules see (shell.script_commands), by name as written."""
    from smlint.dockerfile.shell import script_commands

    return Counter(c.raw[len(c.assignments)] for c in script_commands(text)
                   if c.words and c.words[0] not in _TESTS and not c.words[0].startswith("(("))


def _run_view_theirs(text: str) -> Counter | None:
    found = _theirs(text, _RUN_OPAQUE)
    return None if found is None else Counter(found[0])


def _run_style(rng: random.Random) -> str:
    """A RUN script as Dockerfiles write them: chains over continuation lines,
    conditionals, loops, substitutions, package installs."""
    steps = [
        "apt-get update", "apt-get install -y --no-install-recommends curl ca-certificates",
        "rm -rf /var/lib/apt/lists/*", "pip install --no-cache-dir 'numpy<2' \"pandas==2.2\"",
        "ARCH=\"$(dpkg --print-architecture)\"", "cd /tmp", "wget -qO- \"https://x/$(uname -m).tgz\" | tar -xz -C /opt",
        "echo \"export PATH=/opt/bin:$PATH\" >> /etc/profile", "mkdir -p /app && chown 1000 /app",
        "useradd -u ${UID:-1000} app", "ln -s /opt/x/bin/x /usr/local/bin/x", "v=`cat /etc/version`",
    ]
    compound = [
        "if [ \"$(uname -m)\" = x86_64 ]; then {s}; else {s}; fi",
        "case \"$ARCH\" in amd64) {s};; arm64) {s};; *) exit 1;; esac",
        "for p in a b c; do {s}; done",
        "{{ {s}; {s}; }} > /tmp/log 2>&1",
        "( {s} && {s} )",
        "while read -r line; do {s}; done < /etc/hosts",
        "f() {{ {s}; }}; f",
    ]
    parts = []
    for _ in range(rng.randint(2, 6)):
        if rng.random() < 0.35:
            parts.append(rng.choice(compound).format(s=rng.choice(steps)))
        else:
            parts.append(rng.choice(steps))
    return "".join(p + rng.choice([" && ", " \\\n    && ", "; ", " \\\n    ; ", "\n"]) for p in parts[:-1]) + parts[-1]


RUN_STYLE = [_run_style(random.Random(seed)) for seed in range(300)]


def test_run_scripts_against_tree_sitter():
    """Every command of RUN-style scripts, the catalog's and the fixtures' scripts
    and the generated corpus, substitutions included, as tree-sitter-bash finds them."""
    compared = 0
    for script in RUN_STYLE + [s for _, s in CATALOG] + GENERATED:
        theirs = _run_view_theirs(script)
        if theirs is None:
            continue
        compared += 1
        assert _run_view_ours(script) == theirs, script
    assert compared >= (len(RUN_STYLE) + len(CATALOG) + len(GENERATED)) * 9 // 10
