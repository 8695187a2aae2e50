"""Every command shown in README.md and docs/*.md runs, against files the
repository ships, and its output is checked where the doc shows output.

Commands come from fenced `sh`/`bash`/`shell` blocks (each line a command,
`\\` continues it) and `console` blocks (`$ ` lines; the lines up to the next
`$ ` are the output). New examples are picked up without touching this file.
A command that cannot run here goes in EXEMPT with its reason; a command that
runs here only in an adjusted form goes in REWRITES with its reason.

Each document runs in its own copy of the repository (shown as /tmp/demo in
the docs), its commands in order (so `docker save` feeds the next command and
`echo $?` shows the previous status). Output is compared after VOLATILE
replaces what differs from run to run. Where the doc shows `...`, the lines it
does show must all be there; otherwise the output is exactly those lines
(order aside: a container's output and smlint's stream interleave freely).
"""
from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from conftest import ROOT

DOCS = ["README.md", *sorted(os.path.relpath(p, ROOT) for p in Path(ROOT, "docs").glob("*.md"))]
SHELL_BLOCKS = {"sh", "bash", "shell"}
DOC_DIR = "/tmp/demo"  # the working directory the docs' output shows

# (pattern matched against a command, why it is not run here)
EXEMPT: list[tuple[str, str]] = [
    (r"\bdocker push\b", "pushes to a registry"),
    (r"\.dkr\.ecr\.", "an Amazon ECR reference: needs the registry and AWS credentials"),
    (r"--gpus\b", "needs GPUs and the NVIDIA container runtime"),
    (r"\bpre-commit autoupdate\b", "asks GitHub for the newest tag (network)"),
    (r"\bpip install\b", "installs from the package index (network); tests/test_action.py and "
                         "tests/test_precommit.py install smlint the way users do"),
    (r"^bash scripts/test\b", "runs the test suite, which this test is part of"),
    (r"\bbench/lint_bench\.py\b", "a benchmark of minutes that needs hadolint from the package index"),
    (r"^smlint lint --fix Dockerfile\b", "rewrites your own Dockerfile in place; tests/test_fix_cli.py runs "
                                        "--fix on files it writes"),
    (r"--image my-dist-job:1\b", "an illustration of a sharded 3-host job's output; the same runs are "
                                  "tests/test_run_multi_docker.py's, on images that test builds"),
]
if shutil.which("jq") is None:
    EXEMPT.append((r"\| *jq\b", "jq is not installed on this machine"))
# (document, first command of a block, why none of the block runs here)
EXEMPT_BLOCKS: list[tuple[str, str, str]] = [
    ("docs/image.md", "set -e", "a recipe for your own project that ends in `docker push` to ECR"),
]
# The example images: built by the commands the docs show (under the unique
# tags below); the images are removed afterwards.
DOC_IMAGES = {"myjob:1": "fixtures/images/myjob", "my-job:1": "fixtures/run/my-job",
              "my-sleeper:1": "fixtures/run/my-sleeper"}
# (pattern, replacement, why); a replacement may use {base} and {tag[NAME]}.
REWRITES: list[tuple[str, str, str]] = [
    (r"\bdocker build\b", "docker build --build-arg BASE={base}",
     "offline: the example images' busybox base is built here from the static binary, not pulled"),
]
# (pattern, replacement, why) applied to the doc's output and to the actual output.
VOLATILE: list[tuple[str, str, str]] = [
    (r"\b[0-9a-f]{12}\b", "<run-id>", "run ids are random"),
    (r"\b\d+(\.\d+)? s\b", "<t> s", "durations"),
]


@dataclasses.dataclass
class Example:
    doc: str
    line: int
    command: str
    output: list[str] | None  # None: the doc shows none

    def __str__(self) -> str:
        return f"{self.doc}:{self.line}: {self.command}"


_FENCE = re.compile(r"^```([\w-]*)[^\n]*\n(.*?)^```[ \t]*$", re.M | re.S)


def blocks(doc: str):
    """(language, first line number of the body, body) of each fenced block."""
    text = Path(ROOT, doc).read_text(encoding="utf-8")
    for match in _FENCE.finditer(text):
        yield match.group(1), text.count("\n", 0, match.start(2)) + 1, match.group(2)


