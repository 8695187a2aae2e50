"""RPM SQLite databases (Amazon Linux 2023, RHEL 9, Fedora), read for SM221."""
from __future__ import annotations

import io
import itertools
import os
import random
import sqlite3
import struct

import pytest

from image_helpers import base_layer, check, image, rules_of
from archives import layer_tar, oci_layout_from_docker_archive, tar_directory
from smlint.image import load_image
from smlint.image import rpmdb as rpm_reader
from smlint.image.walker import LayerError, walk_layer

pytestmark = pytest.mark.usefixtures("cache_home")  # each test its own layer cache


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
