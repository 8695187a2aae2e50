"""--fix over generated Dockerfiles: fixcheck's differential checks (BuildKit
reads the same instructions but the rewritten ones, which mean what they
meant; idempotent; only their lines change) on every combination of quoting,
lists, continuations, line endings, escape characters, SHELLs and stages."""
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smlint.config import Policy
from smlint.dockerfile.fix_files import fix_text

from fixcheck import fixed

_word = st.sampled_from([
    "python3", "/app/job.py", "--fast", '"a b"', "'c d'", "$MODE", '"$MODE"', "${X:-1}", "&&", ";", "|", "&",
    "echo", "done", "exec", "cd", "/srv", "a\\ b", "x=1", "-c", "'it''s'", '"q\\"uote"', "*.py", "#x", "||",
])
_random_script = st.lists(_word, min_size=1, max_size=7).map(" ".join)
_templates = st.sampled_from([
    "python3 /app/job.py", "cd /srv && python3 job.py", "pip install x; python3 job.py", "exec python3 job.py",
    "set -e\ncd /app\npython3 job.py",
])
_script = st.one_of(_random_script, st.tuples(_templates, st.lists(_word, max_size=3)).map(
    lambda parts: " ".join([parts[0], *parts[1]])))
_shell = st.sampled_from([
    None, '["/bin/bash", "-o", "pipefail", "-c"]', '["/bin/bash", "--login", "-c"]', '["/bin/sh", "-ec"]',
    '["conda", "run", "-n", "env", "/bin/bash", "-c"]', "['/bin/bash', '-c']",
])
_wrapper = st.sampled_from(["sh", "/bin/sh", "bash", "/bin/bash"])


@st.composite
def command(draw, escape):
    keyword = draw(st.sampled_from(["ENTRYPOINT", "CMD", "entrypoint", "cmd"]))
    kind = draw(st.sampled_from(["shell", "continued", "single-quoted", "trailing-comma", "wrapper"]))
    if kind == "shell":
        return f"{keyword} {draw(_script)}"
    if kind == "continued":
        parts = draw(st.lists(_script, min_size=2, max_size=3))
        filler = draw(st.sampled_from(["", "# inside\n", "\n"]))
        return f"{keyword} " + (f" {escape}\n" + filler).join(parts)
    items = draw(st.lists(st.sampled_from(["python3", "/app/job.py", "-c", "a b", "$V"]), min_size=1, max_size=3))
    if kind == "single-quoted":
        return f"{keyword} [" + ", ".join(f"'{i}'" for i in items) + draw(st.sampled_from(["]", ",]"])) + ""
    if kind == "trailing-comma":
        return f"{keyword} [" + ", ".join(f'"{i}"' for i in items) + ", ]"
    script = draw(st.one_of(_templates, _script)).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'{keyword} ["{draw(_wrapper)}", "-c", "{script}"]'


@st.composite
def dockerfile(draw):
    escape = draw(st.sampled_from(["\\", "`"]))
    lines = [f"# escape={escape}"] if escape == "`" else []
    for stage in range(draw(st.integers(1, 2))):
        base = "python:3.12-slim" if stage == 0 else "base"
        lines.append(f"FROM {base}" + (" AS base" if stage == 0 else ""))
        shell = draw(_shell)
        if shell:
            lines.append(f"SHELL {shell}")
        for _ in range(draw(st.integers(0, 3))):
            lines.append(draw(st.one_of(command(escape), st.sampled_from([
                "# a comment  ", "", "RUN <<EOF\necho 'ENTRYPOINT x'\nEOF", "ENV A=1 \t", 'CMD ["--x"]',
                'ENTRYPOINT ["python3"]', "RUN echo a " + escape + "\n  b",
            ]))))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    return ("\n".join(lines) + "\n").replace("\n", newline)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dockerfile(), st.booleans())
def test_generated_dockerfiles_fix_cleanly(text, unsafe):
    fixed(text, unsafe=unsafe)


def test_the_generated_corpus_exercises_every_fix():
    """The generator is worth its time: each rule's fix is applied several times."""
    applied = []

    @settings(max_examples=300, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(dockerfile())
    def collect(text):
        applied.extend(f.rule_id for f in fix_text(text, "Dockerfile", Policy(), True)[1])

    collect()
    counts = {rule: applied.count(rule) for rule in ("SM101", "SM102", "SM103", "SM105")}
    assert all(count >= 5 for count in counts.values()), counts
