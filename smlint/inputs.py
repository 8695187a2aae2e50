"""Reading input files safely: the one place for input size bounds, for
refusing special files, and for naming what a decoded value is.

A FIFO, a device or a socket is never read: `open()` alone blocks on a FIFO
with no writer, and `/dev/zero` never ends. The path is checked with stat,
then opened with O_NONBLOCK (so even a FIFO swapped in opens at once) and
checked again with fstat on the open descriptor, which is what is read. Reading
stops one byte past the bound, so an oversized file costs the bound, not its
size. The bounds are documented in docs/integration.md.
"""
from __future__ import annotations

import os
import stat
from typing import BinaryIO

MIB = 1024 * 1024
# Real Dockerfiles are a few KB (the largest seen, about 50 KB); 1 MiB is far
# past them and keeps the worst lint of an accepted file near 100 MB (a 4 MiB
# one of one-word RUN lines reached 360 MB; bench/attack_bench.py).
MAX_DOCKERFILE_BYTES = 1 * MIB
# The largest valid CreateProcessingJob request is a few hundred KB.
MAX_REQUEST_BYTES = 4 * MIB
# YAML costs far more memory per byte than JSON while it is composed.
MAX_YAML_REQUEST_BYTES = 1 * MIB
MAX_CONFIG_BYTES = 1 * MIB
# No request field or setting takes an integer past int64 (19 digits); Python
# refuses to print one past 4300 digits, so longer ones are refused while parsing.
MAX_INT_DIGITS = 100

_SPECIAL_KINDS = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISDIR, "a directory"),
)


class InputError(Exception):
    """Why a file can't be read: one line, without the file name."""


def _kind(mode: int) -> str | None:
    for test, name in _SPECIAL_KINDS:
        if test(mode):
            return name
    return None if stat.S_ISREG(mode) else "not a regular file"


def too_big(size: int, limit: int) -> str:
    return f"is larger than {limit / MIB:g} MiB ({size / MIB:.1f} MiB or more); smlint reads at most {limit / MIB:g} MiB"


def read_bounded(path: str, limit: int, what: str = "file") -> bytes:
    """The bytes of the regular file at `path`, at most `limit` of them, or
    InputError (not found, unreadable, special, too big)."""
    try:
        kind = _kind(os.stat(path).st_mode)  # a socket can't even be opened: say what it is
        if kind is not None:
            raise InputError(f"is {kind}, not a {what}; not read")
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        raise InputError("no such file") from None
    except IsADirectoryError:
        raise InputError(f"is a directory, not a {what}") from None
    except PermissionError:
        raise InputError("permission denied") from None
    except OSError as error:
        raise InputError(f"cannot read: {error.strerror or error}") from None
    try:
        kind = _kind(os.fstat(descriptor).st_mode)
    except OSError:
        kind = "not a regular file"
    if kind is not None:
        os.close(descriptor)
        raise InputError(f"is {kind}, not a {what}; not read")
    with os.fdopen(descriptor, "rb") as handle:
        return read_stream(handle, limit)


def read_stream(handle: BinaryIO, limit: int) -> bytes:
    """At most `limit` bytes of an open stream (standard input too), or InputError."""
    try:
        data = handle.read(limit + 1)
    except OSError as error:
        raise InputError(f"cannot read: {error.strerror or error}") from None
    if len(data) > limit:
        raise InputError(too_big(len(data), limit))
    return data


def json_kind(value: object) -> str:
    """What a decoded JSON/YAML value is, in JSON-schema words ("an array")."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    if value is None:
        return "null"
    return f"a {type(value).__name__}"
