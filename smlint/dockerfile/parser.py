"""Dockerfile text -> instructions, the way BuildKit's parser reads it.

Handles parser directives (`# escape=`), a UTF-8 BOM, CRLF, line
continuations (with comment and blank lines inside them), heredocs for RUN,
COPY and ADD (`<<EOF`, `<<-EOF`, `<<'EOF'`, `<<"EOF"`, `<<\\EOF`, `<<-\\EOF`,
several per line), lowercase keywords, leading `--flag` words (taken off
every instruction first, as BuildKit does; SM143 judges them), and the
exec-form decision (the arguments parse as a JSON array of strings).

`dockerfile-parse` does none of heredocs, columns or exec form, and BuildKit's
own parser (PyPI `dockerfile`) has no wheels for macOS arm64 or Linux
aarch64, so smlint carries this small parser and tests it differentially
against BuildKit's. It is a single linear pass: no regex backtracking over
the whole file, no recursion.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

KNOWN_INSTRUCTIONS = frozenset(
    "ADD ARG CMD COPY ENTRYPOINT ENV EXPOSE FROM HEALTHCHECK LABEL MAINTAINER ONBUILD RUN "
    "SHELL STOPSIGNAL USER VOLUME WORKDIR".split()
)
HEREDOC_INSTRUCTIONS = frozenset({"RUN", "COPY", "ADD"})
JSON_INSTRUCTIONS = frozenset({"RUN", "CMD", "ENTRYPOINT", "SHELL", "VOLUME", "ADD", "COPY"})

_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_HEREDOC_WORD = re.compile(r"^(\d*)<<(-?)\s*([^<]*)$")
_JSON = json.JSONDecoder()
_BLANK = re.compile(r"[ \t]")
_WORD_BREAK = re.compile(r"[ \t\n]+")
_LEADING_TABS = re.compile(r"^\t+", re.M)


class DockerfileError(ValueError):
    """Text that Docker could not build from; reported as SM001."""

    def __init__(self, message: str, line: int = 1):
        super().__init__(message)
        self.line = line


@dataclass(frozen=True)
class Heredoc:
    name: str
    body: str  # as written: BuildKit's parser keeps the tabs of a <<- body
    # BuildKit's rule: a quoted terminator (<<"EOF", <<'EOF') disables variable
    # expansion in the body; a backslash (<<\EOF) does not count as quoting.
    expand: bool
    start_line: int  # first body line
    end_line: int  # the terminator line
    chomp: bool = False  # <<-: leading tabs are stripped from each line at build time

    @property
    def text(self) -> str:
        """The body as the build uses it (leading tabs stripped for <<-); what rules read."""
        return _LEADING_TABS.sub("", self.body) if self.chomp else self.body


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case
    args: str  # after the keyword and flags, continuations joined
    # Leading `--name[=value]` words, quotes and escapes removed, names as
    # written (BuildKit matches them case-sensitively); None: no `=`.
    flags: tuple[tuple[str, str | None], ...]
    line: int  # 1-based first line
    end_line: int  # last line, heredoc bodies included
    column: int  # 1-based column of the keyword
    end_column: int  # exclusive, on end_line
    heredocs: tuple[Heredoc, ...] = ()
    # Exec form: the JSON array of strings; None for shell form.
    exec_args: tuple[str, ...] | None = None

    @property
    def is_exec_form(self) -> bool:
        return self.exec_args is not None

    @property
    def looks_like_json(self) -> bool:
        """Starts with '[' but did not parse as an array of strings (SM102)."""
        return self.exec_args is None and self.args.lstrip().startswith("[")

    def flag(self, name: str) -> str | None:
        for key, value in self.flags:
            if key == name:
                return value if value is not None else ""
        return None


@dataclass(frozen=True)
class Comment:
    line: int
    column: int
    text: str  # after the '#', stripped


@dataclass
class ParsedDockerfile:
    instructions: list[Instruction] = field(default_factory=list)
    comments: list[Comment] = field(default_factory=list)
    directives: dict[str, str] = field(default_factory=dict)
    escape: str = "\\"
    lines: list[str] = field(default_factory=list)


def split_lines(text: str) -> list[str]:
    """Physical lines without terminators; a BOM and CR before LF removed."""
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if "\r" not in text:
        return lines
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def parse(text: str) -> ParsedDockerfile:
    lines = split_lines(text)
    result = ParsedDockerfile(lines=lines)
    index = _parse_directives(lines, result)
    escape = result.escape
    total = len(lines)
    while index < total:
        raw = lines[index]
        stripped = raw.lstrip(" \t")
        index += 1
        if not stripped:
            continue
        if stripped[0] == "#":
            result.comments.append(Comment(index, len(raw) - len(stripped) + 1, stripped[1:].strip()))
            continue
        start_line, column = index, len(raw) - len(stripped) + 1
        end_line, last_text = index, raw
        body = stripped.rstrip(" \t")
        if not _continues(body, escape):
            pieces = [stripped]
        else:  # a continuation: the escape, then only blanks, ends the line
            pieces = [body[:-1]]
            while index < total:
                raw = lines[index]
                index += 1
                end_line, last_text = index, raw  # BuildKit counts skipped lines in the span
                body = raw.strip(" \t")
                if not body or body[0] == "#":
                    continue
                body = raw.rstrip(" \t")
                if not _continues(body, escape):
                    pieces.append(raw)
                    break
                pieces.append(body[:-1])
        logical = "".join(pieces)
        keyword_text, _, rest = _split_keyword(logical)
        keyword = keyword_text.upper()
        flags, args = extract_flags(rest, escape)
        heredocs: tuple[Heredoc, ...] = ()
        if "<<" in args and (marked := _heredoc_args(keyword, args, escape)) is not None:
            heredocs, after = _read_heredocs(lines, index, marked, start_line)
            if after > index:
                index = end_line = after
                last_text = lines[index - 1]
            if keyword == "ONBUILD":
                heredocs = ()  # BuildKit gives the bodies to the trigger, which smlint does not model
        result.instructions.append(
            Instruction(
                keyword=keyword,
                args=args,
                flags=flags,
                line=start_line,
                end_line=end_line,
                column=column,
                end_column=len(last_text) + 1,
                heredocs=heredocs,
                exec_args=_exec_form(args) if keyword in JSON_INSTRUCTIONS else None,
            )
        )
    return result


def _heredoc_args(keyword: str, args: str, escape: str) -> str | None:
    """The arguments whose `<<` markers start heredocs: those of RUN, COPY and
    ADD, and those of an ONBUILD trigger that is one of them in shell form
    (`ONBUILD RUN <<EOF`, as BuildKit reads it); None for other instructions."""
    if keyword in HEREDOC_INSTRUCTIONS:
        return args
    if keyword != "ONBUILD":
        return None
    trigger, _, rest = _split_keyword(args)
    if trigger.upper() not in HEREDOC_INSTRUCTIONS:
        return None
    rest = extract_flags(rest, escape)[1]
    return rest if _exec_form(rest) is None else None


def _read_heredocs(lines: list[str], index: int, args: str, start_line: int) -> tuple[tuple[Heredoc, ...], int]:
    """The bodies of the instruction's heredocs, one after the other from
    `index`; returns them and the line index after the last terminator."""
    heredocs = []
    for name, chomp, expand in heredoc_markers(args):
        body, terminated = [], False
        body_start = index + 1
        while index < len(lines):
            candidate = lines[index]
            index += 1
            if (candidate.lstrip("\t") if chomp else candidate) == name:
                terminated = True
                break
            body.append(candidate)
        if not terminated:
            raise DockerfileError(f"line {start_line}: unterminated heredoc <<{name}", start_line)
        heredocs.append(Heredoc(name, "".join(b + "\n" for b in body), expand, body_start, index, chomp))
    return tuple(heredocs), index


def _continues(line: str, escape: str) -> bool:
    """The line (trailing blanks removed) ends in a line continuation: the
    escape character, unless itself escaped (`C:\\\\` ends nothing)."""
    return line.endswith(escape) and (len(line) == 1 or line[-2] != escape)


def _parse_directives(lines: list[str], result: ParsedDockerfile) -> int:
    """Directives only count before anything else; returns the first line after them."""
    index = 0
    for index, line in enumerate(lines):
        match = _DIRECTIVE.match(line.strip())
        if not match:
            return index
        name, value = match.group(1).lower(), match.group(2)
        if name in result.directives:
            raise DockerfileError(f"line {index + 1}: parser directive {name!r} given twice", index + 1)
        result.directives[name] = value
        result.comments.append(Comment(index + 1, 1, line.strip()[1:].strip()))
        if name == "escape":
            if value not in ("\\", "`"):
                raise DockerfileError(f"line {index + 1}: invalid escape character {value!r}", index + 1)
            result.escape = value
    return len(lines)


def _split_keyword(logical: str) -> tuple[str, str, str]:
    text = logical.strip()
    match = _BLANK.search(text)
    if match is None:
        return text, "", ""
    return text[: match.start()], " ", text[match.start() :].strip(" \t")


def extract_flags(rest: str, escape: str = "\\") -> tuple[tuple[tuple[str, str | None], ...], str]:
    """Take leading `--flag` words off, as BuildKit's parser does for every
    instruction before it looks at the arguments: quotes and the escape
    character work inside a flag word, and a lone `--` ends the flags."""
    words: list[str] = []
    position, length = 0, len(rest)
    while True:
        while position < length and rest[position].isspace():
            position += 1
        if not rest.startswith("--", position):
            break
        word, position = _flag_word(rest, position, escape)
        if word == "--":
            break
        if word:
            words.append(word)
    flags = []
    for word in words:
        name, sep, value = word[2:].partition("=")
        flags.append((name, value if sep else None))
    return tuple(flags), rest[position:].strip()


def _flag_word(text: str, position: int, escape: str) -> tuple[str, int]:
    """One blank-delimited word from `position`: (the word unquoted, the end)."""
    word: list[str] = []
    quote = ""
    length = len(text)
    while position < length:
        char = text[position]
        if not quote and char.isspace():
            break
        if quote and char == quote:
            quote = ""
        elif not quote and char in "'\"":
            quote = char
        elif char == escape:
            if position + 1 < length:
                position += 1
                word.append(text[position])
        else:
            word.append(char)
        position += 1
    return "".join(word), position


def _exec_form(args: str) -> tuple[str, ...] | None:
    text = args.strip()
    if not text.startswith("["):
        return None
    try:  # like Go's json.Decoder: one value, trailing text ignored
        value, _ = _JSON.raw_decode(text)
    except ValueError:
        return None
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    return None


def heredoc_markers(args: str) -> list[tuple[str, bool, bool]]:
    """(name, strip-leading-tabs, expand) of each `<<NAME` word, in order.

    As BuildKit reads them: the line's words with quotes and escapes kept
    (the escape is always a backslash here, whatever `# escape=` says), each
    matched against `[fd]<<[-]NAME`; the name is then unquoted (`<<'EOF'`,
    `<<"EOF"`, `<<\\EOF`, `<<E"O"F` all name EOF)."""
    markers = []
    for word in shell_words(args, "\\", keep_quotes=True):
        match = _HEREDOC_WORD.match(word)
        if not match or not match.group(3):
            continue
        names = shell_words(match.group(3), "\\")
        if len(names) != 1:
            continue
        markers.append((names[0], match.group(2) == "-", not _has_quoting(match.group(3))))
    return markers


def _has_quoting(word: str) -> bool:
    """Whether a quote character in `word` quotes (is not escaped)."""
    position = 0
    while position < len(word):
        if word[position] == "\\":
            position += 2
            continue
        if word[position] in "'\"":
            return True
        position += 1
    return False


def shell_words(text: str, escape: str = "\\", keep_quotes: bool = False) -> list[str]:
    """Split on unquoted whitespace, honouring quotes and the escape character."""
    if escape not in text and "'" not in text and '"' not in text:
        return [word for word in _WORD_BREAK.split(text) if word]  # the common case, in one step
    words: list[str] = []
    current: list[str] = []
    in_word = False
    quote = ""
    position, length = 0, len(text)
    while position < length:
        char = text[position]
        if quote:
            if char == quote:
                quote = ""
                if keep_quotes:
                    current.append(char)
            elif char == escape and quote == '"' and position + 1 < length:
                position += 1
                if keep_quotes:
                    current.append(char)
                current.append(text[position])
            else:
                current.append(char)
        elif char in " \t\n":
            if in_word:
                words.append("".join(current))
                current, in_word = [], False
        elif char in "'\"":
            quote, in_word = char, True
            if keep_quotes:
                current.append(char)
        elif char == escape and position + 1 < length:
            position += 1
            in_word = True
            if keep_quotes:
                current.append(char)
            current.append(text[position])
        else:
            in_word = True
            current.append(char)
        position += 1
    if in_word:
        words.append("".join(current))
    return words
