"""The layer walker, whiteouts, path resolution, archive sources and bad input,
on archives crafted in the test (no Docker engine needed)."""
from __future__ import annotations

import gzip
import io
import itertools
import json
import os
import random
import sqlite3
import struct
import sys
import tarfile
import time
import tracemalloc

import pytest
from click.testing import CliRunner

from conftest import FIXTURES

sys.path.insert(0, os.path.join(FIXTURES, "images"))
from archives import (  # noqa: E402
    docker_archive, layer_tar, oci_layout_from_docker_archive, sha256, tar_directory, zstd_frame,
)

from smlint.cli import cli  # noqa: E402
from smlint.image import load_image  # noqa: E402
from smlint.image import cache, streams, walker  # noqa: E402
from smlint.image import rpmdb as rpm_reader  # noqa: E402
from smlint.image.walker import LayerError, walk_layer  # noqa: E402

SCRIPT = b"#!/bin/sh\nexec echo hi\n"


@pytest.fixture(autouse=True)
def cache_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache"


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


def test_whiteout_removes_a_file_added_earlier(tmp_path):
    ref = image(tmp_path, [base_layer(), layer_tar([("opt/ml/.wh.old.txt", b"")])])
    view = load_image(ref)
    assert view.lookup("/opt/ml/old.txt") is None
    assert view.lookup("/opt/ml").kind == "d"
    code, report = check(ref)
    assert "SM210" not in rules_of(report), report


def test_file_under_opt_ml_is_reported_with_its_path(tmp_path):
    ref = image(tmp_path, [base_layer()])
    code, report = check(ref)
    [finding] = rules_of(report)["SM210"]
    assert finding["pointer"] == "/opt/ml/old.txt" and finding["data"]["count"] == 1
    assert code == 1


def test_opaque_directory_hides_lower_layers_but_keeps_its_own_entries(tmp_path):
    upper = layer_tar([("keep", None), ("keep/.wh..wh..opq", b""), ("keep/c", b"c")])
    view = load_image(image(tmp_path, [base_layer(), upper]))
    assert view.lookup("/keep/a") is None and view.lookup("/keep/b") is None
    assert view.lookup("/keep/c").size == 1


def test_hard_links_long_names_and_symlink_chains(tmp_path):
    long_name = "opt/" + "d" * 120 + "/" + "f" * 120
    layer = layer_tar([
        ("usr/local/bin/real", SCRIPT, 0o755), ("usr/local/bin/hard", "hardlink", "usr/local/bin/real"),
        (long_name, b"x"), ("usr/bin/rel", "symlink", "../local/bin/hard"), ("abs", "symlink", "/usr/bin/rel"),
    ], fmt=tarfile.GNU_FORMAT)
    view = load_image(image(tmp_path, [base_layer(), layer]))
    assert view.lookup("/" + long_name).size == 1
    hard = view.resolve("/abs")
    assert hard.path == "/usr/local/bin/hard" and hard.entry.kind == "f" and hard.entry.size == len(SCRIPT)
    assert view.shebang("/usr/local/bin/hard") == b"#!/bin/sh"


def test_symlink_loop_is_bounded(tmp_path):
    layer = layer_tar([("usr/local/bin/job", "symlink", "/loop/a"), ("loop", None),
                       ("loop/a", "symlink", "b"), ("loop/b", "symlink", "a")])
    ref = image(tmp_path, [base_layer(), layer])
    resolved = load_image(ref).resolve_executable("job")
    assert resolved.entry is None and "symbolic links" in resolved.problem
    code, report = check(ref)
    assert "SM204" in rules_of(report)


def test_arm64_config_is_wrong_platform_without_an_engine(tmp_path):
    ref = image(tmp_path, [base_layer()], architecture="arm64", variant="v8")
    code, report = check(ref)
    [finding] = rules_of(report)["SM206"]
    assert "linux/arm64/v8" in finding["message"] and finding["pointer"] == "architecture"


def test_oci_layout_and_oci_archive_match_the_docker_archive(tmp_path):
    ref = image(tmp_path, [base_layer(), layer_tar([("opt/ml/.wh.old.txt", b""), ("opt/ml/new", b"n")])])
    layout = oci_layout_from_docker_archive(ref.split(":", 1)[1], str(tmp_path / "layout"))
    archive = tar_directory(layout, str(tmp_path / "oci.tar"))
    views = [load_image(r, use_cache=False) for r in (ref, "oci:" + layout, "oci-archive:" + archive)]
    listings = [sorted((e.path, e.kind, e.mode, e.size) for e in v.entries()) for v in views]
    assert listings[0] == listings[1] == listings[2]
    assert views[1].lookup("/opt/ml/new") and not views[1].lookup("/opt/ml/old.txt")


