"""Tokens of POSIX/bash shell text, for the grammar in shell_tree.py.

Words come out with quotes removed (`value`) and a flag saying whether any
part was quoted or escaped (a quoted `if` is no reserved word). `$(...)`,
`${...}`, `$((...))` and backquotes stay in the word as written. Operators
and redirection operators are separate tokens; `<<` / `<<-` take their
delimiter word at once and their bodies after the next newline. The bodies
of command substitutions are kept on the token (`substitutions`) for the
RUN rules, which read the commands inside them.

Most of a RUN script is plain words, blanks and list operators: one regular
expression (_FAST) reads a whole run of plain words, up to the next operator,
in one step, as one token holding its words (the parser takes them at once
as a simple command, or one at a time where a word may be reserved);
everything else is read character by character. Both ways give the same
tokens (tests/test_shell_lexer_runs.py checks it with the fast path off).
Linear time: every character is looked at a bounded number of times, except
nested `$( )` (re-scanned once per nesting level, and the nesting is bounded
by the text).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

WORD, OPERATOR, NEWLINE, END = "word", "op", "newline", "end"
_OPERATORS = ("&&", "||", ";;&", ";;", ";&", "|&", "&>>", "&>", ";", "&", "|", "(", ")")
_REDIRECTS = ("<<<", "<<-", "<<", "<>", "<&", ">>", ">&", ">|", "<", ">")
_METACHARACTERS = frozenset(" \t\n;&|()<>")
_PLAIN = re.compile(r"[^ \t\n;&|()<>\\'\"$`]+")
# A whole word of plain characters, ending at a blank, an operator or the end (`#` may
# start a comment, `((` arithmetic, `a=(` an array: those take the slow way).
_SIMPLE_WORD = re.compile(r"(?![#(])[^ \t\n;&|()<>\\'\"$`=]+(?=[ \t\n;&|)<>]|\Z)|(?![#(])[^ \t\n;&|()<>\\'\"$`]+(?=[ \t\n;&|)]|\Z)")
_OPERATOR = re.compile("|".join(re.escape(op) for op in _OPERATORS))
_ARRAY_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\[[^]]*\])?\+?=")
_CASE_WORD = re.compile(r"(case|esac)(?=[ \t\n;)])")
_BLANKS = re.compile(r"(?:[ \t]|\\\n)+")
# The fast path: a run of words and blanks on one line, each word plain text,
# closed quoted pieces with nothing in them to interpret or split, `$NAME` and
# simple `${NAME...}`. Splitting it at blanks and dropping its quotes gives its
# words, exactly as read_word would read them (tests/test_shell_lexer_runs.py).
_DOLLAR = r"""\$(?![('"{])|\$\{[^{}\s'"\\`$]*\}"""
_RUN = re.compile(
    rf"""(?:(?:[^\s\\'"$`()<>|&;\#]+|'[^'"\s]*'|"(?:[^"'\\`$\s]|{_DOLLAR})*"|{_DOLLAR})+[ \t]*)+"""
)
# One step of the fast path: blanks, then a run or a list operator (not `&>`, a redirection).
_FAST = re.compile(rf"[ \t]*(?:(?P<run>{_RUN.pattern})|(?P<op>&&|\|\||;;&|;;|;&|\|&|[;|)]|&(?!>))|(?P<newline>\n))")
_WORD_ENDS = frozenset("\n;&|)")  # after a run's last word: that word is complete


class ShellSyntaxError(ValueError):
    """The text is not shell the grammar understands."""


@dataclass(slots=True)
class Heredoc:
    delimiter: str
    strip_tabs: bool
    quoted: bool
    body: str = ""


@dataclass(slots=True)
class Token:
    kind: str
    value: str
    line: int
    quoted: bool = False  # a word with a quoted or escaped part
    descriptor: str = ""  # a redirection's file descriptor (`2` of `2>`)
    raw: str = ""  # a word as written, quotes kept
    heredoc: Heredoc | None = field(default=None, repr=False)
    # A run of plain words read at once (`value` is words[start]); the parser
    # takes them one at a time only where it must (reserved words, for lists).
    words: list[str] | None = field(default=None, repr=False)
    raws: list[str] | None = field(default=None, repr=False)
    start: int = 0
    substitutions: list[str] | None = field(default=None, repr=False)  # bodies of $( ), ` `, <( ), >( )

    def take_first(self) -> "Token":
        """Split the first word off a run (this token keeps the rest)."""
        word = Token(WORD, self.value, self.line, self.quoted, raw=self.raw)
        self.start += 1
        self.value, self.raw = self.words[self.start], self.raws[self.start]
        self.quoted = self.value != self.raw
        return word


FAST = True  # tests turn the run fast path off to compare


def tokenize(text: str) -> list[Token]:
    """All tokens of `text`, ending with an END token."""
    tokens: list[Token] = []
    pending: list[Heredoc] = []
    position, line, length = 0, 1, len(text)
    blank_run, simple_word, fast_at = _BLANKS.match, _SIMPLE_WORD.match, _FAST.match
    fast = FAST
    while True:
        step = fast and fast_at(text, position)  # the usual case: plain words, or an operator
        if step:
            kind = step.lastgroup
            if kind == "op":
                tokens.append(Token(OPERATOR, step["op"], line))
                position = step.end()
                continue
            if kind == "newline" and not pending:  # (with here-document bodies to read: the slow way)
                tokens.append(Token(NEWLINE, "\n", line))
                line += 1
                position = step.end()
                continue
            if kind == "run":
                chunk, end = step["run"], step.end()
                if chunk[-1] in " \t" or end == length or text[end] in _WORD_ENDS:  # its last word is whole
                    raws = chunk.split()
                    values = [w.replace("'", "").replace('"', "") for w in raws] if (
                        "'" in chunk or '"' in chunk) else raws
                    first = values[0]
                    tokens.append(Token(WORD, first, line, first != raws[0], "", raws[0], None,
                                        values if len(raws) > 1 else None, raws if len(raws) > 1 else None))
                    position = end
                    continue
                if (went_on := _run(text, step, line, tokens, pending)) > step.start("run"):
                    position = went_on
                    continue
        blanks = blank_run(text, position)
        if blanks:
            line += blanks.group().count("\n")
            position = blanks.end()
        word = simple_word(text, position)
        if word:
            value = word.group()
            position = word.end()
            if value.isdigit() and position < length and text[position] in "<>":
                position = _redirect(text, position, line, value, tokens, pending)
            else:
                tokens.append(Token(WORD, value, line, False, raw=value))
            continue
        if position >= length:
            if pending:
                raise ShellSyntaxError(f"here-document `{pending[0].delimiter}` has no end")
            tokens.append(Token(END, "", line))
            return tokens
        position, line = _special(text, position, line, tokens, pending)


def _special(text: str, position: int, line: int, tokens: list[Token], pending: list[Heredoc]) -> tuple[int, int]:
    """Read what starts with a special character at position (a comment, a
    newline and the here-document bodies after it, `((`, a process
    substitution, a redirection, an operator, a word with quotes or
    expansions); returns where to go on and the line there."""
    char, length = text[position], len(text)
    if char == "#" and (position == 0 or text[position - 1] in " \t\n;&|()<>"):
        newline = text.find("\n", position)
        return (length if newline < 0 else newline), line
    if char == "\n":
        tokens.append(Token(NEWLINE, "\n", line))
        if pending:
            position, line = _heredoc_bodies(text, position + 1, line + 1, pending)
            pending.clear()
            return position, line
        return position + 1, line + 1
    if (arithmetic := text.startswith("((", position) and _command_start(tokens)) or (
            char in "<>" and text.startswith("(", position + 1)):  # (( )) or a process substitution
        close = _arithmetic_end(text, position + 2) if arithmetic else matching_paren(text, position + 1) + 1
        tokens.append(Token(WORD, text[position:close], line,
                            substitutions=None if arithmetic else [text[position + 2 : close - 1]]))
        return close, line + text.count("\n", position, close)
    if char in "<>" or (char == "&" and text.startswith(("&>>", "&>"), position)):
        return _redirect(text, position, line, "", tokens, pending), line
    if char in ";&|()":
        operator = _OPERATOR.match(text, position).group()
        tokens.append(Token(OPERATOR, operator, line))
        return position + len(operator), line
    start = position
    substitutions: list[str] = []
    position, value, quoted = read_word(text, position, substitutions)
    if not quoted and value.isdigit() and position < length and text[position] in "<>":
        position = _redirect(text, position, line, value, tokens, pending)
    else:
        tokens.append(Token(WORD, value, line, quoted, raw=text[start:position], substitutions=substitutions or None))
    if "\n" in value or "\\" in text[start:position]:
        line += text.count("\n", start, position)
    return position, line


def _run(text: str, run: re.Match, line: int, tokens: list[Token], pending: list[Heredoc]) -> int:
    """Add the words of a run as one token; returns where to go on. A last word
    that goes on past the run (`a"$(b)"`, `a=(x)`) is left to read_word; one
    before `<` or `>` that is all digits is the redirection's descriptor."""
    chunk, end = run["run"], run.end()
    raws = chunk.split()
    descriptor = ""
    if chunk[-1] not in " \t" and end < len(text) and text[end] not in _WORD_ENDS:
        if text[end] not in "<>":
            end -= len(raws.pop())  # read again the slow way
        elif raws[-1].isdigit():
            descriptor = raws.pop()
    if raws:
        values = [w.replace("'", "").replace('"', "") for w in raws] if ("'" in chunk or '"' in chunk) else raws
        first = values[0]
        if len(raws) == 1:
            tokens.append(Token(WORD, first, line, first != raws[0], "", raws[0]))
        else:
            tokens.append(Token(WORD, first, line, first != raws[0], "", raws[0], None, values, raws))
    if descriptor:
        return _redirect(text, end, line, descriptor, tokens, pending)
    return end


def _command_start(tokens: list[Token]) -> bool:
    """Where `((` opens arithmetic: a command's start, or `for ((`."""
    return not tokens or tokens[-1].kind != WORD or (tokens[-1].value == "for" and not tokens[-1].quoted)


def _arithmetic_end(text: str, position: int) -> int:
    depth = 0
    while position < len(text):
        char = text[position]
        if char == "(":
            depth += 1
        elif char == ")":
            if depth == 0 and text.startswith("))", position):
                return position + 2
            depth -= 1
        position += 1
    raise ShellSyntaxError("`((` has no `))`")


def _redirect(text: str, position: int, line: int, descriptor: str, tokens: list[Token],
              pending: list[Heredoc]) -> int:
    if text.startswith(("&>>", "&>"), position):
        operator = "&>>" if text.startswith("&>>", position) else "&>"
    else:
        operator = next(op for op in _REDIRECTS if text.startswith(op, position))
    position += len(operator)
    token = Token(OPERATOR, operator, line, descriptor=descriptor)
    tokens.append(token)
    if operator in ("<<", "<<-"):
        blanks = _BLANKS.match(text, position)
        position = blanks.end() if blanks else position
        if position >= len(text) or text[position] in _METACHARACTERS:
            raise ShellSyntaxError("here-document without a delimiter")
        position, delimiter, quoted = read_word(text, position)
        token.heredoc = Heredoc(delimiter, operator == "<<-", quoted)
        pending.append(token.heredoc)
    return position


def _heredoc_bodies(text: str, position: int, line: int, pending: list[Heredoc]) -> tuple[int, int]:
    for heredoc in pending:
        lines = []
        while True:
            if position >= len(text):
                raise ShellSyntaxError(f"here-document `{heredoc.delimiter}` has no end")
            newline = text.find("\n", position)
            end = len(text) if newline < 0 else newline
            current = text[position:end]
            position, line = end + 1, line + 1
            if (current.lstrip("\t") if heredoc.strip_tabs else current) == heredoc.delimiter:
                break
            lines.append(current.lstrip("\t") if heredoc.strip_tabs else current)
        heredoc.body = "\n".join(lines) + ("\n" if lines else "")
    return min(position, len(text)), line


def read_word(text: str, position: int, substitutions: list[str] | None = None) -> tuple[int, str, bool]:
    """Read one word at position: (end, value without quotes, quoted?); the
    bodies of its command substitutions go to `substitutions`."""
    out: list[str] = []
    quoted = False
    length = len(text)
    while position < length:
        plain = _PLAIN.match(text, position)
        if plain:
            out.append(plain.group())
            position = plain.end()
            continue
        char = text[position]
        if char == "(" and _ARRAY_ASSIGNMENT.fullmatch("".join(out)) and not quoted:  # bash: a=(x y)
            close = matching_paren(text, position)
            out.append(text[position : close + 1])
            position = close + 1
            continue
        if char in _METACHARACTERS:
            break
        if char == "\\":
            quoted = True
            if position + 1 < length and text[position + 1] != "\n":
                out.append(text[position + 1])
            position += 2
        elif char == "'":
            close = text.find("'", position + 1)
            if close < 0:
                raise ShellSyntaxError("unterminated single quote")
            out.append(text[position + 1 : close])
            quoted, position = True, close + 1
        elif char == '"':
            position = _double_quoted(text, position + 1, out, substitutions)
            quoted = True
        elif char == "$":
            position = read_dollar(text, position, out, substitutions)
            quoted = quoted or out[-1].startswith("$'")
            if out[-1].startswith("$'"):
                out[-1] = _ansi_c(out[-1][2:-1])
        else:  # backquote
            close = _backquote_end(text, position + 1)
            out.append(text[position:close])
            if substitutions is not None:
                substitutions.append(text[position + 1 : close - 1])
            position = close
    return position, "".join(out), quoted


def _double_quoted(text: str, position: int, out: list[str], substitutions: list[str] | None) -> int:
    length = len(text)
    while position < length:
        char = text[position]
        if char == '"':
            return position + 1
        if char == "\\" and position + 1 < length and text[position + 1] in '"\\$`\n':
            if text[position + 1] != "\n":
                out.append(text[position + 1])
            position += 2
        elif char == "$":
            position = read_dollar(text, position, out, substitutions)
        elif char == "`":
            close = _backquote_end(text, position + 1)
            out.append(text[position:close])
            if substitutions is not None:
                substitutions.append(text[position + 1 : close - 1])
            position = close
        else:
            out.append(char)
            position += 1
    raise ShellSyntaxError("unterminated double quote")


def read_dollar(text: str, position: int, out: list[str], substitutions: list[str] | None = None) -> int:
    """`$(...)`, `$((...))`, `${...}`, `$'...'` or a plain `$`; appended as written
    (and the body of a `$(...)` to `substitutions`)."""
    following = text[position + 1 : position + 2]
    if following == "(":
        close = matching_paren(text, position + 1)
        out.append(text[position : close + 1])
        if substitutions is not None and text[position + 2 : position + 3] != "(":
            substitutions.append(text[position + 2 : close])
        return close + 1
    if following == "{":
        depth, index = 0, position + 1
        while index < len(text):
            char = text[index]
            if char == "\\":
                index += 2
                continue
            if char in "'\"" and depth:
                index = _skip_quote(text, index)
                continue
            depth += char == "{"
            depth -= char == "}"
            if depth == 0:
                out.append(text[position : index + 1])
                if substitutions is not None and ("$(" in out[-1] or "`" in out[-1]):  # ${A:-$(hostname)}
                    _inner_substitutions(out[-1][2:-1], substitutions)
                return index + 1
            index += 1
        raise ShellSyntaxError("`${` has no `}`")
    if following == "'":
        index = position + 2
        while index < len(text) and text[index] != "'":
            index += 2 if text[index] == "\\" else 1
        if index >= len(text):
            raise ShellSyntaxError("unterminated $'...'")
        out.append(text[position : index + 1])
        return index + 1
    out.append("$")
    return position + 1


def _inner_substitutions(text: str, substitutions: list[str]) -> None:
    """The command substitutions inside a `${...}`, read word by word."""
    position = 0
    while position < len(text):
        try:
            position = read_word(text, position, substitutions)[0] + 1
        except ShellSyntaxError:
            return


def _skip_quote(text: str, index: int) -> int:
    if text[index] == "'":
        close = text.find("'", index + 1)
    else:
        close = index + 1
        while close < len(text) and text[close] != '"':
            close += 2 if text[close] == "\\" else 1
    if close < 0 or close >= len(text):
        raise ShellSyntaxError("unterminated quote")
    return close + 1


_C_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"', "e": "\x1b", "a": "\a"}


def _ansi_c(body: str) -> str:
    return re.sub(r"\\(.)", lambda m: _C_ESCAPES.get(m.group(1), "\\" + m.group(1)), body)


def _backquote_end(text: str, position: int) -> int:
    while position < len(text):
        if text[position] == "\\":
            position += 2
        elif text[position] == "`":
            return position + 1
        else:
            position += 1
    raise ShellSyntaxError("unterminated backquote")


def matching_paren(text: str, open_index: int) -> int:
    """Index of the `)` closing the `(` at open_index: quotes, escapes, nested
    substitutions and `case` patterns' lone `)` respected as far as depth goes."""
    depth, position, length = 0, open_index, len(text)
    cases: list[int] = []  # depths with a `case` open: a `)` there ends a pattern
    while position < length:
        char = text[position]
        if char == "(":
            depth += 1
        elif char == ")":
            if cases and cases[-1] == depth:
                position += 1
                continue
            depth -= 1
            if depth == 0:
                return position
        elif char in "ce" and text[position - 1] in " \t\n;(" and (keyword := _CASE_WORD.match(text, position)):
            if keyword.group(1) == "case":
                cases.append(depth)
            elif cases:
                cases.pop()
            position = keyword.end()
            continue
        elif char == "\\":
            position += 1
        elif char in "'\"":
            position = _skip_quote(text, position) - 1
        elif char == "`":
            position = _backquote_end(text, position + 1) - 1
        elif char == "#" and text[position - 1] in " \t\n":
            newline = text.find("\n", position)
            position = length if newline < 0 else newline - 1
        position += 1
    raise ShellSyntaxError("`$(` has no `)`")
