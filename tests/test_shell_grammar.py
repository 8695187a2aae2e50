"""Table-driven tests of the shell grammar (shell_lexer, shell_tree) and of the
questions the signal and exit-code rules ask of it (shell_flow, shell_questions)."""
import pytest

from smlint.dockerfile.shell_flow import forwards_signals, options_of, outcomes
from smlint.dockerfile.shell_lexer import ShellSyntaxError
from smlint.dockerfile.shell_questions import left_running, left_running_text, parse_or_none, shell_of_base, status_masking
from smlint.dockerfile.shell_tree import AndOr, Case, Function, Group, If, Loop, Pipeline, Simple, parse, simple_commands


def _shape(node):
    """A compact picture of a tree, enough to tell its structure."""
    if isinstance(node, Simple):
        return " ".join(node.assignments + node.words) + "".join(f" {r.descriptor}{r.operator}{r.target}" for r in node.redirects)
    if isinstance(node, Pipeline):
        inner = " | ".join(_shape(c) for c in node.commands)
        return f"!({inner})" if node.negated else inner
    if isinstance(node, AndOr):
        parts = [_shape(node.pipelines[0])]
        for operator, pipeline in zip(node.operators, node.pipelines[1:]):
            parts += [operator, _shape(pipeline)]
        return " ".join(parts)
    if isinstance(node, Group):
        return ("(" if node.subshell else "{") + _shape(node.body) + (")" if node.subshell else "}")
    if isinstance(node, If):
        branches = " ".join(f"[{_shape(c)} => {_shape(b)}]" for c, b in node.branches)
        return f"IF {branches}" + (f" ELSE {_shape(node.otherwise)}" if node.otherwise else "")
    if isinstance(node, Case):
        return f"CASE {node.subject} " + " ".join(f"{'|'.join(p)}=>{_shape(b)}" for p, b in node.arms)
    if isinstance(node, Loop):
        condition = _shape(node.condition) + " " if node.condition else ""
        return f"{node.keyword.upper()} {condition}DO {_shape(node.body)}"
    if isinstance(node, Function):
        return f"FN {node.name} {_shape(node.body)}"
    items = [_shape(item) + ("&" if terminator == "&" else "") for item, terminator in zip(node.items, node.terminators)]
    return "; ".join(items)


GRAMMAR = [
    # lists, and-or lists, pipelines
    ("a; b\nc", "a; b; c"),
    ("a && b || c", "a && b || c"),
    ("a &&\n  b", "a && b"),
    ("a | b |& c", "a | b | c"),
    ("! a | b", "!(a | b)"),
    ("a & b", "a&; b"),
    ("job & pid=$!; wait $pid", "job&; pid=$!; wait $pid"),
    # compound commands
    ("if a; then b; elif c; then d; else e; fi", "IF [a => b] [c => d] ELSE e"),
    ("if a\nthen\n  b\nfi", "IF [a => b]"),
    ("case $1 in a|b) x;; (c) y;& *) z;; esac", "CASE $1 a|b=>x c=>y *=>z"),
    ("case \"$1\" in\n  serve)\n    exec s\n    ;;\nesac", "CASE $1 serve=>exec s"),
    ("for i in 1 2 3; do echo $i; done", "FOR DO echo $i"),
    ("for i\ndo :; done", "FOR DO :"),
    ("for ((i = 0; i < 3; i++)); do x; done", "FOR DO x"),
    ("while read l; do echo $l; done < f", "WHILE read l DO echo $l"),
    ("until false; do sleep 1; done", "UNTIL false DO sleep 1"),
    ("{ a; b; } > log", "{a; b}"),
    ("(cd /x && y)", "(cd /x && y)"),
    ("f() { exec a; }; f", "FN f {exec a}; f"),
    ("function g { b; }", "FN g {b}"),
    ("function h() ( c )", "FN h (c)"),
    # words: quoting and escapes, substitutions, assignments, reserved words as arguments
    ("echo 'a b' \"c $d\" e\\ f", "echo a b c $d e f"),
    ("echo \"$(date +%s)\" `hostname` ${x:-y}", "echo $(date +%s) `hostname` ${x:-y}"),
    ("echo $'a\\tb'", "echo a\tb"),
    ("A=1 B='x y' python3 job.py", "A=1 B=x y python3 job.py"),
    ("args=(\n  --verbose # why\n  --x=\"$(mktemp -u)\"\n)\nrun", "args=(\n  --verbose # why\n  --x=\"$(mktemp -u)\"\n); run"),
    ("a+=(b) c", "a+=(b) c"),
    ("echo if then fi done", "echo if then fi done"),
    ("'if' x", "if x"),
    ("echo $(case x in a) b;; esac)", "echo $(case x in a) b;; esac)"),
    ("echo $((1 + 2)); ((i++))", "echo $((1 + 2)); ((i++))"),
    ("[[ -n $a && $b < c ]] && d", "[[ -n $a && $b < c ]] && d"),
    ("diff <(a) >(b)", "diff <(a) >(b)"),
    ('[[ "$v" =~ ^1\\.(1[1-9]|2[0-6])$ ]] || x', "[[ $v =~ ^1. ( 1[1-9] | 2[0-6] ) $ ]] || x"),
    (">&2 echo $1", "echo $1 >&2"),
    ("a \\\n  b", "a b"),
    ("a # comment ; b\nc", "a; c"),
    ("echo a#b", "echo a#b"),
    # redirections and here-documents
    ("a >out 2>&1 <in", "a >out 2>&1 <in"),
    ("a &>/dev/null; b >>log; c <<<word", "a &>/dev/null; b >>log; c <<<word"),
    ("cat <<EOF >x\nhi $a\nEOF\nexec y", "cat <<EOF >x; exec y"),
    ("cat <<-'EOF'\n\tbody\n\tEOF\nnext", "cat <<-EOF; next"),
    ("a <<A; b <<B\n1\nA\n2\nB\nc", "a <<A; b <<B; c"),
    # exec, trap, set
    ("exec -a name prog arg", "exec -a name prog arg"),
    ("trap 'kill -TERM $p' TERM INT", "trap kill -TERM $p TERM INT"),
    ("set -euo pipefail", "set -euo pipefail"),
]