def test_cache_is_filled_by_verified_oci_blobs_and_reused(tmp_path, cache_home):
    ref = image(tmp_path, [base_layer()])
    layout = oci_layout_from_docker_archive(ref.split(":", 1)[1], str(tmp_path / "layout"))
    assert load_image("oci:" + layout).cached_layers == 0
    assert len(os.listdir(cache_home / "smlint" / "layers" / cache.FORMAT / "sha256")) == 1
    assert load_image("oci:" + layout).cached_layers == 1
    assert load_image("oci:" + layout, use_cache=False).cached_layers == 0


def test_tampered_oci_blob_is_sm001_and_not_cached(tmp_path, cache_home):
    ref = image(tmp_path, [base_layer()])
    layout = oci_layout_from_docker_archive(ref.split(":", 1)[1], str(tmp_path / "layout"), gzip_layers=False)
    blobs = os.path.join(layout, "blobs", "sha256")
    manifest = json.load(open(os.path.join(layout, "index.json")))["manifests"][0]["digest"].split(":")[1]
    layer = json.load(open(os.path.join(blobs, manifest)))["layers"][0]["digest"].split(":")[1]
    with open(os.path.join(blobs, layer), "r+b") as handle:
        handle.seek(600)
        handle.write(b"X")
    code, report = check("oci:" + layout)
    assert code == 2 and "layer digest mismatch" in report["findings"][0]["message"]
    assert not (cache_home / "smlint" / "layers").exists()


# --- bad input ---------------------------------------------------------------

def _sm001(ref: str) -> str:
    code, report = check(ref)
    assert code == 2, report
    [finding] = report["findings"]
    assert finding["rule"] == "SM001"
    return finding["message"]


