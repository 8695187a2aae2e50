"""Map image facts back to the Dockerfile line that caused them (`--dockerfile`).

What can be known: the final stage's last ENTRYPOINT/CMD/USER, the ENV that set
a variable, and which RUN/COPY/ADD made a layer: each of those makes one
layer, so the image's last N layers are the final stage's N layer-making
instructions, in order, and anything older came with the FROM line.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..findings import Span

LAYER_MAKERS = ("RUN", "COPY", "ADD")


@dataclass(frozen=True)
class Step:
    keyword: str
    line: int
    end_line: int
    args: str


@dataclass
class DockerfileMap:
    path: str
    lines: list[str]
    stage: list[Step] = field(default_factory=list)  # the final stage, FROM first

    @classmethod
    def read(cls, path: str) -> "DockerfileMap":
        """Raises OSError/ValueError when the file cannot be used."""
        from ..inputs import MAX_DOCKERFILE_BYTES, InputError, read_bounded

        try:
            raw = read_bounded(path, MAX_DOCKERFILE_BYTES, "Dockerfile")  # a FIFO never blocks
        except InputError as error:
            raise ValueError(str(error)) from None
        if b"\0" in raw:
            raise ValueError("binary file (a NUL byte), not a Dockerfile")
        text = raw.decode("utf-8", "replace")
        steps = _instructions(text)
        froms = [i for i, s in enumerate(steps) if s.keyword == "FROM"]
        if not froms:
            raise ValueError("no FROM instruction: not a Dockerfile")
        lines = text.split("\n")
        return cls(path, [line.rstrip("\r") for line in lines], steps[froms[-1]:])

    def last(self, *keywords: str) -> Span | None:
        for step in reversed(self.stage):
            if step.keyword in keywords:
                return _span(step)
        return None

    def env(self, key: str) -> Span | None:
        pattern = re.compile(rf"(^|\s){re.escape(key)}(=|\s)")
        for step in reversed(self.stage):
            if step.keyword in ("ENV", "ARG") and pattern.search(step.args):
                return _span(step)
        return None

    def layer(self, index: int, layer_count: int) -> Span | None:
        """The instruction that made layer `index` (0-based) of `layer_count`."""
        makers = [s for s in self.stage if s.keyword in LAYER_MAKERS]
        if len(makers) > layer_count:
            return None  # the image was not built from this Dockerfile as is
        first_own = layer_count - len(makers)
        if index >= first_own:
            return _span(makers[index - first_own])
        return _span(self.stage[0])  # the base image's layers


def _span(step: Step) -> Span:
    return Span(step.line, 1, step.end_line if step.end_line != step.line else None, None)


def _instructions(text: str) -> list[Step]:
    try:  # the project's own parser knows heredocs and `# escape=`
        from ..dockerfile.parser import parse

        return [Step(i.keyword, i.line, i.end_line, i.args) for i in parse(text).instructions]
    except ImportError:
        return _scan(text)
    except Exception:
        return _scan(text)


def _scan(text: str) -> list[Step]:
    """A plain scan: continuation lines joined, comments skipped."""
    steps: list[Step] = []
    lines = text.replace("\r\n", "\n").split("\n")
    number = 0
    while number < len(lines):
        line = lines[number]
        start = number
        number += 1
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        parts = [stripped]
        while parts[-1].endswith("\\") and number < len(lines):
            parts[-1] = parts[-1][:-1]
            following = lines[number].strip()
            number += 1
            if following.startswith("#"):
                continue
            parts.append(following)
        keyword, _, args = " ".join(parts).partition(" ")
        steps.append(Step(keyword.upper(), start + 1, number, args.strip()))
    return steps
