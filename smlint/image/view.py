"""The final filesystem of an image and its runtime config, as the rules see it."""
from __future__ import annotations

import fnmatch
import posixpath
from dataclasses import dataclass, field
from typing import Iterable, Iterator, NamedTuple

from ..argv import DEFAULT_PATH
from . import shapes
from .walker import DIR, FILE, HARDLINK, OPAQUE, SYMLINK, WHITEOUT, LayerScan

MAX_SYMLINKS = 40  # the kernel's own bound (ELOOP)


@dataclass(frozen=True)
class ImageConfig:
    """The runtime part of an image config (Docker and OCI spell it the same)."""

    entrypoint: list[str] | None = None
    cmd: list[str] | None = None
    env: list[str] = field(default_factory=list)  # "KEY=VALUE" strings, in order
    user: str = ""
    workdir: str = ""
    shell: list[str] | None = None
    os: str = ""
    architecture: str = ""
    variant: str = ""

    @classmethod
    def from_json(cls, data: dict) -> "ImageConfig":
        """From an image config blob (`{"os", "architecture", "config": {...}}`)
        or the engine's inspect answer (`{"Os", "Architecture", "Config": {...}}`).
        A field of the wrong type is a ShapeError naming it."""
        shapes.need(data, dict, "config")
        key = "Config" if "config" not in data and "Config" in data else "config"
        runtime = shapes.field(data, key, dict, "config", required=False) or {}
        where = f"config.{key}"
        env = runtime.get("Env")
        return cls(
            entrypoint=_command(runtime, "Entrypoint", where),
            cmd=_command(runtime, "Cmd", where),
            env=[] if env is None else shapes.strings(env, f"{where}.Env"),
            user=shapes.field(runtime, "User", str, where, required=False) or "",
            workdir=shapes.field(runtime, "WorkingDir", str, where, required=False) or "",
            shell=_command(runtime, "Shell", where),
            os=_text(data, "os", "Os"),
            architecture=_text(data, "architecture", "Architecture"),
            variant=_text(data, "variant", "Variant"),
        )

    @property
    def env_map(self) -> dict[str, str]:
        values = {}
        for item in self.env:
            key, _, value = item.partition("=")
            values[key] = value
        return values

    @property
    def platform(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p) or "unknown"


def _command(runtime: dict, key: str, where: str) -> list[str] | None:
    """Entrypoint, Cmd, Shell: a list of strings (a lone string counts as one word), or None."""
    value = runtime.get(key)
    if value is None or isinstance(value, str):
        return None if value is None else [value]
    return shapes.strings(value, f"{where}.{key}")


def _text(data: dict, key: str, engine_key: str) -> str:
    spelled = key if key in data else engine_key
    return shapes.field(data, spelled, str, "config", required=False) or ""


class Entry(NamedTuple):
    path: str
    kind: str  # walker.FILE, DIR, SYMLINK or OTHER (hard links become FILE)
    mode: int
    size: int
    link: str  # a symlink's target text
    layer: int  # index of the layer that put it there

    @property
    def executable(self) -> bool:
        return bool(self.mode & 0o111)


@dataclass(frozen=True)
class Resolved:
    """Where a path leads inside the image.

    `entry` is None when nothing is there; `problem` then says why in words
    (missing, dangling symlink, loop, a file used as a directory).
    """

    requested: str
    path: str
    entry: Entry | None
    symlinks: tuple[str, ...] = ()
    problem: str = ""


