"""What the container runs: Docker's ENTRYPOINT/CMD rules plus Processing's
ContainerEntrypoint/ContainerArguments overrides (contract section 1).

| Entrypoint given | Arguments given | runs                                   |
| no               | no              | image ENTRYPOINT + image CMD           |
| yes              | no              | given entrypoint alone                 |
| no               | yes             | image ENTRYPOINT + given arguments     |
| yes              | yes             | given entrypoint + given arguments     |

Shared by `smlint explain`, `smlint run` and the SM305 check so that the
table lives in one place.
"""
from __future__ import annotations

from dataclasses import dataclass, field

IMAGE_ENTRYPOINT = "image ENTRYPOINT"
IMAGE_CMD = "image CMD"
REQUEST_ENTRYPOINT = "request ContainerEntrypoint"
REQUEST_ARGUMENTS = "request ContainerArguments"


@dataclass(frozen=True)
class Resolution:
    """The argv and where each part came from, in order."""

    parts: tuple[tuple[str, tuple[str, ...]], ...] = field(default_factory=tuple)
    case: str = ""

    @property
    def argv(self) -> list[str]:
        return [arg for _, args in self.parts for arg in args]

    @property
    def executable_source(self) -> str | None:
        """Which part supplies argv[0]: 'request ContainerArguments' is the SM305 trap."""
        for source, args in self.parts:
            if args:
                return source
        return None


def resolve(
    image_entrypoint: list[str] | None,
    image_cmd: list[str] | None,
    container_entrypoint: list[str] | None = None,
    container_arguments: list[str] | None = None,
) -> Resolution:
    """Apply the four-case table. `None` (or an empty list) means not given."""
    parts: list[tuple[str, tuple[str, ...]]] = []
    if container_entrypoint:
        parts.append((REQUEST_ENTRYPOINT, tuple(container_entrypoint)))
        if container_arguments:
            parts.append((REQUEST_ARGUMENTS, tuple(container_arguments)))
            case = "ContainerEntrypoint and ContainerArguments given: image ENTRYPOINT and CMD ignored"
        else:
            case = "ContainerEntrypoint given: image ENTRYPOINT and CMD ignored"
    elif container_arguments:
        if image_entrypoint:
            parts.append((IMAGE_ENTRYPOINT, tuple(image_entrypoint)))
        parts.append((REQUEST_ARGUMENTS, tuple(container_arguments)))
        case = "ContainerArguments given: they replace the image CMD"
    else:
        if image_entrypoint:
            parts.append((IMAGE_ENTRYPOINT, tuple(image_entrypoint)))
        if image_cmd:
            parts.append((IMAGE_CMD, tuple(image_cmd)))
        case = "no override: image ENTRYPOINT + CMD, as Docker combines them"
    return Resolution(parts=tuple(parts), case=case)


@dataclass(frozen=True)
class SwallowedArguments:
    """ContainerArguments handed to a `sh -c TEXT` ENTRYPOINT (SM309): the shell
    gets `TEXT ARG1 ARG2 ...`, so ARG1 becomes `$0`, and the others reach the
    job only through `$@`/`$1`... in TEXT."""

    shell: str
    script: str
    arguments: tuple[str, ...]
    script_reads_arguments: bool

    @property
    def lost(self) -> tuple[str, ...]:
        return self.arguments if not self.script_reads_arguments else self.arguments[:1]


def swallowed_arguments(image_entrypoint: list[str] | None, container_entrypoint: list[str] | None,
                        container_arguments: list[str] | None) -> SwallowedArguments | None:
    """The SM309 trap, or None. Only when the script is the ENTRYPOINT's last
    word: `["sh", "-c", "TEXT", "name"]` already supplies `$0` itself."""
    if container_entrypoint or not container_arguments or not image_entrypoint:
        return None
    from .dockerfile.shell import shell_c_script

    found = shell_c_script(list(image_entrypoint))
    if found is None or found[2] != len(image_entrypoint) - 1:
        return None
    script = image_entrypoint[-1]
    return SwallowedArguments(found[0], script, tuple(container_arguments), _reads_positional(script))


def _reads_positional(script: str) -> bool:
    import re

    return re.search(r"\$(\{)?([@*1-9]|#)", script) is not None
