"""Table tests of every rewrite --fix makes (SM101, SM102, SM103, SM105),
and of what it must leave alone. Each case also goes through fixcheck:
idempotent, only the rewritten lines change, BuildKit reads the same file."""
import pytest

from smlint import catalog
from smlint.dockerfile.fixes import plain_words, shell_kind, with_exec

from fixcheck import fixed

BASE = "FROM python:3.12-slim\n"
PY = "FROM python:3.12-slim\n"

# (name, Dockerfile after FROM, expected after --fix (None: unchanged), rule fixed)
REWRITES = [
    ("plain words", "ENTRYPOINT python3 /app/job.py --fast\n",
     'ENTRYPOINT ["python3", "/app/job.py", "--fast"]\n', "SM101"),
    ("double and single quotes group words", "ENTRYPOINT python3 \"/app/my job.py\" 'a b'\n",
     'ENTRYPOINT ["python3", "/app/my job.py", "a b"]\n', "SM101"),
    ("exec dropped", "ENTRYPOINT exec python3 /app/job.py\n", 'ENTRYPOINT ["python3", "/app/job.py"]\n', "SM101"),
    ("lower-case keyword kept", "entrypoint python3 job.py\n", 'entrypoint ["python3", "job.py"]\n', "SM101"),
    ("a variable keeps the shell", "ENTRYPOINT python3 job.py $MODE\n",
     'ENTRYPOINT ["/bin/sh", "-c", "exec python3 job.py $MODE"]\n', "SM101"),
    ("&& list, double quotes escaped", 'ENTRYPOINT cd /srv && python3 job.py "$MODE"\n',
     'ENTRYPOINT ["/bin/sh", "-c", "cd /srv && exec python3 job.py \\"$MODE\\""]\n', "SM101"),
    ("; list", "ENTRYPOINT cd /app; python3 job.py\n", 'ENTRYPOINT ["/bin/sh", "-c", "cd /app; exec python3 job.py"]\n',
     "SM101"),
    ("single quotes inside the script", "ENTRYPOINT cd /app && python3 -c 'print(1)'\n",
     'ENTRYPOINT ["/bin/sh", "-c", "cd /app && exec python3 -c \'print(1)\'"]\n', "SM101"),
    ("a backslash is escaped in JSON", "ENTRYPOINT python3 job.py a\\ b\n",
     'ENTRYPOINT ["/bin/sh", "-c", "exec python3 job.py a\\\\ b"]\n', "SM101"),
    ("continuations joined, comment line dropped with them",
     "ENTRYPOINT python3 /app/job.py \\\n# the input\n    --input /x \\\n    --output /y\n",
     'ENTRYPOINT ["python3", "/app/job.py", "--input", "/x", "--output", "/y"]\n', "SM101"),
    ("trailing blanks and a comment after stay", "ENTRYPOINT python3 job.py  \t\n# job\n",
     'ENTRYPOINT ["python3", "job.py"]  \t\n# job\n', "SM101"),
    ("bash -o pipefail is plain", 'SHELL ["/bin/bash", "-o", "pipefail", "-c"]\nENTRYPOINT python3 job.py\n',
     'SHELL ["/bin/bash", "-o", "pipefail", "-c"]\nENTRYPOINT ["python3", "job.py"]\n', "SM101"),
    ("bash -o pipefail keeps its shell for a list",
     'SHELL ["/bin/bash", "-o", "pipefail", "-c"]\nENTRYPOINT cd /app && python3 job.py | cat\n', None, None),
    ("bash -o pipefail with &&", 'SHELL ["/bin/bash", "-o", "pipefail", "-c"]\nENTRYPOINT cd /app && python3 job.py\n',
     'SHELL ["/bin/bash", "-o", "pipefail", "-c"]\n'
     'ENTRYPOINT ["/bin/bash", "-o", "pipefail", "-c", "cd /app && exec python3 job.py"]\n', "SM101"),
    ("a login shell is kept, with exec", 'SHELL ["/bin/bash", "--login", "-c"]\nENTRYPOINT python3 job.py\n',
     'SHELL ["/bin/bash", "--login", "-c"]\nENTRYPOINT ["/bin/bash", "--login", "-c", "exec python3 job.py"]\n',
     "SM101"),
    ("conda run is kept, with exec",
     'SHELL ["conda", "run", "-n", "env", "/bin/bash", "-c"]\nENTRYPOINT python3 job.py\n',
     'SHELL ["conda", "run", "-n", "env", "/bin/bash", "-c"]\n'
     'ENTRYPOINT ["conda", "run", "-n", "env", "/bin/bash", "-c", "exec python3 job.py"]\n', "SM101"),
    ("a shell that is no POSIX shell: no fix", 'SHELL ["pwsh", "-Command"]\nENTRYPOINT python3 job.py\n', None, None),
    ("the SHELL where the instruction stands", 'ENTRYPOINT python3 $X\nSHELL ["/bin/bash", "-c"]\n',
     'ENTRYPOINT ["/bin/sh", "-c", "exec python3 $X"]\nSHELL ["/bin/bash", "-c"]\n', "SM101"),
    ("script already ends in exec", "ENTRYPOINT cd /app && exec python3 job.py\n",
     'ENTRYPOINT ["/bin/sh", "-c", "cd /app && exec python3 job.py"]\n', "SM101"),
    ("CMD alone: exec form", "CMD python3 job.py --in /opt/ml/processing/input\n",
     'CMD ["python3", "job.py", "--in", "/opt/ml/processing/input"]\n', "SM103"),
    ("CMD with a variable", "CMD python3 job.py --in $IN\n", 'CMD ["/bin/sh", "-c", "exec python3 job.py --in $IN"]\n',
     "SM103"),
    ("CMD with setup first", "CMD setsid cron; python3 /app/process.py\n",
     'CMD ["/bin/sh", "-c", "setsid cron; exec python3 /app/process.py"]\n', "SM103"),
    ("SM102 single quotes", "ENTRYPOINT ['python3', '/app/job.py']\n", 'ENTRYPOINT ["python3", "/app/job.py"]\n',
     "SM102"),
    ("SM102 trailing comma", 'ENTRYPOINT ["python3"]\nCMD ["--in", "/x",]\n',
     'ENTRYPOINT ["python3"]\nCMD ["--in", "/x"]\n', "SM102"),
    ("SM102 both", "CMD ['a', 'b',]\n", 'CMD ["a", "b"]\n', "SM102"),
    ("SM102 SHELL", "SHELL ['/bin/bash', '-c']\nENTRYPOINT [\"python3\"]\n",
     'SHELL ["/bin/bash", "-c"]\nENTRYPOINT ["python3"]\n', "SM102"),
    ("SM102 unquoted words are ambiguous", "ENTRYPOINT [python3, job.py]\n", None, None),
    ("SM102 mixed quotes are ambiguous", "ENTRYPOINT [\"python3\", 'job.py']\n", None, None),
    ("SM102 a number is not a string", 'ENTRYPOINT ["sleep", 5]\n', None, None),
    ("SM105 exec added", 'ENTRYPOINT ["sh", "-c", "cd /app && python3 job.py"]\n',
     'ENTRYPOINT ["sh", "-c", "cd /app && exec python3 job.py"]\n', "SM105"),
    ("SM105 array spacing normalised", 'ENTRYPOINT [ "/bin/sh","-ec","pip install x; python3 j.py" ]\n',
     'ENTRYPOINT ["/bin/sh", "-ec", "pip install x; exec python3 j.py"]\n', "SM105"),
    ("SM105 in CMD", 'CMD ["/bin/sh", "-c", "python3 /app/prepare.py && python3 /app/process.py"]\n',
     'CMD ["/bin/sh", "-c", "python3 /app/prepare.py && exec python3 /app/process.py"]\n', "SM105"),
]

