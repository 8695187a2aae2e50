"""Map image facts back to the Dockerfile line that caused them (`--dockerfile`).

What can be known: the final stage's last ENTRYPOINT/CMD/USER, the ENV that set
a variable, and which RUN/COPY/ADD made a layer: each of those makes one
layer, so the image's last N layers are the final stage's N layer-making
instructions, in order, and anything older came with the FROM line.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..dockerfile.parser import Instruction, parse
from ..findings import Span

LAYER_MAKERS = ("RUN", "COPY", "ADD")


@dataclass
class DockerfileMap:
    path: str
    lines: list[str]
    stage: list[Instruction] = field(default_factory=list)  # the final stage, FROM first

    @classmethod
    def read(cls, path: str) -> "DockerfileMap":
        """Raises OSError/ValueError (a DockerfileError too) when the file cannot be used."""
        from ..inputs import MAX_DOCKERFILE_BYTES, InputError, read_bounded

        try:
            raw = read_bounded(path, MAX_DOCKERFILE_BYTES, "Dockerfile")  # a FIFO never blocks
        except InputError as error:
            raise ValueError(str(error)) from None
        if b"\0" in raw:
            raise ValueError("binary file (a NUL byte), not a Dockerfile")
        text = raw.decode("utf-8", "replace")
        steps = parse(text).instructions  # the one parser: heredocs, `# escape=`
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


def _span(step: Instruction) -> Span:
    return Span(step.line, 1, step.end_line if step.end_line != step.line else None, None)
