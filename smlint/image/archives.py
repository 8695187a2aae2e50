"""Images in files: `docker save` tars (plain or gzip), OCI image layouts
(a directory, or a tar of one). No engine is needed; nothing is extracted.

Every layer is hashed against the diff id its config claims, cached or not
(layers.py); the JSON documents are read with their types checked (shapes.py).
"""
from __future__ import annotations

import io
import json
import os
import posixpath
import tarfile
from typing import BinaryIO

from . import shapes
from .cache import LayerCache
from .errors import ImageError
from .layers import LayerSource, OrderedLayers, layer_error
from .progress import Progress
from .streams import ForwardReader, LayerError, open_layer_stream
from .view import ImageConfig, ImageView
from .walker import Budget, LayerScan, TooManyEntries, normalise, walk_hashed

JSON_LIMIT = 16 << 20  # one manifest, index or config
_KEPT_JSON = 64 << 20  # JSON members kept from a forward-only stream, all together
_INDEX_TYPES = ("application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json")
_MAX_INDEX_DEPTH = 4
# Files in one image archive: a `docker save` holds about 4 per layer, an OCI
# layout one per blob. Each listed member costs memory, so a tar of millions
# of files is refused rather than listed.
MAX_MEMBERS = 100_000


def read_file(ref: str, kind: str, path: str, cache: LayerCache, progress: Progress) -> ImageView:
    """`docker-archive:PATH` or `oci-archive:PATH`."""
    _require_file(path)
    with open(path, "rb") as handle:
        gzipped = handle.read(2) == b"\x1f\x8b"
    if gzipped:
        if kind == "oci-archive":
            raise ImageError(f"{path} is gzip-compressed; unpack it first (an OCI archive is a plain tar)")
        with open(path, "rb") as handle:
            stream, _ = open_layer_stream(handle)  # the gunzip reader, with its bomb guard
            return read_save_stream(ref, ForwardReader(stream.read), cache, progress)
    archive = ArchiveLayout(path)
    try:
        if kind == "oci-archive" or (archive.has("index.json") and not archive.has("manifest.json")):
            return read_layout(ref, archive, cache, progress)
        return read_docker_archive(ref, archive, cache, progress)
    finally:
        archive.close()


def _require_file(path: str) -> None:
    if not os.path.exists(path):
        raise ImageError(f"no such file: {path}")
    if os.path.isdir(path):
        raise ImageError(f"{path} is a directory, not an archive (an OCI layout directory is oci:{path})")


# --- layouts: where named files come from ---------------------------------------

class DirLayout:
    def __init__(self, root: str) -> None:
        if not os.path.isdir(root):
            raise ImageError(f"no OCI layout directory at {root}")
        self.root = root
        self.name = root

    def has(self, name: str) -> bool:
        return os.path.isfile(os.path.join(self.root, name))

    def open(self, name: str) -> BinaryIO:
        try:
            return open(os.path.join(self.root, name), "rb")
        except OSError as error:
            raise ImageError(f"{self.name}: cannot read {name}: {error.strerror or error}") from None


class ArchiveLayout:
    """A tar read in random-access mode: only headers are read up front."""

    def __init__(self, path: str) -> None:
        self.name = path
        try:
            self.tar = tarfile.open(path, "r:")
            self.members = {}
            while (member := self.tar.next()) is not None:
                self.tar.members.clear()  # kept once, here
                if len(self.members) >= MAX_MEMBERS:
                    raise ImageError(f"{path}: more than {MAX_MEMBERS:,} files: not an image archive")
                self.members[normalise(member.name)[1:]] = member
        except LayerError as error:
            raise ImageError(f"{path}: {error}") from None
        except (tarfile.TarError, EOFError, OSError) as error:
            raise ImageError(f"{path}: not a readable tar archive ({error}); truncated or corrupt?") from None

    def has(self, name: str) -> bool:
        return name in self.members

    def open(self, name: str) -> BinaryIO:
        member = self.members.get(name)
        handle = None
        try:
            if member is not None and member.issym():
                member = self.members.get(normalise(posixpath.join(posixpath.dirname(name), member.linkname))[1:])
            if member is not None and member.isreg():
                handle = self.tar.extractfile(member)
        except (tarfile.TarError, LayerError):
            handle = None
        if handle is None:
            raise ImageError(f"{self.name}: the archive has no file {name}")
        return handle

    def close(self) -> None:
        self.tar.close()


def read_json(layout, name: str, what: str | None = None):
    with layout.open(name) as handle:
        data = handle.read(JSON_LIMIT + 1)
    return parse_json(data, f"{layout.name}: {what or name}")


