"""Just enough POSIX shell to read RUN lines and `sh -c` scripts.

A script becomes a flat list of simple commands, each with its words (quotes
removed), its output redirections and the operator that follows it (`;`,
`&&`, `||`, `|`, `&`). Command substitutions and subshells are kept inside
their word; their inner commands are also listed (flagged `nested`) so that
`$(hostname)` or `(cd /x && touch y)` are seen. Linear time, no recursion
beyond the nesting depth of the text itself, which is bounded.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

SHELLS = frozenset({"sh", "bash", "ash", "dash", "zsh", "ksh", "mksh", "busybox"})
_OPERATORS = ("&&", "||", ";;", ";", "|&", "|", "&", "\n")
_MAX_NESTING = 16
# Runs of characters with no meaning to the shell, consumed in one step.
_BLANKS = re.compile(r"[ \t]+")
_PLAIN = re.compile(r"[^\s\\'\"$`(){}<>|&;#]+")


@dataclass
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
        return os.path.basename(self.words[0]) if self.words else ""

    @property
    def args(self) -> list[str]:
        return self.words[1:]


def parse_script(text: str, depth: int = 0) -> list[SimpleCommand]:
    """Simple commands of `text`, in order."""
    commands: list[SimpleCommand] = []
    nested: list[SimpleCommand] = []
    current = SimpleCommand()
    word: list[str] = []
    in_word = False
    pending_redirect: str | None = None
    position, length = 0, len(text)

    def end_word() -> None:
        nonlocal word, in_word, pending_redirect
        if not in_word:
            return
        token = "".join(word)
        word, in_word = [], False
        if pending_redirect is not None:
            current.redirects.append((pending_redirect, token))
            pending_redirect = None
        elif not current.words and _is_assignment(token):
            current.assignments.append(token)
        else:
            current.words.append(token)

    def end_command(separator: str) -> None:
        nonlocal current
        end_word()
        current.separator = separator
        if current.words or current.redirects or current.assignments:
            commands.append(current)
        elif commands and separator in ("\n", ";") and not commands[-1].separator:
            commands[-1].separator = separator
        current = SimpleCommand()

    while position < length:
        char = text[position]
        if in_word or not char.isdigit():
            plain = _PLAIN.match(text, position)
            if plain:
                word.append(plain.group())
                in_word = True
                position = plain.end()
                continue
        if char == "\\" and position + 1 < length:
            if text[position + 1] == "\n":
                position += 2
                continue
            word.append(text[position + 1])
            in_word = True
            position += 2
            continue
        if char == "'":
            close = text.find("'", position + 1)
            close = length if close < 0 else close
            word.append(text[position + 1 : close])
            in_word = True
            position = close + 1
            continue
        if char == '"':
            position, inner = _double_quoted(text, position + 1)
            word.append(inner)
            in_word = True
            if depth < _MAX_NESTING and ("$(" in inner or "`" in inner):
                nested.extend(_substitutions(inner, depth))
            continue
        if char == "$" and text.startswith("$(", position) and not text.startswith("$((", position):
            close = _matching_paren(text, position + 1)
            body = text[position + 2 : close]
            if depth < _MAX_NESTING:
                nested.extend(_mark_nested(parse_script(body, depth + 1)))
            word.append(text[position : close + 1])
            in_word = True
            position = close + 1
            continue
        if char == "`":
            close = text.find("`", position + 1)
            close = length if close < 0 else close
            if depth < _MAX_NESTING:
                nested.extend(_mark_nested(parse_script(text[position + 1 : close], depth + 1)))
            word.append(text[position : close + 1])
            in_word = True
            position = close + 1
            continue
        if char in "({" and not in_word and not current.words and (char == "(" or text[position + 1 : position + 2] in (" ", "\n", "\t")):
            closer = ")" if char == "(" else "}"
            close = _matching_paren(text, position) if char == "(" else _matching_brace(text, position)
            if depth < _MAX_NESTING:
                nested.extend(_mark_nested(parse_script(text[position + 1 : close], depth + 1)))
            current.words.append(text[position : close + 1] if close < length else text[position:])
            position = close + 1 if close < length and text[close] == closer else length
            continue
        if char == "#" and not in_word:
            newline = text.find("\n", position)
            position = length if newline < 0 else newline
            continue
        if char in " \t":
            end_word()
            position = _BLANKS.match(text, position).end()
            continue
        if char in "<>" or (char.isdigit() and not in_word and _redirect_at(text, position + 1)):
            end_word()
            while position < length and text[position].isdigit():
                position += 1
            operator = text[position]
            position += 1
            while position < length and text[position] in "<>&|":
                operator += text[position]
                position += 1
            if operator.startswith("<"):
                pending_redirect = None if "<<" in operator else "<"
                if "<<" in operator:  # heredoc marker: skip its word
                    while position < length and text[position] in " \t":
                        position += 1
                    while position < length and text[position] not in " \t\n;&|":
                        position += 1
                continue
            if operator.endswith("&") and position < length and (text[position].isdigit() or text[position] == "-"):
                position += 1  # 2>&1: a descriptor, not a file
                continue
            pending_redirect = operator.lstrip("0123456789") or ">"
            continue
        operator = next((op for op in _OPERATORS if text.startswith(op, position)), None)
        if operator:
            end_command(operator)
            position += len(operator)
            continue
        word.append(char)
        in_word = True
        position += 1
    end_command("")
    return commands + nested


def _mark_nested(commands: list[SimpleCommand]) -> list[SimpleCommand]:
    for command in commands:
        command.nested = True
    return commands


def _is_assignment(token: str) -> bool:
    name, sep, _ = token.partition("=")
    return bool(sep) and name.replace("_", "a").isalnum() and not name[0].isdigit()


def _redirect_at(text: str, position: int) -> bool:
    while position < len(text) and text[position].isdigit():
        position += 1
    return position < len(text) and text[position] in "<>"


def _double_quoted(text: str, position: int) -> tuple[int, str]:
    out = []
    length = len(text)
    while position < length:
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
    quote = ""
    while position < length:
        char = text[position]
        if quote:
            if char == quote:
                quote = ""
            elif char == "\\" and quote == '"':
                position += 1
        elif char in "'\"":
            quote = char
        elif char == "\\":
            position += 1
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return position
        position += 1
    return length


def _matching_brace(text: str, open_index: int) -> int:
    depth, position = 0, open_index
    while position < len(text):
        if text[position] == "{":
            depth += 1
        elif text[position] == "}":
            depth -= 1
            if depth == 0:
                return position
        position += 1
    return len(text)


def top_level(commands: list[SimpleCommand]) -> list[SimpleCommand]:
    return [c for c in commands if not c.nested]


def strip_wrappers(words: list[str]) -> list[str]:
    """`sudo`, `env A=1`, `exec`, `nohup`, `time`, `command` in front of the real command."""
    position = 0
    while position < len(words):
        name = os.path.basename(words[position])
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


def shell_c_script(argv: list[str]) -> tuple[str, str, int] | None:
    """(shell name, its option letters, index of the script) when argv is
    `sh -c SCRIPT ...` (any option cluster with c: -ec, -xc, -c)."""
    if not argv:
        return None
    name = os.path.basename(argv[0])
    position = 1
    if name == "busybox" and len(argv) > 1 and os.path.basename(argv[1]) in SHELLS:
        name, position = os.path.basename(argv[1]), 2
    if name not in SHELLS or name == "busybox":
        return None
    letters = ""
    while position < len(argv) and argv[position].startswith("-") and argv[position] != "--":
        option = argv[position]
        if option in ("-o",) and position + 1 < len(argv):
            letters += "o:" + argv[position + 1] + " "
            position += 2
            continue
        letters += option.lstrip("-")
        position += 1
        if "c" in option and not option.startswith("--"):
            return (name, letters, position) if position < len(argv) else None
    return None
