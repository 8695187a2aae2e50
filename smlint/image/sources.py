"""Where an image comes from, and how its layers reach the walker.

  REF (name:tag, ECR URI, id)   the local Docker engine (pulled only when asked)
  docker-daemon:REF             the same, spelled out
  docker-archive:PATH           a `docker save` tar (plain or gzip)
  oci-archive:PATH              a tar of an OCI image layout
  oci:DIR                       an OCI image layout directory

Archives need no engine (archives.py); the `docker` SDK is imported only for
engine refs.

Cache trust: a scan is written to the cache only for a layer whose content is
known to be its diff id: an engine layer (the engine verified it on load or
pull, and streams it itself), or an archive layer that hashed to the diff id
its config claims (layers.py). A cache hit for an archive layer is used only
after the layer hashed to the key; an engine image whose layers are all
cached is answered from the cache and the engine's inspect answer.
"""
from __future__ import annotations

import posixpath
import tarfile

from . import shapes
from .archives import JSON_LIMIT, DirLayout, forward_members, parse_json, read_file, read_layout
from .cache import LayerCache
from .errors import ImageError
from .layers import charge, layer_error
from .progress import Progress
from .streams import ForwardReader, LayerError
from .view import ImageConfig, ImageView
from .walker import Budget, LayerScan, normalise, walk_layer

__all__ = ["ImageError", "Progress", "load", "parse_ref"]


def parse_ref(ref: str) -> tuple[str, str]:
    for kind in ("docker-archive", "oci-archive", "oci", "docker-daemon"):
        if ref.startswith(kind + ":"):
            value = ref[len(kind) + 1:]
            if not value:
                raise ImageError(f"{kind}: needs a path")
            return ("engine" if kind == "docker-daemon" else kind), value
    return "engine", ref


def load(ref: str, cache: LayerCache, progress: Progress | None = None, *, pull: bool = False) -> ImageView:
    kind, value = parse_ref(ref)
    progress = progress or Progress()
    try:
        if kind == "engine":
            return _from_engine(ref, value, cache, progress, pull)
        if kind == "oci":
            return read_layout(ref, DirLayout(value), cache, progress)
        return read_file(ref, kind, value, cache, progress)
    except LayerError as error:
        raise ImageError(str(error)) from None
    except shapes.ShapeError as error:
        raise ImageError(f"{value}: {error}") from None
    finally:
        progress.finish()


# --- the Docker engine -----------------------------------------------------------

def _one_line(error: Exception) -> str:
    text = getattr(error, "explanation", None) or str(error)
    text = str(text).strip().splitlines()[0] if str(text).strip() else type(error).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def _from_engine(ref: str, name: str, cache: LayerCache, progress: Progress, pull: bool) -> ImageView:
    import docker  # a dependency; imported here to keep `smlint lint` light
    from docker import errors

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
            # Pulling reaches a registry: only when the user asked for it.
            if not pull:
                raise ImageError("not in the local Docker engine: build it, `docker pull` it, "
                                 "or pass --pull") from None
            try:
                repository, tag = _split_tag(name)
                client.api.pull(repository, tag=tag)
            except Exception as error:
                raise ImageError(f"not in the local Docker engine, and pulling it failed: {_one_line(error)}") from None
            inspected = client.api.inspect_image(name)
        config, diff_ids = _inspected_config(inspected)
        cached = {d: scan for d in set(diff_ids) if (scan := cache.get(d)) is not None}
        if diff_ids and len(cached) == len(set(diff_ids)):
            # Every layer is cached: the engine's config is all we need.
            scans = [cached[d] for d in diff_ids]
            budget = Budget()
            for number, (scan, diff_id) in enumerate(zip(scans, diff_ids), 1):
                charge(budget, scan, number, diff_id)
            return ImageView.compose(ref, config, scans, len(diff_ids))
        for hints in (True, False):
            chunks = client.api.get_image(inspected["Id"])
            stream = ForwardReader(lambda _size, chunks=iter(chunks): next(chunks, b""))
            reader = _EngineStream(diff_ids, cached, cache, progress, hints)
            try:
                forward_members(stream, "image stream from the engine", reader.take)
                return reader.compose(ref, config)
            except _SkippedLayerMissing:
                continue  # a remembered directory name misled: read every layer this time
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


