"""How smlint's parser reads instruction flags and heredoc forms, as BuildKit
does (these hold without the BuildKit oracle; test_parser_differential.py
compares the same cases with it where it is installed)."""
import pytest

from smlint import lint_text
from smlint.dockerfile.parser import extract_flags, heredoc_markers, parse


@pytest.mark.parametrize("rest, flags, args", [
    ('--doit -- [ "a" ]', (("doit", None),), '[ "a" ]'),
    ("--mount=type=cache,target=/c --network=none pip install x",
     (("mount", "type=cache,target=/c"), ("network", "none")), "pip install x"),
    ('--a="x y" --b=c\\ d -- --e echo', (("a", "x y"), ("b", "c d")), "--e echo"),
    ("--link", (("link", None),), ""),
    ("--From=b x y", (("From", "b"),), "x y"),  # names as written: BuildKit matches them case-sensitively
    ("-- --x", (), "--x"),
    ('"--x" y', (), '"--x" y'),  # a quoted word is not a flag
    ("-x y", (), "-x y"),
    ("--chmod= a b", (("chmod", ""),), "a b"),
])
def test_leading_flags_come_off_as_buildkit_takes_them(rest, flags, args):
    assert extract_flags(rest) == (flags, args)


def test_flags_honour_the_escape_directive():
    # Current BuildKit reads the flag words with the file's escape character.
    assert extract_flags("--a=x` y echo", "`") == ((("a", "x y"),), "echo")


def test_exec_form_is_decided_after_the_flags():
    [_, cmd] = parse('FROM a\nCMD --doit -- [ "a" ]\n').instructions
    assert cmd.exec_args == ("a",) and cmd.flags == (("doit", None),)


@pytest.mark.parametrize("word, name, chomp, expand", [
    ("<<EOF", "EOF", False, True),
    ("<<-EOF", "EOF", True, True),
    ("<<'EOF'", "EOF", False, False),
    ('<<"EOF"', "EOF", False, False),
    ("<<\\EOF", "EOF", False, True),  # BuildKit counts only quotes as quoting
    ("<<-\\EOT", "EOT", True, True),
    ("<<-'EOT'", "EOT", True, False),
    ('<<E"O"F', "EOF", False, False),
    ("3<<EOF", "EOF", False, True),
])
def test_each_heredoc_marker_form(word, name, chomp, expand):
    assert heredoc_markers(f"{word} /dst") == [(name, chomp, expand)]


@pytest.mark.parametrize("args", ["cat << EOF", 'echo "<<EOF"', "echo a<<EOF", "<<", "<<-"])
def test_words_that_are_not_heredocs(args):
    assert heredoc_markers(args) == []


def test_several_heredocs_in_one_instruction_each_read_in_turn():
    text = "FROM a\nCOPY <<A <<-\\B <<'C' /d/\na\nA\n\tb\n\tB\nc\nC\nRUN true\n"
    copy, run = parse(text).instructions[1:]
    assert [(h.name, h.body, h.text) for h in copy.heredocs] == [
        ("A", "a\n", "a\n"), ("B", "\tb\n", "b\n"), ("C", "c\n", "c\n")]
    assert (copy.line, copy.end_line, run.line) == (2, 8, 9)


def test_chomped_body_keeps_tabs_raw_and_rules_read_it_stripped():
    [heredoc] = parse("FROM a\nRUN <<-EOF\n\t\tif true; then\n\t\t\techo x\n\tfi\n\tEOF\n").instructions[1].heredocs
    assert heredoc.body == "\t\tif true; then\n\t\t\techo x\n\tfi\n"
    assert heredoc.text == "if true; then\necho x\nfi\n"


@pytest.mark.parametrize("marker", ["<<-\\EOT", "<<-'EOT'", '<<-"EOT"', "<<-EOT"])
def test_tabbed_entrypoint_script_heredoc_is_read_by_the_rules(marker):
    # Issue 9: `COPY <<-\EOT` used to be SM001 "unterminated heredoc".
    text = (f"FROM python:3.12-slim\nCOPY {marker} /app/entrypoint.sh\n\t#!/bin/sh\n\tpython3 job.py\n\tEOT\n"
            'ENTRYPOINT ["/app/entrypoint.sh"]\n')
    rules = {f.rule_id for f in lint_text(text)}
    assert "SM001" not in rules and "SM107" in rules  # the #! line is read from the stripped text
    fixed = {f.rule_id for f in lint_text(text.replace("\tpython3", "\texec python3"))}
    assert "SM107" not in fixed


def test_unterminated_heredoc_is_still_sm001():
    findings = lint_text("FROM a\nRUN <<-\\EOF\n\techo\n")
    assert [f.rule_id for f in findings] == ["SM001"] and "unterminated heredoc <<EOF" in findings[0].message


@pytest.mark.parametrize("text, spans", [
    ("FROM a\nENV C x\\\\\nENV D y\n", [(1, 1), (2, 2), (3, 3)]),  # an escaped backslash continues nothing
    ("FROM a\nENV E x\\\n\\\ny\n", [(1, 1), (2, 4)]),  # a lone backslash line continues
    ("# escape=`\nFROM a\nRUN dir C:``\nRUN b\n", [(2, 2), (3, 3), (4, 4)]),
])
def test_line_continuation_is_an_unescaped_escape_at_the_end(text, spans):
    assert [(i.line, i.end_line) for i in parse(text).instructions] == spans
