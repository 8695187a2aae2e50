"""Reading a CreateProcessingJob request (JSON or YAML) with the position of
every value, so a finding about `/ProcessingInputs/0/S3Input/LocalPath` lands
on its line and column in the user's file.

JSON is parsed by the standard library (fast, exact syntax errors) and then
scanned once, iteratively, for positions. YAML is composed into nodes, whose
marks give the positions, and built into plain data without recursion. Both
are linear in the size of the file and never recurse per nesting level in
smlint's own code; absurd nesting is refused up front as unreadable input.
"""
from __future__ import annotations

import bisect
import json
import re
from dataclasses import dataclass, field

from ..findings import Span
from ..inputs import MAX_INT_DIGITS, MAX_REQUEST_BYTES, MAX_YAML_REQUEST_BYTES, InputError, json_kind, read_bounded

# The largest valid request (100 variables, 200 arguments, 10 inputs with
# 4 KB queries, 50 tags) is a few hundred KB: far bigger is not a request.
MAX_BYTES = MAX_REQUEST_BYTES
MAX_YAML_BYTES = MAX_YAML_REQUEST_BYTES
MAX_DEPTH = 200  # a real request nests about 6 levels
MAX_VALUES = 20_000  # bounds the schema check's work too: a real request holds a few thousand
MAX_ALIAS_EXPANSIONS = 10_000  # a YAML alias bomb re-expands shared nodes; a request hardly ever does


