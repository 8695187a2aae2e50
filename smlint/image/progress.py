"""A one-line progress display on stderr: only on a terminal, only after 1 s."""
from __future__ import annotations

import sys
import time



class Progress:
    """Receives scan progress; the CLI draws it, the library stays silent."""

    def start(self, layers: int, total_bytes: int = 0) -> None: ...

    def advance(self, layers_done: int, bytes_done: int) -> None: ...

    def finish(self) -> None: ...


class TerminalProgress(Progress):
    DELAY = 1.0  # quick scans show nothing
    INTERVAL = 0.1

    def __init__(self, label: str, stream=None) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.began = time.monotonic()
        self.last_draw = 0.0
        self.layers = 0
        self.total_bytes = 0
        self.drawn = False

    @classmethod
    def wanted(cls, stream=None) -> bool:
        stream = stream or sys.stderr
        return hasattr(stream, "isatty") and stream.isatty()

    def start(self, layers: int, total_bytes: int = 0) -> None:
        self.layers, self.total_bytes = layers, total_bytes

    def advance(self, layers_done: int, bytes_done: int) -> None:
        now = time.monotonic()
        if now - self.began < self.DELAY or now - self.last_draw < self.INTERVAL:
            return
        self.last_draw = now
        total = f"/{self.total_bytes / 1e6:,.0f}" if self.total_bytes else ""
        line = f"\r{self.label}: layer {min(layers_done + 1, self.layers)}/{self.layers}, {bytes_done / 1e6:,.0f}{total} MB"
        self.stream.write(line[:200] + "\033[K")
        self.stream.flush()
        self.drawn = True

    def finish(self) -> None:
        if self.drawn:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self.drawn = False
