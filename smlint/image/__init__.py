"""Built images, inspected without running them (`smlint image`, SM2xx).

The API other commands use (`smlint job --image`, `smlint run`):

    from smlint.image import load_image, ImageError
    view = load_image("myimage:1")            # or docker-archive:PATH, oci-archive:PATH, oci:DIR
    view.config.entrypoint, view.config.cmd   # lists or None
    view.config.env_map, view.config.user, view.config.workdir, view.config.os, view.config.architecture
    view.resolve_executable("python3")        # Resolved(path, entry, symlinks, problem); entry None if absent
    view.lookup("/opt/app/run.sh")            # Entry(path, kind, mode, size, link, layer) or None
    view.has_file_matching("libcudart.so*")   # basename glob over files and symlinks

`load_image` raises `ImageError` (its message is the one-line SM001 reason)
for anything that cannot be read: a missing file, a corrupt archive, an
image absent from the engine (pulled only with pull=True) or a pull that failed, no Docker engine for an engine reference. Per-layer results are
cached under `$XDG_CACHE_HOME/smlint` unless `use_cache=False`.
"""
from __future__ import annotations

from .errors import ImageError
from .progress import Progress
from .view import Entry, ImageConfig, ImageView, Resolved


def load_image(ref: str, *, use_cache: bool = True, progress: Progress | None = None, pull: bool = False) -> ImageView:
    """Read image `ref` (see the module docstring for the forms) into an ImageView."""
    from .cache import LayerCache
    from .sources import load

    return load(ref, LayerCache(enabled=use_cache), progress, pull=pull)


__all__ = ["load_image", "ImageError", "ImageView", "ImageConfig", "Entry", "Resolved", "Progress"]
