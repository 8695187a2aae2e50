"""Helpers for the image tests that craft archives (no Docker engine needed)."""
from __future__ import annotations

import json
import os
import sys

from click.testing import CliRunner

from conftest import FIXTURES

sys.path.insert(0, os.path.join(FIXTURES, "images"))  # archives.py: and for the tests that import it after this module
from archives import docker_archive, layer_tar  # noqa: E402

from smlint.cli import cli  # noqa: E402

SCRIPT = b"#!/bin/sh\nexec echo hi\n"


def base_layer() -> bytes:
    return layer_tar([
        ("bin", None), ("bin/sh", b"\x7fELF", 0o755), ("etc", None),
        ("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\nworker:x:1000:1000::/:/bin/sh\n"),
        ("opt", None), ("opt/ml", None), ("opt/ml/old.txt", b"gone later"),
        ("keep", None), ("keep/a", b"a"), ("keep/b", b"b"),
        ("usr/local/bin/job", SCRIPT, 0o755),
    ])


def image(tmp_path, layers, runtime=None, **fields) -> str:
    path = str(tmp_path / "image.tar")
    docker_archive(path, layers, runtime or {"Entrypoint": ["job"], "Env": ["PATH=/usr/local/bin:/bin"]}, **fields)
    return "docker-archive:" + path


def check(ref: str, *args: str):
    result = CliRunner().invoke(cli, ["image", ref, "-f", "json", *args])
    return result.exit_code, json.loads(result.stdout) if result.stdout.strip().startswith("{") else result.output


def rules_of(report) -> dict[str, list]:
    found: dict[str, list] = {}
    for finding in report["findings"]:
        found.setdefault(finding["rule"], []).append(finding)
    return found
