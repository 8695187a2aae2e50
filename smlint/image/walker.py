"""Read one layer tar, once, front to back, without extracting anything.

A layer yields a `LayerScan`: its own entry list (whiteouts kept as entries,
because they only mean something against the layers below) and the few file
samples the rules need. Composition of layers into the final filesystem lives
in `view.py`; it needs only these lists, so a layer can be cached on its own.

Safety bounds, because layers come from strangers:
- names are normalised to absolute paths; a name that climbs out of the root
  (`../../etc/passwd`) is an error (Docker refuses such layers too);
- content is read only for samples, each read bounded (`_SAMPLE_LIMITS`);
  an RPM sqlite database is copied (bounded) into a private temporary
  directory, removed when the layer is done, and read there read-only;
- compressed layers are decompressed through a counting reader that stops a
  decompression bomb (ratio and size bound, streams.py);
- the entries and the path text of all layers of one image are bounded
  (`Budget`), and with a diff id to check every byte is hashed.
"""
from __future__ import annotations

import tarfile
import zlib
from dataclasses import dataclass, field
from typing import BinaryIO, Callable

from .rpmdb import RPMDB_FILES, RpmDatabases
from .streams import ForwardReader, Hashing, LayerError, digest_mismatch, open_layer_stream, seekable
from .tarheaders import FastTarInfo

# Entry kinds (one letter keeps the cache small).
FILE, DIR, SYMLINK, HARDLINK, OTHER, WHITEOUT, OPAQUE = "f", "d", "l", "h", "o", "w", "q"

PASSWD = "/etc/passwd"
DPKG_STATUS = "/var/lib/dpkg/status"
DPKG_STATUS_D = "/var/lib/dpkg/status.d/"
APK_INSTALLED = "/lib/apk/db/installed"

SHEBANG_BYTES = 256
# Shell scripts: whether the text runs `exec PROGRAM` or traps INT/TERM (SM207).
# Bounds per layer: at most SCRIPTS_PER_LAYER scripts and SCRIPT_LAYER_BYTES
# read for them, each at most SCRIPT_BYTES; past them the verdict is unknown.
SCRIPT_EXECS, SCRIPT_TRAPS, SCRIPT_NEITHER, SCRIPT_UNKNOWN = "exec", "trap", "none", "?"
SCRIPT_BYTES = 64 << 10
SCRIPTS_PER_LAYER = 256
SCRIPT_LAYER_BYTES = 4 << 20
_SAMPLE_LIMITS = {PASSWD: 4 << 20, DPKG_STATUS: 256 << 20, APK_INSTALLED: 64 << 20}
_STATUS_D_LIMIT = 1 << 20
# What all layers of one image may hold, counted over every layer read or
# taken from the cache: the memory bound (docs/image.md gives the figures).
# Real images hold a few hundred thousand files with paths of about 80
# bytes; an image past either bound is SM001, not a slow death.
MAX_ENTRIES = 1_000_000
MAX_TEXT_BYTES = 96 << 20  # path and link text


@dataclass
class LayerScan:
    """One layer's own entries and samples.

    entries: (path, kind, mode, size, link) tuples in tar order; `link` is a
    symlink's target text or a hard link's (normalised) target path.
    samples: path -> value: the `#!` line (bytes) of an executable file; for
    a shell script (a shell `#!` line, or a name ending in `.sh`) the tuple
    (`#!` line or None, verdict), the verdict one of SCRIPT_EXECS,
    SCRIPT_TRAPS, SCRIPT_NEITHER, SCRIPT_UNKNOWN (see `_script_verdict`); or
    [name, uid] pairs from /etc/passwd; package names from package databases.
    size: bytes of the uncompressed layer tar (what `docker images` adds up).
    """

    entries: list = field(default_factory=list)
    samples: dict = field(default_factory=dict)
    size: int = 0

    def to_plain(self) -> dict:
        return {"entries": self.entries, "samples": self.samples, "size": self.size}

    @classmethod
    def from_plain(cls, data: dict) -> "LayerScan":
        return cls([tuple(e) for e in data["entries"]], dict(data["samples"]), int(data["size"]))


def normalise(name: str) -> str:
    """A tar member name as an absolute path inside the image; LayerError if it
    climbs out of the root."""
    parts: list[str] = []
    for part in name.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                raise LayerError(f"member name escapes the image root: {name!r}")
            parts.pop()
            continue
        parts.append(part)
    return "/" + "/".join(parts)


# --- the walk -----------------------------------------------------------------

class TooManyEntries(LayerError):
    """The image holds more than smlint's memory bound."""


class Budget:
    """What the layers of one image may still hold (MAX_ENTRIES, MAX_TEXT_BYTES)."""

    def __init__(self) -> None:
        self.entries, self.text = MAX_ENTRIES, MAX_TEXT_BYTES

    def charge(self, path: str, link: str) -> None:
        self.entries -= 1
        self.text -= len(path) + len(link)
        if self.entries < 0 or self.text < 0:
            raise TooManyEntries(f"more than {MAX_ENTRIES:,} entries or {MAX_TEXT_BYTES >> 20} MiB of file names "
                                 f"in the image's layers (smlint's memory bound)")

    def charge_scan(self, scan: "LayerScan") -> None:
        for path, _, _, _, link in scan.entries:
            self.charge(path, link)