@pytest.mark.parametrize("text, shape", GRAMMAR, ids=[g[0][:30] for g in GRAMMAR])
def test_grammar(text, shape):
    assert _shape(parse(text)) == shape


def test_heredoc_bodies_are_kept_and_tabs_stripped():
    [command] = simple_commands(parse("cat <<-EOF\n\tone\n\t\ttwo\nEOF\n"))
    assert command.redirects[0].heredoc.body == "one\ntwo\n" and command.redirects[0].heredoc.strip_tabs
    [command] = simple_commands(parse("cat <<'X'\n$a `b`\nX\n"))
    assert command.redirects[0].heredoc.body == "$a `b`\n" and command.redirects[0].heredoc.quoted


def test_raw_text_keeps_quotes_for_messages():
    [command] = simple_commands(parse('python3 job.py "$@" \'x y\''))
    assert command.text == 'python3 job.py "$@" \'x y\'' and command.words[-2:] == ["$@", "x y"]


@pytest.mark.parametrize("text", [
    "if a; then b", "case x in a) b", "a &&", "a | ", "echo 'open", 'echo "open', "f() b", "{ a; ", "(a",
    "cat <<EOF\nno end", "echo $(a", "done", "a; ;; b", "while a; b; done", "((1",
])
def test_syntax_errors_are_errors_not_crashes(text):
    with pytest.raises(ShellSyntaxError):
        parse(text)
    assert parse_or_none(text) is None


def test_deep_nesting_is_bounded():
    assert parse_or_none("{ " * 500 + "a; " + "}; " * 500) is None
    assert parse_or_none("(" * 40 + "a" + ")" * 40) is not None


# --- the questions ------------------------------------------------------------------

def _left(text, shell="dash", c_mode=True):
    return [found.job.text for found in left_running(parse(text), shell, c_mode)]


