"""Per-layer scan results, keyed by the layer's diff id (the digest of its
uncompressed tar).

Layout under `$XDG_CACHE_HOME/smlint` (default `~/.cache/smlint`), every
directory created mode 0700:
  layers/v4/sha256/<hex>     sha256(key + payload) + payload, the payload a
                             marshal of LayerScan.to_plain()
  save-ids/v4/<hex>          "<directory>\\n<diff id>\\n": a `docker save` layer
                             directory name -> diff id, so an engine scan
                             can skip cached layers without reading them

Trust: callers put only scans of layers whose content was hashed to the key,
or that the engine streamed itself (see sources.py). Reading, an entry is
used only if it is a regular file owned by the current user and its checksum
(which covers the key, so a file renamed to another digest fails too)
holds; anything else is a miss and the layer is read again, never an error.
Writes go to a temporary file in the same directory and are renamed into
place (`os.replace`), so concurrent runs never see half a file. A cache that
cannot be written is not an error: the scan just is not cached.
"""
from __future__ import annotations

import hashlib
import marshal
import os
import re
import stat
import tempfile

from .shapes import DIGEST
from .walker import LayerScan

# Bumped whenever a layer scan records more or the file changes: v2 added RPM
# package lists, v3 shell scripts' exec/trap verdicts, v4 the checksum, v5
# the uids of /etc/passwd entries, v6 those verdicts judged on the shell
# grammar with the command at fault, v7 every path at fault, v8 a job named
# once however many paths reach it, loop advice and the trap alternative in
# the verdict, so layers cached by an older smlint are read again rather than trusted.
FORMAT = "v8"
_CHECKSUM = 32  # bytes of sha256
_SAVE_DIRECTORY = re.compile(r"[0-9a-f]{64}")


def default_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "smlint")


def _checksum(key: str, payload) -> bytes:
    checksum = hashlib.sha256(key.encode() + b"\0")
    checksum.update(payload)  # no copy of a payload of tens of MB
    return checksum.digest()


class LayerCache:
    def __init__(self, directory: str | None = None, enabled: bool = True) -> None:
        self.directory = directory or default_dir()
        self.enabled = enabled

    def _layer_path(self, digest: str) -> str | None:
        match = DIGEST.match(digest or "")
        if not match:
            return None
        return os.path.join(self.directory, "layers", FORMAT, match.group(1), match.group(2))

    def get(self, digest: str) -> LayerScan | None:
        """The cached scan of layer `digest`, or None (absent, not ours, damaged)."""
        path = self._layer_path(digest)
        data = self._read_own(path) if self.enabled and path else None
        if data is None or len(data) < _CHECKSUM:
            return None
        payload = memoryview(data)[_CHECKSUM:]
        if _checksum(digest, payload) != data[:_CHECKSUM]:
            return None
        try:
            return LayerScan.from_plain(marshal.loads(payload))
        except (EOFError, ValueError, TypeError, KeyError):
            return None  # a payload an older build wrote differently: scan again

    def put(self, digest: str, scan: LayerScan) -> None:
        path = self._layer_path(digest)
        if self.enabled and path:
            payload = marshal.dumps(scan.to_plain())
            self._write(path, _checksum(digest, payload), payload)

    def save_id(self, directory_name: str) -> str | None:
        if not (self.enabled and _SAVE_DIRECTORY.fullmatch(directory_name or "")):
            return None
        data = self._read_own(os.path.join(self.directory, "save-ids", FORMAT, directory_name))
        lines = (data or b"").decode("ascii", "replace").split("\n")
        if len(lines) == 3 and lines[0] == directory_name and DIGEST.match(lines[1]) and lines[2] == "":
            return lines[1]
        return None  # absent, not ours, damaged

    def put_save_id(self, directory_name: str, digest: str) -> None:
        if self.enabled and _SAVE_DIRECTORY.fullmatch(directory_name or "") and DIGEST.match(digest):
            path = os.path.join(self.directory, "save-ids", FORMAT, directory_name)
            self._write(path, f"{directory_name}\n{digest}\n".encode())

    def _read_own(self, path: str) -> bytes | None:
        """The bytes of `path` if it is a regular file owned by this user
        (a symlink is not followed) in a cache directory that is ours."""
        if not self._directory_is_ours():
            return None
        try:
            handle = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            return None
        try:
            status = os.fstat(handle)
            if not stat.S_ISREG(status.st_mode) or status.st_uid != os.geteuid():
                return None
            with os.fdopen(handle, "rb", closefd=False) as stream:
                return stream.read()
        except OSError:
            return None
        finally:
            os.close(handle)

    def _directory_is_ours(self) -> bool:
        try:
            status = os.lstat(self.directory)
        except OSError:
            return False
        return stat.S_ISDIR(status.st_mode) and status.st_uid == os.geteuid()

    def _make_directory(self, directory: str) -> bool:
        """Create the cache directories 0700; False if the cache's root is
        not a directory of this user's (then nothing is written)."""
        try:
            os.makedirs(self.directory, mode=0o700, exist_ok=True)
            if not self._directory_is_ours():
                return False
            if stat.S_IMODE(os.lstat(self.directory).st_mode) != 0o700:
                os.chmod(self.directory, 0o700)  # made by an older smlint, or umask-widened
            below = os.path.relpath(directory, self.directory).split(os.sep)
            for depth in range(1, len(below) + 1):  # each level 0700 (makedirs gives parents the umask's mode)
                try:
                    os.mkdir(os.path.join(self.directory, *below[:depth]), 0o700)
                except FileExistsError:
                    pass
            return True
        except OSError:
            return False

    def _write(self, path: str, *parts: bytes) -> None:
        if not self._make_directory(os.path.dirname(path)):
            return
        try:
            handle, temporary = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
            try:
                with os.fdopen(handle, "wb") as out:
                    for part in parts:
                        out.write(part)
                os.replace(temporary, path)
            except BaseException:
                try:
                    os.unlink(temporary)
                except OSError:
                    pass
                raise
        except OSError:
            pass  # read-only home, full disk: work uncached
