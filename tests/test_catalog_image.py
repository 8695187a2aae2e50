"""Every example in rules/SM2xx.md, run for real.

A `dockerfile` block is an image recipe: it is built (from scratch, with the
static busybox in the build context) and the image is checked. A first line
`# smlint-config: KEY=VALUE` sets a config key for that example. A `json`
block (SM206) is an image config: a docker-archive is crafted around a
busybox layer with that os/architecture, since an arm64 image cannot be
built on this amd64 engine.
"""
from __future__ import annotations

import json
import os
import sys

import pytest

from conftest import FIXTURES
from dockerutil import BUSYBOX, build_image, engine_or_skip, remove_image
from registries import registered

sys.path.insert(0, os.path.join(FIXTURES, "images"))
from archives import docker_archive, layer_tar  # noqa: E402

from smlint import catalog  # noqa: E402
from smlint.config import build_policy  # noqa: E402
from smlint.image.scan import check_images  # noqa: E402

IMAGE_RULES = [doc for doc in catalog.load().values() if doc.scope == "image"]
CASES = [
    pytest.param(doc.id, heading, number, language, text, id=f"{doc.id}-{'fail' if heading == 'Example' else 'pass'}{number}",
                 marks=[pytest.mark.docker] if language == "dockerfile" else [])  # built with the engine
    for doc in IMAGE_RULES
    for heading in ("Example", "Use instead")
    for number, (language, text) in enumerate(doc.examples(heading), 1)
]


def test_every_image_rule_has_failing_and_passing_examples():
    ids = {doc.id for doc in IMAGE_RULES}
    assert ids == set(registered("image")) and ids
    for doc in IMAGE_RULES:
        assert doc.examples("Example") and doc.examples("Use instead"), doc.id


@pytest.fixture(autouse=True)
def cache_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def _settings(text: str) -> dict:
    settings = {}
    for line in text.splitlines():
        if line.startswith("# smlint-config:"):
            key, _, value = line.split(":", 1)[1].strip().partition("=")
            settings[key.strip()] = value.strip()
    return settings


@pytest.mark.parametrize("rule_id,heading,number,language,text", CASES)
def test_catalog_example(rule_id, heading, number, language, text, tmp_path):
    policy = build_policy(_settings(text))
    tag = None
    if language == "dockerfile":
        pytest.importorskip("docker")
        client = engine_or_skip()
        tag = build_image(client, text)
        ref = tag
    elif language == "json":
        with open(BUSYBOX, "rb") as handle:
            layer = layer_tar([("bin", None), ("bin/busybox", handle.read(), 0o755)])
        ref = "docker-archive:" + docker_archive(str(tmp_path / "image.tar"), [layer],
                                                 {"Entrypoint": ["/bin/busybox", "true"]},
                                                 **{("os_name" if k == "os" else k): v for k, v in json.loads(text).items()})
    else:
        pytest.fail(f"{rule_id}: unexpected example language {language!r}")
    try:
        report = check_images([ref], policy)
    finally:
        if tag:
            remove_image(client, tag)
    fired = {f.rule_id for f in report.findings}
    assert "SM001" not in fired and "SM003" not in fired, report.findings
    if heading == "Example":
        assert rule_id in fired, f"{rule_id} failing example {number} did not fire: {report.findings}"
    else:
        assert rule_id not in fired, f"{rule_id} passing example {number} fired: {report.findings}"
