#!/usr/bin/env python3
"""Own shell grammar against tree-sitter-bash, the parser it was chosen over.

    .venv/bin/python bench/shell_bench.py [--runs 5]

Measures, on the differential test's corpus (every script of the catalog and
fixtures plus 400 generated scripts): the import cost in a fresh interpreter
(median of 15, over `python -I -c pass`) and the best parse time of the whole
corpus with smlint's grammar (the tree, and the RUN rules' view of it:
shell.script_commands), with tree-sitter-bash alone, and with
tree-sitter-bash plus the Python walk the rules would need (the differential
test's reading). tree-sitter and tree-sitter-bash are test dependencies.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def _import_cost(code: str, runs: int = 15) -> float:
    """Median seconds of `python -c code` less a bare interpreter, interleaved."""
    bare, loaded = [], []
    for _ in range(runs):
        for sink, program in ((bare, "pass"), (loaded, code)):
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", program], cwd=ROOT, check=True)
            sink.append(time.perf_counter() - started)
    return statistics.median(loaded) - statistics.median(bare)


def _best(function, scripts: list[str], runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        for script in scripts:
            try:
                function(script)
            except Exception:  # a script one parser rejects costs what it cost
                pass
        best = min(best, time.perf_counter() - started)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    options = parser.parse_args()
    import test_shell_differential as corpus
    from smlint.dockerfile.shell import script_commands
    from smlint.dockerfile.shell_tree import parse

    scripts = corpus.GENERATED + [script for _, script in corpus.CATALOG]
    size = sum(map(len, scripts)) // 1024
    own_import = _import_cost("import smlint.dockerfile.shell_questions") - _import_cost("import smlint.argv")
    ts_import = _import_cost("import tree_sitter, tree_sitter_bash as b; tree_sitter.Parser(tree_sitter.Language(b.language()))")
    print(f"corpus: {len(scripts)} scripts, {size} KiB")
    print(f"import: own grammar +{own_import * 1000:.1f} ms; tree-sitter-bash +{ts_import * 1000:.1f} ms")
    for name, function in (("own grammar", parse), ("own grammar, RUN view", script_commands), ("tree-sitter-bash parse", lambda s: corpus.PARSER.parse(s.encode())),
                           ("tree-sitter-bash parse + walk", corpus._theirs)):
        print(f"{name:32s} {_best(function, scripts, options.runs) * 1000:8.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