NOT_FIXABLE = [
    ("pipeline", "ENTRYPOINT python3 job.py | tee /tmp/log\n"),
    ("status-neutral trailer", "ENTRYPOINT python3 job.py && echo done\n"),
    ("trailer after ;", "ENTRYPOINT python3 job.py; echo done\n"),
    ("background", "ENTRYPOINT python3 job.py &\n"),
    ("background first", "ENTRYPOINT cron & python3 job.py\n"),
    ("EXIT trap", "ENTRYPOINT trap 'rm -f /tmp/x' EXIT; python3 job.py\n"),
    ("compound at the end", "ENTRYPOINT if [ -n \"$X\" ]; then python3 a.py; else python3 b.py; fi\n"),
    ("|| fallback", "ENTRYPOINT python3 job.py || python3 fallback.py\n"),
    ("function", "ENTRYPOINT run() { python3 job.py; }; run\n"),
    ("builtin last", "ENTRYPOINT python3 job.py; exit 0\n"),
    ("assignment before the job", "ENTRYPOINT MODE=fast python3 job.py\n"),
    ("cd alone", "ENTRYPOINT cd /app\n"),
    ("SM105 pipeline", 'ENTRYPOINT ["sh", "-c", "python3 job.py | tee /tmp/log"]\n'),
    ("SM105 trailer", 'ENTRYPOINT ["sh", "-c", "python3 job.py && echo done"]\n'),
    ("SM105 trap", 'ENTRYPOINT ["bash", "-c", "trap \'echo stopping\' TERM INT; python3 /app/process.py"]\n'),
]


