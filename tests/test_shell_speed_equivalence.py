"""The shell reader (smlint/dockerfile/shell.py) reads the common part of a script
(words, blanks, operators) through a fast path and everything else character by
character. These cases pin its output where the two meet (quotes joined to plain
text, descriptors such as `2>`, heredocs, substitutions, subshells, odd spaces),
quirks included, so that a speed change cannot alter what the checks see."""
import os
import re
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smlint.dockerfile import shell
from smlint.dockerfile.shell import SimpleCommand, parse_script


def view(script):
    return [(c.words, c.redirects, c.separator, c.nested, c.assignments) for c in parse_script(script)]


# (script, [(words, redirects, separator, nested, assignments), ...])
CASES = [
    ('apt-get update && apt-get install -y --no-install-recommends curl',
     [(['apt-get', 'update'], [], '&&', False, []), (['apt-get', 'install', '-y', '--no-install-recommends', 'curl'], [], '', False, [])]),
    ('A=1 B_2=x make install',
     [(['make', 'install'], [], '', False, ['A=1', 'B_2=x'])]),
    ('env=1',
     [([], [], '', False, ['env=1'])]),
    ('cmd 2>&1 | tee /tmp/log',
     [(['cmd'], [], '|', False, []), (['tee', '/tmp/log'], [], '', False, [])]),
    ('cmd >out 2>err <in',
     [(['cmd'], [('>', 'out'), ('>', 'err'), ('<', 'in')], '', False, [])]),
    ('2>/dev/null cmd arg',
     [(['cmd', 'arg'], [('>', '/dev/null')], '', False, [])]),
    ('echo a2>f',
     [(['echo', 'a2'], [('>', 'f')], '', False, [])]),
    ("echo 'x'2>f",
     [(['echo', 'x2'], [('>', 'f')], '', False, [])]),
    ('echo ²>x',
     [(['echo'], [('>', 'x')], '', False, [])]),
    ('ls >> log 2>&1 &',
     [(['ls'], [('>>', 'log')], '&', False, [])]),
    ('echo hi >&2',
     [(['echo', 'hi'], [], '', False, [])]),
    ('cat <<EOF\nhello\nEOF',  # the body is data, not commands
     [(['cat'], [], '\n', False, [])]),
    ("cat <<-'X' >f\n\tcd /\n\tX\nnext",
     [(['cat'], [('>', 'f')], '\n', False, []), (['next'], [], '', False, [])]),
    ('x ${A:+--ref "$B"} ${C:-d e}y z',  # a ${...} with blanks or quotes in it is one word
     [(['x', '${A:+--ref "$B"}', '${C:-d e}y', 'z'], [], '', False, [])]),
    ('a &>/dev/null && b',  # bash's &> redirects, it does not background
     [(['a'], [('&>', '/dev/null')], '&&', False, []), (['b'], [], '', False, [])]),
    ('echo \'a b\' "c d" e\'f\'g x"y"z',
     [(['echo', 'a b', 'c d', 'efg', 'xyz'], [], '', False, [])]),
    ('echo \'\' "" x',
     [(['echo', '', '', 'x'], [], '', False, [])]),
    ('echo \'it\'"\'"\'s\' "a\'b"',
     [(['echo', "it's", "a'b"], [], '', False, [])]),
    ('echo "a\\"b\\$c" "$HOME" "${V}x"',
     [(['echo', 'a"b$c', '$HOME', '${V}x'], [], '', False, [])]),
    ('echo ${HOME}/bin $((1+2)) $1',
     [(['echo', '${HOME}/bin', '$((1+2))', '$1'], [], '', False, [])]),
    ('foo\\ bar baz\\\nqux',
     [(['foo bar', 'bazqux'], [], '', False, [])]),
    ('cd /x; ls # comment && rm\npwd',
     [(['cd', '/x'], [], ';', False, []), (['ls'], [], '\n', False, []), (['pwd'], [], '', False, [])]),
    ('true;\n\nfalse',
     [(['true'], [], ';', False, []), (['false'], [], '', False, [])]),
    ('a &&\n  b ||\tc',
     [(['a'], [], '&&', False, []), (['b'], [], '||', False, []), (['c'], [], '', False, [])]),
    ('echo $(hostname -f) `date`',
     [(['echo', '$(hostname -f)', '`date`'], [], '', False, []), (['hostname', '-f'], [], '', True, []), (['date'], [], '', True, [])]),
    ('x="$(cd /tmp && pwd)" y',
     [(['y'], [], '', False, ['x=$(cd /tmp && pwd)']), (['cd', '/tmp'], [], '&&', True, []), (['pwd'], [], '', True, [])]),
    ('(cd /src && make) || true',
     [(['(cd /src && make)'], [], '||', False, []), (['true'], [], '', False, []), (['cd', '/src'], [], '&&', True, []), (['make'], [], '', True, [])]),
    ('{ echo a; echo b; } > log',
     [(['{ echo a; echo b; }'], [('>', 'log')], '', False, []), (['echo', 'a'], [], ';', True, []), (['echo', 'b'], [], ';', True, [])]),
    ("sh -c 'apt-get update && apt-get install -y x'",
     [(['sh', '-c', 'apt-get update && apt-get install -y x'], [], '', False, [])]),
    ('echo \xa0x a\tb',
     [(['echo', '\xa0x', 'a', 'b'], [], '', False, [])]),
    ("echo 'abc def",
     [(['echo', 'abc def'], [], '', False, [])]),
    ('echo "abc $(ls',
     [(['echo', 'abc $(ls'], [], '', False, []), (['ls'], [], '', True, [])]),
    ('> out',
     [([], [('>', 'out')], '', False, [])]),
    ('for f in *.txt; do rm "$f"; done',
     [(['for', 'f', 'in', '*.txt'], [], ';', False, []), (['do', 'rm', '$f'], [], ';', False, []), (['done'], [], '', False, [])]),
    ('case $x in a) echo a ;; esac',
     [(['case', '$x', 'in', 'a)', 'echo', 'a'], [], ';;', False, []), (['esac'], [], '', False, [])]),
    ('pip install \'pydantic>=2\' \'torch==2.3.1\' && python -c "import torch"',
     [(['pip', 'install', 'pydantic>=2', 'torch==2.3.1'], [], '&&', False, []), (['python', '-c', 'import torch'], [], '', False, [])]),
]