def test_truncated_archive(tmp_path):
    ref = image(tmp_path, [base_layer(), layer_tar([("big", os.urandom(200_000))])])
    path = ref.split(":", 1)[1]
    with open(path, "r+b") as handle:
        handle.truncate(os.path.getsize(path) // 2)
    assert "truncated" in _sm001(ref) or "no manifest.json" in _sm001(ref)


def test_truncated_layer_inside_a_complete_outer_archive(tmp_path):
    layer = layer_tar([("big", os.urandom(100_000))])[:50_000]
    assert "truncated" in _sm001(image(tmp_path, [base_layer(), layer]))


def test_tar_that_is_not_an_image(tmp_path):
    path = tmp_path / "plain.tar"
    path.write_bytes(layer_tar([("hello.txt", b"hi")]))
    assert "no manifest.json" in _sm001(f"docker-archive:{path}")


def test_not_a_tar_at_all_and_missing_paths(tmp_path):
    path = tmp_path / "junk.tar"
    path.write_bytes(b"this is no tar" * 100)
    assert "not a readable tar" in _sm001(f"docker-archive:{path}")
    assert "no such file" in _sm001(f"docker-archive:{tmp_path}/absent.tar")
    assert "is a directory" in _sm001(f"docker-archive:{tmp_path}")
    assert "no OCI layout" in _sm001(f"oci:{tmp_path}/absent")


def test_missing_manifest(tmp_path):
    ref = image(tmp_path, [base_layer()])
    source = ref.split(":", 1)[1]
    stripped = tmp_path / "stripped.tar"
    with tarfile.open(source) as old, tarfile.open(stripped, "w") as new:
        for member in old.getmembers():
            if member.name != "manifest.json":
                new.addfile(member, old.extractfile(member) if member.isfile() else None)
    assert "no manifest.json" in _sm001(f"docker-archive:{stripped}")


def test_path_traversal_member_is_refused_and_nothing_is_written(tmp_path):
    evil = layer_tar([("../../etc/passwd", b"pwned:x:0:0::/:/bin/sh\n")])
    ref = image(tmp_path, [base_layer(), evil])
    before = set(os.listdir(tmp_path))
    message = _sm001(ref)
    assert "escapes the image root" in message and "../../etc/passwd" in message
    assert set(os.listdir(tmp_path)) - {"cache"} == before  # the cache holds only the verified first layer
    layers = tmp_path / "cache" / "smlint" / "layers" / cache.FORMAT / "sha256"
    assert os.listdir(layers) == [sha256(base_layer()).split(":")[1]]
    assert "pwned" not in open("/etc/passwd").read()


def test_gzip_bomb_is_stopped_early(tmp_path):
    # 1 GiB of zeros as one file: 16 gzip members of 64 MiB each, about 1 MiB in all.
    header = tarfile.TarInfo("zeros")
    header.size = 1 << 30
    zeros = gzip.compress(bytes(64 << 20), compresslevel=9, mtime=0)
    bomb = gzip.compress(header.tobuf(format=tarfile.PAX_FORMAT), mtime=0) + zeros * 16
    assert len(bomb) < 2 << 20
    with pytest.raises(LayerError, match="decompression bomb"):
        walk_layer(io.BytesIO(bomb))


def test_gzip_layer_is_read(tmp_path):
    scan = walk_layer(io.BytesIO(gzip.compress(layer_tar([("a/b", b"c")]))))
    assert ("/a/b", "f", 0o644, 1, "") in scan.entries


# --- zstd layers ---------------------------------------------------------------

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


def test_one_bad_target_does_not_stop_the_others(tmp_path):
    good = image(tmp_path, [base_layer()])
    result = CliRunner().invoke(cli, ["image", f"docker-archive:{tmp_path}/absent.tar", good, "-f", "json"])
    report = json.loads(result.stdout)
    assert result.exit_code == 2
    assert {f["rule"] for f in report["findings"]} == {"SM001", "SM210"}


# --- RPM sqlite databases (Amazon Linux 2023, RHEL 9, Fedora) ------------------

RPMDB = "/var/lib/rpm/rpmdb.sqlite"
_RPMDB_NUMBERS = itertools.count()
_STRING, _INT32, _BIN, _STRING_ARRAY = 6, 4, 7, 8


def rpm_header_blob(name: str, version: str = "1.0", release: str = "1.amzn2023") -> bytes:
    """A valid RPM header blob as rpm stores it in rpmdb.sqlite: il and dl
    (uint32 big-endian), the index (16-byte entries: tag, type, offset,
    count), the data. The first entry is the immutable region (tag 63) whose
    trailer ends the data; other tags come before and after the name, so
    the name's offset is not 0, and an INT32 is aligned to 4."""
    tags = [
        (100, _STRING_ARRAY, b"C\0", 1),  # HEADERI18NTABLE
        (269, _STRING, b"5f2b" * 10 + b"\0", 1),  # SHA1HEADER
        (1000, _STRING, name.encode() + b"\0", 1),
        (1001, _STRING, version.encode() + b"\0", 1),
        (1002, _STRING, release.encode() + b"\0", 1),
        (1004, _STRING, f"summary of {name}".encode() + b"\0", 1),
        (1009, _INT32, (4096).to_bytes(4, "big"), 1),  # SIZE
        (1022, _STRING, b"x86_64\0", 1),  # ARCH
    ]
    data, index = bytearray(), []
    for tag, kind, value, count in tags:
        if kind == _INT32:
            data += bytes(-len(data) % 4)
        index.append(struct.pack(">iIiI", tag, kind, len(data), count))
        data += value
    il = len(tags) + 1
    region = struct.pack(">iIiI", 63, _BIN, len(data), 16)
    data += struct.pack(">iIiI", 63, _BIN, -16 * il, 16)  # the region trailer
    return struct.pack(">II", il, len(data)) + region + b"".join(index) + bytes(data)


def _rpmdb_connection(path) -> sqlite3.Connection:
    """An rpmdb.sqlite as rpm 4.16+ lays it out (WAL mode, Packages plus an index table)."""
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)")
    connection.execute("CREATE TABLE Name (key TEXT NOT NULL, hnum INTEGER NOT NULL, idx INTEGER NOT NULL)")
    connection.commit()
    return connection


def _add(connection: sqlite3.Connection, blobs) -> None:
    for blob in blobs:
        hnum = connection.execute("INSERT INTO Packages (blob) VALUES (?)", (blob,)).lastrowid
        connection.execute("INSERT INTO Name VALUES (?, ?, 0)", (str(hnum), hnum))
    connection.commit()


def rpmdb(tmp_path, *packages) -> bytes:
    """The bytes of an rpmdb.sqlite listing `packages` (names)."""
    path = tmp_path / f"rpmdb-{next(_RPMDB_NUMBERS)}.sqlite"
    connection = _rpmdb_connection(path)
    _add(connection, [rpm_header_blob(p) for p in packages])
    connection.close()  # checkpoints the WAL into the database, as rpm does
    return path.read_bytes()


def rpm_layer(database: bytes, path: str = RPMDB, extra=()) -> bytes:
    parents = [p for p in ("usr", "usr/lib", "usr/lib/sysimage", "var", "var/lib") if path.startswith("/" + p + "/")]
    directory = path[1:].rsplit("/", 1)[0]
    return layer_tar([(p, None) for p in parents] + [(directory, None), (path[1:], database), *extra])