LEFT_RUNNING = [
    # (script, shell, jobs the shell stays PID 1 over)
    ("python3 job.py", "dash", ["python3 job.py"]),
    ("python3 job.py", "bash", []),
    ("python3 job.py", "busybox", []),
    ("cd /app && python3 job.py", "bash", []),
    ("setsid cron; tmux -2", "bash", []),
    ("service nginx start; bin/slyd -p 9001", "busybox", []),
    ("cd /app && exec python3 job.py", "dash", []),
    ("exec -a job python3 job.py", "dash", []),
    ("python3 job.py > /tmp/log 2>&1", "bash", ["python3 job.py"]),
    ("python3 job.py > /tmp/log 2>&1", "busybox", []),
    ('if [ -n "$X" ]; then exec python3 a.py; else exec python3 b.py; fi', "dash", []),
    ('if [ -n "$X" ]; then exec python3 a.py; else python3 b.py; fi', "dash", ["python3 b.py"]),
    ('if [ -n "$X" ]; then python3 a.py; fi', "bash", ["python3 a.py"]),
    ('if [ -n "$X" ]; then python3 a.py; fi', "busybox", []),
    ('case "$1" in t) exec a;; s) exec b;; *) echo usage; exit 1;; esac', "dash", []),
    ('case "$1" in t) exec a;; s) b;; esac', "dash", ["b"]),
    ("a; b; echo finished", "bash", ["b"]),
    ("python3 job.py || exit 1", "bash", ["python3 job.py"]),
    ("python3 job.py 2>&1 | tee log", "busybox", ["python3 job.py"]),
    ("while true; do python3 j.py; done", "busybox", ["python3 j.py"]),
    ("(python3 job.py)", "busybox", ["python3 job.py"]),
    ("f() { exec python3 x; }; f", "dash", []),
    ("f() { python3 x; }; f", "busybox", ["python3 x"]),
    ('"$@"', "dash", ['"$@"']),
    ('exec "$@"', "dash", []),
    ("exec >/tmp/log 2>&1; python3 job.py", "dash", ["python3 job.py"]),  # a bare exec only redirects
    ("trap 'echo bye' TERM; python3 job.py", "bash", ["python3 job.py"]),  # a trap alone
    ("trap 'kill $c' TERM INT; python3 job.py & c=$!; wait $c", "dash", []),
    ("python3 job.py & c=$!; wait $c", "dash", ["python3 job.py"]),  # background, no trap
    ("echo hello; sleep 10", "dash", []),  # no job at all
    ("while true; do echo hello; sleep 1; done", "bash", ["echo hello"]),  # the loop itself is the job
    ("until false; do echo hello; sleep 1; done", "bash", ["echo hello"]),
    # a loop that ends (argument parsing) is no job: only what follows can be
    ('while getopts "c:" o; do case $o in c) n=$OPTARG;; esac; done\nif [ -n "$n" ]; then exec python3 a.py; fi',
     "dash", []),
    ("for f in /etc/*.conf; do echo $f; done\nexec python3 a.py", "dash", []),
    ("rbenv_update && bundle_install && script/test", "bash", []),  # script/test is a program, not `test`
    ("find . | xargs -n1 basename | sort", "bash", ["xargs -n1 basename"]),
    ("env A=1 python3 job.py", "bash", []),
    # error paths (a literal non-zero exit) are not judged: the job never ran there
    ("iptables --version\nif [ -z $x ]; then echo no; exit 1; fi\nexec \"$@\"", "dash", []),
    ("python3 job.py; exit $?", "dash", ["python3 job.py"]),
    # one job on several paths (it succeeds, or fails and the script goes on) is named once
    ("nox || ret=$?\nexit $ret", "bash", ["nox"]),
    ("python3 job.py || python3 job.py", "dash", ["python3 job.py", "python3 job.py"]),  # two commands
]


@pytest.mark.parametrize("text, shell, jobs", LEFT_RUNNING, ids=[f"{c[1]}:{c[0][:40]}" for c in LEFT_RUNNING])
def test_left_running(text, shell, jobs):
    assert _left(text, shell) == jobs


def test_no_shell_execs_a_script_files_last_command():
    for shell in ("bash", "busybox", "dash"):
        assert _left("cd /app\npython3 job.py\n", shell, c_mode=False) == ["python3 job.py"]


def test_unknown_shell_says_which_shells_would_exec():
    [found] = left_running(parse("cd / && python3 job.py"), "", True)
    assert found.unless == "bash or busybox"
    [found] = left_running(parse("if a; then python3 job.py; fi"), "", True)
    assert found.unless == "busybox" and found.outcome.via == "the `then` branch"
    [found] = left_running(parse("python3 job.py; echo done"), "", True)
    assert found.unless == ""


def test_findings_name_the_branch_and_the_fix():
    [found] = left_running(parse('case "$1" in a) exec x;; b) python3 "$2";; esac'), "dash", True)
    assert found.describe() == '`python3 "$2"` (the `b)` branch)'
    assert found.fix() == 'write `exec python3 "$2"`'


