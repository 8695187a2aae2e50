"""Attacks on `smlint image` (issue 11): cache poisoning both ways, damaged
and foreign cache entries, archive JSON of the wrong types, gzip-compressed
docker-archives, a tree deeper than the recursion limit, an image past the
entry bound. Archives are built in the tests; no engine unless marked."""
from __future__ import annotations

import gzip
import hashlib
import json
import os
import stat
import subprocess
import sys
import tarfile

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import FIXTURES
from dockerutil import BUSYBOX_BASE, build_image, engine_or_skip, remove_image

sys.path.insert(0, os.path.join(FIXTURES, "images"))
from archives import (  # noqa: E402
    docker_archive, layer_tar, oci_layout_from_docker_archive, sha256, tar_directory,
)

from smlint.cli import cli  # noqa: E402
from smlint.image import load_image  # noqa: E402
from smlint.image import cache  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OPT_ML_LAYER = layer_tar([("opt", None), ("opt/ml", None), ("opt/ml/secret.txt", b"mounted over")])
CLEAN_LAYER = layer_tar([("app", None), ("app/run", b"\x7fELF binary", 0o755)])
RUNTIME = {"Entrypoint": ["/app/run"]}


@pytest.fixture(autouse=True)
def cache_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "smlint"


def layers_dir(cache_home):
    return cache_home / "layers" / cache.FORMAT / "sha256"


def cached_digests(cache_home) -> set[str]:
    folder = layers_dir(cache_home)
    return {"sha256:" + name for name in os.listdir(folder) if not name.startswith(".")} if folder.exists() else set()


def scan(*refs: str, options=()):
    result = CliRunner().invoke(cli, ["image", *refs, "-f", "json", *options])
    assert result.stdout.startswith("{"), result.output
    report = json.loads(result.stdout)
    assert not [f for f in report["findings"] if f["rule"] == "SM003"], report
    return result.exit_code, report


def rules(report) -> set[str]:
    return {f["rule"] for f in report["findings"]}


def lying_archive(path, claimed_layers: list[bytes], real_layers: list[bytes]) -> str:
    """A docker-archive whose config claims the diff ids of `claimed_layers`
    but whose layer files hold `real_layers`."""
    docker_archive(str(path), real_layers, RUNTIME)
    with tarfile.open(path) as tar:
        members = {m.name: (m, tar.extractfile(m).read() if m.isfile() else None) for m in tar.getmembers()}
    manifest = json.loads(members["manifest.json"][1])
    config = json.loads(members[manifest[0]["Config"]][1])
    config["rootfs"]["diff_ids"] = [sha256(layer) for layer in claimed_layers]
    members[manifest[0]["Config"]] = (members[manifest[0]["Config"]][0], json.dumps(config).encode())
    rewrite(path, members)
    return f"docker-archive:{path}"


def rewrite(path, members: dict) -> None:
    import io

    with tarfile.open(path, "w") as tar:
        for member, data in members.values():
            if data is not None:
                member.size = len(data)
            tar.addfile(member, io.BytesIO(data) if data is not None else None)


# --- cache poisoning ------------------------------------------------------------

def test_lying_archive_cannot_hide_the_real_images_finding(tmp_path, cache_home):
    real = docker_archive(str(tmp_path / "real.tar"), [OPT_ML_LAYER], RUNTIME)
    liar = lying_archive(tmp_path / "liar.tar", claimed_layers=[OPT_ML_LAYER], real_layers=[CLEAN_LAYER])
    code, report = scan(liar)
    [finding] = report["findings"]
    assert code == 2 and finding["rule"] == "SM001"
    assert "layer 1 (" + sha256(OPT_ML_LAYER).split(":")[1][:12] in finding["message"]
    assert "layer digest mismatch" in finding["message"] and sha256(OPT_ML_LAYER) in finding["message"]
    assert cached_digests(cache_home) == set()  # nothing written under the claimed diff id
    code, report = scan("docker-archive:" + real)
    assert "SM210" in rules(report) and code == 1
    assert cached_digests(cache_home) == {sha256(OPT_ML_LAYER)}