@pytest.mark.parametrize("script, expected", CASES)
def test_tricky_scripts(script, expected):
    assert view(script) == expected


def test_odd_spaces_are_whitespace_less_blanks():
    everything = "".join(map(chr, range(sys.maxunicode + 1)))
    spelled = set(re.findall(f"[{shell._ODD_SPACES}]", everything))
    assert spelled == {c for c in everything if c.isspace()} - {" ", "\t"}


def test_name_is_basename():
    for word in ("/usr/bin/apt-get", "apt-get", "./configure", "/", "a/", ""):
        assert SimpleCommand(words=[word]).name == os.path.basename(word)
    assert SimpleCommand().name == ""


# Scripts of plain words, quoted pieces, blanks and operators only: the fast path,
# against an obvious reading of them.
_PLAIN = st.text(alphabet="abcXYZ019_=./-+:,@%*", min_size=1, max_size=6)
_PIECE = st.one_of(
    _PLAIN,
    st.text(alphabet="ab =$x\"\t", max_size=5).map(lambda s: ("'" + s + "'", s)),
    st.text(alphabet="ab ='x{}", max_size=5).map(lambda s: ('"' + s + '"', s)),
)
_WORD = st.lists(_PIECE, min_size=1, max_size=3)
_ITEM = st.one_of(_WORD, st.sampled_from(["&&", "||", ";", ";;", "|", "|&", "&", "\n"]))


def _render(items, blanks):
    text, commands, words, assignments = "", [], [], []
    for item, blank in zip(items, blanks):
        if isinstance(item, str):  # an operator
            text += item + blank
            if words or assignments:
                commands.append((words, [], item, False, assignments))
                words, assignments = [], []
            elif commands and item in ("\n", ";") and not commands[-1][2]:
                commands[-1] = commands[-1][:2] + (item,) + commands[-1][3:]
            continue
        raw = "".join(p if isinstance(p, str) else p[0] for p in item)
        value = "".join(p if isinstance(p, str) else p[1] for p in item)
        text += raw + blank
        if not words and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", value, re.S):
            assignments.append(value)
        else:
            words.append(value)
    if words or assignments:
        commands.append((words, [], "", False, assignments))
    return text, commands


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(_ITEM, max_size=12), st.lists(st.sampled_from([" ", "  ", "\t", " \t "]), min_size=12, max_size=12))
def test_plain_scripts(items, blanks):
    text, expected = _render(items, blanks)
    assert view(text) == expected
