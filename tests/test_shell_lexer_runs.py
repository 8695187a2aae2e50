"""RUN scripts are read through the grammar (shell.script_commands over
shell_tree), whose lexer reads the common part of a script, runs of plain
words and blanks, in one step (shell_lexer._RUN) and everything else the
slow way. These tests pin what the RUN rules see (commands inside compound
commands and substitutions, reserved words never programs, scopes), and
check the fast path against the slow one: with it off, every script of the
catalog, the fixtures, the generated corpus and a hypothesis corpus must
give the same tokens."""
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smlint.dockerfile import shell_lexer
from smlint.dockerfile.shell import script_commands, top_level
from smlint.dockerfile.shell_lexer import ShellSyntaxError, tokenize


def view(script):
    return [(bool(c.scope), c.assignments, c.words, [f"{r.descriptor}{r.operator}{r.target}" for r in c.redirects])
            for c in script_commands(script)]


# (script, [(in a subshell or substitution, assignments, words, redirections), ...])
CASES = [
    ("apt-get update && apt-get install -y --no-install-recommends curl",
     [(False, [], ["apt-get", "update"], []), (False, [], ["apt-get", "install", "-y", "--no-install-recommends", "curl"], [])]),
    ("if [ -f /x ]; then apt-get install -y curl; fi",
     [(False, [], ["[", "-f", "/x", "]"], []), (False, [], ["apt-get", "install", "-y", "curl"], [])]),
    ("case \"$ARCH\" in amd64) pkg=x;; *) apt-get install -y y;; esac",
     [(False, ["pkg=x"], [], []), (False, [], ["apt-get", "install", "-y", "y"], [])]),
    ("for f in a b; do rm \"$f\"; done",
     [(False, [], ["rm", "$f"], [])]),
    ("while read l; do echo $l; done < /etc/hosts",
     [(False, [], ["read", "l"], []), (False, [], ["echo", "$l"], []), (False, [], [], ["</etc/hosts"])]),
    ("f() { make install; }; f",
     [(False, [], ["make", "install"], []), (False, [], ["f"], [])]),
    ("{ echo a; echo b; } > log",
     [(False, [], ["echo", "a"], []), (False, [], ["echo", "b"], []), (False, [], [], [">log"])]),
    ("(cd /src && make) || true",
     [(True, [], ["cd", "/src"], []), (True, [], ["make"], []), (False, [], ["true"], [])]),
    ("x=\"$(cd /tmp && pwd)\" y",
     [(True, [], ["cd", "/tmp"], []), (True, [], ["pwd"], []), (False, ["x=$(cd /tmp && pwd)"], ["y"], [])]),
    ("echo $(hostname -f) `date` \"${A:-$(id -u)}\"",
     [(True, [], ["hostname", "-f"], []), (True, [], ["date"], []), (True, [], ["id", "-u"], []),
      (False, [], ["echo", "$(hostname -f)", "`date`", "${A:-$(id -u)}"], [])]),
    ("cmd >out 2>err <in 2>&1 &>/dev/null",
     [(False, [], ["cmd"], [">out", "2>err", "<in", "2>&1", "&>/dev/null"])]),
    ("cat <<EOF >/x\nnot $(a command)\nEOF\nnext",
     [(False, [], ["cat"], ["<<EOF", ">/x"]), (False, [], ["next"], [])]),
    ("a | tee log", [(True, [], ["a"], []), (True, [], ["tee", "log"], [])]),
    ("echo if then fi; 'if' x", [(False, [], ["echo", "if", "then", "fi"], []), (False, [], ["if", "x"], [])]),
    ("pip install 'pydantic>=2' \"torch==2.3.1\" a'b c'd", [(False, [], ["pip", "install", "pydantic>=2", "torch==2.3.1", "ab cd"], [])]),
    # a script the grammar rejects is read between its operators (its build fails, but it meant these)
    ("conda install -y pydantic>  && conda clean -afy",
     [(False, [], ["conda", "install", "-y", "pydantic"], [">"]), (False, [], ["conda", "clean", "-afy"], [])]),
    ("if true; then apt-get install -y x", [(False, [], ["true"], []), (False, [], ["apt-get", "install", "-y", "x"], [])]),
    ("echo 'open", []),
]


