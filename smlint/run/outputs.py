"""A job's outputs reach the host as plain data, within a disk bound.

The job writes into engine volumes (root-owned, 0755, as Processing creates
output directories), never into a folder of the caller. After the job the
volume's content comes back one of two ways:

- moved, when smlint can read the volume's folder on this machine (a rootful
  local engine, smlint as root) and it lies on the destination's filesystem:
  each entry is checked with lstat, its mode masked, its owner made ours, and
  renamed: no second copy of the data ever exists;
- streamed, otherwise: `docker cp`'s tar stream, each member written by us.

Either way only regular files and directories arrive, with modes masked to
0o777 (no setuid, setgid or sticky bit) and owned by the caller. Symlinks are
never followed nor created (SM405 lists them); device nodes and FIFOs are not
copied and are listed (the engine's archive leaves sockets out by itself).
When hosts write the same relative file, the first host's copy is kept and a
differing copy is a collision (SM409).
"""
from __future__ import annotations

import errno
import filecmp
import os
import stat
import tarfile
from dataclasses import dataclass, field

from .checks import OutputResult

CHUNK = 1 << 20


class DiskBoundReached(Exception):
    """Writing on would pass the run's disk bound."""


@dataclass
class Merge:
    """One output, merged from every host into `target` (None: count only)."""

    target: str | None
    budget: "DiskBudget"
    owner: dict[str, str] = field(default_factory=dict)  # relative file -> host whose copy was kept
    collisions: list[tuple[str, str, str]] = field(default_factory=list)  # (path, kept host, other host)
    moved: bool = False
    streamed: bool = False


class DiskBudget:
    """Bytes the read-back may still write on the host."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.used = 0

    def take(self, size: int) -> None:
        if self.limit is not None and self.used + size > self.limit:
            raise DiskBoundReached(f"the outputs exceed the disk bound of {self.limit} bytes")
        self.used += size


def safe_relative(name: str) -> str | None:
    """A member name as a path below the output, or None when it would leave it."""
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if not parts or ".." in parts:
        return None
    return "/".join(parts)


def _inside(target: str, relative: str) -> str | None:
    """target/relative, or None when an existing component on the host is a
    symlink (a destination the user gave may hold one: never write through it)."""
    path = target
    for part in relative.split("/")[:-1]:
        path = os.path.join(path, part)
        if os.path.islink(path) or (os.path.exists(path) and not os.path.isdir(path)):
            return None
    final = os.path.join(target, relative)
    return None if os.path.islink(final) else final


def _make_dir(merge: Merge, relative: str) -> None:
    """A directory of the output, mode 0755, unless a symlink on the host is in its way."""
    if merge.target is None:
        return
    path = merge.target
    for part in relative.split("/"):
        path = os.path.join(path, part)
        if os.path.islink(path) or (os.path.lexists(path) and not os.path.isdir(path)):
            return
    os.makedirs(path, mode=0o755, exist_ok=True)


def _note_kind(result: OutputResult, relative: str, kind: str) -> None:
    if kind == "symlink":
        result.symlinks.append(relative)
    else:
        result.specials.append(f"{relative} ({kind})")


def _place(merge: Merge, result: OutputResult, host: str, relative: str, write) -> None:
    """Put one regular file in place through `write(path)`, or judge a collision.
    Counted once written: a file the disk bound refused is not."""
    if merge.target is not None:
        _place_in_target(merge, result, host, relative, write)
    result.files += 1


def _place_in_target(merge: Merge, result: OutputResult, host: str, relative: str, write) -> None:
    final = _inside(merge.target, relative)
    if final is None:
        result.refused.append(relative)
        return
    if relative not in merge.owner and not os.path.lexists(final):
        write(final)
        merge.owner[relative] = host
        return
    candidate = final + f".smlint-{host}"
    write(candidate)
    same = os.path.isfile(final) and filecmp.cmp(final, candidate, shallow=False)
    os.unlink(candidate)
    if not same:
        merge.collisions.append((relative, merge.owner.get(relative, "?"), host))


def stream_archive(chunks, merge: Merge, result: OutputResult, host: str) -> None:
    """Write a `docker cp` tar stream of one output as data only."""
    merge.streamed = True
    with tarfile.open(fileobj=_ChunkReader(chunks), mode="r|") as archive:
        top = None
        for member in archive:
            top = top if top is not None else member.name.split("/")[0]
            relative = safe_relative(member.name[len(top):])
            if relative is None:
                continue  # the output directory itself
            if member.issym():
                _note_kind(result, relative, "symlink")
            elif member.isdir():
                _make_dir(merge, relative)
            elif member.isreg():
                merge.budget.take(member.size)
                result.bytes += member.size
                source = archive.extractfile(member)
                _place(merge, result, host, relative, lambda path: _copy_stream(source, path, member.mode))
            elif member.islnk():
                _hard_link(merge, result, host, relative, safe_relative(member.linkname[len(top):]))
            else:
                _note_kind(result, relative, _tar_kind(member))


def _hard_link(merge: Merge, result: OutputResult, host: str, relative: str, linked: str | None) -> None:
    """A second name of a file sent earlier: a copy of that file's content."""
    earlier = _inside(merge.target, linked) if merge.target is not None and linked else None
    if earlier is None or not os.path.isfile(earlier):
        result.files += 1
        return
    size = os.path.getsize(earlier)
    merge.budget.take(size)
    result.bytes += size

    def write(path: str) -> None:
        with open(earlier, "rb") as handle:
            _copy_stream(handle, path, os.stat(earlier).st_mode)

    _place(merge, result, host, relative, write)