def _logical_lines(body: str, first: int):
    """(line number, text) with backslash continuations joined."""
    pending, start = "", first
    for offset, line in enumerate(body.splitlines()):
        if not pending:
            start = first + offset
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        yield start, pending + line
        pending = ""


def examples(doc: str) -> list[list[Example]]:
    """The doc's examples, one list per block."""
    found = []
    for language, first, body in blocks(doc):
        if language in SHELL_BLOCKS:
            found.append([Example(doc, n, line.strip(), None) for n, line in _logical_lines(body, first)
                          if line.strip() and not line.lstrip().startswith("#")])
        elif language == "console":
            block: list[Example] = []
            continued = False
            for n, line in enumerate(body.splitlines(), first):
                if continued:  # a command's `\` continuation, not output
                    block[-1].command = block[-1].command[:-1] + " " + line.strip()
                elif line.startswith("$ "):
                    block.append(Example(doc, n, line[2:].strip(), []))
                elif block:
                    block[-1].output.append(line)
                continued = bool(block) and not block[-1].output and block[-1].command.endswith("\\")
            for example in block:
                while example.output and not example.output[-1].strip():
                    example.output.pop()
            found.append(block)
    return found


def exemption(example: Example, block: list[Example]) -> str | None:
    for doc, first, reason in EXEMPT_BLOCKS:
        if example.doc == doc and block and block[0].command == first:
            return reason
    for pattern, reason in EXEMPT:
        if re.search(pattern, example.command):
            return reason
    return None


def all_examples():
    return [(example, block) for doc in DOCS for block in examples(doc) for example in block]


# ---------------------------------------------------------------- the checks that need no engine


def test_examples_are_found_and_every_exemption_is_used():
    pairs = all_examples()
    assert len(pairs) >= 30, "the extractor finds the documented commands"
    commands = [example.command for example, _ in pairs]
    for pattern, reason in EXEMPT:
        assert any(re.search(pattern, c) for c in commands), f"stale exemption {pattern!r} ({reason})"
    for doc, first, reason in EXEMPT_BLOCKS:
        assert any(e.doc == doc and b[0].command == first for e, b in pairs), f"stale block exemption {first!r}"
    run_here = [e for e, b in pairs if exemption(e, b) is None]
    assert len(run_here) >= 25 and sum(e.output is not None and bool(e.output) for e in run_here) >= 10


def test_each_example_image_has_its_dockerfile_and_the_docs_build_it():
    commands = [example.command for example, _ in all_examples()]
    for name, folder in DOC_IMAGES.items():
        assert Path(ROOT, folder, "Dockerfile").is_file(), folder
        build = re.compile(rf"^docker build .*-t {re.escape(name)} {re.escape(folder)}$")
        assert any(build.match(c.split("#")[0].strip()) for c in commands), f"no doc shows how to build {name}"


@pytest.mark.parametrize("doc", DOCS)
def test_shell_sessions_are_marked_console(doc):
    """A block with `$ ` prompts must say `console`, or its commands would not be run."""
    for language, first, body in blocks(doc):
        if language not in SHELL_BLOCKS | {"console"}:
            assert not re.search(r"^\$ ", body, re.M), f"{doc}:{first}: a shell session in a ```{language} block"


_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


@pytest.mark.parametrize("doc", [*DOCS, *sorted(os.path.relpath(p, ROOT) for p in Path(ROOT, "rules").glob("SM*.md"))])
def test_relative_links_point_at_files_and_headings_that_exist(doc):
    text = Path(ROOT, doc).read_text(encoding="utf-8")
    for target in _LINK.findall(text):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        path, _, anchor = target.partition("#")
        resolved = Path(ROOT, doc).parent / path
        assert resolved.exists(), f"{doc}: link to {target}: no such file"
        if anchor:
            headings = re.findall(r"^#+ +(.+?)\s*$", resolved.read_text(encoding="utf-8"), re.M)
            assert anchor in {_anchor(h) for h in headings}, f"{doc}: link to {target}: no such heading"


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def test_rule_files_cite_only_shipped_documents():
    for path in sorted(Path(ROOT, "rules").glob("SM*.md")):
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r"contract (§\d|section \d)", text):
            before = text[max(0, match.start() - 1):match.start()]
            after = text[match.end():match.end() + 22]
            assert before == "[" and after.startswith("](../docs/contract.md"), \
                f"{path.name}: cites {match.group(0)!r} without linking docs/contract.md"


