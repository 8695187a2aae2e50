"""What the job checks need to know about the image (SM305-SM307).

`ImageFacts` is three-valued on purpose: a fact a source can't see is
`unknown`/`None`, and the checks then say "not checked" instead of passing.
Two sources: a Dockerfile (the static model of the lint work: entrypoint and
cmd, never the filesystem) and a built image (its config and final filesystem,
read by smlint.image without running it).
"""
from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from typing import Callable, Literal

from ..argv import DEFAULT_PATH

PathState = Literal["file-exec", "file-noexec", "missing", "unknown"]

# Base images whose names say they carry CUDA: NVIDIA's, the framework images
# built on them, and AWS's deep-learning containers. A guess ("probably").
_CUDA_BASE = re.compile(
    r"(^|/)(cuda|nvidia/|pytorch|tensorflow|mxnet|huggingface|.*deep-?learning|.*-gpu|.*dlc)|cuda|[-_.]gpu\b|cu\d{2,3}",
    re.I,
)


@dataclass
class ImageFacts:
    """Facts about the image a job runs; `described` names the source for messages."""

    described: str
    entrypoint: list[str] | None = None
    cmd: list[str] | None = None
    config_known: bool = True
    base_image: str | None = None
    env_path: str | None = None
    working_dir: str | None = None
    cuda_runtime: bool | None = None
    cuda_reason: str = ""
    # path -> state in the final filesystem; None when the source can't see files.
    filesystem: Callable[[str], PathState] | None = None
    filesystem_note: str = ""
    # name -> (state, path checked), when the source resolves executables itself.
    executable_resolver: Callable[[str], tuple[PathState, str]] | None = None
    lines: dict[str, int | None] = field(default_factory=dict)  # "entrypoint"/"cmd" -> Dockerfile line

    def path_state(self, path: str) -> PathState:
        return self.filesystem(path) if self.filesystem else "unknown"

    @property
    def has_cuda_runtime(self) -> bool | None:
        return self.cuda_runtime

    def executable_state(self, name: str) -> tuple[PathState, str]:
        """How `name` (argv[0]) resolves in the image, as exec does: a name with
        a slash is a path (relative to the working directory), else it is
        searched on the image's PATH. Returns (state, the path it checked)."""
        if self.executable_resolver is not None:
            return self.executable_resolver(name)
        if "/" in name:
            path = name if name.startswith("/") else posixpath.join(self.working_dir or "/", name)
            return self.path_state(posixpath.normpath(path)), path
        seen: list[tuple[PathState, str]] = []
        for directory in (self.env_path or DEFAULT_PATH).split(":"):
            candidate = posixpath.join(directory or ".", name)
            state = self.path_state(candidate)
            if state == "file-exec":
                return state, candidate
            seen.append((state, candidate))
        for wanted in ("unknown", "file-noexec"):
            for state, candidate in seen:
                if state == wanted:
                    return state, candidate
        return "missing", f"{name} on PATH={self.env_path or DEFAULT_PATH}"


def looks_like_cuda_image(reference: str | None) -> bool:
    return bool(reference) and bool(_CUDA_BASE.search(reference))


def facts_from_dockerfile(path: str, text: str, target: str | None = None,
                          build_args: dict[str, str] | None = None) -> ImageFacts:
    """From the lead's static model: ENTRYPOINT/CMD as Docker would record them."""
    from ..dockerfile.model import static_image_config

    config = static_image_config(text, target=target, build_args=build_args or None)
    base = getattr(config, "base_image", None)
    facts = ImageFacts(
        described=f"the Dockerfile {path}",
        entrypoint=list(config.entrypoint) if config.entrypoint is not None else None,
        cmd=list(config.cmd) if config.cmd is not None else None,
        config_known=bool(config.config_known),
        base_image=base,
        env_path=(getattr(config, "env", None) or {}).get("PATH"),
        working_dir=getattr(config, "workdir", None),
        filesystem=None,
        filesystem_note="a Dockerfile does not show the image's files; check the built image with --image",
        lines={"entrypoint": getattr(config, "entrypoint_line", None), "cmd": getattr(config, "cmd_line", None)},
    )
    if looks_like_cuda_image(base):
        facts.cuda_runtime, facts.cuda_reason = True, f"the base image {base} is probably a CUDA image"
    else:
        facts.cuda_reason = (f"the base image {base or 'scratch'} does not say it is a CUDA image, and a Dockerfile "
                             "does not show whether libcudart.so was installed; check the built image with --image")
    return facts


def facts_from_image(reference: str) -> ImageFacts:
    """From a built image (engine reference or archive), through smlint.image:
    config and final filesystem. Raises LookupError with the SM001 reason."""
    from ..image import ImageError, load_image

    try:
        view = load_image(reference)
    except ImageError as error:
        raise LookupError(str(error)) from None
    return facts_from_view(view)


def facts_from_view(view) -> ImageFacts:
    """From an `smlint.image.ImageView`: config and the final filesystem."""
    from ..image.walker import FILE

    config = view.config

    def state_of(resolved) -> tuple[PathState, str]:
        entry = resolved.entry
        if entry is None:
            return "missing", resolved.path
        return ("file-exec" if entry.kind == FILE and entry.executable else "file-noexec"), resolved.path

    has_cudart = view.has_file_matching("libcudart.so*")
    return ImageFacts(
        described=f"the image {view.ref}",
        entrypoint=list(config.entrypoint) if config.entrypoint else None,
        cmd=list(config.cmd) if config.cmd else None,
        config_known=True,
        env_path=config.env_map.get("PATH"),
        working_dir=config.workdir or None,
        cuda_runtime=has_cudart,
        cuda_reason="" if has_cudart else "no libcudart.so* in its filesystem",
        filesystem=lambda path: state_of(view.resolve(path))[0],
        executable_resolver=lambda name: state_of(view.resolve_executable(name)),
    )
