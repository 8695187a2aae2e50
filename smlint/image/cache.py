"""Per-layer scan results, keyed by the layer's content digest (its diff id).

Layout under `$XDG_CACHE_HOME/smlint` (default `~/.cache/smlint`):
  layers/v3/sha256/<hex>     marshal of LayerScan.to_plain()
  save-ids/v3/<hex>          a `docker save` layer directory name -> diff id,
                             so an engine scan can skip cached layers without
                             reading them
Writes go to a temporary file in the same directory and are renamed into
place (`os.replace`), so concurrent runs never see half a file. A cache that
cannot be written is not an error: the scan just is not cached.
"""
from __future__ import annotations

import marshal
import os
import re
import tempfile

from .walker import LayerScan

# Bumped whenever a layer scan records more: v2 added RPM package lists, v3
# shell scripts' exec/trap verdicts, v4 the uids of /etc/passwd entries, v5
# those verdicts judged on the shell grammar with the command at fault, so
# layers cached by an older smlint are read again rather than trusted.
FORMAT = "v5"
_DIGEST = re.compile(r"^(sha256|sha512):([0-9a-f]{32,128})$")


def default_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "smlint")


class LayerCache:
    def __init__(self, directory: str | None = None, enabled: bool = True) -> None:
        self.directory = directory or default_dir()
        self.enabled = enabled

    def _layer_path(self, digest: str) -> str | None:
        match = _DIGEST.match(digest or "")
        if not match:
            return None
        return os.path.join(self.directory, "layers", FORMAT, match.group(1), match.group(2))

    def has(self, digest: str) -> bool:
        path = self._layer_path(digest)
        return bool(self.enabled and path and os.path.isfile(path))

    def get(self, digest: str) -> LayerScan | None:
        path = self._layer_path(digest)
        if not (self.enabled and path):
            return None
        try:
            with open(path, "rb") as handle:
                return LayerScan.from_plain(marshal.load(handle))
        except (OSError, EOFError, ValueError, TypeError, KeyError):
            return None  # absent or damaged: scan again

    def put(self, digest: str, scan: LayerScan) -> None:
        path = self._layer_path(digest)
        if self.enabled and path:
            self._write(path, marshal.dumps(scan.to_plain()))

    def save_id(self, directory_name: str) -> str | None:
        if not (self.enabled and re.fullmatch(r"[0-9a-f]{64}", directory_name or "")):
            return None
        try:
            with open(os.path.join(self.directory, "save-ids", FORMAT, directory_name), encoding="ascii") as handle:
                return handle.read().strip() or None
        except (OSError, UnicodeDecodeError):
            return None

    def put_save_id(self, directory_name: str, digest: str) -> None:
        if self.enabled and re.fullmatch(r"[0-9a-f]{64}", directory_name or "") and _DIGEST.match(digest):
            self._write(os.path.join(self.directory, "save-ids", FORMAT, directory_name), digest.encode())

    @staticmethod
    def _write(path: str, data: bytes) -> None:
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
            try:
                with os.fdopen(handle, "wb") as out:
                    out.write(data)
                os.replace(temporary, path)
            except BaseException:
                try:
                    os.unlink(temporary)
                except OSError:
                    pass
                raise
        except OSError:
            pass  # read-only home, full disk: work uncached
