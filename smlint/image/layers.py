"""Layers of an archive read in image order, each checked against the diff
id its config claims, through the cache.

The trust rule (docs/image.md, "Cache trust"): an archive is a stranger's
file, so its config's diff ids prove nothing until the layers hash to them.
Every layer is decompressed and hashed to its end on every scan, and:
- not cached: it is walked while hashed; only a match is cached;
- cached: it is only hashed (no tar parsing), and the cached scan is used
  only on a match.
A mismatch is SM001 "layer digest mismatch" naming the layer; nothing is
written for it. For OCI blobs the compressed blob's own digest is checked
too, but alone it proves nothing about the diff id.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO, Callable, Iterator

from .cache import LayerCache
from .errors import ImageError
from .progress import Progress
from .streams import Hashing, LayerError, verify_layer
from .walker import Budget, LayerScan, walk_layer


@dataclass(frozen=True)
class LayerSource:
    diff_id: str  # what the config claims: the digest of the uncompressed tar
    open: Callable[[], BinaryIO]
    blob_digest: str | None = None  # an OCI blob's digest (of its compressed bytes)


def short(digest: str) -> str:
    return digest.split(":", 1)[-1][:12] if digest else "?"


def layer_error(number: int, digest: str, error: Exception) -> ImageError:
    return ImageError(f"layer {number} ({short(digest)}): {error}")


def charge(budget: Budget, scan: LayerScan, number: int, digest: str) -> None:
    """Count a cached layer's entries against the image's bound (ImageError past it)."""
    try:
        budget.charge_scan(scan)
    except LayerError as error:
        raise layer_error(number, digest, error) from None


class OrderedLayers:
    """Yields the verified scans of `layers` in order; `cached` counts those
    taken from the cache (after their layer hashed to the key)."""

    def __init__(self, layers: list[LayerSource], cache: LayerCache, progress: Progress) -> None:
        self.layers, self.cache, self.progress = layers, cache, progress
        self.cached = 0

    def scans(self) -> Iterator[LayerScan]:
        budget, done = Budget(), 0
        self.progress.start(len(self.layers))
        for number, layer in enumerate(self.layers, 1):
            def report(n: int, number=number, base=done) -> None:
                self.progress.advance(number - 1, base + n)

            hit = self.cache.get(layer.diff_id)
            try:
                with layer.open() as raw:
                    scan = self._read(raw, layer, hit, report, budget)
            except LayerError as error:
                raise layer_error(number, layer.diff_id, error) from None
            if hit is None:
                self.cache.put(layer.diff_id, scan)
            else:
                self.cached += 1
            done += scan.size
            self.progress.advance(number, done)
            yield scan
            del scan, hit  # composed: let this layer's entries go before the next is read

    @staticmethod
    def _read(raw: BinaryIO, layer: LayerSource, hit: LayerScan | None, report, budget: Budget) -> LayerScan:
        source = Hashing(raw, layer.blob_digest) if layer.blob_digest else raw
        if hit is not None:
            budget.charge_scan(hit)
            verify_layer(source, layer.diff_id, report)
            scan = hit
        else:
            scan = walk_layer(source, report, diff_id=layer.diff_id, budget=budget)
        if isinstance(source, Hashing):
            source.check("blob digest")
        return scan