def parse_json(data: bytes, where: str):
    if len(data) > JSON_LIMIT:
        raise ImageError(f"{where} is larger than {JSON_LIMIT >> 20} MiB")
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as error:
        raise ImageError(f"{where} is not valid JSON ({str(error)[:120]})") from None


def _blob_name(digest: str) -> str:
    algorithm, _, hexdigest = digest.partition(":")
    return f"blobs/{algorithm}/{hexdigest}"


def _config(where: str, config_json) -> tuple[ImageConfig, list[str]]:
    try:
        return ImageConfig.from_json(config_json), shapes.diff_ids(config_json)
    except shapes.ShapeError as error:
        raise ImageError(f"{where}: {error}") from None


def _compose(ref: str, config: ImageConfig, layers: list[LayerSource], cache: LayerCache,
             progress: Progress) -> ImageView:
    reader = OrderedLayers(layers, cache, progress)
    view = ImageView.compose(ref, config, reader.scans())
    view.cached_layers = reader.cached
    return view


def _counts_match(where: str, layers: int, diff_ids: int) -> None:
    if layers != diff_ids:
        raise ImageError(f"{where}: {layers} layers in the manifest but {diff_ids} diff ids in the config")


# --- OCI image layout (directory or tar) -------------------------------------

def read_layout(ref: str, layout, cache: LayerCache, progress: Progress) -> ImageView:
    if not layout.has("index.json"):
        raise ImageError(f"{layout.name}: no index.json: not an OCI image layout")
    try:
        descriptor = _pick_manifest(layout, read_json(layout, "index.json"), "index.json")
        manifest_name = f"manifest {descriptor['digest']}"
        config_digest, blobs = shapes.image_manifest(
            read_json(layout, _blob_name(descriptor["digest"]), manifest_name), manifest_name)
    except shapes.ShapeError as error:
        raise ImageError(f"{layout.name}: {error}") from None
    config, diff_ids = _config(layout.name, read_json(layout, _blob_name(config_digest), f"config {config_digest}"))
    _counts_match(layout.name, len(blobs), len(diff_ids))
    layers = [LayerSource(diff_id, lambda name=_blob_name(blob): layout.open(name), blob)
              for blob, diff_id in zip(blobs, diff_ids)]
    return _compose(ref, config, layers, cache, progress)


def _pick_manifest(layout, index, name: str, depth: int = 0) -> dict:
    """The linux/amd64 manifest if the index names platforms, else the first."""
    manifests = shapes.index_manifests(index, name)
    chosen = next(
        (m for m in manifests if (m.get("platform") or {}).get("os") == "linux"
         and (m.get("platform") or {}).get("architecture") == "amd64"),
        manifests[0],
    )
    if chosen.get("mediaType") in _INDEX_TYPES:
        if depth >= _MAX_INDEX_DEPTH:
            raise ImageError(f"{layout.name}: image indexes nested too deep")
        nested = f"index {chosen['digest']}"
        return _pick_manifest(layout, read_json(layout, _blob_name(chosen["digest"]), nested), nested, depth + 1)
    return chosen


# --- docker save archives --------------------------------------------------------

def read_docker_archive(ref: str, archive: ArchiveLayout, cache: LayerCache, progress: Progress) -> ImageView:
    if not archive.has("manifest.json"):
        raise ImageError(f"{archive.name}: no manifest.json: not a `docker save` archive (or truncated)")
    try:
        config_name, paths = shapes.docker_manifest(read_json(archive, "manifest.json"))
        config_path = normalise(config_name)[1:]
        paths = [normalise(p)[1:] for p in paths]
    except (shapes.ShapeError, LayerError) as error:
        raise ImageError(f"{archive.name}: {error}") from None
    config, diff_ids = _config(archive.name, read_json(archive, config_path))
    _counts_match(archive.name, len(paths), len(diff_ids))
    layers = [LayerSource(diff_id, lambda p=p: archive.open(p)) for p, diff_id in zip(paths, diff_ids)]
    return _compose(ref, config, layers, cache, progress)