def walk_layer(raw: BinaryIO, progress: Callable[[int], None] | None = None, diff_id: str | None = None,
               budget: Budget | None = None) -> LayerScan:
    """Scan one layer tar (plain, gzip or zstd) from `raw`. Raises LayerError.

    With `diff_id` ("sha256:HEX"), the uncompressed tar is hashed as it is
    read, to its very end, and a different digest is a LayerError: the scan
    of a layer that is not what its image config claims is never returned
    (so never cached under that claim). `budget`: what the image's layers
    may still hold (each entry is charged; TooManyEntries past it).
    """
    if not diff_id:
        return _walk(raw, progress, None, budget)[0]
    scan, actual = _walk(raw, progress, diff_id.partition(":")[0], budget)
    if actual != diff_id:
        raise LayerError(digest_mismatch(actual, diff_id))
    return scan


def walk_hashed(raw: BinaryIO, algorithm: str = "sha256", progress: Callable[[int], None] | None = None,
                budget: Budget | None = None) -> tuple[LayerScan, str]:
    """(scan, "ALGORITHM:HEX" digest of the uncompressed tar, read to its end)."""
    return _walk(raw, progress, algorithm, budget)


def _walk(raw: BinaryIO, progress, algorithm: str | None, budget: Budget | None) -> tuple[LayerScan, str | None]:
    budget = budget or Budget()
    stream, compressed = open_layer_stream(raw)
    hashing = None
    if algorithm:
        hashing = Hashing(stream, algorithm + ":")
        stream = ForwardReader(hashing.read)  # every byte passes the hash, none is seeked over
    elif compressed or not seekable(stream):
        # Random-access mode everywhere: on a seekable file skipping data is a
        # real seek; on a stream (gzip, a socket) ForwardReader skips forward.
        stream = ForwardReader(stream.read)
    start = stream.tell()
    try:
        tar = tarfile.open(fileobj=stream, mode="r:", tarinfo=FastTarInfo)
    except tarfile.ReadError as error:
        raise LayerError(f"not a tar archive ({error})") from None
    scan = LayerScan()
    rpmdbs = RpmDatabases()
    scripts = _ScriptBudget()
    try:
        while True:
            member = tar.next()
            if member is None:
                break
            tar.members.clear()  # tarfile keeps every header otherwise
            _record(tar, member, scan, rpmdbs, scripts)
            path, _, _, _, link = scan.entries[-1]
            budget.charge(path, link)
            if progress:
                progress(tar.offset)
        scan.size = tar.offset - start
        if hashing:
            hashing.drain()
        rpmdbs.read_into(scan)
    except LayerError:
        raise
    except (tarfile.TarError, EOFError, OSError, zlib.error, ValueError) as error:
        raise LayerError(f"corrupt or truncated layer tar ({error or type(error).__name__})") from None
    finally:
        rpmdbs.close()
    return scan, hashing.value if hashing else None


def _record(tar: tarfile.TarFile, member: tarfile.TarInfo, scan: LayerScan, rpmdbs: "RpmDatabases",
            budget: "_ScriptBudget") -> None:
    path = normalise(member.name)
    directory, _, base = path.rpartition("/")
    directory = directory or "/"
    if base == ".wh..wh..opq":
        scan.entries.append((directory, OPAQUE, 0, 0, ""))
        return
    if base.startswith(".wh."):
        scan.entries.append((_join(directory, base[4:]), WHITEOUT, 0, 0, ""))
        return
    mode = _MODES.setdefault(member.mode & 0o7777, member.mode & 0o7777)  # one int object per mode, not per file
    if member.isreg():
        scan.entries.append((path, FILE, mode, member.size, ""))
        if path in RPMDB_FILES:
            rpmdbs.copy(tar, member, *RPMDB_FILES[path])
        else:
            _sample(tar, member, path, mode, scan, budget)
    elif member.isdir():
        scan.entries.append((path, DIR, mode, 0, ""))
    elif member.issym():
        scan.entries.append((path, SYMLINK, mode, 0, member.linkname))
    elif member.islnk():
        target = normalise(member.linkname)
        scan.entries.append((path, HARDLINK, mode, 0, target))
        if target in scan.samples:
            scan.samples[path] = scan.samples[target]
        rpmdbs.link(path, target)
    else:
        scan.entries.append((path, OTHER, mode, 0, ""))


_MODES: dict[int, int] = {}


def _join(directory: str, name: str) -> str:
    return directory.rstrip("/") + "/" + name