def _minimal_blob(data: bytes, tag: int = 1000, kind: int = _STRING, offset: int = 0, count: int = 1) -> bytes:
    return struct.pack(">II", 1, len(data)) + struct.pack(">iIiI", tag, kind, offset, count) + data


def test_rpm_header_name_and_malformed_blobs():
    good = rpm_header_blob("kmod-nvidia-latest-dkms", "550.54.15", "1.el9")
    assert rpm_reader._rpm_header_name(good) == "kmod-nvidia-latest-dkms"
    assert rpm_reader._rpm_header_name(_minimal_blob(b"cuda-drivers\0")) == "cuda-drivers"
    il, dl = struct.unpack(">II", good[:8])
    data_start = 8 + 16 * il
    name_entry = 8 + 16 * 3  # the region, 100 and 269 come first
    tag, kind, offset, count = struct.unpack(">iIiI", good[name_entry:name_entry + 16])
    assert (tag, kind, count) == (1000, _STRING, 1) and offset > 0

    def with_name_entry(kind=_STRING, offset=offset, count=1) -> bytes:
        return good[:name_entry] + struct.pack(">iIiI", 1000, kind, offset, count) + good[name_entry + 16:]

    malformed = [
        b"", good[:7], good[:8], good[:data_start + 5], good[:-10],  # truncated
        struct.pack(">II", 0xFFFFFFFF, dl) + good[8:], struct.pack(">II", 0x10000, dl) + good[8:],  # il huge
        struct.pack(">II", 0, dl) + good[8:],  # no entries
        struct.pack(">II", il, 0xFFFFFFF0) + good[8:],  # dl beyond the blob
        with_name_entry(offset=dl), with_name_entry(offset=dl + 1000), with_name_entry(offset=-1),
        with_name_entry(offset=-(2 ** 31)),  # the name's offset out of range
        with_name_entry(kind=_INT32), with_name_entry(count=2),  # not one string
        _minimal_blob(b"no-terminating-nul"), _minimal_blob(b"\0"),  # no NUL before the end; empty
        _minimal_blob(b"bash\0", tag=1001),  # no name at all
        _minimal_blob(b"cuda\x1b[2Jdrivers\0"),  # control characters: it would end up in reports
        random.Random(221).randbytes(4096),
    ]
    for blob in malformed:
        assert rpm_reader._rpm_header_name(blob) is None, blob[:40]


def test_rpmdb_sqlite_names_are_read_at_both_paths(tmp_path):
    database = rpmdb(tmp_path, "bash", "glibc", "kmod-nvidia-latest-dkms", "cuda-toolkit-12-4")
    for path in rpm_reader.RPMDB_SQLITE:
        scan = walk_layer(io.BytesIO(rpm_layer(database, path)))
        assert scan.samples[path] == ["bash", "glibc", "kmod-nvidia-latest-dkms", "cuda-toolkit-12-4"]


def test_malformed_blobs_are_skipped_and_the_rest_read(tmp_path):
    good = rpm_header_blob("nvidia-driver-cuda")
    bad = [good[:-10], struct.pack(">II", 0xFFFFFFFF, 0) + good[8:], b"", b"garbage" * 50,
           good[:8 + 16 * 3] + struct.pack(">iIiI", 1000, _STRING, 10 ** 6, 1) + good[8 + 16 * 4:]]
    path = tmp_path / "mixed.sqlite"
    connection = _rpmdb_connection(path)
    _add(connection, [rpm_header_blob("bash")] + bad + [good])
    connection.execute("INSERT INTO Packages (blob) VALUES ('a text value')")
    connection.execute("INSERT INTO Packages (blob) VALUES (12)")
    connection.commit()
    connection.close()
    scan = walk_layer(io.BytesIO(rpm_layer(path.read_bytes())))
    assert scan.samples[RPMDB] == ["bash", "nvidia-driver-cuda"]


def test_corrupt_rpmdb_gives_no_packages_and_no_error(tmp_path):
    real = rpmdb(tmp_path, "cuda-drivers", *[f"package-{n}" for n in range(200)])
    view_db = tmp_path / "view.sqlite"
    connection = sqlite3.connect(view_db)
    connection.execute("CREATE TABLE real (blob BLOB)")
    connection.execute("INSERT INTO real VALUES (?)", (rpm_header_blob("cuda-drivers"),))
    connection.execute("CREATE VIEW Packages AS SELECT blob FROM real")
    connection.commit()
    connection.close()
    other = tmp_path / "other.sqlite"
    connection = sqlite3.connect(other)
    connection.execute("CREATE TABLE Something (blob BLOB)")
    connection.commit()
    connection.close()
    damaged = bytearray(real)
    damaged[100:4096] = os.urandom(3996)  # the schema page
    corrupt = [
        b"", b"not a database at all\n" * 100, real[:100], bytes(damaged),
        view_db.read_bytes(),  # Packages is a view: not what rpm writes
        other.read_bytes(),  # no Packages table
    ]
    for database in corrupt:
        scan = walk_layer(io.BytesIO(rpm_layer(database)))
        assert RPMDB not in scan.samples
        assert (RPMDB, "f", 0o644, len(database), "") in scan.entries
        code, report = check(image(tmp_path, [base_layer(), rpm_layer(database)]))
        found = rules_of(report)
        assert "SM001" not in found and "SM221" not in found, report