class RequestError(Exception):
    """The file can't be read as a request: one line for SM001, maybe a position."""

    def __init__(self, reason: str, span: Span | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.span = span


@dataclass(frozen=True)
class Located:
    """Where one value is: its member key (if any) and the value itself."""

    start: tuple[int, int]  # (line, column), 1-based
    end: tuple[int, int]  # exclusive
    key: tuple[int, int] | None = None
    key_end: tuple[int, int] | None = None
    container: bool = False


@dataclass
class Request:
    """A parsed request: the data (nulls removed), its text and value positions."""

    path: str
    data: dict
    lines: list[str]
    positions: dict[str, Located] = field(default_factory=dict)
    syntax: str = "json"

    def span(self, pointer: str) -> Span | None:
        """The span a finding at `pointer` should show: the key through a scalar
        value, or the key (or opening bracket) of an object or array. A pointer
        that does not exist (a missing field) falls back to its parent."""
        while pointer not in self.positions and pointer:
            pointer = pointer.rsplit("/", 1)[0]
        located = self.positions.get(pointer)
        if located is None:
            return None
        line, column = located.key or located.start
        if located.container:  # the member name, or the opening bracket
            end_line, end_column = located.key_end or (located.start[0], located.start[1] + 1)
        else:
            end_line, end_column = located.end
        return Span(line, column, end_line, end_column)


def escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def pointer_join(parent: str, token: object) -> str:
    return f"{parent}/{escape(str(token))}"


def read_request(path: str) -> Request:
    """Load `path` as a request object, or raise RequestError saying why not."""
    try:
        raw = read_bounded(path, MAX_BYTES, "request file")
    except InputError as error:
        raise RequestError(str(error)) from None
    return parse_request(raw, path)


def parse_request(raw: bytes, path: str) -> Request:
    if len(raw) > MAX_BYTES:
        raise RequestError(_too_big(len(raw), MAX_BYTES))
    if b"\0" in raw:
        raise RequestError("is a binary file (holds a NUL byte), not a JSON or YAML request")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise RequestError(f"is not valid UTF-8 (byte {error.start})", Span(line, 1)) from None
    if not text.strip():
        raise RequestError("is empty; expected a CreateProcessingJob request object")
    syntax = _syntax_of(path, text)
    if syntax == "json":
        data, positions = _load_json(text)
    elif len(raw) > MAX_YAML_BYTES:
        raise RequestError(_too_big(len(raw), MAX_YAML_BYTES) + " of YAML")
    else:
        data, positions = _load_yaml(text)
    if not isinstance(data, dict):
        raise RequestError(
            f"holds {json_kind(data)} at the top level; expected a CreateProcessingJob request object "
            "(a mapping of fields such as ProcessingJobName)",
            Span(1, 1),
        )
    return Request(path=path, data=remove_nulls(data), lines=text.splitlines(True), positions=positions,
                   syntax=syntax)


def _too_big(size: int, limit: int) -> str:
    return (f"is {size / 1024 / 1024:.1f} MiB; a CreateProcessingJob request is at most a few hundred KB "
            f"(smlint reads up to {limit / 1024 / 1024:g} MiB)")


def _syntax_of(path: str, text: str) -> str:
    lower = path.lower()
    if lower.endswith(".json"):
        return "json"
    if lower.endswith((".yaml", ".yml")):
        return "yaml"
    return "json" if text.lstrip()[:1] in ("{", "[") else "yaml"


def remove_nulls(data: dict) -> dict:
    """processingjobconfig.json writes null for absent fields: treat them as
    absent. Iterative, so depth costs nothing; only object members go."""
    stack: list[object] = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            for key in [k for k, v in value.items() if v is None]:
                del value[key]
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return data


class _Lines:
    """Offset -> (line, column), 1-based, by bisecting the line starts."""

    def __init__(self, text: str) -> None:
        self.starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def at(self, offset: int) -> tuple[int, int]:
        index = bisect.bisect_right(self.starts, offset) - 1
        return index + 1, offset - self.starts[index] + 1


# ---------------------------------------------------------------- JSON

_JSON_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[{}\[\],:]|[^\s{}\[\],:"]+')


def _load_json(text: str) -> tuple[object, dict[str, Located]]:
    depth = _max_flow_depth(text)
    if depth > MAX_DEPTH:
        raise RequestError(f"is nested {depth} levels deep; smlint reads requests nested at most {MAX_DEPTH} "
                           "levels (a real one nests about 6)")
    huge: list[str] = []
    try:
        data = json.loads(text, parse_int=lambda digits: _parse_int(digits, huge))
    except json.JSONDecodeError as error:
        raise RequestError(f"is not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})",
                           Span(error.lineno, error.colno)) from None
    except RecursionError:
        raise RequestError("is nested too deeply to be a request") from None
    positions = json_positions(text)
    if huge:
        pointer = _find_huge(data)
        located = positions.get(pointer)
        raise RequestError(_huge_message(pointer, huge[0]), Span(*located.start) if located else None)
    return data, positions


class _HugeInt(str):
    """Stands in for an integer literal too long to be any field's value."""


def _parse_int(digits: str, huge: list[str]) -> object:
    if len(digits.lstrip("-")) <= MAX_INT_DIGITS:
        return int(digits)
    huge.append(digits)
    return _HugeInt(digits)


def _find_huge(data: object) -> str:
    pending: list[tuple[str, object]] = [("", data)]
    while pending:
        pointer, value = pending.pop()
        if isinstance(value, _HugeInt):
            return pointer
        if isinstance(value, dict):
            pending.extend((pointer_join(pointer, key), item) for key, item in value.items())
        elif isinstance(value, list):
            pending.extend((pointer_join(pointer, index), item) for index, item in enumerate(value))
    return ""


def _huge_message(pointer: str, digits: str) -> str:
    return (f"field {pointer or '(top level)'}: an integer of {len(digits.lstrip('-'))} digits; "
            f"no request field takes one longer than {MAX_INT_DIGITS} digits")


def _max_flow_depth(text: str) -> int:
    """The deepest nesting of [ and { outside strings, in one linear pass;
    refuses text with more flow values than a request holds."""
    depth = deepest = values = 0
    for match in _JSON_TOKEN.finditer(text):
        token = match.group()
        if token in ("{", "["):
            depth += 1
            deepest = max(deepest, depth)
        elif token in ("}", "]"):
            depth -= 1
        if token in ("{", "[", ","):
            values += 1
            if values > MAX_VALUES:
                raise RequestError(_too_many_values())
    return deepest


def _too_many_values() -> str:
    return f"holds more than {MAX_VALUES} values; a real request holds a few thousand at most"


def json_positions(text: str) -> dict[str, Located]:
    """Pointer -> position of every value of a valid JSON document."""
    lines = _Lines(text)
    positions: dict[str, Located] = {}
    # Each frame: [pointer, is_object, next index or current member name,
    #              current member name's match, own member name's match, opening offset]
    stack: list[list] = []
    expecting_key = False
    for match in _JSON_TOKEN.finditer(text):
        token, start = match.group(), match.start()
        frame = stack[-1] if stack else None
        if token == ":":
            continue
        if token == ",":
            if frame and frame[1]:
                expecting_key = True
            elif frame:
                frame[2] += 1
            continue
        if token in ("}", "]"):
            pointer, _, _, _, own_key, opened = stack.pop()
            positions[pointer] = Located(lines.at(opened), lines.at(match.end()), *_key_marks(lines, own_key),
                                         container=True)
            expecting_key = False
            continue
        if frame and frame[1] and expecting_key:  # a member name
            frame[2] = token[1:-1] if "\\" not in token else json.loads(token)
            frame[3] = match
            expecting_key = False
            continue
        if frame is None:
            pointer, key_match = "", None
        else:
            pointer, key_match = pointer_join(frame[0], frame[2]), frame[3] if frame[1] else None
        if token in ("{", "["):
            stack.append([pointer, token == "{", 0, None, key_match, start])
            expecting_key = token == "{"
        else:
            positions[pointer] = Located(lines.at(start), lines.at(match.end()), *_key_marks(lines, key_match))
    return positions


def _key_marks(lines: _Lines, key_match) -> tuple:
    if key_match is None:
        return None, None
    return lines.at(key_match.start()), lines.at(key_match.end())


# ---------------------------------------------------------------- YAML


def _load_yaml(text: str) -> tuple[object, dict[str, Located]]:
    import yaml

    depth = _max_flow_depth(text)
    if depth > MAX_DEPTH:
        raise RequestError(f"is nested {depth} levels deep; smlint reads requests nested at most {MAX_DEPTH} "
                           "levels (a real one nests about 6)")
    loader_class = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        root = yaml.compose(text, Loader=loader_class)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = error.problem or error.context or "syntax error"
        raise RequestError(f"is not valid YAML: {problem}{where}",
                           Span(mark.line + 1, mark.column + 1) if mark else None) from None
    except yaml.YAMLError as error:
        raise RequestError(f"is not valid YAML: {error}") from None
    except RecursionError:
        raise RequestError("is nested too deeply to be a request") from None
    if root is None:
        raise RequestError("holds no YAML document; expected a CreateProcessingJob request object")
    return _build_yaml(root)


def _build_yaml(root) -> tuple[object, dict[str, Located]]:
    """Plain data and positions from composed nodes, iteratively. Keys keep
    their source text ("1" stays "1"), since request keys are names."""
    import yaml

    constructor = yaml.SafeLoader("")  # only its scalar constructors are used
    positions: dict[str, Located] = {}

    def mark(m) -> tuple[int, int]:
        return m.line + 1, m.column + 1

    def start(node, pointer: str):
        """A scalar's value, or the empty container a collection fills."""
        if not isinstance(node, yaml.ScalarNode):
            return {} if isinstance(node, yaml.MappingNode) else []
        if node.tag.endswith(":int") and len(node.value.lstrip("+-")) > MAX_INT_DIGITS:
            raise RequestError(_huge_message(pointer, node.value), Span(*mark(node.start_mark)))
        try:
            return constructor.construct_object(node)
        except yaml.YAMLError as error:
            raise RequestError(f"is not a plain YAML request: {getattr(error, 'problem', error)} "
                               f"(line {node.start_mark.line + 1})", Span(*mark(node.start_mark))) from None

    top = start(root, "")
    # (node, its Python container, pointer, key mark)
    work = [(root, top, "", None)]
    count = expansions = 0
    expanded: set[int] = set()
    while work:
        node, target, pointer, key_mark = work.pop()
        count += 1
        is_container = not isinstance(node, yaml.ScalarNode)
        if is_container and id(node) in expanded:
            expansions += 1
        elif is_container:
            expanded.add(id(node))
        if count > MAX_VALUES or expansions > MAX_ALIAS_EXPANSIONS:
            raise RequestError("expands to too many values through YAML aliases; not a request"
                               if expansions else _too_many_values())
        key_start, key_end = key_mark or (None, None)
        positions[pointer] = Located(mark(node.start_mark), mark(node.end_mark), key_start, key_end,
                                     container=is_container)
        if not is_container:
            continue
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    raise RequestError("uses a complex (non-scalar) mapping key; request keys are names",
                                       Span(*mark(key_node.start_mark)))
                key = key_node.value
                child_pointer = pointer_join(pointer, key)
                target[key] = value = start(value_node, child_pointer)
                work.append((value_node, value, child_pointer, (mark(key_node.start_mark), mark(key_node.end_mark))))
        else:
            for index, item_node in enumerate(node.value):
                item_pointer = pointer_join(pointer, index)
                target.append(value := start(item_node, item_pointer))
                work.append((item_node, value, item_pointer, None))
    return top, positions