class Filesystem:
    """Layers composed in order, whiteouts applied. Implicit parent
    directories (a tar may omit them) count as directories."""

    def __init__(self) -> None:
        self.files: dict[str, Entry] = {}
        self.children: dict[str, set[str]] = {"/": set()}

    def apply(self, index: int, layer: LayerScan) -> None:
        # Whiteouts hide what the layers *below* hold, so they go first.
        for path, kind, *_ in layer.entries:
            if kind == WHITEOUT:
                self._remove(path)
            elif kind == OPAQUE:
                for child in list(self.children.get(path, ())):
                    self._remove(child)
        for path, kind, mode, size, link in layer.entries:
            if kind in (WHITEOUT, OPAQUE) or path == "/":
                continue
            if kind == HARDLINK:
                target = self.files.get(link)
                kind, size, link = FILE, (target.size if target else 0), ""
            existing = self.files.get(path)
            if existing is not None and not (existing.kind == DIR and kind == DIR):
                self._remove(path)  # a file replaces a whole subtree
            self.files[path] = Entry(path, kind, mode, size, link, index)
            self._attach(path)

    def _attach(self, path: str) -> None:
        while path != "/":
            parent = posixpath.dirname(path)
            siblings = self.children.get(parent)
            if siblings is None:
                self.children[parent] = {path}
            elif path in siblings:
                return
            else:
                siblings.add(path)
            path = parent

    def _remove(self, path: str) -> None:
        """Remove `path` and everything under it; iterative, since a hostile
        layer's tree may be deeper than Python's recursion limit."""
        parent = self.children.get(posixpath.dirname(path))
        if parent is not None:
            parent.discard(path)
        pending = [path]
        while pending:
            current = pending.pop()
            pending.extend(self.children.pop(current, ()))
            self.files.pop(current, None)

    def is_dir(self, path: str) -> bool:
        entry = self.files.get(path)
        return entry.kind == DIR if entry else path in self.children


