"""The JSON an image archive carries (docker-archive manifest.json, OCI
index and manifests, the image config), read with its types checked.

Archives come from strangers: a string where a list belongs, a number as a
diff_id, Env as an object must be one clear ShapeError naming the field
(`manifest.json[0].Layers[2] is a number, not a string`), never a TypeError
deep in the walker or the rules.
"""
from __future__ import annotations

import re

from ..inputs import json_kind

DIGEST = re.compile(r"^(sha256|sha512):([0-9a-f]{64}|[0-9a-f]{128})$")
_LENGTHS = {"sha256": 64, "sha512": 128}
MAX_LAYERS = 1000  # Docker's own bound is 127 layers (overlay2); far more is not an image


class ShapeError(ValueError):
    """A JSON document of the image has a field of the wrong type or form."""


_KINDS = {dict: "an object", list: "an array", str: "a string"}


def need(value, kind: type, where: str):
    """`value` if it is of `kind` (dict, list or str), else ShapeError naming `where`."""
    if not isinstance(value, kind):
        raise ShapeError(f"{where} is {json_kind(value)}, not {_KINDS[kind]}")
    return value


def field(document: dict, key: str, kind: type, where: str, required: bool = True):
    """document[key] checked to be of `kind`; None if absent (or null) and not required."""
    value = document.get(key)
    if value is None and not required:
        return None
    if value is None:
        raise ShapeError(f"{where}.{key} is missing")
    return need(value, kind, f"{where}.{key}")


def strings(value, where: str, limit: int | None = None) -> list[str]:
    items = need(value, list, where)
    if limit is not None and len(items) > limit:
        raise ShapeError(f"{where} has {len(items):,} items, more than smlint's bound of {limit:,}")
    return [need(item, str, f"{where}[{n}]") for n, item in enumerate(items)]


def digest(value, where: str) -> str:
    text = need(value, str, where)
    match = DIGEST.match(text)
    if not match:
        raise ShapeError(f"{where} is not a digest (sha256:<64 hex> or sha512:<128 hex>): {text[:80]!r}")
    if len(match.group(2)) != _LENGTHS[match.group(1)]:
        raise ShapeError(f"{where} has the wrong length for {match.group(1)}: {text[:80]!r}")
    return text


# --- the documents --------------------------------------------------------------

def docker_manifest(data) -> tuple[str, list[str]]:
    """(config file name, layer file names) of the first image in a
    `docker save` manifest.json."""
    entries = need(data, list, "manifest.json")
    if not entries:
        raise ShapeError("manifest.json lists no image")
    entry = need(entries[0], dict, "manifest.json[0]")
    config = field(entry, "Config", str, "manifest.json[0]")
    layers = strings(field(entry, "Layers", list, "manifest.json[0]"), "manifest.json[0].Layers", MAX_LAYERS)
    return config, layers


def diff_ids(config) -> list[str]:
    """The config's rootfs.diff_ids, each a well-formed digest."""
    rootfs = field(need(config, dict, "config"), "rootfs", dict, "config")
    ids = strings(field(rootfs, "diff_ids", list, "config.rootfs"), "config.rootfs.diff_ids", MAX_LAYERS)
    return [digest(value, f"config.rootfs.diff_ids[{n}]") for n, value in enumerate(ids)]


def index_manifests(index, name: str) -> list[dict]:
    """The descriptors of an OCI image index (index.json or a nested one),
    each checked: digest a digest, mediaType a string, platform an object."""
    manifests = field(need(index, dict, name), "manifests", list, name)
    if not manifests:
        raise ShapeError(f"{name} lists no manifests")
    checked = []
    for n, descriptor in enumerate(manifests[:MAX_LAYERS]):
        where = f"{name}.manifests[{n}]"
        need(descriptor, dict, where)
        digest(descriptor.get("digest"), f"{where}.digest")
        field(descriptor, "mediaType", str, where, required=False)
        platform = field(descriptor, "platform", dict, where, required=False) or {}
        for key in ("os", "architecture"):
            field(platform, key, str, f"{where}.platform", required=False)
        checked.append(descriptor)
    return checked


def image_manifest(manifest, name: str) -> tuple[str, list[str]]:
    """(config digest, layer blob digests) of an OCI image manifest."""
    need(manifest, dict, name)
    config = field(manifest, "config", dict, name)
    layers = field(manifest, "layers", list, name)
    if len(layers) > MAX_LAYERS:
        raise ShapeError(f"{name}.layers has {len(layers):,} items, more than smlint's bound of {MAX_LAYERS:,}")
    blobs = [digest(need(layer, dict, f"{name}.layers[{n}]").get("digest"), f"{name}.layers[{n}].digest")
             for n, layer in enumerate(layers)]
    return digest(config.get("digest"), f"{name}.config.digest"), blobs