# ---------------------------------------------------------------- running them


@pytest.fixture(scope="module")
def doc_images():
    """A busybox base built from the static binary, and a unique tag per example image."""
    from dockerutil import BUSYBOX_BASE, build_image, docker_cli, engine_or_skip, remove_image

    client = engine_or_skip()
    run_id = uuid.uuid4().hex[:10]
    base = build_image(client, BUSYBOX_BASE, tag=f"smlint-doc-{run_id}-base:1")
    tags = {name: f"smlint-doc-{run_id}-{name}" for name in DOC_IMAGES}
    for name, folder in DOC_IMAGES.items():  # a doc may use an image another doc shows how to build
        docker_cli("build", "-q", "--build-arg", f"BASE={base}", "-t", tags[name], os.path.join(ROOT, folder))
    yield base, tags
    for tag in [*tags.values(), base]:
        remove_image(client, tag)


def _needs_engine(doc: str) -> bool:
    return any(re.search(r"\bdocker\b|smlint (image|run|probe)\b|--image\b", e.command)
               for block in examples(doc) for e in block if exemption(e, block) is None)


def _prepare(command: str, base: str, tags: dict[str, str]) -> str:
    for pattern, replacement, _ in REWRITES:
        command = re.sub(pattern, replacement.format(base=base), command)
    for name, tag in tags.items():
        command = re.sub(rf"(?<![\w.:/-]){re.escape(name)}(?![\w.-])", tag, command)
    return command


def _normalise(lines: list[str]) -> list[str]:
    result = []
    for line in lines:
        for pattern, replacement, _ in VOLATILE:
            line = re.sub(pattern, replacement, line)
        result.append(line.rstrip())
    return result


def _compare(example: Example, actual: str) -> str | None:
    expected = _normalise(example.output)
    got = _normalise(actual.splitlines())
    if "..." in expected:
        missing = [line for line in expected if line != "..." and line not in got]
        return f"lines not in the output: {missing}" if missing else None
    if sorted(expected) != sorted(got):
        return "output differs:\n--- doc\n" + "\n".join(expected) + "\n--- actual\n" + "\n".join(got)
    return None


def _workdir(tmp_path: Path) -> Path:
    ignored = shutil.ignore_patterns(".git", ".venv", "venv", "__pycache__", "*.egg-info", ".pytest_cache",
                                     ".hypothesis", "corpus", "out", "smlint-run-*")
    return Path(shutil.copytree(ROOT, tmp_path / "demo", ignore=ignored))


def _runnable(doc: str) -> list[Example]:
    return [e for block in examples(doc) for e in block if exemption(e, block) is None]


@pytest.mark.parametrize("doc", [pytest.param(d, marks=[pytest.mark.docker] if _needs_engine(d) else [])
                                 for d in DOCS if _runnable(d)])
def test_documented_commands_run_and_print_what_the_doc_shows(doc, tmp_path, request):
    runnable = _runnable(doc)
    base, tags = request.getfixturevalue("doc_images") if _needs_engine(doc) else ("", {})
    workdir = _workdir(tmp_path)
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "SMLINT_DEBUG")}
    env.update(PATH=os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", ""),
               XDG_CACHE_HOME=str(tmp_path / "cache"))
    failures, status = [], 0
    for example in runnable:
        command = _prepare(example.command, base, tags)
        if command == "echo $?":
            actual, code = f"{status}\n", 0
        else:
            process = subprocess.run(["bash", "-c", command], cwd=workdir, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, timeout=300)  # timeout: hung
            actual, code = process.stdout, process.returncode
            status = code
        for name, tag in tags.items():
            actual = actual.replace(tag, name)
        actual = actual.replace(str(workdir), DOC_DIR)
        if code not in (0, 1) or "Traceback" in actual:
            failures.append(f"{example}: exit {code}\n{actual}")
        elif example.output:
            problem = _compare(example, actual)
            if problem:
                failures.append(f"{example}: {problem}")
    assert not failures, "\n\n".join(failures)