def read_save_stream(ref: str, stream: ForwardReader, cache: LayerCache, progress: Progress) -> ImageView:
    """A `docker save` tar read strictly forward (a gzip-compressed file).

    Members come in any order and manifest.json comes last, so each layer is
    walked and hashed as it passes, and matched to the config's diff ids at
    the end: a layer is used (and cached) only if it hashes to its diff id.
    The cache is not read: the layers must be read anyway.
    """
    seen = _StreamMembers()
    forward_members(stream, "image archive", seen.take)
    if "manifest.json" not in seen.documents:
        raise ImageError("no manifest.json in the image archive: not a `docker save` tar, or truncated")
    try:
        config_name, paths = shapes.docker_manifest(parse_json(seen.documents["manifest.json"], "manifest.json"))
        config_path = normalise(config_name)[1:]
        paths = [seen.resolve(normalise(p)[1:]) for p in paths]
    except (shapes.ShapeError, LayerError) as error:
        raise ImageError(str(error)) from None
    if config_path not in seen.documents:
        raise ImageError(f"the config {config_path} named in manifest.json is not in the archive")
    config, diff_ids = _config("image archive", parse_json(seen.documents[config_path], config_path))
    _counts_match("image archive", len(paths), len(diff_ids))
    scans = []
    for number, (path, diff_id) in enumerate(zip(paths, diff_ids), 1):
        scan = seen.layer(path, number, diff_id)
        cache.put(diff_id, scan)
        scans.append(scan)
    return ImageView.compose(ref, config, scans, 0)


def forward_members(stream: ForwardReader, what: str, take) -> None:
    """Call take(normalised name, member, outer tar) for each member of a
    forward-only tar; its read errors become one ImageError."""
    try:
        outer = tarfile.open(fileobj=stream, mode="r:")
    except (tarfile.ReadError, OSError, LayerError) as error:
        raise ImageError(f"not a tar archive ({error})") from None
    try:
        for count in range(MAX_MEMBERS + 1):
            member = outer.next()
            if member is None:
                return
            outer.members.clear()
            if count == MAX_MEMBERS:
                raise ImageError(f"{what}: more than {MAX_MEMBERS:,} files: not an image archive")
            take(normalise(member.name)[1:], member, outer)
    except TooManyEntries as error:
        raise ImageError(str(error)) from None
    except LayerError as error:
        raise ImageError(f"{what}: {error}") from None
    except (tarfile.TarError, EOFError, OSError, ValueError) as error:
        raise ImageError(f"corrupt or truncated {what} ({error or type(error).__name__})") from None


class _StreamMembers:
    """What a forward-only `docker save` stream held: walked layers (with
    the digest each hashed to, or the error it gave), links, JSON documents."""

    def __init__(self) -> None:
        self.layers: dict[str, tuple[LayerScan, str] | LayerError] = {}
        self.links: dict[str, str] = {}
        self.documents: dict[str, bytes] = {}
        self.kept = 0
        self.budget = Budget()

    def take(self, name: str, member: tarfile.TarInfo, outer: tarfile.TarFile) -> None:
        if member.issym() or member.islnk():
            base = posixpath.dirname(name) if member.issym() else ""
            self.links[name] = normalise(posixpath.join(base, member.linkname))[1:]
        elif not member.isreg():
            return
        elif member.size <= JSON_LIMIT and (name.endswith(".json") or name.startswith("blobs/")):
            data = outer.extractfile(member).read()
            if data.lstrip()[:1] in (b"{", b"["):
                self.kept += len(data)
                if self.kept > _KEPT_JSON:
                    raise ImageError(f"more than {_KEPT_JSON >> 20} MiB of JSON files in the image archive")
                self.documents[name] = data
            elif name.startswith("blobs/"):
                self._walk(name, io.BytesIO(data))
        elif name.endswith("/layer.tar") or name.startswith("blobs/"):
            self._walk(name, outer.extractfile(member))

    def _walk(self, name: str, raw: BinaryIO) -> None:
        try:
            scan, digest = walk_hashed(raw, "sha256", None, self.budget)
        except TooManyEntries:
            raise
        except LayerError as error:
            self.layers[name] = error  # an error only if the manifest names this file
            return
        self.layers[name] = (scan, digest)

    def resolve(self, path: str) -> str:
        for _ in range(8):  # a link to a link; a loop ends here too
            path = self.links.get(path, path)
        return path

    def layer(self, path: str, number: int, diff_id: str) -> LayerScan:
        found = self.layers.get(path)
        if found is None and path in self.documents:  # a small layer starting with "{": walk it now
            self._walk(path, io.BytesIO(self.documents[path]))
            found = self.layers.get(path)
        if found is None:
            raise layer_error(number, diff_id, "missing from the archive")
        if isinstance(found, LayerError):
            raise layer_error(number, diff_id, found)
        scan, digest = found
        if digest != diff_id:
            raise layer_error(number, diff_id, f"layer digest mismatch: {path} hashes to {digest[:19]}..., "
                                               f"not to its diff_id {diff_id}")
        return scan