def test_a_job_in_a_loop_is_not_told_to_exec():
    # `exec` would end the loop after one round: the fix is a trap and a waited-for child.
    [found] = left_running(parse("while true; do python3 job.py; sleep 5; done"), "dash", False)
    assert left_running_text([found]) == (
        "`python3 job.py` (a `while` loop) runs as a child of the shell; a loop needs the shell, so `exec` cannot "
        "help: trap INT and TERM, run each step in the background and `wait` for it, and stop it in the trap")


def test_a_trapped_loop_is_not_told_to_exec_either():
    [found] = left_running(parse("trap 'exit 0' TERM; while true; do python3 job.py; done"), "dash", False)
    assert "or `exec` it" not in left_running_text([found]) and "`wait`" in left_running_text([found])


MASKING = [
    # (script, shell command-line options, masks?)
    ("python3 job.py || true", "", True),
    ("python3 job.py || :", "e", True),
    ("python3 job.py || exit 0", "", True),
    ("python3 job.py || echo failed", "", True),
    ("python3 job.py; exit 0", "", True),
    ("python3 job.py; true", "", True),
    ("python3 job.py; echo done", "", True),
    ("python3 job.py && touch /tmp/done", "", False),  # touch runs only after success
    ("python3 job.py; logger finished", "", True),
    ("python3 job.py 2>&1 | tee log", "", True),
    ("python3 job.py 2>&1 | tee log", "e", True),
    ("python3 job.py | while read l; do echo $l; done", "", True),
    ("set -o pipefail; python3 job.py | tee log", "", False),
    ("python3 job.py | tee log", "o:pipefail", False),
    ("cat input | python3 job.py", "", False),
    ("a; b; echo finished", "ec o:pipefail", False),
    ("a; b; echo finished", "o:errexit", False),
    ("set -e\na\necho finished", "", False),
    ("set -euo pipefail\na | tee l\necho finished", "", False),
    ("set -o errexit; a; exit 0", "", False),
    ("python3 job.py; status=$?; echo done; exit $status", "", False),
    ("python3 job.py & pid=$!; wait $pid", "", False),
    ("python3 job.py || exit 1", "", False),
    ("{ rm -f x || true; } && python3 job.py", "", False),
    ("setsid cron; tmux -2", "", False),
    ("service nginx start; bin/slyd -p 9001", "", False),
    ('if [ -n "$X" ]; then exec python3 a.py; else exec python3 b.py; fi', "", False),
    ('if [ -n "$X" ]; then python3 a.py; else python3 b.py || true; fi', "", True),
    ('case "$1" in a) python3 a.py;; *) python3 b.py; echo done;; esac', "", True),
    ("echo starting; python3 job.py", "", False),
]


@pytest.mark.parametrize("text, options, masks", MASKING, ids=[f"{c[1]}:{c[0][:40]}" for c in MASKING])
def test_status_masking(text, options, masks):
    assert bool(status_masking(parse(text), options)) is masks


def test_masking_reasons_name_the_commands():
    [reason] = status_masking(parse("python3 job.py || true"))
    assert "`python3 job.py || true`" in reason
    [reason] = status_masking(parse("python3 job.py; echo done"))
    assert "`echo done` after `python3 job.py`" in reason
    [reason] = status_masking(parse("python3 job.py | tee log"))
    assert "`tee`" in reason


@pytest.mark.parametrize("text, command_line, errexit, pipefail", [
    ("a", "", False, False),
    ("a", "e", True, False),
    ("a", "xe", True, False),
    ("a", "o:errexit", True, False),
    ("a", "ec o:pipefail", True, True),
    ("set -e", "", True, False),
    ("set -eu -o pipefail", "", True, True),
    ("set -euo pipefail", "", True, True),
    ("set -o pipefail", "", False, True),
    ("set -x", "", False, False),
])
def test_options(text, command_line, errexit, pipefail):
    options = options_of(parse(text), command_line)
    assert (options.errexit, options.pipefail) == (errexit, pipefail)