def _inspected_config(inspected: dict) -> tuple[ImageConfig, list[str]]:
    try:
        layers = shapes.field(shapes.field(inspected, "RootFS", dict, "inspect"), "Layers", list, "inspect.RootFS",
                              required=False) or []
        diff_ids = [shapes.digest(d, f"inspect.RootFS.Layers[{n}]") for n, d in enumerate(layers)]
        return ImageConfig.from_json(inspected), diff_ids
    except shapes.ShapeError as error:
        raise ImageError(f"the engine's inspect answer: {error}") from None


class _SkippedLayerMissing(Exception):
    """A layer skipped as cached (by its remembered directory name) is not in the cache."""


class _EngineStream:
    """The engine's `docker save` stream, read strictly forward.

    Member order is not layer order and manifest.json comes last, so each
    layer is walked on its own and matched to its diff id by the engine's
    manifest.json at the end. Layers known to be cached (a directory name
    remembered from an earlier stream, or an OCI-style blob named by its diff
    id) are skipped unread. The engine verified every layer on load or pull
    and streams it itself, so what it streams is cached as it is.
    """

    def __init__(self, diff_ids: list[str], cached: dict[str, LayerScan], cache: LayerCache, progress: Progress,
                 hints: bool) -> None:
        self.diff_ids, self.cached, self.cache, self.progress, self.hints = diff_ids, cached, cache, progress, hints
        self.by_dir: dict[str, LayerScan] = {}
        self.by_digest: dict[str, LayerScan] = {}
        self.links: dict[str, str] = {}
        self.manifest: bytes | None = None
        self.budget = Budget()
        progress.start(len(diff_ids) or 1)

    def take(self, name: str, member: tarfile.TarInfo, outer: tarfile.TarFile) -> None:
        if name.endswith("/layer.tar"):
            directory = name[: -len("/layer.tar")]
            if member.issym():
                self.links[directory] = normalise(posixpath.join(directory, member.linkname))[1:].rsplit("/", 1)[0]
            elif member.isreg() and not (self.hints and self.cache.save_id(directory) in self.cached):
                self.by_dir[directory] = self._walk(outer, member, directory)
        elif name.startswith("blobs/sha256/") and member.isreg():
            digest = "sha256:" + name.rsplit("/", 1)[1]
            if digest in self.diff_ids and digest not in self.cached and digest not in self.by_digest:
                self.by_digest[digest] = self._walk(outer, member, digest)
        elif name == "manifest.json" and member.isreg() and member.size <= JSON_LIMIT:
            self.manifest = outer.extractfile(member).read()

    def _walk(self, outer: tarfile.TarFile, member: tarfile.TarInfo, label: str) -> LayerScan:
        number = len(self.by_dir) + len(self.by_digest) + 1
        base = outer.offset
        try:
            return walk_layer(outer.extractfile(member), lambda n: self.progress.advance(number - 1, base + n),
                              budget=self.budget)
        except LayerError as error:
            raise layer_error(number, label, error) from None

    def compose(self, ref: str, config: ImageConfig) -> ImageView:
        if self.manifest is None:
            raise ImageError("no manifest.json in the engine's image stream")
        try:
            _, paths = shapes.docker_manifest(parse_json(self.manifest, "manifest.json"))
        except shapes.ShapeError as error:
            raise ImageError(f"the engine's image stream: {error}") from None
        if len(paths) != len(self.diff_ids):
            raise ImageError(f"{len(paths)} layers in manifest.json but {len(self.diff_ids)} diff ids in the config")
        scans, cached = [], 0
        for number, (path, diff_id) in enumerate(zip(paths, self.diff_ids), 1):
            directory = normalise(path)[1:].rsplit("/", 1)[0]
            directory = self.links.get(directory, directory)
            scan = self.by_dir.get(directory) or self.by_digest.get(diff_id)
            if scan is not None:
                self.cache.put(diff_id, scan)
                self.cache.put_save_id(directory, diff_id)
            else:
                scan = self.cached.get(diff_id)
                if scan is None and self.hints:
                    raise _SkippedLayerMissing
                if scan is None:
                    raise layer_error(number, diff_id, "missing from the engine's image stream")
                charge(self.budget, scan, number, diff_id)
                cached += 1
            scans.append(scan)
        return ImageView.compose(ref, config, scans, cached)


def _split_tag(name: str) -> tuple[str, str | None]:
    if "@" in name:
        return name, None
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        repository, _, tag = name.rpartition(":")
        return repository, tag
    return name, "latest"
