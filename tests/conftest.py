import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "fixtures")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def client():
    """The Docker engine (skips, or fails in CI, without one)."""
    from dockerutil import engine_or_skip

    return engine_or_skip()


@pytest.fixture(scope="module")
def busybox_image(client):
    """A busybox-static image with a shell, removed after the module."""
    from dockerutil import BUSYBOX_BASE, build_image, remove_image

    tag = build_image(client, BUSYBOX_BASE)
    yield tag
    remove_image(client, tag)


@pytest.fixture
def cache_home(tmp_path, monkeypatch):
    """A layer cache of the test's own ($XDG_CACHE_HOME), so no test reads another's."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache"
