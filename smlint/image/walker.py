"""Read one layer tar, once, front to back, without extracting anything.

A layer yields a `LayerScan`: its own entry list (whiteouts kept as entries,
because they only mean something against the layers below) and the few file
samples the rules need. Composition of layers into the final filesystem lives
in `view.py`; it needs only these lists, so a layer can be cached on its own.

Safety bounds, because layers come from strangers:
- names are normalised to absolute paths; a name that climbs out of the root
  (`../../etc/passwd`) is an error (Docker refuses such layers too);
- content is read only for samples, each read bounded (`_SAMPLE_LIMITS`);
- compressed layers are decompressed through a counting reader that stops a
  decompression bomb (ratio and size bound), and the entry count is bounded.
"""
from __future__ import annotations

import io
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

SHEBANG_BYTES = 256
_SAMPLE_LIMITS = {PASSWD: 4 << 20, DPKG_STATUS: 256 << 20, APK_INSTALLED: 64 << 20}
_STATUS_D_LIMIT = 1 << 20
MAX_ENTRIES = 5_000_000
BOMB_MIN_BYTES = 256 << 20  # never call a layer a bomb below this much output
BOMB_RATIO = 200  # real layers compress far less than 200:1
_CHUNK = 1 << 20


class LayerError(Exception):
    """The layer cannot be read: corrupt, truncated, hostile. One-line reason."""


@dataclass
class LayerScan:
    """One layer's own entries and samples.

    entries: (path, kind, mode, size, link) tuples in tar order; `link` is a
    symlink's target text or a hard link's (normalised) target path.
    samples: path -> value: the `#!` line (bytes) of an executable file, or
    the user / package names parsed from /etc/passwd and package databases.
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

class _Counting(io.RawIOBase):
    """Counts the bytes read from the underlying stream."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw, self.count = raw, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.count += n
        return n


class _Gunzip(io.RawIOBase):
    """gzip (multi-member) decompression with a bomb guard."""

    def __init__(self, raw: BinaryIO, head: bytes) -> None:
        self.source = _Counting(raw)
        self.pending = head
        self.decompressor = zlib.decompressobj(31)
        self.out = 0
        self.leftover = b""
        self.done = False
        self.in_member = False  # between gzip members, end of input is fine

    def readable(self) -> bool:
        return True

    def _next_input(self) -> bytes:
        if self.pending:
            data, self.pending = self.pending, b""
            self.source.count += len(data)
            return data
        return self.source.read(_CHUNK)

    def readinto(self, buffer) -> int:
        want = len(buffer)
        while not self.leftover and not self.done:
            data = self.decompressor.unconsumed_tail or self._next_input()
            if not data:
                if self.in_member:
                    raise LayerError("gzip stream is truncated")
                self.done = True
                break
            self.in_member = True
            try:
                self.leftover = self.decompressor.decompress(data, _CHUNK)
            except zlib.error as error:
                raise LayerError(f"corrupt gzip data: {error}") from None
            if self.decompressor.eof:
                self.in_member = False
                rest = self.decompressor.unused_data
                self.decompressor = zlib.decompressobj(31)
                if rest.strip(b"\0"):
                    self.pending = rest  # another gzip member follows
                    self.source.count -= len(rest)
            self._check_bomb(len(self.leftover))
        n = min(want, len(self.leftover))
        buffer[:n] = self.leftover[:n]
        self.leftover = self.leftover[n:]
        return n

    def _check_bomb(self, produced: int) -> None:
        self.out += produced
        if self.out > BOMB_MIN_BYTES and self.out > BOMB_RATIO * max(self.source.count, 1):
            raise LayerError(
                f"decompression bomb: {self.source.count:,} compressed bytes expand beyond "
                f"{self.out:,} bytes (more than {BOMB_RATIO}:1); refusing to read on"
            )


def open_layer_stream(raw: BinaryIO) -> tuple[BinaryIO, bool]:
    """(uncompressed stream, was it compressed), sniffing the magic bytes."""
    head = raw.read(4)
    if head[:2] == b"\x1f\x8b":
        return io.BufferedReader(_Gunzip(raw, head), _CHUNK), True
    if head == b"\x28\xb5\x2f\xfd":
        raise LayerError("zstd-compressed layer: not supported by this smlint (no zstd library)")
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
    """Scan one layer tar (plain or gzip) from `raw`. Raises LayerError."""
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
    try:
        while True:
            member = tar.next()
            if member is None:
                break
            tar.members.clear()  # tarfile keeps every header otherwise
            _record(tar, member, scan)
            if len(scan.entries) > MAX_ENTRIES:
                raise LayerError(f"more than {MAX_ENTRIES:,} entries in one layer")
            if progress:
                progress(tar.offset)
        scan.size = tar.offset - start
    except LayerError:
        raise
    except (tarfile.TarError, EOFError, OSError, zlib.error, ValueError) as error:
        raise LayerError(f"corrupt or truncated layer tar ({error or type(error).__name__})") from None
    return scan


def _record(tar: tarfile.TarFile, member: tarfile.TarInfo, scan: LayerScan) -> None:
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
        _sample(tar, member, path, mode, scan)
    elif member.isdir():
        scan.entries.append((path, DIR, mode, 0, ""))
    elif member.issym():
        scan.entries.append((path, SYMLINK, mode, 0, member.linkname))
    elif member.islnk():
        target = normalise(member.linkname)
        scan.entries.append((path, HARDLINK, mode, 0, target))
        if target in scan.samples:
            scan.samples[path] = scan.samples[target]
    else:
        scan.entries.append((path, OTHER, mode, 0, ""))


def _join(directory: str, name: str) -> str:
    return directory.rstrip("/") + "/" + name


def _sample(tar: tarfile.TarFile, member: tarfile.TarInfo, path: str, mode: int, scan: LayerScan) -> None:
    """Read the few contents rules need; every read is bounded."""
    if path == PASSWD:
        scan.samples[path] = _passwd_names(_read(tar, member, _SAMPLE_LIMITS[PASSWD]))
    elif path == DPKG_STATUS:
        scan.samples[path] = _dpkg_installed(_lines(tar, member, _SAMPLE_LIMITS[DPKG_STATUS]))
    elif path.startswith(DPKG_STATUS_D):
        scan.samples[path] = _dpkg_installed(_lines(tar, member, _STATUS_D_LIMIT), status_required=False)
    elif path == APK_INSTALLED:
        scan.samples[path] = _apk_installed(_lines(tar, member, _SAMPLE_LIMITS[APK_INSTALLED]))
    elif mode & 0o111 and member.size >= 2:
        head = _read(tar, member, SHEBANG_BYTES)
        if head.startswith(b"#!"):
            scan.samples[path] = head.split(b"\n", 1)[0]


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


def _passwd_names(data: bytes) -> list[str]:
    names = []
    for line in data.decode("utf-8", "replace").splitlines():
        name = line.split(":", 1)[0].strip()
        if name and not name.startswith("#"):
            names.append(name)
    return names


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
