"""Reading PID 1's signal disposition from `/proc/<pid>/status` text.

In a PID namespace, PID 1 only receives the signals it has a handler for
(contract section 2): a signal that is neither caught nor blocked-and-waited
for is dropped, whatever its default action. So "handled" here means caught
(SigCgt) or blocked (SigBlk, the sigwait style); everything else is ignored
in practice, and SigIgn says it was ignored on purpose.
"""
from __future__ import annotations

import os
import signal
from dataclasses import dataclass

from ..argv import INITS, SHELLS  # noqa: F401 (INITS: tini waits in sigtimedwait, which hides its blocked set)


@dataclass(frozen=True)
class Disposition:
    caught: bool
    blocked: bool
    ignored: bool

    @property
    def handled(self) -> bool:
        return self.caught or self.blocked

    def describe(self) -> str:
        if self.caught:
            return "caught (handler installed)"
        if self.blocked:
            return "blocked (waited for with sigwait)"
        if self.ignored:
            return "ignored (SIG_IGN)"
        return "default action, which PID 1 never gets: ignored in practice"


@dataclass(frozen=True)
class SignalMasks:
    caught: int
    blocked: int
    ignored: int

    def disposition(self, signum: int) -> Disposition:
        bit = 1 << (signum - 1)
        return Disposition(bool(self.caught & bit), bool(self.blocked & bit), bool(self.ignored & bit))

    def as_dict(self) -> dict[str, str]:
        return {"SigCgt": f"{self.caught:016x}", "SigBlk": f"{self.blocked:016x}", "SigIgn": f"{self.ignored:016x}"}


def parse_status(text: str) -> SignalMasks:
    fields = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    try:
        return SignalMasks(int(fields["SigCgt"], 16), int(fields["SigBlk"], 16), int(fields["SigIgn"], 16))
    except (KeyError, ValueError):
        raise ValueError("no SigCgt/SigBlk/SigIgn lines in the status text") from None


def parse_cmdline(raw: bytes) -> list[str]:
    return [part.decode("utf-8", "replace") for part in raw.rstrip(b"\0").split(b"\0")] if raw.strip(b"\0") else []


def program(argv: list[str]) -> str:
    return os.path.basename(argv[0]) if argv else ""


def is_shell(argv: list[str]) -> bool:
    """`sh -c ...`, `/bin/bash script`, and busybox's `sh` applet."""
    name = program(argv)
    if name == "busybox" and len(argv) > 1:
        name = os.path.basename(argv[1])
    return name in SHELLS


def is_init(argv: list[str]) -> bool:
    return program(argv) in INITS


SIGNALS = {"SIGINT": signal.SIGINT, "SIGTERM": signal.SIGTERM}
