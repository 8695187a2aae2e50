"""Shared helpers for tests that need a real Docker engine.

In CI (CI=true or SMLINT_REQUIRE_DOCKER=1) a missing engine is a failure, not
a skip: the Docker tests must run there. Elsewhere (a laptop without Docker)
they skip with the reason.
"""
from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
import uuid

import pytest

BUSYBOX = shutil.which("busybox") or "/bin/busybox"
LABEL = "smlint.test=1"


def docker_required() -> bool:
    return os.environ.get("CI", "").lower() == "true" or os.environ.get("SMLINT_REQUIRE_DOCKER") == "1"


def engine_or_skip():
    """A docker SDK client, or skip (fail in CI) with the reason."""
    try:
        import docker

        client = docker.from_env(timeout=120)
        client.ping()
    except Exception as error:  # no engine: say why
        reason = f"no Docker engine reachable ({type(error).__name__}: {error})"
        if docker_required():
            pytest.fail(f"{reason}; CI must run the Docker tests")
        pytest.skip(reason)
    if not os.path.exists(BUSYBOX):
        message = "busybox-static is not installed (/bin/busybox)"
        if docker_required():
            pytest.fail(message)
        pytest.skip(message)
    return client


def build_image(client, dockerfile: str, files: dict[str, bytes | str] | None = None, *,
                busybox: bool = True, tag: str | None = None) -> str:
    """Build `dockerfile` with `files` (name -> content; a tuple (content, mode)
    sets the mode) in its context, plus `busybox` (the static binary) when
    asked. Returns the image tag; images carry the label smlint.test=1."""
    tag = tag or f"smlint-test-{uuid.uuid4().hex[:12]}:latest"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        def add(name: str, data: bytes, mode: int = 0o644) -> None:
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))

        add("Dockerfile", dockerfile.encode())
        if busybox:
            with open(BUSYBOX, "rb") as handle:
                add("busybox", handle.read(), 0o755)
        for name, content in (files or {}).items():
            mode = 0o644
            if isinstance(content, tuple):
                content, mode = content
            add(name, content.encode() if isinstance(content, str) else content, mode)
    buffer.seek(0)
    client.images.build(fileobj=buffer, custom_context=True, tag=tag, rm=True, forcerm=True,
                        labels={"smlint.test": "1"})
    return tag


BUSYBOX_BASE = """FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
"""


def remove_image(client, tag: str) -> None:
    try:
        client.images.remove(tag, force=True, noprune=False)
    except Exception:
        pass


def docker_cli(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check)
