"""Package names from RPM's sqlite database (rpmdb.sqlite), read from a
private bounded copy of the file (sqlite needs a file)."""
from __future__ import annotations

import os
import struct
import tarfile
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the walker imports this module
    from .walker import LayerScan

# RPM 4.16+ (Amazon Linux 2023, RHEL/Rocky/Alma 9, Fedora 33+); Fedora 36+
# keeps it under /usr/lib/sysimage with /var/lib/rpm a symlink there.
# BerkeleyDB (`Packages`) and NDB (`Packages.db`) databases are not read.
RPMDB_SQLITE = ("/var/lib/rpm/rpmdb.sqlite", "/usr/lib/sysimage/rpm/rpmdb.sqlite")
_RPMDB_LIMIT = 256 << 20  # each of rpmdb.sqlite and its -wal; a large image's is 10-60 MB
_RPMDB_SECONDS = 60  # bound on the time sqlite may spend on one database
# rpmdb file path -> (database path, "" for the database or "-wal" for its log)
RPMDB_FILES = {path + suffix: (path, suffix) for path in RPMDB_SQLITE for suffix in ("", "-wal")}
_CHUNK = 1 << 20


class RpmDatabases:
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
