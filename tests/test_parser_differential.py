"""smlint's parser against BuildKit's own (PyPI `dockerfile`, test-only):
same instruction spans, same exec/shell decision, same leading flags, same
heredoc names and raw bodies (BuildKit's parser keeps the tabs of a `<<-`
body; the build strips them, and smlint's rules read `Heredoc.text`)."""
import glob
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smlint import catalog
from smlint.dockerfile.parser import parse

buildkit = pytest.importorskip("dockerfile", reason="BuildKit's parser has wheels for Linux x86_64 and Windows only")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def buildkit_view(text):
    try:
        commands = buildkit.parse_string(text)
    except buildkit.GoParseError:
        return None
    view = []
    for c in commands:
        heredocs = tuple((h.name, h.content) for h in c.heredocs)
        view.append((c.cmd.upper(), c.start_line, c.end_line, c.json, c.value if c.json else None, heredocs, c.flags))
    return view


def smlint_view(text):
    view = []
    for i in parse(text).instructions:
        heredocs = tuple((h.name, h.body) for h in i.heredocs)
        exec_args = i.exec_args if i.keyword != "HEALTHCHECK" else None
        is_json = exec_args is not None
        flags = tuple("--" + name + ("" if value is None else "=" + value) for name, value in i.flags)
        view.append((i.keyword, i.line, i.end_line, is_json, exec_args, heredocs, flags))
    return view


def assert_same(text):
    expected = buildkit_view(text)
    if expected is None:
        return False
    # BuildKit decides JSON for HEALTHCHECK/ONBUILD sub-commands too; smlint
    # models neither (no rule reads them), so compare those by span only.
    got = smlint_view(text)
    trimmed = [e if e[0] not in ("HEALTHCHECK", "ONBUILD") else e[:3] + (False, None) + e[5:] for e in expected]
    assert got == trimmed, text
    return True


def corpus():
    texts = []
    for doc in catalog.load().values():
        for heading in ("Example", "Use instead"):
            texts += [t for lang, t in doc.examples(heading) if lang == "dockerfile"]
    for path in glob.glob(os.path.join(ROOT, "fixtures", "**", "*Dockerfile*"), recursive=True):
        with open(path, encoding="utf-8", errors="replace") as handle:
            texts.append(handle.read())
    return texts


TRICKY = [
    "FROM a\nRUN <<EOF\nset -e\necho hi\nEOF\n",
    "FROM a\nRUN <<-EOF\n\techo hi\n\tEOF\n",
    "FROM a\nCOPY <<A <<B /d/\na\nA\nb\nB\n",
    'FROM a\nRUN cat <<"EOF" > /x\n$a\nEOF\n',
    "FROM a\nRUN python3 <<PY\nprint(1)\nPY\n",
    "FROM a\nRUN a \\\n# comment inside\n\n  b \\\n  c\n",
    "# escape=`\nFROM a\nRUN echo `\n  hi\nCMD [\"a\"]\n",
    "\ufeffFROM a\r\nRUN x \\\r\n  y\r\nENTRYPOINT [\"a\", \"b\"]\r\n",
    "from a\nentrypoint [\"a\"]\ncmd b c\n",
    "FROM a\nENTRYPOINT ['a']\nCMD [\"a\",]\nSHELL [\"/bin/bash\", \"-c\"]\n",
    "FROM a\nENTRYPOINT []\nCMD []\n",
    "FROM a\nVOLUME [\"/x\"]\nVOLUME /y /z\n",
    "FROM a\nRUN --mount=type=cache,target=/root/.cache pip install x\n",
    "FROM --platform=linux/arm64 a AS b\nFROM b\n",
    "ARG V=1\nFROM a:${V}\nARG V\nRUN echo $V\n",
    "FROM a\n  RUN  \\  \n  x\n",
    "FROM a\nRUN echo '[' \\\n  && true\n",
    "FROM a\nENTRYPOINT [\"a\"] extra\n",
    "FROM a\nCMD [ \"spaced\" , \"args\" ]\n",
    "FROM a\nLABEL a=\"b \\\n c\"\n",
    # Flags come off every instruction before BuildKit decides exec or shell form.
    'FROM a\nCMD --doit -- [ "a" ]\n',
    "FROM a\nCMD --doit\n",
    'FROM a\nENTRYPOINT --x=1 --y ["a", "b"]\n',
    'FROM a\nRUN --a="x y" --b=c\\ d -- --e echo\n',
    "FROM a\nRUN --mount=type=cache,target=/root/.cache --network=none pip install x\n",
    "FROM a\nCOPY --from=build --chown=1000:1000 --chmod=755 --link /a /b\n",
    "FROM a\nCOPY --exclude=*.pyc --exclude='a b' . /app\n",
    "FROM a\nHEALTHCHECK --interval=30s --retries=3 CMD [\"curl\", \"-f\", \"http://localhost/\"]\n",
    "FROM a\nUSER --Platform=x app\n",
    "FROM a\nRUN --mount=x\n",
    "FROM a\nCMD -- --",
    "FROM a\nCMD --'quoted flag'=1 [\"a\"]\n",
    # An escaped escape character at the end of a line continues nothing.
    "FROM a\nENV C trailing\\\\backslash\\\\\nENV D x\nENV E hello\\\n\\\nworld\n",
    "# escape=`\nFROM a\nRUN dir C:``\nRUN echo `\n  hi\n",
    # Every heredoc form BuildKit accepts.
    "FROM a\nCOPY <<-\\EOT /app/entrypoint.sh\n\t#!/bin/sh\n\texec python3 job.py\n\tEOT\n",
    "FROM a\nRUN <<\\EOF\necho $HOME\nEOF\n",
    "FROM a\nRUN <<'EOF'\necho $HOME\nEOF\n",
    "FROM a\nRUN <<-'EOF'\n\techo $HOME\n\t\tEOF\n",
    "FROM a\nRUN <<-\"EOF\"\n\techo\nEOF\n",
    "FROM a\nRUN <<E\"O\"F\nx\nEOF\n",
    "FROM a\nRUN <<\"E F\"\nx\nE F\n",
    "FROM a\nRUN 3<<EOF cat /dev/fd/3\nx\nEOF\n",
    "FROM a\nCOPY <<A <<-\\B <<'C' /d/\na\nA\n\tb\n\tB\nc\nC\n",
    "FROM a\nRUN --mount=type=secret,id=t <<EOF bash\nset -e\nEOF\n",
    "FROM a\nRUN cat << EOF\n",  # a blank after << : no heredoc
    "FROM a\nRUN echo \"<<EOF\"\n",  # quoted: no heredoc
    "FROM a\nRUN <<EOF\n\tx\n\tEOF\nEOF\n",  # without - a tabbed terminator is body text
    # ONBUILD triggers take heredocs as their instructions do
    "FROM a\nONBUILD RUN <<EOF\necho hi\nEOF\nRUN x\n",
    "FROM a\nONBUILD COPY <<-X <<'Y' /d/\n\tb\n\tX\nc\nY\n",
    "FROM a\nonbuild run --mount=type=cache,target=/c <<EOF bash\nset -e\nEOF\n",
    "FROM a\nONBUILD RUN [\"sh\", \"-c\", \"cat <<EOF\"]\nRUN x\n",  # exec form: no heredoc
    "FROM a\nONBUILD ENV A=<<EOF\nRUN x\n",  # ENV takes none
    "FROM a\nONBUILD RUN cat <<EOF >/x \\\n  && true\nbody\nEOF\n",
]