def _tar_kind(member: tarfile.TarInfo) -> str:
    if member.ischr() or member.isblk():
        return "device node"
    if member.isfifo():
        return "FIFO"
    return "special file"


def _copy_stream(source, path: str, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), mode & 0o777)
    with os.fdopen(fd, "wb") as handle:
        while True:
            block = source.read(CHUNK)
            if not block:
                break
            handle.write(block)
    os.chmod(path, mode & 0o777)  # the umask may have cut it; never more than 0o777


class _ChunkReader:
    """A file-like view of the engine's chunk iterator, for tarfile's stream mode."""

    def __init__(self, chunks) -> None:
        self._chunks = iter(chunks)
        self._buffer = b""

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buffer += chunk
        if size < 0:
            data, self._buffer = self._buffer, b""
        else:
            data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data


def movable(mountpoint: str | None, target: str | None) -> bool:
    """Whether the volume's folder is readable here and on the target's filesystem."""
    if not mountpoint or target is None or not os.access(mountpoint, os.R_OK | os.X_OK):
        return False
    parent = target
    while not os.path.exists(parent):
        parent = os.path.dirname(parent) or "."
    try:
        return os.stat(mountpoint).st_dev == os.stat(parent).st_dev
    except OSError:
        return False


def move_tree(source: str, merge: Merge, result: OutputResult, host: str) -> None:
    """Move a stopped job's volume content into the target as data only.
    Iterative, so a deep tree cannot exhaust the stack."""
    pending = [""]
    while pending:
        relative_dir = pending.pop()
        with os.scandir(os.path.join(source, relative_dir)) as entries:
            listed = sorted(entries, key=lambda entry: entry.name)
        for entry in listed:
            relative = f"{relative_dir}/{entry.name}" if relative_dir else entry.name
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISDIR(info.st_mode):
                _make_dir(merge, relative)
                pending.append(relative)
            elif stat.S_ISREG(info.st_mode):
                _place(merge, result, host, relative, lambda path: _move_file(entry.path, path, info, merge))
                result.bytes += info.st_size
            else:
                _note_kind(result, relative, _mode_kind(info.st_mode))
    merge.moved = True


def _mode_kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "symlink"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device node"
    if stat.S_ISFIFO(mode):
        return "FIFO"
    return "socket" if stat.S_ISSOCK(mode) else "special file"


def _move_file(source: str, path: str, info: os.stat_result, merge: Merge) -> None:
    # Strip the bits and the container's owner before the file becomes visible
    # at its destination; a hard link count > 1 would share the inode: copy.
    os.chmod(source, info.st_mode & 0o777)
    os.chown(source, os.getuid(), os.getgid(), follow_symlinks=False)
    if info.st_nlink == 1:
        try:
            os.rename(source, path)
            return
        except OSError as error:
            if error.errno != errno.EXDEV:  # another mount of the same disk: copy
                raise
    merge.streamed = True
    merge.budget.take(info.st_size)
    with open(source, "rb") as handle:
        _copy_stream(handle, path, info.st_mode)