def test_damaged_rpmdb_keeps_the_packages_read_before_the_damage(tmp_path):
    names = ["cuda-drivers"] + [f"package-{n}" for n in range(300)]
    path = tmp_path / "damaged.sqlite"
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, blob BLOB)")
    connection.executemany("INSERT INTO Packages (blob) VALUES (?)", [(rpm_header_blob(n),) for n in names])
    connection.commit()
    connection.close()
    database = bytearray(path.read_bytes())
    database[-4096:] = random.Random(221).randbytes(4096)  # the last leaf page of Packages
    found = walk_layer(io.BytesIO(rpm_layer(bytes(database)))).samples[RPMDB]
    assert 0 < len(found) < len(names) and found == names[:len(found)]


def _database_with_wal(tmp_path) -> tuple[bytes, bytes]:
    """An rpmdb.sqlite whose last package is only in its -wal (rpm left the
    log un-checkpointed), as copied while the writer still had it open."""
    path = tmp_path / "wal.sqlite"
    connection = _rpmdb_connection(path)
    connection.execute("PRAGMA wal_autocheckpoint = 0")
    _add(connection, [rpm_header_blob("bash")])
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    _add(connection, [rpm_header_blob("nvidia-driver-libs")])
    files = path.read_bytes(), (tmp_path / "wal.sqlite-wal").read_bytes()
    connection.close()
    assert files[1], "the log holds the last package"
    return files