def _sample(tar: tarfile.TarFile, member: tarfile.TarInfo, path: str, mode: int, scan: LayerScan,
            budget: "_ScriptBudget") -> None:
    """Read the few contents rules need; every read is bounded."""
    if path == PASSWD:
        scan.samples[path] = _passwd_users(_read(tar, member, _SAMPLE_LIMITS[PASSWD]))
    elif path == DPKG_STATUS:
        scan.samples[path] = _dpkg_installed(_lines(tar, member, _SAMPLE_LIMITS[DPKG_STATUS]))
    elif path.startswith(DPKG_STATUS_D):
        scan.samples[path] = _dpkg_installed(_lines(tar, member, _STATUS_D_LIMIT), status_required=False)
    elif path == APK_INSTALLED:
        scan.samples[path] = _apk_installed(_lines(tar, member, _SAMPLE_LIMITS[APK_INSTALLED]))
    elif path.endswith(".sh") or (mode & 0o111 and member.size >= 2):
        handle = tar.extractfile(member)
        head = handle.read(min(SHEBANG_BYTES, member.size)) if handle else b""
        line = head.split(b"\n", 1)[0] if head.startswith(b"#!") else None
        if line is not None and not path.endswith(".sh") and not shebang_shell(line.decode("utf-8", "replace")):
            scan.samples[path] = line
        elif line is not None or path.endswith(".sh"):
            scan.samples[path] = (line, budget.verdict(head, handle, member.size))


class _ScriptBudget:
    """Bounds the script text one layer reads and parses (SM207)."""

    def __init__(self) -> None:
        self.scripts, self.bytes = SCRIPTS_PER_LAYER, SCRIPT_LAYER_BYTES

    def verdict(self, head: bytes, handle, size: int) -> str:
        if self.scripts <= 0 or self.bytes <= 0 or handle is None:
            return SCRIPT_UNKNOWN
        wanted = min(size, SCRIPT_BYTES, self.bytes)
        data = head + handle.read(max(0, wanted - len(head)))
        self.scripts -= 1
        self.bytes -= len(data)
        return _script_verdict(data.decode("utf-8", "replace"), complete=len(data) >= size)


def shebang_shell(line: str) -> str:
    """The shell a `#!` line names (`#!/bin/sh`, `#!/usr/bin/env bash`), or ""."""
    from ..dockerfile.shell import shebang_shell as read  # loaded only when a script is met

    return read(line)


def _script_verdict(text: str, complete: bool) -> str:
    """SCRIPT_EXECS when every path's job is `exec`'d (or the script runs no
    job), SCRIPT_TRAPS when it traps INT/TERM and waits on the job in the
    background, else SCRIPT_NEITHER + ":" + every path at fault with its fix;
    SCRIPT_UNKNOWN for a text cut short or not parsed. No shell execs a
    script file's last command itself, so the verdict holds for any /bin/sh."""
    if not complete:
        return SCRIPT_UNKNOWN
    from ..dockerfile.shell_flow import forwards_signals
    from ..dockerfile.shell_questions import left_running, left_running_text, parse_or_none

    tree = parse_or_none(text)
    if tree is None:
        return SCRIPT_UNKNOWN
    if forwards_signals(tree):
        return SCRIPT_TRAPS
    found = left_running(tree, "", c_mode=False)
    return f"{SCRIPT_NEITHER}:{left_running_text(found, offer_trap=True)}" if found else SCRIPT_EXECS


def _read(tar: tarfile.TarFile, member: tarfile.TarInfo, limit: int) -> bytes:
    handle = tar.extractfile(member)
    return handle.read(min(limit, member.size)) if handle else b""


def _lines(tar: tarfile.TarFile, member: tarfile.TarInfo, limit: int):
    handle = tar.extractfile(member)
    if handle is None:
        return
    left = limit
    for line in handle:
        left -= len(line)
        if left < 0:
            return
        yield line.decode("utf-8", "replace")


def _passwd_users(data: bytes) -> list[list]:
    """[name, uid or None] of each /etc/passwd entry."""
    users = []
    for line in data.decode("utf-8", "replace").splitlines():
        fields = line.split(":")
        name = fields[0].strip()
        if name and not name.startswith("#"):
            uid = fields[2].strip() if len(fields) > 2 else ""
            users.append([name, int(uid) if uid.isdigit() else None])
    return users


def _dpkg_installed(lines, status_required: bool = True) -> list[str]:
    """Names of installed packages from a dpkg status file (stanza by stanza)."""
    installed, package, status = [], None, None

    def flush():
        if package and (status is None and not status_required or (status or "").endswith(" installed")):
            installed.append(package)

    for line in lines:
        line = line.rstrip("\r\n")
        if not line.strip():
            flush()
            package, status = None, None
        elif line.startswith("Package:"):
            package = line.split(":", 1)[1].strip()
        elif line.startswith("Status:"):
            status = line.split(":", 1)[1].strip()
    flush()
    return installed


def _apk_installed(lines) -> list[str]:
    return [line[2:].strip() for line in lines if line.startswith("P:")]