@pytest.mark.parametrize("text", TRICKY)
def test_tricky_cases_match_buildkit(text):
    assert assert_same(text)


def test_corpus_matches_buildkit():
    texts = corpus()
    compared = sum(1 for text in texts if assert_same(text))
    assert compared >= 100


_word = st.sampled_from(["a", "b", "/opt/ml", "${X}", "$Y", '"q w"', "'s q'", "x\\ y", "C:\\\\", "&&", "|", ";", "#x", "[", "]"])
_arg_line = st.lists(_word, min_size=0, max_size=5).map(" ".join)
_flag = st.sampled_from(["--link", "--from=b", "--x='a b'", '--y="c"', "--z=a\\ b", "--", "--mount=type=cache,target=/c"])
_flags = st.lists(_flag, max_size=3).map(lambda flags: "".join(f + " " for f in flags))
_keyword = st.sampled_from(["RUN", "run", "CMD", "ENTRYPOINT", "COPY", "ENV", "WORKDIR", "LABEL", "ADD", "SHELL",
                            "ONBUILD RUN", "ONBUILD COPY"])


@st.composite
def instruction(draw):
    keyword = draw(_keyword)
    kind = draw(st.sampled_from(["plain", "json", "continued", "heredoc", "comment", "blank"]))
    if kind == "json":
        items = draw(st.lists(st.sampled_from(["a", "-c", "x y", "$V", "'q'"]), max_size=3))
        sep = draw(st.sampled_from([", ", ",", " , "]))
        body = "[" + sep.join(f'"{i}"' for i in items) + draw(st.sampled_from(["]", ",]", "", "] x"])) + ""
        return f"{keyword} {body}"
    if kind == "continued":
        parts = draw(st.lists(_arg_line, min_size=2, max_size=4))
        filler = draw(st.sampled_from(["", "# inside\n", "\n", "   \n"]))
        return f"{keyword} " + (" \\\n" + filler).join(parts)
    if kind == "heredoc" and keyword.upper().split()[-1] in ("RUN", "COPY", "ADD"):
        name = draw(st.sampled_from(["EOF", "END", "X1"]))
        dash = draw(st.sampled_from(["", "-"]))
        quote = draw(st.sampled_from(["", '"', "'", "\\"]))
        marker = "\\" + name if quote == "\\" else quote + name + quote
        body = draw(st.lists(_arg_line, max_size=3))
        tab = draw(st.sampled_from(["\t", "\t\t"])) if dash else ""
        dest = " /dst/" if keyword.upper().split()[-1] != "RUN" else ""
        flags = draw(_flags)
        return f"{keyword} {flags}<<{dash}{marker}{dest}\n" + "".join(tab + b + "\n" for b in body) + tab + name
    if kind == "comment":
        return "# " + draw(_arg_line)
    if kind == "blank":
        return draw(st.sampled_from(["", "   ", "\t"]))
    return f"{keyword} {draw(_flags)}{draw(_arg_line)}"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(instruction(), max_size=8), st.sampled_from(["\n", "\r\n"]))
def test_generated_dockerfiles_match_buildkit(lines, newline):
    text = newline.join(["FROM base"] + lines) + newline
    assert_same(text)
