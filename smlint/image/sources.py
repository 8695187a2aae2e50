"""Where an image comes from, and how its layers reach the walker.

  REF (name:tag, ECR URI, id)   the local Docker engine (pulled if absent)
  docker-daemon:REF             the same, spelled out
  docker-archive:PATH           a `docker save` tar (plain or gzip)
  oci-archive:PATH              a tar of an OCI image layout
  oci:DIR                       an OCI image layout directory

Archives need no engine; the `docker` SDK is imported only for engine refs.

Cache trust: a layer is written to the cache only when its content is known
to match its digest: the engine verified it on load/pull, and OCI blobs are
hashed while they are read. A plain `docker-archive` is read by seeking over
file data (fast, but unverified), so it reads the cache and does not fill it.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import posixpath
import re
import tarfile
from typing import BinaryIO, Callable

from .cache import LayerCache
from .view import ImageConfig, ImageView
from .walker import ForwardReader, LayerError, LayerScan, normalise, walk_layer

_JSON_LIMIT = 16 << 20
_DIGEST = re.compile(r"^(sha256|sha512):([0-9a-f]{32,128})$")
_INDEX_TYPES = ("application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json")


class ImageError(Exception):
    """The image cannot be read; the message is the one-line SM001 reason."""


class Progress:
    """Receives scan progress; the CLI draws it, the library stays silent."""

    def start(self, layers: int, total_bytes: int = 0) -> None: ...

    def advance(self, layers_done: int, bytes_done: int) -> None: ...

    def finish(self) -> None: ...


def parse_ref(ref: str) -> tuple[str, str]:
    for kind in ("docker-archive", "oci-archive", "oci", "docker-daemon"):
        if ref.startswith(kind + ":"):
            value = ref[len(kind) + 1:]
            if not value:
                raise ImageError(f"{kind}: needs a path")
            return ("engine" if kind == "docker-daemon" else kind), value
    return "engine", ref


def load(ref: str, cache: LayerCache, progress: Progress | None = None) -> ImageView:
    kind, value = parse_ref(ref)
    progress = progress or Progress()
    try:
        if kind == "engine":
            return _from_engine(ref, value, cache, progress)
        if kind == "oci":
            return _from_layout(ref, _DirLayout(value), cache, progress)
        _require_file(value)
        with open(value, "rb") as handle:
            gzipped = handle.read(2) == b"\x1f\x8b"
        if gzipped:
            if kind == "oci-archive":
                raise ImageError(f"{value} is gzip-compressed; unpack it first (an OCI archive is a plain tar)")
            with open(value, "rb") as handle:
                return _from_save_stream(ref, handle, None, cache, progress, trusted=False)
        archive = _ArchiveLayout(value)
        try:
            if kind == "oci-archive" or (archive.has("index.json") and not archive.has("manifest.json")):
                return _from_layout(ref, archive, cache, progress)
            return _from_docker_archive(ref, archive, cache, progress)
        finally:
            archive.close()
    except LayerError as error:
        raise ImageError(str(error)) from None
    finally:
        progress.finish()


def _require_file(path: str) -> None:
    if not os.path.exists(path):
        raise ImageError(f"no such file: {path}")
    if os.path.isdir(path):
        raise ImageError(f"{path} is a directory, not an archive (an OCI layout directory is oci:{path})")


# --- scanning layers in order ---------------------------------------------------

def _scan_in_order(layers: list[tuple[str, Callable[[], BinaryIO], str | None]], cache: LayerCache,
                   progress: Progress, store: bool) -> tuple[list[LayerScan], int]:
    """layers: (diff id, opener, blob digest to verify or None)."""
    scans, cached, done = [], 0, 0
    progress.start(len(layers))
    for number, (diff_id, opener, verify) in enumerate(layers, 1):
        scan = cache.get(diff_id)
        if scan is not None:
            cached += 1
        else:
            base = done
            with opener() as raw:
                scan = _walk(raw, number, diff_id, verify, lambda n: progress.advance(number - 1, base + n))
            if store and (verify or diff_id):
                cache.put(diff_id, scan)
        done += scan.size
        scans.append(scan)
        progress.advance(number, done)
    return scans, cached


def _walk(raw: BinaryIO, number: int, digest: str, verify: str | None, progress=None) -> LayerScan:
    try:
        if verify:
            hashing = _Hashing(raw, verify)
            scan = walk_layer(io.BufferedReader(hashing, 1 << 20), progress)
            hashing.drain_and_check()
            return scan
        return walk_layer(raw, progress)
    except LayerError as error:
        raise ImageError(f"layer {number} ({_short(digest)}): {error}") from None


def _short(digest: str) -> str:
    return digest.split(":", 1)[-1][:12] if digest else "?"


class _Hashing(io.RawIOBase):
    def __init__(self, raw: BinaryIO, digest: str) -> None:
        algorithm, _, self.expected = digest.partition(":")
        self.raw, self.hash = raw, hashlib.new(algorithm)
        self.digest = digest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.raw.read(len(buffer))
        self.hash.update(data)
        buffer[: len(data)] = data
        return len(data)

    def drain_and_check(self) -> None:
        while self.read(1 << 20):
            pass
        if self.hash.hexdigest() != self.expected:
            raise LayerError(f"content does not match its digest {self.digest}")


# --- OCI image layout (directory or tar) -------------------------------------

class _DirLayout:
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


class _ArchiveLayout:
    """A tar read in random-access mode: only headers are read up front."""

    def __init__(self, path: str) -> None:
        self.name = path
        try:
            self.tar = tarfile.open(path, "r:")
            self.members = {}
            for member in self.tar.getmembers():
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


def _read_json(layout, name: str):
    with layout.open(name) as handle:
        data = handle.read(_JSON_LIMIT + 1)
    if len(data) > _JSON_LIMIT:
        raise ImageError(f"{layout.name}: {name} is larger than {_JSON_LIMIT >> 20} MiB")
    try:
        return json.loads(data)
    except ValueError as error:
        raise ImageError(f"{layout.name}: {name} is not valid JSON ({error})") from None


def _blob_name(digest: str) -> str:
    match = _DIGEST.match(str(digest or ""))
    if not match:
        raise ImageError(f"invalid digest {str(digest)[:80]!r}")
    return f"blobs/{match.group(1)}/{match.group(2)}"


def _from_layout(ref: str, layout, cache: LayerCache, progress: Progress) -> ImageView:
    if not layout.has("index.json"):
        raise ImageError(f"{layout.name}: no index.json: not an OCI image layout")
    descriptor = _pick_manifest(layout, _read_json(layout, "index.json"))
    manifest = _read_json(layout, _blob_name(descriptor.get("digest")))
    try:
        config_json = _read_json(layout, _blob_name(manifest["config"]["digest"]))
        blobs = manifest["layers"]
        diff_ids = config_json["rootfs"]["diff_ids"]
    except (KeyError, TypeError):
        raise ImageError(f"{layout.name}: the image manifest or config lacks config/layers/rootfs") from None
    if len(blobs) != len(diff_ids):
        raise ImageError(f"{layout.name}: {len(blobs)} layers in the manifest but {len(diff_ids)} diff ids in the config")
    layers = []
    for blob, diff_id in zip(blobs, diff_ids):
        name = _blob_name(blob.get("digest"))
        layers.append((diff_id, lambda name=name: layout.open(name), blob.get("digest")))
    scans, cached = _scan_in_order(layers, cache, progress, store=True)
    return ImageView.compose(ref, ImageConfig.from_json(config_json), scans, cached)


def _pick_manifest(layout, index: dict, depth: int = 0) -> dict:
    """The linux/amd64 manifest if the index names platforms, else the first."""
    manifests = index.get("manifests") if isinstance(index, dict) else None
    if not manifests:
        raise ImageError(f"{layout.name}: index.json lists no manifests")
    chosen = next(
        (m for m in manifests if (m.get("platform") or {}).get("os") == "linux"
         and (m.get("platform") or {}).get("architecture") == "amd64"),
        manifests[0],
    )
    if chosen.get("mediaType") in _INDEX_TYPES:
        if depth > 4:
            raise ImageError(f"{layout.name}: image indexes nested too deep")
        return _pick_manifest(layout, _read_json(layout, _blob_name(chosen.get("digest"))), depth + 1)
    return chosen


# --- docker save archives --------------------------------------------------------

def _from_docker_archive(ref: str, archive: _ArchiveLayout, cache: LayerCache, progress: Progress) -> ImageView:
    if not archive.has("manifest.json"):
        raise ImageError(f"{archive.name}: no manifest.json: not a `docker save` archive (or truncated)")
    manifest = _read_json(archive, "manifest.json")
    try:
        entry = manifest[0]
        config_json = _read_json(archive, normalise(entry["Config"])[1:])
        paths = [normalise(p)[1:] for p in entry["Layers"]]
        diff_ids = config_json["rootfs"]["diff_ids"]
    except (KeyError, IndexError, TypeError, LayerError):
        raise ImageError(f"{archive.name}: manifest.json does not describe an image") from None
    if len(paths) != len(diff_ids):
        raise ImageError(f"{archive.name}: {len(paths)} layers in manifest.json but {len(diff_ids)} in the config")
    layers = [(diff_id, lambda p=p: archive.open(p), None) for p, diff_id in zip(paths, diff_ids)]
    scans, cached = _scan_in_order(layers, cache, progress, store=False)
    return ImageView.compose(ref, ImageConfig.from_json(config_json), scans, cached)


def _from_save_stream(ref: str, stream: BinaryIO, inspected: dict | None, cache: LayerCache,
                      progress: Progress, trusted: bool) -> ImageView:
    """Read a `docker save` tar strictly forward (engine stream, gzip file).

    Its member order is not layer order and manifest.json comes last, so each
    layer is walked on its own and matched to its diff id at the end. Layers
    known to be cached (the directory name was seen before, or the OCI-style
    blob name is the diff id) are skipped unread.
    """
    diff_ids = list((inspected or {}).get("RootFS", {}).get("Layers") or [])
    wanted_cached = {d for d in diff_ids if cache.has(d)}
    by_dir: dict[str, LayerScan] = {}
    by_digest: dict[str, LayerScan] = {}
    links: dict[str, str] = {}
    manifest = config_json = None
    json_members: dict[str, bytes] = {}
    walked = 0
    progress.start(len(diff_ids) or 1, int((inspected or {}).get("Size") or 0))
    read_so_far = 0
    try:
        outer = tarfile.open(fileobj=stream if isinstance(stream, ForwardReader) else ForwardReader(stream.read),
                             mode="r:")
    except (tarfile.ReadError, OSError) as error:
        raise ImageError(f"not a tar archive ({error})") from None
    try:
        while True:
            member = outer.next()
            if member is None:
                break
            outer.members.clear()
            name = normalise(member.name)[1:]
            base_offset = outer.offset
            if name.endswith("/layer.tar"):
                directory = name[: -len("/layer.tar")]
                if member.issym():
                    links[directory] = normalise(posixpath.join(directory, member.linkname))[1:].rsplit("/", 1)[0]
                elif member.isreg() and cache.save_id(directory) not in wanted_cached:
                    walked += 1
                    by_dir[directory] = _walk(outer.extractfile(member), walked, directory, None,
                                              lambda n: progress.advance(len(by_dir), read_so_far + n))
            elif name.startswith("blobs/sha256/") and member.isreg():
                digest = "sha256:" + name.rsplit("/", 1)[1]
                if digest in diff_ids and digest not in wanted_cached and digest not in by_digest:
                    walked += 1
                    by_digest[digest] = _walk(outer.extractfile(member), walked, digest, None)
                elif member.size <= _JSON_LIMIT and not diff_ids:
                    json_members[name] = outer.extractfile(member).read()
            elif name == "manifest.json" and member.isreg():
                manifest = json.loads(outer.extractfile(member).read(_JSON_LIMIT))
            elif name.endswith(".json") and "/" not in name and member.isreg() and member.size <= _JSON_LIMIT:
                json_members[name] = outer.extractfile(member).read()
            read_so_far = base_offset + member.size
    except LayerError as error:
        raise ImageError(str(error)) from None
    except (tarfile.TarError, EOFError, OSError, ValueError) as error:
        raise ImageError(f"corrupt or truncated image stream ({error or type(error).__name__})") from None
    if not isinstance(manifest, list) or not manifest:
        raise ImageError("no manifest.json in the image archive: not a `docker save` tar, or truncated")
    try:
        entry = manifest[0]
        paths = [normalise(p)[1:] for p in entry["Layers"]]
        if inspected is None:
            config_name = normalise(entry["Config"])[1:]
            config_json = json.loads(json_members[config_name])
            diff_ids = config_json["rootfs"]["diff_ids"]
    except (KeyError, IndexError, TypeError, ValueError, LayerError):
        raise ImageError("manifest.json does not describe an image") from None
    if len(paths) != len(diff_ids):
        raise ImageError(f"{len(paths)} layers in manifest.json but {len(diff_ids)} diff ids in the config")
    scans, cached = [], 0
    for number, (path, diff_id) in enumerate(zip(paths, diff_ids), 1):
        directory = path.rsplit("/", 1)[0]
        directory = links.get(directory, directory)
        scan = by_dir.get(directory) or by_digest.get(diff_id)
        if scan is not None:
            if trusted:
                cache.put(diff_id, scan)
                cache.put_save_id(directory, diff_id)
        else:
            scan = cache.get(diff_id)
            if scan is None:
                raise ImageError(f"layer {number} ({_short(diff_id)}) is missing from the archive")
            cached += 1
        scans.append(scan)
    config = ImageConfig.from_json(inspected if inspected is not None else config_json)
    return ImageView.compose(ref, config, scans, cached)


# --- the Docker engine -----------------------------------------------------------

def _one_line(error: Exception) -> str:
    text = getattr(error, "explanation", None) or str(error)
    text = str(text).strip().splitlines()[0] if str(text).strip() else type(error).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def _from_engine(ref: str, name: str, cache: LayerCache, progress: Progress) -> ImageView:
    try:
        import docker
        from docker import errors
    except ImportError:  # pragma: no cover - docker is a dependency
        raise ImageError("the docker Python package is not installed") from None
    try:
        client = docker.from_env(timeout=600)
        client.ping()
    except Exception as error:
        raise ImageError(f"no Docker engine reachable to read {name} ({_one_line(error)}); "
                         f"a saved image can be checked as docker-archive:PATH") from None
    try:
        try:
            inspected = client.api.inspect_image(name)
        except errors.ImageNotFound:
            try:
                repository, tag = _split_tag(name)
                client.api.pull(repository, tag=tag)
            except Exception as error:
                raise ImageError(f"not in the local Docker engine, and pulling it failed: {_one_line(error)}") from None
            inspected = client.api.inspect_image(name)
        diff_ids = list(inspected.get("RootFS", {}).get("Layers") or [])
        if diff_ids and all(cache.has(d) for d in diff_ids):
            # Every layer is cached: the engine's config is all we need.
            scans = [cache.get(d) for d in diff_ids]
            if all(s is not None for s in scans):
                return ImageView.compose(ref, ImageConfig.from_json(inspected), scans, len(scans))
        chunks = client.api.get_image(inspected["Id"])
        stream = ForwardReader(lambda _size, chunks=iter(chunks): next(chunks, b""))
        try:
            return _from_save_stream(ref, stream, inspected, cache, progress, trusted=True)
        finally:
            close = getattr(chunks, "close", None)
            if close:
                close()
    except ImageError:
        raise
    except Exception as error:  # API errors, a dropped connection mid-stream
        raise ImageError(f"the Docker engine could not give {name}: {_one_line(error)}") from None
    finally:
        client.close()


def _split_tag(name: str) -> tuple[str, str | None]:
    if "@" in name:
        return name, None
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        repository, _, tag = name.rpartition(":")
        return repository, tag
    return name, "latest"