@pytest.mark.parametrize("name, body, expected, rule", REWRITES, ids=[c[0] for c in REWRITES])
def test_rewrite(name, body, expected, rule):
    after, applied, remaining = fixed(PY + body)
    assert after == PY + (expected if expected is not None else body)
    assert [f.rule_id for f in applied] == ([rule] if rule else [])
    if rule:
        assert rule not in {f.rule_id for f in remaining}


@pytest.mark.parametrize("name, body", NOT_FIXABLE, ids=[c[0] for c in NOT_FIXABLE])
def test_reported_without_a_fix(name, body):
    after, applied, remaining = fixed(PY + body, unsafe=True)
    assert after == PY + body and not applied
    flagged = [f for f in remaining if f.rule_id in ("SM101", "SM105")]
    assert flagged and all(f.fix is None for f in flagged), [(f.rule_id, f.fix) for f in remaining]


def test_crlf_and_the_backtick_escape_stay():
    text = ("# escape=`\r\nFROM python:3.12-slim\r\nRUN echo a `\r\n  b\r\n"
            "ENTRYPOINT python3 C:\\job.py `\r\n   --fast\r\nLABEL x=1  \r\n")
    after, applied, _ = fixed(text)
    assert after == ("# escape=`\r\nFROM python:3.12-slim\r\nRUN echo a `\r\n  b\r\n"
                     'ENTRYPOINT ["/bin/sh", "-c", "exec python3 C:\\\\job.py    --fast"]\r\nLABEL x=1  \r\n')
    assert [f.rule_id for f in applied] == ["SM101"]


def test_heredocs_and_comments_elsewhere_stay_byte_for_byte():
    text = (PY + "RUN <<EOF\nset -e\n  echo 'ENTRYPOINT x'  \nEOF\n# comment  \n\n"
            "COPY <<-EOT /app/run.sh\n\tpython3 job.py\n\tEOT\nENTRYPOINT python3 /app/job.py\n")
    after, _, _ = fixed(text)
    assert after == text.replace("ENTRYPOINT python3 /app/job.py", 'ENTRYPOINT ["python3", "/app/job.py"]')


def test_argument_trap_own_cmd_is_unsafe():
    text = PY + "ENTRYPOINT python3 /app/job.py\nCMD [\"--input\", \"/x\"]\n"
    after, applied, remaining = fixed(text)
    assert after == text and not applied
    sm101 = next(f for f in remaining if f.rule_id == "SM101")
    assert not sm101.fix.safe
    assert "CMD on line 3" in sm101.message and "ContainerArguments" in sm101.message
    assert "--unsafe-fixes" in sm101.message
    after, applied, _ = fixed(text, unsafe=True)
    assert 'ENTRYPOINT ["python3", "/app/job.py"]\n' in after and [f.rule_id for f in applied] == ["SM101"]


