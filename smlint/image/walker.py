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
  decompression bomb (ratio and size bound), and the entry count is bounded.
"""
from __future__ import annotations

import io
import os
import re
import struct
import sys
import tarfile
import zlib
from dataclasses import dataclass, field
from typing import BinaryIO, Callable

# Entry kinds (one letter keeps the cache small).
FILE, DIR, SYMLINK, HARDLINK, OTHER, WHITEOUT, OPAQUE = "f", "d", "l", "h", "o", "w", "q"

PASSWD = "/etc/passwd"
DPKG_STATUS = "/var/lib/dpkg/status"
DPKG_STATUS_D = "/var/lib/dpkg/status.d/"
APK_INSTALLED = "/lib/apk/db/installed"
# RPM 4.16+ (Amazon Linux 2023, RHEL/Rocky/Alma 9, Fedora 33+); Fedora 36+
# keeps it under /usr/lib/sysimage with /var/lib/rpm a symlink there.
# BerkeleyDB (`Packages`) and NDB (`Packages.db`) databases are not read.
RPMDB_SQLITE = ("/var/lib/rpm/rpmdb.sqlite", "/usr/lib/sysimage/rpm/rpmdb.sqlite")

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
_RPMDB_LIMIT = 256 << 20  # each of rpmdb.sqlite and its -wal; a large image's is 10-60 MB
_RPMDB_SECONDS = 60  # bound on the time sqlite may spend on one database
# rpmdb file path -> (database path, "" for the database or "-wal" for its log)
_RPMDB_FILES = {path + suffix: (path, suffix) for path in RPMDB_SQLITE for suffix in ("", "-wal")}
MAX_ENTRIES = 5_000_000
BOMB_MIN_BYTES = 256 << 20  # never call a layer a bomb below this much output
BOMB_RATIO = 200  # real layers compress far less than 200:1
_CHUNK = 1 << 20
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_ZSTD_PIECE, _ZSTD_WRITE = 256, 32 << 10  # see _Unzstd


class LayerError(Exception):
    """The layer cannot be read: corrupt, truncated, hostile. One-line reason."""


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


# --- decompression ------------------------------------------------------------

class _Frames(io.RawIOBase):
    """Forward-only decompression of concatenated frames (gzip members, zstd
    frames) with the bomb guard; a subclass says how one frame is read.

    Input is read from `raw` and handed to the frame's decompressor in
    pieces of at most _CHUNK bytes; each call gives a bounded amount of
    output (about _CHUNK), which is counted against the compressed bytes
    consumed (`_check_bomb`) before any of it is handed on. Input the
    decompressor did not consume (after a frame's end, or held back at its
    output limit) is put back. NUL padding between frames is skipped; input
    that ends inside a frame is "truncated". Memory stays bounded (see _Unzstd).
    """

    kind = ""  # "gzip", "zstd": for messages
    errors: tuple = ()  # the library's exceptions for corrupt data

    def __init__(self, raw: BinaryIO, head: bytes) -> None:
        self.raw = raw
        self.input, self.offset = head, 0  # read, not yet handed on: input[offset:]
        self.count = 0  # compressed bytes consumed
        self.out = 0  # decompressed bytes produced
        self.output, self.position = b"", 0  # produced, not yet read: output[position:]
        self.frame = None  # the current frame's decompressor; None between frames
        self.done = False

    def readable(self) -> bool:
        return True

    # One frame, per format: subclasses override these.
    def _new_frame(self):
        raise NotImplementedError

    def _decompress(self, frame, data) -> tuple[bytes, bytes]:
        """(output, at most about _CHUNK bytes; the tail of `data` not consumed)."""
        raise NotImplementedError

    def _more(self, frame) -> bool:
        """Whether output is waiting that needs no more input."""
        return False

    def _flush(self, frame) -> bytes:
        """Output still held when the input has ended."""
        return b""

    def readinto(self, buffer) -> int:
        while self.position >= len(self.output):
            if self.done:
                return 0
            self.output, self.position = self._produce(), 0
            self._check_bomb(len(self.output))
        n = min(len(buffer), len(self.output) - self.position)
        buffer[:n] = memoryview(self.output)[self.position:self.position + n]
        self.position += n
        return n

    def _produce(self) -> bytes:
        """The next output (maybe b""); sets `done` at the end of the stream."""
        waiting = self.frame is not None and self._more(self.frame)
        data = b"" if waiting else self._take()
        try:
            if not data and not waiting:  # the input has ended
                self.done = True
                if self.frame is None:
                    return b""
                out = self._flush(self.frame)
                if not self.frame.eof:
                    raise LayerError(f"{self.kind} stream is truncated")
                return out
            if self.frame is None:
                self.frame = self._new_frame()
            out, rest = self._decompress(self.frame, data)
        except self.errors as error:
            raise LayerError(f"corrupt {self.kind} data: {error}") from None
        self.count += len(data)
        if rest:
            self._unread(rest)
        if self.frame.eof:
            self.frame = None
        return out

    def _take(self):
        """Up to _CHUNK bytes of input (b"" at its end); between frames,
        NUL padding is skipped."""
        while True:
            if self.offset >= len(self.input):
                self.input, self.offset = self.raw.read(_CHUNK), 0
                if not self.input:
                    return b""
            if self.frame is None:
                found = _NOT_NUL.search(self.input, self.offset)
                self.offset = found.start() if found else len(self.input)
                if not found:
                    continue
            start = self.offset
            self.offset = min(start + _CHUNK, len(self.input))
            return memoryview(self.input)[start:self.offset]

    def _unread(self, rest) -> None:
        # `rest` is a tail of the last piece taken from self.input, which is
        # only refilled once it is used up.
        if len(rest) <= self.offset:
            self.offset -= len(rest)
        else:
            self.input, self.offset = bytes(rest) + self.input[self.offset:], 0
        self.count -= len(rest)

    def _check_bomb(self, produced: int) -> None:
        self.out += produced
        if self.out > BOMB_MIN_BYTES and self.out > BOMB_RATIO * max(self.count, 1):
            raise LayerError(
                f"decompression bomb: {self.count:,} compressed bytes expand beyond "
                f"{self.out:,} bytes (more than {BOMB_RATIO}:1); refusing to read on"
            )


_NOT_NUL = re.compile(rb"[^\0]")


class _Gunzip(_Frames):
    """gzip (multi-member)."""

    kind, errors = "gzip", (zlib.error,)

    def _new_frame(self):
        return zlib.decompressobj(31)

    def _decompress(self, frame, data):
        out = frame.decompress(data, _CHUNK)
        return out, frame.unused_data if frame.eof else frame.unconsumed_tail

    def _flush(self, frame) -> bytes:
        return frame.flush()  # a few KiB at most: the input is all consumed


class _StdlibUnzstd(_Frames):
    """zstd through the standard library (Python 3.14+): output bounded by
    max_length, one decompressor per frame."""

    kind = "zstd"

    def __init__(self, raw: BinaryIO, head: bytes, module) -> None:
        super().__init__(raw, head)
        self.module, self.errors = module, (module.ZstdError,)

    def _new_frame(self):
        return self.module.ZstdDecompressor()

    def _decompress(self, frame, data):
        out = frame.decompress(data, _CHUNK)
        return out, frame.unused_data  # b"" until the frame ends

    def _more(self, frame) -> bool:
        return not frame.needs_input and not frame.eof


class _Unzstd(_Frames):
    """zstd through python-zstandard. Its decompressobj returns all output
    for the input it is given, and a zstd block of 4 bytes can expand to
    128 KiB (RLE), so input goes in in pieces of _ZSTD_PIECE bytes (at most
    about 8 MiB of output each) until about _CHUNK bytes of output are there
    for the bomb guard to count."""

    kind = "zstd"

    def __init__(self, raw: BinaryIO, head: bytes, module) -> None:
        super().__init__(raw, head)
        self.context, self.errors = module.ZstdDecompressor(), (module.ZstdError,)

    def _new_frame(self):
        return self.context.decompressobj(write_size=_ZSTD_WRITE)  # one frame: .eof, .unused_data

    def _decompress(self, frame, data):
        outs, total, start = [], 0, 0
        while start < len(data) and total < _CHUNK:
            end = start + _ZSTD_PIECE
            out = frame.decompress(data[start:end])
            outs.append(out)
            total += len(out)
            if frame.eof:
                end = min(end, len(data)) - len(frame.unused_data)
                start = end
                break
            start = end
        return b"".join(outs), data[start:]


def _zstd_reader(raw: BinaryIO, head: bytes) -> _Frames:
    """The zstd reader; its library is imported only now, when a zstd layer
    is met: the standard library's on Python 3.14+, else python-zstandard."""
    if sys.version_info >= (3, 14):
        try:
            from compression import zstd
        except ImportError:  # a Python built without libzstd
            pass
        else:
            return _StdlibUnzstd(raw, head, zstd)
    try:
        import zstandard
    except ImportError:
        raise LayerError(
            "zstd-compressed layer: reading it needs the zstandard package (pip install zstandard)"
        ) from None
    return _Unzstd(raw, head, zstandard)


