"""`smlint image`: load each image, run the SM2xx checks, build the report."""
from __future__ import annotations

import time
from dataclasses import replace

from ..config import Policy
from ..engine import run_checks, unreadable
from ..report import Report
from .cache import LayerCache
from .checks import ImageSubject, registry
from .dockerfile_map import DockerfileMap
from .errors import ImageError
from .sources import load


def check_images(refs: list[str], policy: Policy, *, dockerfile: str | None = None, use_cache: bool = True,
                 progress_factory=None, pull: bool = False) -> Report:
    report = Report(command="image", targets=list(refs))
    mapping = None
    if dockerfile:
        try:
            mapping = DockerfileMap.read(dockerfile)
            report.sources[dockerfile] = mapping.lines
        except (OSError, ValueError) as error:
            reason = getattr(error, "strerror", None) or str(error)
            report.findings.append(unreadable(dockerfile, f"cannot use as --dockerfile: {reason}"))
    cache = LayerCache(enabled=use_cache)
    images = []
    for ref in refs:
        began = time.monotonic()
        try:
            view = load(ref, cache, progress_factory(ref) if progress_factory else None, pull=pull)
        except ImageError as error:
            report.findings.append(unreadable(ref, str(error)))
            continue
        seconds = time.monotonic() - began
        subject = ImageSubject(view, mapping, policy)
        for finding in run_checks(registry, subject, ref, policy):
            if finding.span is not None and mapping is not None:
                # Reported at the Dockerfile line; the image stays in the data.
                finding = replace(finding, path=mapping.path, message=f"{finding.message} (image {ref})",
                                  data={**finding.data, "image": ref})
            report.findings.append(finding)
        files = len(view.fs.files)
        images.append({
            "ref": ref, "os": view.config.os, "architecture": view.config.architecture,
            "entrypoint": view.config.entrypoint, "cmd": view.config.cmd, "user": view.config.user,
            "layers": view.layers, "cached_layers": view.cached_layers, "size": view.size,
            "files": files, "seconds": round(seconds, 3),
        })
        report.summary_lines.append(
            f"{ref}: {view.config.platform}, {view.layers} layers ({view.cached_layers} cached), "
            f"{view.size / 1e6:,.1f} MB, {files:,} entries, read in {seconds:.2f} s"
        )
    report.result = {"images": images}
    return report