@pytest.mark.parametrize("script, expected", CASES, ids=[c[0][:40] for c in CASES])
def test_what_run_rules_see(script, expected):
    assert view(script) == expected


def test_top_level_leaves_out_subshells():
    assert [c.words for c in top_level(script_commands("a $(b) && (c) | d; e &"))] == [["a", "$(b)"]]


def _tokens(script):
    try:
        return [(t.kind, t.value, t.line, t.quoted, t.descriptor, t.raw, t.substitutions) for t in _split(tokenize(script))]
    except ShellSyntaxError as error:
        return str(error)


def _split(tokens):
    """A run token as the single-word tokens it stands for."""
    for token in tokens:
        while token.words is not None and token.start + 1 < len(token.words):
            yield token.take_first()
        yield token


def _same_both_ways(script):
    fast = _tokens(script)
    shell_lexer.FAST = False
    try:
        slow = _tokens(script)
    finally:
        shell_lexer.FAST = True
    assert fast == slow, script


def test_fast_path_against_the_slow_one_on_every_script():
    from test_shell_differential import CATALOG, GENERATED

    for script in [s for _, s in CATALOG] + GENERATED + [c[0] for c in CASES]:
        _same_both_ways(script)


TRICKY = [
    "a\"$(b)\" c", "a=(x y) b", "2>x a", "a 2>x", "a'2'>x", "x2>y", "a#b #c", "a $'x\\ty' b", "a ${x:-y z} b",
    "a${b}c \"${d}\" e", "a \"$(b)\"c", "a\\ b", "a \\\n b", "a|b", "a&&b||c;d&", "[[ a<b ]]", "a<(b) >(c)",
    "for ((i=0;i<2;i++)); do a; done", "a $((1+2)) b", "x=$'a' y", "echo \xa0x a\tb", "a\rb", "f(){ a; }",
    "a \"b'c\" 'd\"e'", "a \"\" '' b", "\"a b\"c", "a}b {c} {", "case x in a) b;; esac", "!a", "! a", "a=\"$b\" c",
    "a \"$\" $ b$", "a \"${b c}\"", "$x y", "a ${#x} ${x%.*}", "a$b$(c)",
]


@pytest.mark.parametrize("script", TRICKY)
def test_fast_path_on_tricky_scripts(script):
    _same_both_ways(script)


_PIECE = st.one_of(
    st.text(alphabet="abcXYZ019_=./-+:,@%*!{}[]~", min_size=1, max_size=6),
    st.text(alphabet="ab =$x\"\t{}()", max_size=5).map(lambda s: "'" + s.replace("'", "") + "'"),
    st.text(alphabet="ab ='x{}$()`\\", max_size=5).map(lambda s: '"' + s.replace('"', "") + '"'),
    st.sampled_from(["$x", "${y}", "${z:-a b}", "$(c)", "`d`", "\\ ", "#e", "2", "$'f'", "(", ")"]),
)
_ITEM = st.one_of(st.lists(_PIECE, min_size=1, max_size=3).map("".join),
                  st.sampled_from(["&&", "||", ";", "|", "&", "\n", ">", "2>", "<", ">>", "if", "then", "fi", "{", "}"]))


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.tuples(_ITEM, st.sampled_from(["", " ", "  ", "\t"])), max_size=14))
def test_fast_path_on_generated_scripts(items):
    _same_both_ways("".join(item + blank for item, blank in items))


def test_run_words_split_like_the_shell():
    # a run never holds a character str.split() would split at but the shell would not
    spaces = "".join(c for c in map(chr, range(0x3100)) if c.isspace() and c not in " \t")
    for space in spaces:
        _same_both_ways(f"a{space}b c")
    assert re.fullmatch(r"\s", "\x1c")  # the run's \s is str.isspace()'s