@dataclass
class ImageView:
    """One image, read without running it: the API the rules (and `smlint job
    --image`, `smlint run`) use.

    ref         what the user named (`myimage:1`, `docker-archive:x.tar`, ...)
    config      `ImageConfig`: entrypoint, cmd, env, user, workdir, shell,
                os, architecture
    size        uncompressed bytes of all layers
    layers      number of layers; `cached_layers` how many came from the cache
    lookup(p)   the `Entry` at absolute path p after following symlinks
                (None if nothing), `resolve(p)` the full story
    resolve_executable(name)  what `exec` of name would run: PATH search with
                the image's own PATH (config Env) when name has no '/', else
                relative to WorkingDir; symlinks followed inside the image
    has_file_matching(glob)   any file or symlink whose *basename* matches,
                e.g. `view.has_file_matching("libcudart.so*")`
    find(predicate)           entries for which predicate(entry) is true
    shebang(p)  the `#!` line (bytes, CR kept) of an executable file, or None
    script_verdict(p)  whether shell script p execs a program or traps
                INT/TERM (walker.SCRIPT_*), None for other files
    users       names in /etc/passwd (None if the image has none)
    user_ids    {name: uid} from /etc/passwd (None if the image has none)
    installed_packages  {database path: [package names]} from dpkg, apk and
                RPM sqlite databases (rpmdb.sqlite)
    """

    ref: str
    config: ImageConfig
    fs: Filesystem
    samples: list[dict]  # per layer
    size: int = 0
    layers: int = 0
    cached_layers: int = 0

    @classmethod
    def compose(cls, ref: str, config: ImageConfig, scans: Iterable[LayerScan], cached: int = 0) -> "ImageView":
        """Apply `scans` in order; each layer's entry list is dropped once applied
        (when `scans` is a generator), so memory holds one layer plus the result."""
        fs, samples, size = Filesystem(), [], 0
        for index, scan in enumerate(scans):
            fs.apply(index, scan)
            samples.append(scan.samples)
            size += scan.size
        return cls(ref, config, fs, samples, size, len(samples), cached)

    # --- files ------------------------------------------------------------
    def entries(self) -> Iterator[Entry]:
        return iter(self.fs.files.values())

    def find(self, predicate) -> list[Entry]:
        return sorted((e for e in self.fs.files.values() if predicate(e)), key=lambda e: e.path)

    def has_file_matching(self, basename_glob: str) -> bool:
        return any(
            e.kind in (FILE, SYMLINK) and fnmatch.fnmatchcase(posixpath.basename(e.path), basename_glob)
            for e in self.fs.files.values()
        )

    def sample(self, path: str):
        entry = self.fs.files.get(path)
        if entry is None:
            return None
        return self.samples[entry.layer].get(path)

    def shebang(self, path: str) -> bytes | None:
        value = self.sample(path)
        if isinstance(value, tuple):  # a shell script: (line, verdict)
            value = value[0]
        return value if isinstance(value, bytes) else None

    def script_verdict(self, path: str) -> str | None:
        """For a shell script (a shell `#!` line, or a name ending in .sh):
        walker.SCRIPT_EXECS, SCRIPT_TRAPS, SCRIPT_NEITHER or SCRIPT_UNKNOWN."""
        value = self.sample(path)
        return value[1] if isinstance(value, tuple) else None

    @property
    def users(self) -> list[str] | None:
        uids = self.user_ids
        return None if uids is None else list(uids)

    @property
    def user_ids(self) -> dict[str, int | None] | None:
        """name -> uid (None if not a number) of each /etc/passwd entry."""
        resolved = self.resolve("/etc/passwd")
        if resolved.entry is None or resolved.entry.kind != FILE:
            return None
        uids: dict[str, int | None] = {}
        for name, uid in self.samples[resolved.entry.layer].get(resolved.path) or []:
            uids.setdefault(name, uid)  # the first entry wins, as in getpwnam
        return uids

    @property
    def installed_packages(self) -> dict[str, list[str]]:
        found = {}
        for entry in self.fs.files.values():
            value = self.samples[entry.layer].get(entry.path)
            if isinstance(value, list) and entry.path != "/etc/passwd":
                found[entry.path] = value
        return found

    # --- paths ------------------------------------------------------------
    def lookup(self, path: str) -> Entry | None:
        return self.resolve(path).entry

    def resolve(self, path: str, follow_last: bool = True) -> Resolved:
        """Follow symlinks (absolute ones from the image root, relative ones
        from their directory) with the kernel's loop bound."""
        pending = [p for p in path.split("/") if p][::-1]
        current, followed = "/", []
        while pending:
            part = pending.pop()
            if part == ".":
                continue
            if part == "..":
                current = posixpath.dirname(current)
                continue
            candidate = posixpath.join(current, part)
            entry = self.fs.files.get(candidate)
            if entry is not None and entry.kind == SYMLINK and (pending or follow_last):
                followed.append(f"{candidate} -> {entry.link}")
                if len(followed) > MAX_SYMLINKS:
                    return Resolved(path, candidate, None, tuple(followed), "does not exist (too many levels of symbolic links)")
                if entry.link.startswith("/"):
                    current = "/"
                pending.extend([p for p in entry.link.split("/") if p][::-1])
                continue
            if entry is None and candidate not in self.fs.children:
                problem = f"is a dangling symlink ({followed[-1]})" if followed else "does not exist"
                return Resolved(path, candidate, None, tuple(followed), problem)
            if pending and not self.fs.is_dir(candidate):
                return Resolved(path, candidate, None, tuple(followed), f"does not exist ({candidate} is not a directory)")
            current = candidate
        entry = self.fs.files.get(current)
        if entry is None and self.fs.is_dir(current):
            entry = Entry(current, DIR, 0o755, 0, "", -1)
        return Resolved(path, current, entry, tuple(followed))

    @property
    def search_path(self) -> list[str]:
        value = self.config.env_map.get("PATH", DEFAULT_PATH)
        return [d for d in value.split(":")]

    def resolve_executable(self, name: str) -> Resolved:
        """What `execvp(name)` would find in this image. The first PATH entry
        holding an executable regular file wins; if none is executable the
        first one that exists is returned (its problem is then the mode)."""
        if "/" in name:
            path = name if name.startswith("/") else posixpath.join(self.config.workdir or "/", name)
            return self.resolve(path)
        first_found = first_broken = None
        for directory in self.search_path:
            candidate = posixpath.join(directory or self.config.workdir or "/", name)
            if not candidate.startswith("/"):
                candidate = posixpath.join(self.config.workdir or "/", candidate)
            resolved = self.resolve(candidate)
            if resolved.entry is None:
                if resolved.symlinks and first_broken is None:
                    first_broken = resolved  # a dangling or looping link is there
                continue
            if resolved.entry.kind == FILE and resolved.entry.executable:
                return resolved
            first_found = first_found or resolved
        if first_found or first_broken:
            return first_found or first_broken
        return Resolved(name, name, None, (), f"is not found on PATH ({':'.join(self.search_path)})")