def test_lying_archive_is_not_answered_from_the_clean_images_cache(tmp_path, cache_home):
    clean = docker_archive(str(tmp_path / "clean.tar"), [CLEAN_LAYER], RUNTIME)
    code, report = scan("docker-archive:" + clean)
    assert code == 0 and cached_digests(cache_home) == {sha256(CLEAN_LAYER)}
    liar = lying_archive(tmp_path / "liar.tar", claimed_layers=[CLEAN_LAYER], real_layers=[OPT_ML_LAYER])
    code, report = scan(liar)
    assert code == 2 and rules(report) == {"SM001"}
    assert "layer digest mismatch" in report["findings"][0]["message"]
    assert scan("docker-archive:" + clean)[0] == 0


def test_oci_blob_digest_alone_does_not_make_a_layer_trusted(tmp_path, cache_home):
    # The blob digests are right (the layout is built from the lying archive),
    # only the config's diff id lies: how the poisoning got through before.
    liar = lying_archive(tmp_path / "liar.tar", claimed_layers=[OPT_ML_LAYER], real_layers=[CLEAN_LAYER])
    for gzip_layers in (True, False):
        layout = oci_layout_from_docker_archive(liar.split(":", 1)[1], str(tmp_path / f"layout{gzip_layers}"),
                                                gzip_layers=gzip_layers)
        for ref in ("oci:" + layout, "oci-archive:" + tar_directory(layout, str(tmp_path / f"oci{gzip_layers}.tar"))):
            code, report = scan(ref)
            assert code == 2 and "layer digest mismatch" in report["findings"][0]["message"], report
    assert cached_digests(cache_home) == set()
    real = docker_archive(str(tmp_path / "real.tar"), [OPT_ML_LAYER], RUNTIME)
    assert "SM210" in rules(scan("docker-archive:" + real)[1])


def test_warm_archive_scan_still_hashes_every_layer(tmp_path, cache_home):
    path = str(tmp_path / "image.tar")
    docker_archive(path, [CLEAN_LAYER, OPT_ML_LAYER], RUNTIME)
    assert load_image("docker-archive:" + path).cached_layers == 0
    warm = load_image("docker-archive:" + path)
    assert warm.cached_layers == 2 and warm.lookup("/opt/ml/secret.txt")
    # Same config (same claims, all cached), other bytes in layer 2.
    lying_archive(tmp_path / "image.tar", claimed_layers=[CLEAN_LAYER, OPT_ML_LAYER],
                  real_layers=[CLEAN_LAYER, CLEAN_LAYER])
    code, report = scan("docker-archive:" + path)
    assert code == 2 and "layer 2 (" in report["findings"][0]["message"]
    assert "layer digest mismatch" in report["findings"][0]["message"]


def test_gzip_compressed_docker_archive_is_read_and_verified(tmp_path, cache_home):
    plain = docker_archive(str(tmp_path / "image.tar"), [CLEAN_LAYER, OPT_ML_LAYER], RUNTIME)
    packed = tmp_path / "image.tar.gz"
    packed.write_bytes(gzip.compress(open(plain, "rb").read()))
    code, report = scan(f"docker-archive:{packed}")
    assert code == 1 and "SM210" in rules(report)
    assert cached_digests(cache_home) == {sha256(CLEAN_LAYER), sha256(OPT_ML_LAYER)}
    liar = lying_archive(tmp_path / "liar.tar", claimed_layers=[OPT_ML_LAYER], real_layers=[CLEAN_LAYER])
    packed_liar = tmp_path / "liar.tar.gz"
    packed_liar.write_bytes(gzip.compress(open(liar.split(":", 1)[1], "rb").read()))
    code, report = scan(f"docker-archive:{packed_liar}", options=["--no-cache"])
    assert code == 2 and "layer digest mismatch" in report["findings"][0]["message"]


# --- the cache files ----------------------------------------------------------------