def test_rpmdb_wal_of_the_same_layer_is_read_in_either_tar_order(tmp_path):
    database, wal = _database_with_wal(tmp_path)
    for order in (1, -1):
        files = [("var/lib/rpm/rpmdb.sqlite", database), ("var/lib/rpm/rpmdb.sqlite-wal", wal)][::order]
        scan = walk_layer(io.BytesIO(layer_tar([("var", None), ("var/lib", None), ("var/lib/rpm", None), *files])))
        assert scan.samples[RPMDB] == ["bash", "nvidia-driver-libs"]
    alone = walk_layer(io.BytesIO(rpm_layer(database)))  # without its log: what was checkpointed
    assert alone.samples[RPMDB] == ["bash"]
    for damaged in (random.Random(221).randbytes(len(wal)), wal[:len(wal) // 2], b""):  # sqlite ignores it
        layer = rpm_layer(database, extra=[("var/lib/rpm/rpmdb.sqlite-wal", damaged)])
        assert walk_layer(io.BytesIO(layer)).samples == {RPMDB: ["bash"]}
    # A log in a later layer is not paired with a database below it.
    ref = image(tmp_path, [rpm_layer(database), layer_tar([("var/lib/rpm/rpmdb.sqlite-wal", wal)])])
    assert load_image(ref).installed_packages == {RPMDB: ["bash"]}


def test_rpmdb_whiteout_overwrite_and_size_bound(tmp_path, monkeypatch):
    drivers = rpm_layer(rpmdb(tmp_path, "bash", "nvidia-driver-cuda"))
    toolkit = rpm_layer(rpmdb(tmp_path, "bash", "cuda-toolkit-12-4"))
    deleted = layer_tar([("var/lib/rpm/.wh.rpmdb.sqlite", b"")])
    opaque = layer_tar([("var/lib/rpm", None), ("var/lib/rpm/.wh..wh..opq", b"")])
    assert load_image(image(tmp_path, [base_layer(), drivers])).installed_packages == {
        RPMDB: ["bash", "nvidia-driver-cuda"]}
    for upper in (deleted, opaque):
        view = load_image(image(tmp_path, [base_layer(), drivers, upper]))
        assert view.lookup(RPMDB) is None and view.installed_packages == {}
    view = load_image(image(tmp_path, [base_layer(), drivers, toolkit]))
    assert view.installed_packages == {RPMDB: ["bash", "cuda-toolkit-12-4"]}
    assert load_image(image(tmp_path, [base_layer(), toolkit, drivers])).installed_packages == {
        RPMDB: ["bash", "nvidia-driver-cuda"]}
    # Above the bound a database is not read, and the one below it no longer counts.
    monkeypatch.setattr(rpm_reader, "_RPMDB_LIMIT", len(toolkit) // 2)
    view = load_image(image(tmp_path, [base_layer(), drivers, toolkit]), use_cache=False)
    assert view.lookup(RPMDB).layer == 2 and view.installed_packages == {}


def test_hard_link_to_an_rpmdb_shares_its_packages(tmp_path):
    database = rpmdb(tmp_path, "cuda-drivers")
    layer = rpm_layer(database, "/usr/lib/sysimage/rpm/rpmdb.sqlite", extra=[
        ("var", None), ("var/lib", None), ("var/lib/rpm", None),
        ("var/lib/rpm/rpmdb.sqlite", "hardlink", "usr/lib/sysimage/rpm/rpmdb.sqlite")])
    scan = walk_layer(io.BytesIO(layer))
    assert scan.samples[RPMDB] == scan.samples["/usr/lib/sysimage/rpm/rpmdb.sqlite"] == ["cuda-drivers"]


def test_rpmdb_temporary_files_are_always_removed(tmp_path, monkeypatch):
    import tempfile

    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    database, wal = _database_with_wal(tmp_path)
    layer = layer_tar([("var/lib/rpm/rpmdb.sqlite", database), ("var/lib/rpm/rpmdb.sqlite-wal", wal),
                       ("big", os.urandom(100_000))])
    assert walk_layer(io.BytesIO(layer)).samples[RPMDB] == ["bash", "nvidia-driver-libs"]
    assert os.listdir(temporary) == []
    with pytest.raises(LayerError, match="truncated"):
        walk_layer(io.BytesIO(layer[:len(layer) - 60_000]))  # ends inside "big", after the copies
    assert os.listdir(temporary) == []
    walk_layer(io.BytesIO(base_layer()))  # no rpmdb: no directory is made
    assert os.listdir(temporary) == []


def test_berkeley_db_and_ndb_are_not_read(tmp_path):
    layer = layer_tar([("var/lib/rpm/Packages", b"\0" * 12 + b"\x61\x15\x06\x00" + bytes(4080)),
                       ("usr/lib/sysimage/rpm/Packages.db", b"RpmP" + bytes(4092))])
    assert walk_layer(io.BytesIO(layer)).samples == {}


@pytest.mark.parametrize("packages,fires", [
    (["bash", "kmod-nvidia-latest-dkms", "cuda-toolkit-12-4"], ["kmod-nvidia-latest-dkms"]),
    (["nvidia-driver-cuda", "nvidia-driver-cuda-libs", "cuda-drivers"],
     ["cuda-drivers", "nvidia-driver-cuda", "nvidia-driver-cuda-libs"]),
    (["bash", "cuda-toolkit-12-4", "cuda-cudart-12-4", "libcudnn9-cuda-12"], []),
])
def test_sm221_reads_the_rpmdb_end_to_end(tmp_path, packages, fires):
    ref = image(tmp_path, [base_layer(), rpm_layer(rpmdb(tmp_path, *packages))])
    layout = oci_layout_from_docker_archive(ref.split(":", 1)[1], str(tmp_path / "layout"))
    archive = "oci-archive:" + tar_directory(layout, str(tmp_path / "oci.tar"))
    for target in (ref, archive, archive):  # the last one from the cache
        code, report = check(target)
        found = rules_of(report)
        assert "SM001" not in found, report
        if not fires:
            assert "SM221" not in found, report
            continue
        [finding] = found["SM221"]
        assert finding["pointer"] == RPMDB and finding["data"]["packages"] == fires
        assert finding["message"].startswith(f"{RPMDB} lists installed NVIDIA driver package")
        assert code == 1
    assert load_image(archive).cached_layers == 2


# --- SM207: a shell script PID 1 runs without exec --------------------------------

NO_EXEC = b"#!/bin/sh\nset -e\ncd /app\npython3 job.py \"$@\"\n"


def sm207(tmp_path, files, entrypoint, cmd=None, **config):
    layer = layer_tar([(path, *rest) for path, *rest in files])
    runtime = {"Entrypoint": entrypoint, "Env": ["PATH=/usr/local/bin:/bin"], **config}
    if cmd is not None:
        runtime["Cmd"] = cmd
    code, report = check(image(tmp_path, [base_layer(), layer], runtime))
    return rules_of(report).get("SM207", [])


@pytest.mark.parametrize("text, fires", [
    (NO_EXEC, True),
    (b"#!/bin/sh\nexec \"$@\"\n", False),
    (b"#!/usr/bin/env bash\nif [ -n \"$1\" ]; then\n  exec \"$@\"\nelse\n  python3 job.py\nfi\n", False),
    (b"#!/bin/bash\ntrap 'kill -TERM $child' TERM\npython3 job.py & child=$!\nwait $child\n", False),
    (b"#!/bin/sh\nexec >/tmp/log 2>&1\npython3 job.py\n", True),
    (b"#!/usr/bin/python3\nprint(1)\n", False),
])
def test_sm207_entrypoint_script(tmp_path, text, fires):
    found = sm207(tmp_path, [("entrypoint.sh", text, 0o755)], ["/entrypoint.sh"])
    assert bool(found) == fires, found
    if fires:
        assert found[0]["pointer"] == "/entrypoint.sh" and 'exec "$@"' in found[0]["message"]


def test_sm207_script_handed_to_a_shell_needs_no_mode_nor_shebang(tmp_path):
    files = [("start.sh", b"pip install x\npython3 /app/job.py\n")]
    [finding] = sm207(tmp_path, files, ["bash", "/start.sh"])
    assert finding["pointer"] == "/start.sh" and finding["data"]["shell"] == "bash"
    # Relative to WorkingDir, after options; Cmd holding the script.
    assert sm207(tmp_path, [("app/start.sh", files[0][1])], ["sh", "-e"], ["start.sh"], WorkingDir="/app")
    assert not sm207(tmp_path, files, ["sh", "-c", "/start.sh"])


def test_sm207_wrappers_and_lookup(tmp_path):
    files = [("usr/local/bin/entrypoint.sh", NO_EXEC, 0o755), ("usr/local/bin/gosu", b"\x7fELF", 0o755),
             ("usr/local/bin/tini", b"\x7fELF", 0o755), ("entry", "symlink", "/usr/local/bin/entrypoint.sh")]
    assert not sm207(tmp_path, files, ["tini", "--", "entrypoint.sh"])
    [behind_gosu] = sm207(tmp_path, files, ["gosu", "worker", "entrypoint.sh"])
    assert behind_gosu["pointer"] == "/usr/local/bin/entrypoint.sh"
    [bare] = sm207(tmp_path, files, ["entrypoint.sh"])
    assert bare["pointer"] == "/usr/local/bin/entrypoint.sh"
    [linked] = sm207(tmp_path, files, ["/entry"])
    assert linked["pointer"] == "/usr/local/bin/entrypoint.sh" and "resolved to" in linked["message"]


def test_sm207_verdicts_are_bounded_and_cached(tmp_path, cache_home, monkeypatch):
    line = b"exec 2>&1; echo $(printf '%s' \"$HOME\") | cat\n"  # "exec" in it: the text is parsed
    big = b"#!/bin/sh\n" + line * ((10 << 20) // len(line))
    layer = layer_tar([("big.sh", big, 0o755), ("ok.sh", b"#!/bin/sh\nexec true\n", 0o755),
                       ("usr/local/bin/job", SCRIPT, 0o755), ("plain", b"#!/usr/bin/python3\n", 0o755)])
    tracemalloc.start()
    started = time.perf_counter()
    scan = walk_layer(io.BytesIO(layer))
    took = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert took < 2 and peak < 8 << 20, (took, peak)  # the whole text would be more than 10 MiB
    assert scan.samples["/big.sh"] == (b"#!/bin/sh", walker.SCRIPT_UNKNOWN)
    assert scan.samples["/ok.sh"] == (b"#!/bin/sh", walker.SCRIPT_EXECS)
    assert scan.samples["/plain"] == b"#!/usr/bin/python3"
    # Only so many scripts per layer are read.
    monkeypatch.setattr(walker, "SCRIPTS_PER_LAYER", 1)
    scan = walk_layer(io.BytesIO(layer))
    assert scan.samples["/ok.sh"] == (b"#!/bin/sh", walker.SCRIPT_UNKNOWN)
    # The cache keeps the verdict; view.shebang still gives the line.
    ref = image(tmp_path, [base_layer(), layer_tar([("entrypoint.sh", NO_EXEC, 0o755)])],
                {"Entrypoint": ["/entrypoint.sh"]})
    layout = "oci:" + oci_layout_from_docker_archive(ref.split(":", 1)[1], str(tmp_path / "layout"))
    assert load_image(layout).cached_layers == 0
    view = load_image(layout)
    assert view.cached_layers == 2
    assert view.script_verdict("/entrypoint.sh") == walker.SCRIPT_NEITHER
    assert view.shebang("/entrypoint.sh") == b"#!/bin/sh" and view.shebang("/usr/local/bin/job") == b"#!/bin/sh"
    assert rules_of(check(layout)[1])["SM207"][0]["pointer"] == "/entrypoint.sh"


# --- FastTarInfo: the same headers as tarfile's own parser ----------------------------

def _headers_tar(fmt: int) -> bytes:
    buffer = io.BytesIO()
    long_dir = "deep/" + "x" * 90 + "/" + "y" * 60  # ustar splits it into prefix + name
    with tarfile.open(fileobj=buffer, mode="w", format=fmt) as tar:
        for name, kind, link in [("etc/", tarfile.DIRTYPE, ""), ("etc/passwd", tarfile.REGTYPE, ""),
                                 ("bin/sh", tarfile.SYMTYPE, "busybox"), ("bin/ash", tarfile.LNKTYPE, "bin/sh"),
                                 (long_dir + "/", tarfile.DIRTYPE, ""), (long_dir + "/f.py", tarfile.REGTYPE, ""),
                                 ("n" * 150, tarfile.REGTYPE, ""), ("dev/null", tarfile.CHRTYPE, ""),
                                 ("fifo", tarfile.FIFOTYPE, ""), ("l" * 120, tarfile.SYMTYPE, "t" * 120),
                                 ("caf\u00e9/\u00fc.txt", tarfile.REGTYPE, "")]:
            if fmt == tarfile.USTAR_FORMAT and (len(name) > 100 and "/" not in name or len(link) > 100):
                continue  # ustar cannot hold it
            info = tarfile.TarInfo(name)
            big_id = 2_000_000 if fmt == tarfile.USTAR_FORMAT or name != "etc/passwd" else 10 ** 9  # base-256
            info.type, info.linkname, info.mode, info.uid, info.gid = kind, link, 0o4755, 1000, big_id
            info.mtime, info.uname, info.gname = 1_700_000_000, "user", "group"
            data = b"x" * 700 if kind == tarfile.REGTYPE else b""
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.mark.parametrize("fmt", [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
def test_fast_tar_headers_match_tarfiles_own(fmt):
    from smlint.image.tarheaders import FastTarInfo

    data = _headers_tar(fmt)
    fields = ("name", "type", "mode", "uid", "gid", "size", "mtime", "chksum", "linkname", "uname", "gname",
              "devmajor", "devminor", "offset", "offset_data", "pax_headers")
    with tarfile.open(fileobj=io.BytesIO(data), tarinfo=FastTarInfo) as fast, \
            tarfile.open(fileobj=io.BytesIO(data)) as plain:
        ours, theirs = fast.getmembers(), plain.getmembers()
    assert len(ours) == len(theirs) >= 9
    for mine, reference in zip(ours, theirs):
        assert [getattr(mine, f) for f in fields] == [getattr(reference, f) for f in fields], reference.name


def test_fast_tar_headers_leave_odd_ones_to_tarfile():
    from smlint.image.tarheaders import FastTarInfo

    info = tarfile.TarInfo("big")
    info.size = 8 ** 11 + 5  # past 11 octal digits: GNU base-256
    header = info.tobuf(format=tarfile.GNU_FORMAT)
    assert FastTarInfo.frombuf(header, "utf-8", "surrogateescape").size == info.size
    bad = bytearray(tarfile.TarInfo("f").tobuf(format=tarfile.USTAR_FORMAT))
    bad[0] ^= 1  # the checksum no longer matches
    with pytest.raises(tarfile.InvalidHeaderError):
        FastTarInfo.frombuf(bytes(bad), "utf-8", "surrogateescape")
    with pytest.raises(tarfile.EOFHeaderError):
        FastTarInfo.frombuf(bytes(512), "utf-8", "surrogateescape")
    fields = ("name", "mode", "uid", "gid", "size", "mtime", "chksum", "devmajor", "devminor", "type")
    for start, end, value in ((329, 345, bytes(16)), (108, 116, bytes(8)), (100, 108, b"06\x0044  \0"),
                              (124, 136, b" 17 \0\0\0\0\0\0\0\0"), (329, 337, b"0000012\0")):
        header = bytearray(tarfile.TarInfo("odd/field").tobuf(format=tarfile.USTAR_FORMAT))
        header[start:end] = value
        header[148:156] = b"%06o\0 " % (sum(header[:148]) + sum(header[156:]) + 256)
        fast = FastTarInfo.frombuf(bytes(header), "utf-8", "surrogateescape")
        plain = tarfile.TarInfo.frombuf(bytes(header), "utf-8", "surrogateescape")
        assert [getattr(fast, f) for f in fields] == [getattr(plain, f) for f in fields], value