def open_layer_stream(raw: BinaryIO) -> tuple[BinaryIO, bool]:
    """(uncompressed stream, was it compressed), sniffing the magic bytes."""
    head = raw.read(4)
    if head[:2] == b"\x1f\x8b":
        return io.BufferedReader(_Gunzip(raw, head), _CHUNK), True
    if head == _ZSTD_MAGIC:
        return io.BufferedReader(_zstd_reader(raw, head), _CHUNK), True
    if hasattr(raw, "seek") and _seekable(raw):
        raw.seek(-len(head), io.SEEK_CUR)
        return raw, False
    return io.BufferedReader(_Prefixed(head, raw), _CHUNK), False


def _seekable(raw) -> bool:
    try:
        return raw.seekable()
    except Exception:
        return False


class _Prefixed(io.RawIOBase):
    def __init__(self, head: bytes, raw: BinaryIO) -> None:
        self.head, self.raw = head, raw

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self.head:
            n = min(len(buffer), len(self.head))
            buffer[:n] = self.head[:n]
            self.head = self.head[n:]
            return n
        data = self.raw.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class ForwardReader:
    """A forward-only stream that tarfile may open in random-access mode.

    tarfile's own stream mode (`r|`) copies its whole read buffer on every
    512-byte header read; in `r:` mode it only seeks forward and reads, so
    skipping file data here costs no copies at all. `source` is a callable
    returning the next bytes (any length; b"" at the end).
    """

    def __init__(self, source: Callable[[int], bytes]) -> None:
        self.source, self.buffer, self.offset, self.position = source, b"", 0, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def _refill(self, wanted: int) -> bool:
        self.buffer, self.offset = self.source(min(max(wanted, _CHUNK), 4 * _CHUNK)), 0
        return bool(self.buffer)

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = 1 << 62
        parts = []
        while size > 0:
            available = len(self.buffer) - self.offset
            if available <= 0:
                if not self._refill(size):
                    break
                continue
            take = min(available, size)
            parts.append(self.buffer[self.offset:self.offset + take])
            self.offset += take
            self.position += take
            size -= take
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def seek(self, target: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_CUR:
            target += self.position
        elif whence != io.SEEK_SET:
            raise io.UnsupportedOperation("seek from the end of a stream")
        if target < self.position:
            back = self.position - target
            if back > self.offset:
                raise io.UnsupportedOperation("cannot seek backwards in a stream")
            self.offset -= back
            self.position = target
            return target
        skip = target - self.position
        while skip > 0:
            available = len(self.buffer) - self.offset
            if available <= 0:
                if not self._refill(skip):
                    break  # past the end: the next read finds nothing
                continue
            take = min(available, skip)
            self.offset += take
            self.position += take
            skip -= take
        return self.position

    def close(self) -> None:
        pass


# --- the walk -----------------------------------------------------------------

def walk_layer(raw: BinaryIO, progress: Callable[[int], None] | None = None) -> LayerScan:
    """Scan one layer tar (plain, gzip or zstd) from `raw`. Raises LayerError."""
    stream, compressed = open_layer_stream(raw)
    # Random-access mode everywhere: on a seekable file skipping data is a
    # real seek; on a stream (gzip, a socket) ForwardReader skips forward.
    if compressed or not _seekable(stream):
        stream = ForwardReader(stream.read)
    start = stream.tell()
    try:
        tar = tarfile.open(fileobj=stream, mode="r:")
    except tarfile.ReadError as error:
        raise LayerError(f"not a tar archive ({error})") from None
    scan = LayerScan()
    rpmdbs = _RpmDatabases()
    budget = _ScriptBudget()
    try:
        while True:
            member = tar.next()
            if member is None:
                break
            tar.members.clear()  # tarfile keeps every header otherwise
            _record(tar, member, scan, rpmdbs, budget)
            if len(scan.entries) > MAX_ENTRIES:
                raise LayerError(f"more than {MAX_ENTRIES:,} entries in one layer")
            if progress:
                progress(tar.offset)
        rpmdbs.read_into(scan)
        scan.size = tar.offset - start
    except LayerError:
        raise
    except (tarfile.TarError, EOFError, OSError, zlib.error, ValueError) as error:
        raise LayerError(f"corrupt or truncated layer tar ({error or type(error).__name__})") from None
    finally:
        rpmdbs.close()
    return scan


def _record(tar: tarfile.TarFile, member: tarfile.TarInfo, scan: LayerScan, rpmdbs: "_RpmDatabases",
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
    mode = member.mode & 0o7777
    if member.isreg():
        scan.entries.append((path, FILE, mode, member.size, ""))
        if path in _RPMDB_FILES:
            rpmdbs.copy(tar, member, *_RPMDB_FILES[path])
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
    background, else SCRIPT_NEITHER + ":" + the command and branch at fault
    + newline + the fix;
    SCRIPT_UNKNOWN for a text cut short or not parsed. No shell execs a
    script file's last command itself, so the verdict holds for any /bin/sh."""
    if not complete:
        return SCRIPT_UNKNOWN
    from ..dockerfile.shell_flow import forwards_signals
    from ..dockerfile.shell_questions import left_running, parse_or_none

    tree = parse_or_none(text)
    if tree is None:
        return SCRIPT_UNKNOWN
    if forwards_signals(tree):
        return SCRIPT_TRAPS
    found = left_running(tree, "", c_mode=False)
    return f"{SCRIPT_NEITHER}:{found[0].describe()}\n{found[0].fix()}" if found else SCRIPT_EXECS


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


# --- RPM sqlite databases -------------------------------------------------------

class _RpmDatabases:
    """The rpmdb.sqlite files (and their `-wal` logs) of one layer.

    sqlite needs a file, so each is copied, bounded by _RPMDB_LIMIT, into a
    private temporary directory (made only when one is met, always removed by
    `close`) and read when the layer is done, so that a `-wal` that comes
    after its database in the tar is there too. A `-wal` is used only with a
    database from the same layer: one from a lower layer belongs to an older
    database (rpm checkpoints its log when it closes the database).
    A database that cannot be copied or read gets no sample at all.
    """

    def __init__(self) -> None:
        self.directory: str | None = None
        self.copied: set[tuple[str, str]] = set()  # (database path, suffix)
        self.links: list[tuple[str, str]] = []  # hard link -> database path

    def _local(self, database: str, suffix: str = "") -> str:
        return os.path.join(self.directory or "", str(RPMDB_SQLITE.index(database)), "rpmdb.sqlite" + suffix)

    def copy(self, tar: tarfile.TarFile, member: tarfile.TarInfo, database: str, suffix: str) -> None:
        self.copied.discard((database, suffix))  # a later member of the same name wins
        if member.size > _RPMDB_LIMIT:
            return
        handle = tar.extractfile(member)
        if handle is None:
            return
        try:
            if self.directory is None:
                import tempfile

                self.directory = tempfile.mkdtemp(prefix="smlint-rpmdb-")  # the system's temp dir, mode 0700
            local = self._local(database, suffix)
            os.makedirs(os.path.dirname(local), exist_ok=True)
            out = open(local, "wb")
        except OSError:
            return  # no temporary space: the database is not read
        with out:
            left = member.size
            while left > 0:
                chunk = handle.read(min(_CHUNK, left))  # errors of the layer itself propagate
                if not chunk:
                    return
                try:
                    out.write(chunk)
                except OSError:
                    return
                left -= len(chunk)
        self.copied.add((database, suffix))

    def link(self, path: str, target: str) -> None:
        if target in RPMDB_SQLITE:
            self.links.append((path, target))

    def read_into(self, scan: LayerScan) -> None:
        for database in RPMDB_SQLITE:
            if (database, "") in self.copied:
                names = _rpmdb_names(self._local(database), wal=(database, "-wal") in self.copied)
                if names is not None:
                    scan.samples[database] = names
        for path, target in self.links:
            if target in scan.samples:
                scan.samples[path] = scan.samples[target]

    def close(self) -> None:
        if self.directory is not None:
            import shutil

            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None


_SQLITE_MAGIC = b"SQLite format 3\0"


def _rpmdb_names(path: str, wal: bool = False) -> list[str] | None:
    """Names of the packages in an rpmdb.sqlite (a private copy at `path`),
    or None if it is not an sqlite database with a Packages table. A
    database that turns out damaged part way gives the names read so far.

    Opened read-only; `immutable=1` (no locking, no journal) unless a `-wal`
    lies beside it, which sqlite then reads (and may add a `-shm` beside it:
    the directory is ours). The database comes from a stranger: its schema
    is checked to hold a plain Packages table (not a view or a virtual
    table), the schema may call no function with side effects (trusted_schema
    off), no value may be larger than an RPM header may be, and sqlite is
    stopped after _RPMDB_SECONDS.
    """
    try:
        with open(path, "rb") as handle:
            if handle.read(len(_SQLITE_MAGIC)) != _SQLITE_MAGIC:
                return None
    except OSError:
        return None
    try:
        import sqlite3  # only now: `smlint lint` never needs it
    except ImportError:  # a Python built without it
        return None
    import pathlib
    import time

    uri = pathlib.Path(os.path.abspath(path)).as_uri() + ("?mode=ro" if wal else "?mode=ro&immutable=1")
    names: list[str] = []
    connection = None
    try:
        connection = sqlite3.connect(uri, uri=True)
        connection.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, _RPM_HEADER_MAX)  # no value larger than a header
        deadline = time.monotonic() + _RPMDB_SECONDS
        connection.set_progress_handler(lambda: time.monotonic() > deadline, 10_000)
        connection.execute("PRAGMA trusted_schema = OFF")
        tables = connection.execute(
            "SELECT type, sql FROM sqlite_master WHERE name = 'Packages' COLLATE NOCASE").fetchall()
        if len(tables) != 1 or tables[0][0] != "table" or not str(tables[0][1] or "").lstrip().upper().startswith(
                "CREATE TABLE"):
            return None
        for (blob,) in connection.execute("SELECT blob FROM Packages"):
            name = _rpm_header_name(blob) if isinstance(blob, bytes) else None
            if name:
                names.append(name)
    except sqlite3.Error:
        if not names:
            return None
    finally:
        if connection is not None:
            connection.close()
    return names


_RPMTAG_NAME, _RPM_STRING_TYPE = 1000, 6
_RPM_HEADER_MAX = 256 << 20  # rpm's own bound on one header
_RPM_INDEX_MAX = 0xFFFF  # and on its number of index entries
_RPM_ENTRY = struct.Struct(">iIiI")  # tag, type, offset, count
_RPM_COUNTS = struct.Struct(">II")  # il (index entries), dl (data bytes)


def _rpm_header_name(blob: bytes) -> str | None:
    """The package name (RPMTAG_NAME) in an RPM header blob as rpmdb.sqlite
    stores it: il, dl (uint32 big-endian), il index entries of 16 bytes,
    then dl bytes of data; the name is a NUL-terminated string at its entry's
    offset into the data. Every offset is bounds-checked: a malformed blob,
    or a name with control characters (it ends up in reports), gives None."""
    if len(blob) < _RPM_COUNTS.size:
        return None
    il, dl = _RPM_COUNTS.unpack_from(blob)
    data_start = _RPM_COUNTS.size + _RPM_ENTRY.size * il
    data_end = data_start + dl
    if not 0 < il <= _RPM_INDEX_MAX or data_end > len(blob) or data_end > _RPM_HEADER_MAX:
        return None
    for tag, kind, offset, count in _RPM_ENTRY.iter_unpack(memoryview(blob)[_RPM_COUNTS.size:data_start]):
        if tag == _RPMTAG_NAME:
            if kind != _RPM_STRING_TYPE or count != 1 or not 0 <= offset < dl:
                return None
            start = data_start + offset
            end = blob.find(b"\0", start, data_end)
            if end <= start:  # no NUL before the end of the data, or an empty name
                return None
            name = blob[start:end].decode("utf-8", "replace")
            return name if name.isprintable() else None
    return None
