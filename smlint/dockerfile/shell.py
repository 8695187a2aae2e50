"""Just enough POSIX shell to read RUN lines and `sh -c` scripts.

A script becomes a flat list of simple commands, each with its words (quotes
removed), its output redirections and the operator that follows it (`;`,
`&&`, `||`, `|`, `&`). Command substitutions and subshells are kept inside
their word; their inner commands are also listed (flagged `nested`) so that
`$(hostname)` or `(cd /x && touch y)` are seen. Linear time, no recursion
beyond the nesting depth of the text itself, which is bounded.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

SHELLS = frozenset({"sh", "bash", "ash", "dash", "zsh", "ksh", "mksh", "busybox"})
_MAX_NESTING = 16

# Whitespace other than blanks (what `\s` and str.isspace() match, less space and
# tab): inside a word, not a separator. Spelled out so that one character class
# can hold a run of words and the blanks between them (checked by the tests).
_ODD_SPACES = "\n\x0b\x0c\r\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_OPERATOR = r"&&|\|\||;;|;|\|&|\||&(?!>)|\n"  # `&>` is bash's redirection of both outputs
# One token per match; `lastgroup` names its kind. Most of a script is words,
# blanks and operators, so a "run" reads words and blanks up to the next
# operator (taken with it) or special character in one step. A run holds plain
# characters, blanks, dollars that start no $( substitution (with the { of ${,
# plain inside a word), and closed quoted pieces with no blank, no quote of the
# other kind and nothing double quotes interpret but $ in them: splitting a run
# at blanks and dropping every quote gives its words. `)` and `}` mean nothing
# outside the constructs that _special skips whole. What is left ("other":
# \ ' " $( ` ( { # and odd spaces) goes to _special.
_TOKEN = re.compile(
    rf"""
      (?P<run> (?: [^{_ODD_SPACES}\\'"$`({{<>|&;\#]++
                 | '[^'" \t{_ODD_SPACES}]*+'
                 | "(?: [^"'\\`$ \t{_ODD_SPACES}]++ | \$(?!\() )*+"
                 | \$(?!\((?!\()) (?!\{{[^}}]*[\s'"]) \{{? )++ )
          (?: (?P<run_operator>{_OPERATOR}) [ \t]*+ | (?P<run_end>\Z) )?
    | (?P<operator>{_OPERATOR}) [ \t]*+
    | (?P<dquote>" (?P<dquoted> (?:[^"\\`$]++ | \$(?!\())*+ ) ")  # nothing to unescape or substitute
    | (?P<redirect>&?[<>])
    | (?P<end>\Z)
    | (?P<other>[\s\S])
    """,
    re.VERBOSE,
)
# Inside double quotes: text with no meaning, copied in one step.
_DQ_PLAIN = re.compile(r'[^"\\$]+')
# Inside $( ... ): a stretch that cannot open or close a parenthesis; no match
# means an unclosed quote or a trailing backslash, so nothing closes.
_PAREN_SKIP = re.compile(r"""[^'"\\()]++|'[^']*+'|"(?:[^"\\]++|\\[\s\S])*+"|\\[\s\S]""")
_BRACES = re.compile(r"[{}]")


def program_name(word: str) -> str:
    """`/usr/bin/apt-get` -> `apt-get`: os.path.basename without its overhead,
    which matters when it runs for every command of every RUN."""
    return word[word.rfind("/") + 1 :]


@dataclass(slots=True)
class SimpleCommand:
    words: list[str] = field(default_factory=list)
    redirects: list[tuple[str, str]] = field(default_factory=list)  # (operator, target)
    separator: str = ""  # the operator after this command; "" at the end
    nested: bool = False  # inside $(...), `...` or (...)
    assignments: list[str] = field(default_factory=list)  # leading NAME=value words
    # Words with build-time variables substituted, filled once by the first check that asks.
    expanded: list[str] | None = field(default=None, repr=False, compare=False)

    @property
    def name(self) -> str:
        return program_name(self.words[0]) if self.words else ""

    @property
    def args(self) -> list[str]:
        return self.words[1:]


def parse_script(text: str, depth: int = 0) -> list[SimpleCommand]:
    """Simple commands of `text`, in order."""
    if "<<" in text and _HEREDOC.search(text):
        text = _without_heredoc_bodies(text)
    commands: list[SimpleCommand] = []
    nested: list[SimpleCommand] = []
    # The command being read; a SimpleCommand is only built for a non-empty one.
    words: list[str] = []
    redirects: list[tuple[str, str]] = []
    assignments: list[str] = []
    pieces: list[str] = []  # of the word being read; non-empty exactly while inside a word
    pending: str | None = None  # redirection operator waiting for its target word
    position = 0
    next_token = _TOKEN.match
    while True:
        match = next_token(text, position)
        kind = match.lastgroup
        if kind == "run" or kind == "run_operator" or kind == "run_end":
            position = match.end()
            run = match["run"]
            if "''" in run or '""' in run:  # a word of empty quotes would vanish the short way
                finished = [word.replace("'", "").replace('"', "") for word in run.split()]
            else:
                finished = run.replace("'", "").replace('"', "").split()
            descriptor = 0
            open_last = kind == "run" and run[-1] not in " \t"  # a special character goes on with it
            if pieces or open_last:
                before_redirect = open_last and text[position] in "<>"
                pieces, descriptor = _run_edges(run, finished, pieces, open_last, before_redirect)
            if finished:
                if pending is None and (words or "=" not in finished[0]):
                    words += finished  # the usual case: a command name and its arguments
                else:
                    _add_words(finished, pending, words, redirects, assignments)
                    pending = None
            if descriptor:
                position, pending = _redirect(text, position - descriptor, pending)
            if kind == "run":
                continue
        elif kind == "dquote":
            position = match.end()
            pieces.append(match["dquoted"])
            continue
        elif kind == "other":
            position = _special(text, position, depth, pieces, words, nested)
            continue
        else:
            position = match.end()
            # An operator, a redirection or the end ends the word begun.
            if pieces:
                _add_words(["".join(pieces)], pending, words, redirects, assignments)
                pieces, pending = [], None
            if kind == "redirect":
                position, pending = _redirect(text, match.start(), pending)
                continue
        separator = match[kind]  # "" at the end
        if words or redirects or assignments:
            commands.append(SimpleCommand(words, redirects, separator, False, assignments))
            words, redirects, assignments = [], [], []
        elif commands and separator in ("\n", ";") and not commands[-1].separator:
            commands[-1].separator = separator
        if kind == "end" or kind == "run_end":
            return commands + nested


_HEREDOC = re.compile(r"""(?<!<)<<(-?)[ \t]*(?:'([^'\n]*)'|"([^"\n]*)"|\\?([^\s;&|<>()'"]+))""")


def _without_heredoc_bodies(text: str) -> str:
    """The text with the bodies of here-documents inside it dropped (`cat <<EOF`
    ... `EOF`): they are data, not commands. The line with `<<` stays."""
    lines = text.split("\n")
    kept: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        kept.append(line)
        index += 1
        for match in _HEREDOC.finditer(line) if "<<" in line else ():
            delimiter = match.group(2) or match.group(3) or match.group(4) or ""
            while index < len(lines):
                body_line = lines[index]
                index += 1
                kept.append("")  # the line stays, empty: lines and separators as they were
                if (body_line.lstrip("\t") if match.group(1) else body_line) == delimiter:
                    break
    return "\n".join(kept)


def _run_edges(run: str, finished: list[str], pieces: list[str], open_last: bool,
               before_redirect: bool) -> tuple[list[str], int]:
    """Mend the ends of a run's words (`finished`, changed in place): its first word
    goes on from the word begun before it (`pieces`) unless the run starts with a
    blank; with `open_last` its last word goes on in the next token, unless that
    word is the `2` of `2>` (digits at a word start, before < or >). Returns the
    pieces of the word left open and the length of such a descriptor (0: none)."""
    last_start = max(run.rfind(" "), run.rfind("\t")) + 1
    descriptor = before_redirect and (last_start or not pieces) and run[last_start:].isdigit()
    if pieces:
        begun = "".join(pieces)
        if run[0] in " \t":
            finished.insert(0, begun)
        else:
            finished[0] = begun + finished[0]
    if not open_last:
        return [], 0
    if descriptor:
        finished.pop()
        return [], len(run) - last_start
    return [finished.pop()], 0


def _add_words(tokens: list[str], pending: str | None, words: list[str],
               redirects: list[tuple[str, str]], assignments: list[str]) -> None:
    """Add complete words to the command being read: the first is the target of a
    pending redirection, leading NAME=value words are assignments."""
    for token in tokens:
        if pending is not None:
            redirects.append((pending, token))
            pending = None
        elif not words and is_assignment(token):
            assignments.append(token)
        else:
            words.append(token)


def _special(text: str, position: int, depth: int, pieces: list[str], words: list[str],
             nested: list[SimpleCommand]) -> int:
    """Read what _TOKEN leaves alone at position: a backslash, a quoted string
    with a space in it (or escapes, substitutions, no end), $( ), `...`, a
    subshell or brace group, a comment, a lone special character. Returns where
    to go on."""
    char = text[position]
    length = len(text)
    if char == "\\" and position + 1 < length:
        if text[position + 1] != "\n":  # backslash-newline just joins the lines
            pieces.append(text[position + 1])
        return position + 2
    if char == "'":
        close = text.find("'", position + 1)
        close = length if close < 0 else close
        pieces.append(text[position + 1 : close])
        return close + 1
    if char == '"':
        position, inner = _double_quoted(text, position + 1)
        pieces.append(inner)
        if depth < _MAX_NESTING and ("$(" in inner or "`" in inner):
            nested.extend(_substitutions(inner, depth))
        return position
    if char == "$" and text.startswith("${", position):  # ${X:+--flag "$Y"}: one word, blanks and all
        from .shell_lexer import ShellSyntaxError, read_dollar  # rare: loaded when first met

        try:
            end = read_dollar(text, position, pieces)
        except ShellSyntaxError:
            pieces.append(text[position:])
            return length
        return end
    if char == "$" and text.startswith("$(", position) and not text.startswith("$((", position):
        close = _matching_paren(text, position + 1)
        if depth < _MAX_NESTING:
            nested.extend(_mark_nested(parse_script(text[position + 2 : close], depth + 1)))
        pieces.append(text[position : close + 1])
        return close + 1
    if char == "`":
        close = text.find("`", position + 1)
        close = length if close < 0 else close
        if depth < _MAX_NESTING:
            nested.extend(_mark_nested(parse_script(text[position + 1 : close], depth + 1)))
        pieces.append(text[position : close + 1])
        return close + 1
    at_command_start = not pieces and not words
    if char in "({" and at_command_start and (char == "(" or text[position + 1 : position + 2] in (" ", "\n", "\t")):
        closer = ")" if char == "(" else "}"
        close = _matching_paren(text, position) if char == "(" else _matching_brace(text, position)
        if depth < _MAX_NESTING:
            nested.extend(_mark_nested(parse_script(text[position + 1 : close], depth + 1)))
        # A whole word of its own, added as is (not an assignment nor a redirection target).
        words.append(text[position : close + 1] if close < length else text[position:])
        return close + 1 if close < length and text[close] == closer else length
    if char == "#" and not pieces:  # a comment runs to the end of the line
        newline = text.find("\n", position)
        return length if newline < 0 else newline
    pieces.append(char)
    return position + 1


def _redirect(text: str, position: int, pending: str | None) -> tuple[int, str | None]:
    """Read `[n]>`, `>>`, `<`, `2>&1`, `<<EOF` ... at position; returns where to go
    on and the operator now waiting for its target word (None: no target to record)."""
    length = len(text)
    while position < length and text[position].isdigit():
        position += 1
    operator = text[position]
    position += 1
    while position < length and text[position] in "<>&|":
        operator += text[position]
        position += 1
    if operator.startswith("<"):
        if "<<" not in operator:
            return position, "<"
        # heredoc marker: skip its word
        while position < length and text[position] in " \t":
            position += 1
        while position < length and text[position] not in " \t\n;&|":
            position += 1
        return position, None
    if operator.endswith("&") and position < length and (text[position].isdigit() or text[position] == "-"):
        return position + 1, pending  # 2>&1: a descriptor, not a file
    return position, operator.lstrip("0123456789") or ">"


def _mark_nested(commands: list[SimpleCommand]) -> list[SimpleCommand]:
    for command in commands:
        command.nested = True
    return commands


def is_assignment(token: str) -> bool:
    """NAME=value (or bash's NAME+=value)."""
    name, sep, _ = token.partition("=")
    name = name.removesuffix("+")
    return bool(sep) and bool(name) and name.replace("_", "a").isalnum() and not name[0].isdigit() and name.isascii()


def _double_quoted(text: str, position: int) -> tuple[int, str]:
    out = []
    length = len(text)
    while position < length:
        plain = _DQ_PLAIN.match(text, position)
        if plain:
            out.append(plain.group())
            position = plain.end()
            continue
        char = text[position]
        if char == "\\" and position + 1 < length and text[position + 1] in '"\\$`\n':
            if text[position + 1] != "\n":
                out.append(text[position + 1])
            position += 2
            continue
        if char == '"':
            return position + 1, "".join(out)
        if char == "$" and text.startswith("$(", position):
            close = _matching_paren(text, position + 1)
            out.append(text[position : close + 1])
            position = close + 1
            continue
        out.append(char)
        position += 1
    return length, "".join(out)


def _substitutions(text: str, depth: int) -> list[SimpleCommand]:
    found = []
    position = text.find("$(")
    while position >= 0:
        close = _matching_paren(text, position + 1)
        found.extend(_mark_nested(parse_script(text[position + 2 : close], depth + 1)))
        position = text.find("$(", close)
    tick = text.find("`")
    while tick >= 0:
        close = text.find("`", tick + 1)
        if close < 0:
            break
        found.extend(_mark_nested(parse_script(text[tick + 1 : close], depth + 1)))
        tick = text.find("`", close + 1)
    return found


def _matching_paren(text: str, open_index: int) -> int:
    """Index of the ')' closing the '(' at open_index (quotes respected)."""
    depth, position, length = 0, open_index, len(text)
    while position < length:
        char = text[position]
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return position
        else:
            skip = _PAREN_SKIP.match(text, position)
            if skip is None:
                return length
            position = skip.end()
            continue
        position += 1
    return length


def _matching_brace(text: str, open_index: int) -> int:
    depth = 0
    for brace in _BRACES.finditer(text, open_index):
        if brace.group() == "{":
            depth += 1
        else:
            depth -= 1
            if depth == 0:
                return brace.start()
    return len(text)


def top_level(commands: list[SimpleCommand]) -> list[SimpleCommand]:
    return [c for c in commands if not c.nested]


def strip_wrappers(words: list[str]) -> list[str]:
    """`sudo`, `env A=1`, `exec`, `nohup`, `time`, `command` in front of the real command."""
    position = 0
    while position < len(words):
        name = program_name(words[position])
        if name in ("sudo", "nohup", "time", "command", "exec", "builtin", "nice", "stdbuf"):
            position += 1
            while position < len(words) and words[position].startswith("-"):
                position += 1
        elif name == "env":
            position += 1
            while position < len(words) and ("=" in words[position] or words[position].startswith("-")):
                position += 1
        else:
            break
    return words[position:]


def shebang_shell(text: str) -> str:
    """The shell of a `#!/bin/sh` or `#!/usr/bin/env bash` line; "" otherwise."""
    if not text.startswith("#!"):
        return ""
    words = text[2:].split("\n", 1)[0].split()
    if words and program_name(words[0]) == "env":
        words = [w for w in words[1:] if not w.startswith("-")]
    name = program_name(words[0]) if words else ""
    return name if name in SHELLS else ""


def shell_c_script(argv: list[str]) -> tuple[str, str, int] | None:
    """(shell name, its option letters, index of the script) when argv is
    `sh -c SCRIPT ...` (any option cluster with c: -ec, -xc, -c)."""
    if not argv:
        return None
    name = program_name(argv[0])
    position = 1
    if name == "busybox" and len(argv) > 1 and program_name(argv[1]) in SHELLS:
        name, position = program_name(argv[1]), 2
    if name not in SHELLS or name == "busybox":
        return None
    letters = ""
    while position < len(argv) and argv[position].startswith("-") and argv[position] != "--":
        option = argv[position]
        if option.endswith("o") and not option.startswith("--") and position + 1 < len(argv):
            letters += option[1:-1] + " o:" + argv[position + 1] + " "  # -o NAME, -euo NAME
            position += 2
            continue
        letters += option.lstrip("-")
        position += 1
        if "c" in option and not option.startswith("--"):
            return (name, letters, position) if position < len(argv) else None
    return None