def test_argument_trap_inherited_by_a_later_stage():
    text = PY.replace("\n", " AS base\n") + "ENTRYPOINT python3 /app/job.py\nFROM base\nCMD [\"--x\"]\n"
    _, applied, remaining = fixed(text)
    assert not applied
    assert not next(f for f in remaining if f.rule_id == "SM101").fix.safe


def test_argument_trap_in_another_target_that_inherits():
    text = (PY.replace("\n", " AS base\n") + "ENTRYPOINT python3 /app/job.py\n"
            "FROM base AS test\nCMD [\"--self-test\"]\nFROM base\n")
    _, applied, remaining = fixed(text)
    assert not applied and "stage 'test'" in next(f for f in remaining if f.rule_id == "SM101").fix.description


def test_keeping_the_shell_is_safe_with_a_cmd():
    # /bin/sh -c keeps taking CMD as $0...: nothing changes for the arguments
    text = PY + "ENTRYPOINT cd /app && python3 job.py\nCMD [\"--x\"]\n"
    after, applied, _ = fixed(text)
    assert 'ENTRYPOINT ["/bin/sh", "-c", "cd /app && exec python3 job.py"]' in after and applied


def test_inherited_entrypoint_is_fixed_where_it_is_written():
    text = PY.replace("\n", " AS base\n") + "ENTRYPOINT python3 /app/job.py\nFROM base\nENV A=1\n"
    after, applied, _ = fixed(text)
    assert after.splitlines()[1] == 'ENTRYPOINT ["python3", "/app/job.py"]' and applied


def test_only_the_target_stage_is_fixed():
    text = PY.replace("\n", " AS job\n") + "ENTRYPOINT python3 /app/job.py\n" + PY + "ENTRYPOINT python3 /other.py\n"
    after, applied, _ = fixed(text, target="job")
    assert after == text.replace("ENTRYPOINT python3 /app/job.py", 'ENTRYPOINT ["python3", "/app/job.py"]')


def test_several_fixes_in_one_file():
    text = PY + "SHELL ['/bin/sh', '-c']\nCMD ['python3', 'x.py',]\nENTRYPOINT ['python3']\n"
    after, applied, _ = fixed(text)
    assert sorted(f.rule_id for f in applied) == ["SM102", "SM102", "SM102"]
    assert "'" not in after


def test_bom_is_kept_and_columns_count_after_it():
    after, applied, _ = fixed("\ufeff" + "FROM a\nENTRYPOINT python3 j.py\n")
    assert after == '\ufeffFROM a\nENTRYPOINT ["python3", "j.py"]\n' and applied


def test_instruction_flags_are_left_alone():
    after, applied, _ = fixed(PY + "ENTRYPOINT --bogus python3 job.py\n")
    assert not [f for f in applied if f.rule_id == "SM101"]


@pytest.mark.parametrize("shell, kind", [
    (("/bin/sh", "-c"), "plain"), (("/bin/bash", "-c"), "plain"), (("bash", "-o", "pipefail", "-c"), "plain"),
    (("/bin/sh", "-eu", "-c"), "plain"), (("/bin/bash", "--login", "-c"), "environment"),
    (("/bin/bash", "-lc"), "environment"), (("conda", "run", "-n", "x", "bash", "-c"), "environment"),
    (("/bin/sh", "-x", "-c"), "environment"), (("pwsh", "-Command"), ""), (("cmd", "/S", "/C"), ""),
])
def test_shell_kind(shell, kind):
    assert shell_kind(shell) == kind


@pytest.mark.parametrize("text, words", [
    ("python3 job.py", ["python3", "job.py"]), ('python3 "a b"', ["python3", "a b"]),
    ("exec java -jar x.jar", ["java", "-jar", "x.jar"]), ("python3 $X", None), ("a && b", None),
    ("python3 *.py", None), ("A=1 python3", None), ("~/bin/job", None), ("cd /x", None), ("python3 'a", None),
    ("python3 a\\ b", None), ("python3 job.py #comment", None), ("", None), ("exec", None),
])
def test_plain_words(text, words):
    assert plain_words(text) == words


