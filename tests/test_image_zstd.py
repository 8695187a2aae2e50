"""zstd layers: both readers (python-zstandard and the standard library's API)
give the same entries as plain and gzip layers, within bounded memory."""
from __future__ import annotations

import gzip
import io
import json
import os
import sys
import tarfile
import time
import tracemalloc

import pytest

from image_helpers import SCRIPT, base_layer, check, image, rules_of
from archives import layer_tar, oci_layout_from_docker_archive, tar_directory, zstd_frame
from smlint.image import load_image
from smlint.image import streams
from smlint.image import walker
from smlint.image.walker import LayerError, walk_layer

pytestmark = pytest.mark.usefixtures("cache_home")  # each test its own layer cache


def _zstd_module(name):
    if name == "zstandard":
        return pytest.importorskip("zstandard")
    if sys.version_info >= (3, 14):
        return pytest.importorskip("compression.zstd")
    return pytest.importorskip("backports.zstd")  # the same API before 3.14 (a test dependency)


@pytest.fixture(params=["zstandard", "stdlib"])
def zstd_library(request, monkeypatch):
    """Each zstd reader the walker has: python-zstandard, and the standard
    library's compression.zstd API (its backport before Python 3.14)."""
    module = _zstd_module(request.param)
    reader = streams._Unzstd if request.param == "zstandard" else streams._StdlibUnzstd
    monkeypatch.setattr(streams, "_zstd_reader", lambda raw, head: reader(raw, head, module))
    return request.param


class _Stream(io.RawIOBase):
    """A non-seekable stream in small, uneven reads, like an engine's."""

    def __init__(self, data: bytes) -> None:
        self.data, self.position, self.turn = data, 0, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        self.turn += 1
        n = min(len(buffer), 1 + (self.turn * 7919) % 70_000, len(self.data) - self.position)
        buffer[:n] = self.data[self.position:self.position + n]
        self.position += n
        return n


def zstd_test_layer() -> bytes:
    return layer_tar([
        ("opt", None), ("opt/ml", None), ("opt/ml/old.txt", b"gone later"),
        ("usr/local/bin/job", SCRIPT, 0o755), ("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n"),
        ("big", os.urandom(300_000) + bytes(3 << 20)),
    ])


def test_zstd_layer_gives_the_same_entries_as_plain_and_gzip(zstd_library):
    layer = zstd_test_layer()
    plain = walk_layer(io.BytesIO(layer))
    for data in (gzip.compress(layer), zstd_frame(layer), zstd_frame(layer, level=19)):
        for source in (io.BytesIO(data), _Stream(data)):
            scan = walk_layer(source)
            assert (scan.entries, scan.samples, scan.size) == (plain.entries, plain.samples, plain.size)
    assert ("/opt/ml/old.txt", "f", 0o644, 10, "") in plain.entries
    assert plain.samples["/usr/local/bin/job"] == (b"#!/bin/sh", walker.SCRIPT_EXECS) and plain.samples["/etc/passwd"] == [["root", 0]]


def test_zstd_layer_of_several_frames(zstd_library):
    # pzstd and containerd may write several frames; cut one inside a file's
    # content, add an empty frame, a skippable frame and NUL padding.
    layer = zstd_test_layer()
    skippable = b"\x50\x2a\x4d\x18" + (5).to_bytes(4, "little") + b"skip!"
    data = (zstd_frame(layer[:200_000]) + zstd_frame(b"") + skippable + zstd_frame(layer[200_000:])
            + bytes(1000))
    assert walk_layer(_Stream(data)).entries == walk_layer(io.BytesIO(layer)).entries


def test_truncated_zstd_layer(zstd_library):
    data = zstd_frame(zstd_test_layer())
    for cut in (6, len(data) // 2, len(data) - 1):
        with pytest.raises(LayerError, match="zstd stream is truncated"):
            walk_layer(io.BytesIO(data[:cut]))


def test_corrupt_zstd_layer(zstd_library):
    good = zstd_frame(zstd_test_layer())
    for data in (b"\x28\xb5\x2f\xfd" + b"garbage after the magic" * 50, good + b"trailing garbage"):
        with pytest.raises(LayerError, match="corrupt zstd data") as error:
            walk_layer(io.BytesIO(data))
        assert "\n" not in str(error.value)


def test_zstd_bomb_is_stopped_early_in_little_memory(zstd_library):
    # 300 MiB of zeros as one file, compressed (RLE blocks) to about 9 KiB.
    header = tarfile.TarInfo("zeros")
    header.size = 300 << 20
    bomb = zstd_frame([header.tobuf(format=tarfile.PAX_FORMAT)] + [bytes(1 << 20)] * 300)
    assert len(bomb) < 16 << 10
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(LayerError, match="decompression bomb"):
            walk_layer(io.BytesIO(bomb))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - started < 20
    assert peak < 64 << 20, f"{peak:,} bytes"


@pytest.mark.skipif(sys.version_info >= (3, 14), reason="compression.zstd is there")
def test_zstd_layer_without_a_zstd_library(monkeypatch):
    data = zstd_frame(zstd_test_layer())
    monkeypatch.setitem(sys.modules, "zstandard", None)  # import fails
    with pytest.raises(LayerError, match="pip install zstandard"):
        walk_layer(io.BytesIO(data))


def test_oci_archive_with_zstd_layers_end_to_end(tmp_path):
    nvidia = layer_tar([("usr", None), ("usr/lib", None), ("usr/lib/x86_64-linux-gnu", None),
                        ("usr/lib/x86_64-linux-gnu/libcuda.so.535.104.05", b"\x7fELF driver")])
    ref = image(tmp_path, [base_layer(), nvidia])
    layout = oci_layout_from_docker_archive(ref.split(":", 1)[1], str(tmp_path / "layout"), zstd_layers=True)
    blobs = os.path.join(layout, "blobs", "sha256")
    index = json.load(open(os.path.join(layout, "index.json")))["manifests"][0]["digest"].split(":")[1]
    media = {layer["mediaType"] for layer in json.load(open(os.path.join(blobs, index)))["layers"]}
    assert media == {"application/vnd.oci.image.layer.v1.tar+zstd"}
    archive = "oci-archive:" + tar_directory(layout, str(tmp_path / "oci.tar"))
    listing = [sorted((e.path, e.kind, e.mode, e.size) for e in load_image(r, use_cache=False).entries())
               for r in (ref, archive)]
    assert listing[0] == listing[1]
    code, report = check(archive)
    found = rules_of(report)
    assert code == 1 and "SM001" not in found, report
    assert found["SM210"][0]["pointer"] == "/opt/ml/old.txt"
    assert "SM220" in found, report
