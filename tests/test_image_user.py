"""SM242 (and its boundary with SM240) on crafted docker-archives: which
config User runs the job as root, names looked up by uid in /etc/passwd."""
from __future__ import annotations

import os
import sys

import pytest

from conftest import FIXTURES

sys.path.insert(0, os.path.join(FIXTURES, "images"))
from archives import docker_archive, layer_tar  # noqa: E402

from smlint.config import Policy  # noqa: E402
from smlint.image.scan import check_images  # noqa: E402

PASSWD = (b"root:x:0:0:root:/root:/bin/sh\ntoor:x:0:0::/:/bin/sh\nworker:x:1000:1000::/:/bin/sh\n"
          b"odd:x:notanumber:0::/:/bin/sh\n")


@pytest.fixture(autouse=True)
def cache_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def _rules(tmp_path, user, passwd=PASSWD):
    entries = [("bin", None), ("bin/job", b"\x7fELF", 0o755)]
    if passwd is not None:
        entries += [("etc", None), ("etc/passwd", passwd)]
    ref = "docker-archive:" + docker_archive(str(tmp_path / "image.tar"), [layer_tar(entries)],
                                             {"Entrypoint": ["/bin/job"], "User": user})
    return [f.rule_id for f in check_images([ref], Policy()).findings if f.rule_id in ("SM240", "SM242", "SM001")]


@pytest.mark.parametrize("user, expected", [
    ("", []), ("root", []), ("0", []), ("0:1000", []), ("root:staff", []),
    ("toor", []), ("toor:1000", []),  # a name with uid 0 is root
    ("worker", ["SM242"]), ("worker:0", ["SM242"]), ("1000", ["SM242"]), ("1000:0", ["SM242"]),
    ("ghost", ["SM240"]),  # missing from /etc/passwd: SM240's finding alone
    ("odd", []),  # a uid that is not a number: not judged
])
def test_image_user(tmp_path, user, expected):
    assert _rules(tmp_path, user) == expected


def test_numeric_user_without_passwd_is_judged(tmp_path):
    assert _rules(tmp_path, "65534", passwd=None) == ["SM242"]
    assert _rules(tmp_path, "0", passwd=None) == []