@pytest.mark.parametrize("script, result", [
    ("python3 job.py", "exec python3 job.py"),
    ("cd /srv && python3 job.py \"$MODE\"", "cd /srv && exec python3 job.py \"$MODE\""),
    ("set -e\ncd /app\npython3 job.py\n", "set -e\ncd /app\nexec python3 job.py\n"),
    ("python3 job.py >/tmp/log 2>&1", "exec python3 job.py >/tmp/log 2>&1"),
    ("echo python3; python3 x", "echo python3; exec python3 x"),
    ("python3 a.py; python3 a.py", "python3 a.py; exec python3 a.py"),
    ("exec python3 job.py", "exec python3 job.py"),
    ("python3 job.py | tee log", None), ("python3 job.py && echo done", None), ("python3 job.py &", None),
    ("trap 'rm x' EXIT; python3 job.py", None), ("python3 job.py; true", None), ("(python3 job.py)", None),
    ("{ python3 job.py; }", None), ("while true; do python3 job.py; done", None), ("python3 'unclosed", None),
    ("! python3 job.py", None), ("time python3 job.py", None), ("command python3 job.py", None),
    ("{ cron & }; python3 job.py", None), ("env A=1 python3 job.py", "exec env A=1 python3 job.py"),
])
def test_with_exec(script, result):
    assert with_exec(script) == result


def _catalog_examples():
    for doc in catalog.load().values():
        if doc.scope == "dockerfile":
            for heading in ("Example", "Use instead"):
                examples = [text for lang, text in doc.examples(heading) if lang == "dockerfile"]
                for number, text in enumerate(examples, 1):
                    yield pytest.param(doc.id, heading, text, id=f"{doc.id}-{heading.split()[0]}-{number}")


# The catalog's failing examples that --fix (with --unsafe-fixes) repairs: every
# one whose intent is unambiguous. The others are in NOT_FIXABLE's spirit:
# SM102 unquoted words, SM105 a compound at the end or a trap.
FIXED_EXAMPLES = {"SM101": [1, 2, 3], "SM102": [1, 2], "SM103": [1, 2], "SM105": [1, 2]}


@pytest.mark.parametrize("rule_id, heading, text", list(_catalog_examples()))
def test_catalog_examples(rule_id, heading, text):
    """Every catalog example goes through --fix: its differential checks hold,
    and the fixable failing examples of SM101/SM102/SM103/SM105 lose their finding."""
    after, applied, remaining = fixed(text, unsafe=True)
    if heading != "Example" or rule_id not in FIXED_EXAMPLES:
        return
    doc = catalog.load()[rule_id]
    number = [t for lang, t in doc.examples("Example") if lang == "dockerfile"].index(text) + 1
    left = rule_id in {f.rule_id for f in remaining}
    assert left == (number not in FIXED_EXAMPLES[rule_id]), (rule_id, number, after)


def _readme_rows():
    import os
    import re

    readme = open(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")).read()
    section = readme.split("### `--fix` and `--diff`", 1)[1].split("\n\n", 3)[2]
    return re.findall(r"^\| (SM[^|]*?) \| `(.+?)` \| `(.+?)` \|$", section, re.M)


def test_readme_fix_table_is_what_fix_does():
    rows = _readme_rows()
    assert len(rows) == 5
    for rule, before, after in rows:
        shell = rule.split("under `", 1)[1].rstrip("`") + "\n" if "SHELL" in rule else ""
        assert fixed(PY + shell + before + "\n")[0] == PY + shell + after + "\n", rule


def test_a_fix_in_a_shared_stage_names_the_other_targets():
    text = PY.replace("\n", " AS base\n") + "ENTRYPOINT python3 /app/job.py\nFROM base AS gpu\nENV G=1\nFROM base\n"
    _, applied, _ = fixed(text)
    assert applied[0].fix.safe and "the targets 'base', 'gpu' have it too" in applied[0].fix.description