@pytest.mark.parametrize("text, forwards", [
    ("trap 'kill $c' TERM; job & c=$!; wait $c", True),
    ("trap 'kill $c' SIGINT; job & c=$!; wait", True),
    ("trap 'kill $c' 15; job &\nwait", True),
    ("trap 'echo' TERM; job", False),
    ("job & wait", False),
    ("trap - TERM; job & wait", False),
    ("trap 'x' EXIT; job & wait", False),
])
def test_forwards_signals(text, forwards):
    assert forwards_signals(parse(text)) is forwards


def test_too_many_paths_are_not_judged():
    text = "; ".join(f"if a{i}; then b{i}; else c{i}; fi" for i in range(12)) + "; python3 job.py"
    assert outcomes(parse(text))  # sequences of branches with no job left: few distinct endings
    branches = "; ".join(f"if a{i}; then python3 b{i}.py; else python3 c{i}.py; fi; echo {i}" for i in range(40))
    assert len(left_running(parse(branches), "dash", True)) == 2  # paths share their endings: the last `if`'s two
    forks = "; ".join(f"if a{i}; then echo {i}; else printf {i}; fi" for i in range(40))
    assert len(outcomes(parse("python3 job.py; " + forks))) <= 16  # only the last commands after the job count
    arms = " ".join(f"a{i}) python3 job{i}.py;;" for i in range(70))
    assert outcomes(parse(f"case $1 in {arms} esac")) == []  # too many distinct endings: not judged


@pytest.mark.parametrize("reference, shell", [
    ("python:3.12-slim", "dash"),
    ("python:3.12-alpine", "busybox"),
    ("alpine:3.19", "busybox"),
    ("busybox", "busybox"),
    ("ubuntu:22.04", "dash"),
    ("debian:bookworm-slim", "dash"),
    ("nvidia/cuda:12.1.0-runtime-ubuntu22.04", "dash"),
    ("amazonlinux:2023", "bash"),
    ("registry.access.redhat.com/ubi9/ubi-minimal", "bash"),
    ("centos:7", "bash"),
    ("fedora:39", "bash"),
    ("763104351884.dkr.ecr.us-west-2.amazonaws.com/pytorch-training:2.0-gpu-py310-cu118-ubuntu20.04-sagemaker", "dash"),
    ("nvcr.io/nvidia/pytorch:24.01-py3", "dash"),
    ("rocker/rstudio:latest", "dash"),
    ("resin/rpi-raspbian:stretch", "dash"),
    ("nvcr.io/nvidia/l4t-base:r32.4.3", ""),
    ("nvidia/cuda:12.1.0-base-ubi8", "bash"),  # the tag names the OS: UBI, not Ubuntu
    ("nvcr.io/nvidia/cuda:12.1.0-base-ubi9", "bash"),
    ("myorg/ubiquity:1", ""),  # a name that starts with "ubi" is no UBI image
    ("myorg/job:1", ""),
    (None, ""),
    # mirrors of the official images, SageMaker's own Processing images, conda and Bitnami images
    ("public.ecr.aws/docker/library/python:3.10-slim", "dash"),
    ("mirror.gcr.io/library/node:20", "dash"),
    ("public.ecr.aws/docker/library/python:3.12-alpine", "busybox"),
    ("683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3", "dash"),
    ("246618743249.dkr.ecr.us-west-2.amazonaws.com/sagemaker-xgboost:1.7-1", "dash"),
    ("173754725891.dkr.ecr.us-east-1.amazonaws.com/sagemaker-spark-processing:3.3-cpu", "bash"),
    ("condaforge/miniforge3:24.3.0-0", "dash"),
    ("mambaorg/micromamba:1.5.8", "dash"),
    ("mambaorg/micromamba:1.5.8-alpine3.20", "busybox"),
    ("bitnami/spark:3.5", "dash"),
    ("opensuse/leap:15.5", "bash"),
    ("mambaorg/micromamba:1.5.8-amazon2023", "bash"),  # the tag names the OS
    ("myregistry.example/python:3.12", ""),  # another registry's "python" may be anything
    ("gcr.io/distroless/python3-debian12", "none"),  # no shell at all
    ("gcr.io/distroless/static:nonroot", "none"),
    ("gcr.io/distroless/base:debug-nonroot", "busybox"),
    ("123456789012.dkr.ecr.us-east-1.amazonaws.com/distroless/python3-debian12:nonroot", "none"),  # a mirror
])
def test_shell_of_base(reference, shell):
    assert shell_of_base(reference) == shell
