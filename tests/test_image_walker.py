"""The layer walker, whiteouts, path resolution, archive sources and bad input,
on archives crafted in the test (no Docker engine needed)."""
from __future__ import annotations

import gzip
import io
import json
import os
import tarfile

import pytest
from click.testing import CliRunner

from image_helpers import SCRIPT, base_layer, check, image, rules_of
from archives import layer_tar, oci_layout_from_docker_archive, sha256, tar_directory
from smlint.cli import cli
from smlint.image import cache
from smlint.image import load_image
from smlint.image.walker import LayerError, walk_layer

pytestmark = pytest.mark.usefixtures("cache_home")  # each test its own layer cache


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


def test_one_bad_target_does_not_stop_the_others(tmp_path):
    good = image(tmp_path, [base_layer()])
    result = CliRunner().invoke(cli, ["image", f"docker-archive:{tmp_path}/absent.tar", good, "-f", "json"])
    report = json.loads(result.stdout)
    assert result.exit_code == 2
    assert {f["rule"] for f in report["findings"]} == {"SM001", "SM210"}