@pytest.mark.parametrize("existing", [False, True])
def test_cache_directories_are_private(tmp_path, cache_home, existing):
    if existing:  # made by an older smlint, world-readable
        cache_home.mkdir(parents=True)
        cache_home.chmod(0o755)
    scan("docker-archive:" + docker_archive(str(tmp_path / "i.tar"), [CLEAN_LAYER], RUNTIME))
    for folder in (cache_home, cache_home / "layers", cache_home / "layers" / cache.FORMAT, layers_dir(cache_home)):
        assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700, folder
    assert cached_digests(cache_home) == {sha256(CLEAN_LAYER)}


@pytest.mark.parametrize("damage", ["truncate", "flip", "empty", "renamed"])
def test_damaged_cache_entry_is_read_again_never_fatal(tmp_path, cache_home, damage):
    path = docker_archive(str(tmp_path / "i.tar"), [OPT_ML_LAYER, CLEAN_LAYER], RUNTIME)
    scan("docker-archive:" + path)
    entry = layers_dir(cache_home) / sha256(OPT_ML_LAYER).split(":")[1]
    good = entry.read_bytes()
    if damage == "truncate":
        entry.write_bytes(good[: len(good) // 2])
    elif damage == "flip":
        entry.write_bytes(good[:-3] + bytes([good[-3] ^ 1]) + good[-2:])
    elif damage == "empty":
        entry.write_bytes(b"")
    else:  # a valid entry of another layer, under this layer's name
        entry.write_bytes((layers_dir(cache_home) / sha256(CLEAN_LAYER).split(":")[1]).read_bytes())
    for options in ([], ["--no-cache"], []):
        code, report = scan("docker-archive:" + path, options=options)
        assert code == 1 and "SM210" in rules(report), (options, report)
    assert entry.read_bytes() == good  # the first rescan wrote it afresh


@pytest.mark.skipif(os.geteuid() != 0, reason="making a file another user's needs root")
def test_cache_entries_of_another_user_are_ignored(tmp_path, cache_home):
    real = docker_archive(str(tmp_path / "real.tar"), [OPT_ML_LAYER], RUNTIME)
    scan("docker-archive:" + real)
    entry = layers_dir(cache_home) / sha256(OPT_ML_LAYER).split(":")[1]
    os.chown(entry, 4242, 4242)
    assert load_image("docker-archive:" + real).cached_layers == 0
    assert os.stat(entry).st_uid == 0  # and replaced by one of ours


def test_format_is_bumped_and_old_entries_are_not_read(tmp_path, cache_home):
    assert cache.FORMAT not in ("v1", "v2", "v3")
    path = docker_archive(str(tmp_path / "i.tar"), [OPT_ML_LAYER], RUNTIME)
    old = cache_home / "layers" / "v3" / "sha256"
    old.mkdir(parents=True)
    (old / sha256(OPT_ML_LAYER).split(":")[1]).write_bytes(b"\0garbage")
    assert "SM210" in rules(scan("docker-archive:" + path)[1])


# --- archive JSON of the wrong types ---------------------------------------------------

def _edit_archive(path, edit_manifest=None, edit_config=None) -> None:
    with tarfile.open(path) as tar:
        members = {m.name: (m, tar.extractfile(m).read() if m.isfile() else None) for m in tar.getmembers()}
    manifest = json.loads(members["manifest.json"][1])
    config_name = manifest[0]["Config"]
    if edit_config:
        config = json.loads(members[config_name][1])
        edited = edit_config(config)
        config = config if edited is None else edited
        members[config_name] = (members[config_name][0], json.dumps(config).encode())
    if edit_manifest:
        edited = edit_manifest(manifest)
        manifest = manifest if edited is None else edited
        members["manifest.json"] = (members["manifest.json"][0], json.dumps(manifest).encode())
    rewrite(path, members)


def _set(document, dotted: str, value):
    keys = dotted.split(".")
    for key in keys[:-1]:
        document = document[int(key) if isinstance(document, list) else key]
    document[int(keys[-1]) if isinstance(document, list) else keys[-1]] = value


MANIFEST_CASES = [
    ("0.Layers", "layer.tar", "manifest.json[0].Layers is a string, not an array"),
    ("0.Layers.0", 7, "manifest.json[0].Layers[0] is an integer, not a string"),
    ("0.Config", ["x"], "manifest.json[0].Config is an array, not a string"),
    ("0", "x", "manifest.json[0] is a string, not an object"),
]
CONFIG_CASES = [
    ("rootfs.diff_ids", "sha256:abc", "config.rootfs.diff_ids is a string, not an array"),
    ("rootfs.diff_ids.0", 12345, "config.rootfs.diff_ids[0] is an integer, not a string"),
    ("rootfs.diff_ids.0", "md5:abc", "config.rootfs.diff_ids[0] is not a digest"),
    ("rootfs", [], "config.rootfs is an array, not an object"),
    ("config.Env", {"A": "b"}, "config.config.Env is an object, not an array"),
    ("config.Cmd", 5, "config.config.Cmd is an integer, not an array"),
    ("config.Entrypoint", ["/app/run", None], "config.config.Entrypoint[1] is null, not a string"),
    ("config.User", 0, "config.config.User is an integer, not a string"),
    ("config", "x", "config.config is a string, not an object"),
    ("os", ["linux"], "config.os is an array, not a string"),
]


@pytest.mark.parametrize("where, value, message", MANIFEST_CASES + CONFIG_CASES)
def test_wrong_json_types_are_sm001_naming_the_field(tmp_path, where, value, message):
    bad = docker_archive(str(tmp_path / "bad.tar"), [CLEAN_LAYER], RUNTIME)
    if (where, value, message) in MANIFEST_CASES:
        _edit_archive(bad, edit_manifest=lambda m: [value] if where == "0" else _set(m, where, value))
    else:
        _edit_archive(bad, edit_config=lambda c: _set(c, where, value))
    good = docker_archive(str(tmp_path / "good.tar"), [OPT_ML_LAYER], RUNTIME)
    code, report = scan("docker-archive:" + bad, "docker-archive:" + good)
    assert code == 2
    [unreadable] = [f for f in report["findings"] if f["rule"] == "SM001"]
    assert message in unreadable["message"] and bad in unreadable["message"]
    assert "SM210" in rules(report)  # the other target is still checked


OCI_CASES = [
    ("index", "manifests", "x", "index.json.manifests is a string, not an array"),
    ("index", "manifests.0.digest", 3, "index.json.manifests[0].digest is an integer, not a string"),
    ("index", "manifests.0.platform", "linux", "index.json.manifests[0].platform is a string, not an object"),
    ("manifest", "layers", {"a": 1}, ".layers is an object, not an array"),
    ("manifest", "layers.0", "sha256:00", ".layers[0] is a string, not an object"),
    ("manifest", "config.digest", None, ".config.digest is null, not a string"),
]


@pytest.mark.parametrize("document, where, value, message", OCI_CASES)
def test_wrong_oci_json_types_are_sm001_naming_the_field(tmp_path, document, where, value, message):
    source = docker_archive(str(tmp_path / "i.tar"), [CLEAN_LAYER], RUNTIME)
    layout = oci_layout_from_docker_archive(source, str(tmp_path / "layout"))
    index_path = os.path.join(layout, "index.json")
    index = json.load(open(index_path))
    if document == "index":
        _set(index, where, value)
    else:
        digest = index["manifests"][0]["digest"]
        manifest = json.load(open(os.path.join(layout, "blobs", "sha256", digest.split(":")[1])))
        _set(manifest, where, value)
        data = json.dumps(manifest).encode()
        name = hashlib.sha256(data).hexdigest()
        open(os.path.join(layout, "blobs", "sha256", name), "wb").write(data)
        index["manifests"][0]["digest"] = "sha256:" + name
    json.dump(index, open(index_path, "w"))
    code, report = scan("oci:" + layout)
    assert code == 2 and rules(report) == {"SM001"}
    assert message in report["findings"][0]["message"], report


# --- fuzz: any JSON shape, zero internal errors ------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2, 10**30) | st.floats(allow_nan=False) | st.text(max_size=8)
    | st.sampled_from(["sha256:" + "a" * 64, "application/vnd.oci.image.index.v1+json", "linux", "amd64"]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)
CONFIG_PATHS = ["", "rootfs", "rootfs.diff_ids", "rootfs.diff_ids.0", "config", "config.Env", "config.Env.0",
                "config.Cmd", "config.Entrypoint", "config.Entrypoint.0", "config.User", "config.WorkingDir",
                "config.Shell", "os", "architecture", "variant"]
MANIFEST_PATHS = ["", "0", "0.Config", "0.Layers", "0.Layers.0"]
INDEX_PATHS = ["", "manifests", "manifests.0", "manifests.0.digest", "manifests.0.mediaType",
               "manifests.0.platform", "manifests.0.platform.os"]
OCI_MANIFEST_PATHS = ["", "config", "config.digest", "layers", "layers.0", "layers.0.digest", "layers.0.mediaType"]


def _replace(document, dotted: str, value):
    if not dotted:
        return value
    try:
        _set(document, dotted, value)
    except (KeyError, IndexError, TypeError, ValueError):
        pass
    return document


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(target=st.sampled_from(["manifest", "config", "index", "oci-manifest"]), where=st.data(), value=json_values)
def test_fuzzed_archive_json_gives_no_internal_error(tmp_path_factory, target, where, value):
    folder = tmp_path_factory.mktemp("fuzz")
    path = docker_archive(str(folder / "i.tar"), [CLEAN_LAYER], RUNTIME)
    if target == "manifest":
        spot = where.draw(st.sampled_from(MANIFEST_PATHS))
        _edit_archive(path, edit_manifest=lambda m: _replace(m, spot, value))
        ref = "docker-archive:" + path
    elif target == "config":
        spot = where.draw(st.sampled_from(CONFIG_PATHS))
        _edit_archive(path, edit_config=lambda c: _replace(c, spot, value))
        ref = "docker-archive:" + path
    else:
        layout = oci_layout_from_docker_archive(path, str(folder / "layout"))
        index_path = os.path.join(layout, "index.json")
        index = json.load(open(index_path))
        if target == "index":
            index = _replace(index, where.draw(st.sampled_from(INDEX_PATHS)), value)
        else:
            blob = os.path.join(layout, "blobs", "sha256", index["manifests"][0]["digest"].split(":")[1])
            manifest = _replace(json.load(open(blob)), where.draw(st.sampled_from(OCI_MANIFEST_PATHS)), value)
            data = json.dumps(manifest).encode()
            open(os.path.join(layout, "blobs", "sha256", hashlib.sha256(data).hexdigest()), "wb").write(data)
            index["manifests"][0]["digest"] = "sha256:" + hashlib.sha256(data).hexdigest()
        json.dump(index, open(index_path, "w"))
        ref = "oci:" + layout
    result = CliRunner().invoke(cli, ["image", ref, "-f", "json", "--no-cache"])
    assert result.exit_code in (0, 1, 2), result.output
    assert isinstance(result.exception, SystemExit) or result.exception is None, repr(result.exception)
    report = json.loads(result.stdout)
    assert "SM003" not in rules(report) and "internal error" not in result.output


# --- depth and size bounds ----------------------------------------------------------

def test_a_tree_deeper_than_the_recursion_limit(tmp_path):
    depth = max(1100, sys.getrecursionlimit() + 100)
    tree = [("/".join(["d"] * level), None) for level in range(1, depth + 1)]
    deepest = "/" + "/".join(["d"] * depth) + "/leaf"
    tree.append((deepest[1:], b"x"))
    for name, second, present in (("kept", [("other", b"o")], True), ("whiteout", [(".wh.d", b"")], False),
                                  ("replaced", [("d", b"a file now")], False),
                                  ("opaque", [("d", None), ("d/.wh..wh..opq", b"")], False)):
        path = docker_archive(str(tmp_path / f"{name}.tar"), [layer_tar(tree), layer_tar(second)], RUNTIME)
        view = load_image("docker-archive:" + path)
        assert (view.lookup(deepest) is not None) is present, name
        assert bool(view.resolve(deepest).entry) is present


def _bounded_scan(ref: str, cache_dir: str, max_entries: int, memory: int,
                  max_text: int = 96 << 20) -> subprocess.CompletedProcess:
    """`smlint image REF` in a child with an address-space limit and a
    smaller entry bound (the real one's figures: bench/image_bench.py)."""
    program = (
        "import resource, sys\n"
        f"resource.setrlimit(resource.RLIMIT_AS, ({memory}, {memory}))\n"
        "from smlint.image import walker\n"
        f"walker.MAX_ENTRIES, walker.MAX_TEXT_BYTES = {max_entries}, {max_text}\n"
        "from smlint.cli import main\n"
        "sys.argv = ['smlint', 'image', '-f', 'json', '--no-cache', *sys.argv[1:]]\n"
        "main()\n"
    )
    return subprocess.run([sys.executable, "-c", program, ref, "docker-archive:/nonexistent.tar"],
                          capture_output=True, text=True, timeout=600, cwd=ROOT,
                          env={**os.environ, "XDG_CACHE_HOME": cache_dir})


def test_an_image_past_the_entry_bound_is_sm001_in_bounded_memory(tmp_path):
    # 3 layers of 30,000 entries each (the same paths, as in a listing taken
    # three times) against a bound of 50,000: the second layer crosses it.
    entries = [(f"d{n // 1000}/f{n}", b"") for n in range(30_000)]
    layer = layer_tar([(f"d{n}", None) for n in range(30)] + entries)
    path = docker_archive(str(tmp_path / "big.tar"), [layer, layer, layer], RUNTIME)
    result = _bounded_scan("docker-archive:" + path, str(tmp_path / "c"), 50_000, 512 << 20)
    assert result.returncode == 2, result.stderr[-2000:]
    report = json.loads(result.stdout)
    messages = [f["message"] for f in report["findings"] if f["rule"] == "SM001"]
    assert len(messages) == 2 and "Traceback" not in result.stderr
    assert any("more than 50,000 entries" in m and "layer 2" in m for m in messages), messages
    assert any("nonexistent" in m for m in messages)  # the next target was still checked


@pytest.mark.docker
def test_damaged_cache_entry_of_an_engine_image_is_read_again(cache_home):
    client = engine_or_skip()
    tag = build_image(client, BUSYBOX_BASE + "RUN mkdir -p /opt/ml && echo x > /opt/ml/x\n"
                                             'ENTRYPOINT ["sleep", "1"]\n')
    try:
        code, report = scan(tag)
        assert code == 1 and "SM210" in rules(report)
        entries = sorted(layers_dir(cache_home).iterdir())
        assert len(entries) == 3  # COPY busybox, RUN --install, RUN mkdir
        for entry in entries:
            entry.write_bytes(entry.read_bytes()[:100])  # truncated
        for options in ([], ["--no-cache"], []):
            code, report = scan(tag, options=options)
            assert code == 1 and "SM210" in rules(report), (options, report)
        assert load_image(tag).cached_layers == 3  # rewritten whole by the first rescan
    finally:
        remove_image(client, tag)


def test_long_file_names_are_bounded_too(tmp_path):
    # PAX names of 3,000 bytes: 2,000 entries hold 6 MB of names, past a 1 MiB bound.
    names = [(("n" * 2990) + f"{n:05d}", b"") for n in range(2000)]
    path = docker_archive(str(tmp_path / "names.tar"), [layer_tar(names)], RUNTIME)
    result = _bounded_scan("docker-archive:" + path, str(tmp_path / "c"), 10_000, 512 << 20, max_text=1 << 20)
    assert result.returncode == 2, result.stderr[-2000:]
    messages = [f["message"] for f in json.loads(result.stdout)["findings"] if f["rule"] == "SM001"]
    assert any("1 MiB of file names" in m and "layer 1" in m for m in messages), messages


def test_an_archive_of_too_many_files_is_refused_without_listing_them_all(tmp_path, monkeypatch):
    from smlint.image import archives

    monkeypatch.setattr(archives, "MAX_MEMBERS", 50)
    path = docker_archive(str(tmp_path / "i.tar"), [CLEAN_LAYER], RUNTIME)
    with tarfile.open(path, "a") as tar:
        for n in range(60):
            tar.addfile(tarfile.TarInfo(f"junk/{n}"))
    packed = tmp_path / "i.tar.gz"
    packed.write_bytes(gzip.compress(open(path, "rb").read()))
    for ref in (f"docker-archive:{path}", f"docker-archive:{packed}"):
        code, report = scan(ref)
        assert code == 2 and "more than 50 files: not an image archive" in report["findings"][0]["message"]


def test_docker_25_save_layout_plain_and_gzip(tmp_path, cache_home):
    # Docker 25+ saves an OCI layout plus a manifest.json naming blobs/sha256/... files.
    source = docker_archive(str(tmp_path / "legacy.tar"), [CLEAN_LAYER, OPT_ML_LAYER], RUNTIME)
    layout = oci_layout_from_docker_archive(source, str(tmp_path / "layout"), gzip_layers=False)
    index = json.load(open(os.path.join(layout, "index.json")))
    blobs = os.path.join(layout, "blobs", "sha256")
    manifest = json.load(open(os.path.join(blobs, index["manifests"][0]["digest"].split(":")[1])))
    with open(os.path.join(layout, "manifest.json"), "w") as handle:
        json.dump([{"Config": "blobs/sha256/" + manifest["config"]["digest"].split(":")[1],
                    "Layers": ["blobs/sha256/" + layer["digest"].split(":")[1] for layer in manifest["layers"]]}],
                  handle)
    archive = tar_directory(layout, str(tmp_path / "saved.tar"))
    packed = tmp_path / "saved.tar.gz"
    packed.write_bytes(gzip.compress(open(archive, "rb").read()))
    for ref in (f"docker-archive:{archive}", f"docker-archive:{packed}"):
        code, report = scan(ref, options=["--no-cache"])
        assert code == 1 and "SM210" in rules(report), (ref, report)
    scan(f"docker-archive:{packed}")
    assert cached_digests(cache_home) == {sha256(CLEAN_LAYER), sha256(OPT_ML_LAYER)}


@pytest.mark.docker
def test_entry_bound_holds_for_engine_images_cold_and_cached(cache_home, monkeypatch):
    from smlint.image import walker

    client = engine_or_skip()
    tag = build_image(client, BUSYBOX_BASE + 'ENTRYPOINT ["sleep", "1"]\n')  # `--install` adds ~400 links
    try:
        monkeypatch.setattr(walker, "MAX_ENTRIES", 100)
        code, report = scan(tag)
        assert code == 2 and "more than 100 entries" in report["findings"][0]["message"]
        monkeypatch.setattr(walker, "MAX_ENTRIES", 1_000_000)
        assert scan(tag)[0] == 0 and load_image(tag).cached_layers == 2
        monkeypatch.setattr(walker, "MAX_ENTRIES", 100)
        code, report = scan(tag)  # answered from the cache, still bounded
        assert code == 2 and "more than 100 entries" in report["findings"][0]["message"]
    finally:
        remove_image(client, tag)


def test_a_cache_directory_that_is_a_symlink_is_not_used(tmp_path, cache_home):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    cache_home.parent.mkdir(parents=True)
    cache_home.symlink_to(elsewhere)
    path = docker_archive(str(tmp_path / "i.tar"), [OPT_ML_LAYER], RUNTIME)
    for _ in range(2):
        code, report = scan("docker-archive:" + path)
        assert code == 1 and "SM210" in rules(report)
    assert list(elsewhere.iterdir()) == []
