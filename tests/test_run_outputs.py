"""Outputs reach the host as data only (outputs.py), the disk bound's parts
(disk.py) and the log prefixes: pure, from crafted archives and folders."""
import errno
import io
import os
import stat
import tarfile

import pytest

from smlint.run import checks
from smlint.run.disk import default_bound, parse_size, tree_bytes
from smlint.run.outputs import DiskBoundReached, DiskBudget, Merge, move_tree, safe_relative, stream_archive
from smlint.run.runner import prefixed


def _archive(members) -> list[bytes]:
    """A `docker cp`-like tar of folder `result`, cut in odd-sized chunks."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.addfile(_info("result", tarfile.DIRTYPE, 0o755))
        for name, kind, mode, data, link in members:
            info = _info(f"result/{name}", kind, mode, len(data or b""), link)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    raw = buffer.getvalue()
    return [raw[i:i + 777] for i in range(0, len(raw), 777)]


def _info(name, kind, mode, size=0, link=""):
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.size, info.linkname = kind, mode, size, link
    return info


def _stream(tmp_path, members, limit=None, target="out", host="algo-1", merge=None):
    result = checks.OutputResult("result", "/opt/ml/processing/output/result", "")
    merge = merge or Merge(str(tmp_path / target) if target else None, DiskBudget(limit))
    if merge.target:
        os.makedirs(merge.target, exist_ok=True)
    stream_archive(_archive(members), merge, result, host)
    return result, merge


def test_setuid_setgid_sticky_bits_never_reach_the_host(tmp_path):
    result, _ = _stream(tmp_path, [("sh", tarfile.REGTYPE, 0o6755, b"\x7fELF", ""),
                                   ("dir", tarfile.DIRTYPE, 0o1777, None, ""),
                                   ("dir/x", tarfile.REGTYPE, 0o2777, b"x", "")])
    for name, expected in (("sh", 0o755), ("dir/x", 0o777)):
        mode = os.lstat(tmp_path / "out" / name).st_mode
        assert stat.S_IMODE(mode) == expected and not mode & (stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX)
    assert not os.lstat(tmp_path / "out" / "dir").st_mode & stat.S_ISVTX
    assert (result.files, result.bytes) == (2, 5)


def test_devices_fifos_and_symlinks_are_listed_not_copied(tmp_path):
    result, _ = _stream(tmp_path, [("null", tarfile.CHRTYPE, 0o666, None, ""),
                                   ("disk", tarfile.BLKTYPE, 0o660, None, ""),
                                   ("pipe", tarfile.FIFOTYPE, 0o644, None, ""),
                                   ("link", tarfile.SYMTYPE, 0o777, None, "/etc/shadow")])
    assert os.listdir(tmp_path / "out") == []
    assert sorted(result.specials) == ["disk (device node)", "null (device node)", "pipe (FIFO)"]
    assert result.symlinks == ["link"]


def test_a_hard_link_arrives_as_a_plain_copy(tmp_path):
    _stream(tmp_path, [("a", tarfile.REGTYPE, 0o4755, b"data", ""), ("b", tarfile.LNKTYPE, 0o4755, None, "result/a")])
    a, b = os.lstat(tmp_path / "out" / "a"), os.lstat(tmp_path / "out" / "b")
    assert (tmp_path / "out" / "b").read_bytes() == b"data" and a.st_ino != b.st_ino
    assert stat.S_IMODE(b.st_mode) == 0o755


@pytest.mark.parametrize("name, expected", [("a/../../x", None), ("/abs", "abs"), ("./a//b", "a/b"), ("", None)])
def test_safe_relative(name, expected):
    assert safe_relative(name) == expected


def test_never_writes_through_a_symlink_in_the_destination(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "out").mkdir()
    os.symlink(outside, tmp_path / "out" / "sub")
    result, _ = _stream(tmp_path, [("sub", tarfile.DIRTYPE, 0o755, None, ""),
                                   ("sub/planted", tarfile.REGTYPE, 0o644, b"x", "")])
    assert os.listdir(outside) == [] and result.refused == ["sub/planted"]


def test_the_disk_budget_stops_the_read_back(tmp_path):
    result = checks.OutputResult("result", "/opt/ml/processing/output/result", "")
    merge = Merge(str(tmp_path / "out"), DiskBudget(1000))
    os.makedirs(merge.target)
    members = [("a", tarfile.REGTYPE, 0o644, b"x" * 600, ""), ("b", tarfile.REGTYPE, 0o644, b"y" * 600, "")]
    with pytest.raises(DiskBoundReached):
        stream_archive(_archive(members), merge, result, "algo-1")
    assert (tmp_path / "out" / "a").exists() and not (tmp_path / "out" / "b").exists()
    assert (result.files, result.bytes) == (1, 600) and merge.streamed  # reported as a copy, and only what arrived


def test_a_move_across_mounts_copies_within_the_budget(tmp_path, monkeypatch):
    # A bind mount of the same disk (/var/lib/docker often is one) refuses rename with EXDEV.
    volume = tmp_path / "volume"
    volume.mkdir()
    (volume / "a").write_bytes(b"x" * 600)
    (volume / "b").write_bytes(b"y" * 600)

    def rename(source, destination):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "rename", rename)
    result = checks.OutputResult("result", "/x", "")
    merge = Merge(str(tmp_path / "out"), DiskBudget(1000))
    os.makedirs(merge.target)
    with pytest.raises(DiskBoundReached):
        move_tree(str(volume), merge, result, "algo-1")
    assert len(os.listdir(tmp_path / "out")) == 1 and merge.streamed
    assert (result.files, result.bytes) == (1, 600)


def test_merging_hosts_keeps_the_first_copy_and_records_differences(tmp_path):
    merge = Merge(str(tmp_path / "out"), DiskBudget(None))
    _stream(tmp_path, [("same", tarfile.REGTYPE, 0o644, b"1", ""), ("equal", tarfile.REGTYPE, 0o644, b"=", "")],
            merge=merge, host="algo-1")
    _stream(tmp_path, [("same", tarfile.REGTYPE, 0o644, b"2", ""), ("equal", tarfile.REGTYPE, 0o644, b"=", "")],
            merge=merge, host="algo-2")
    assert merge.collisions == [("same", "algo-1", "algo-2")]
    assert (tmp_path / "out" / "same").read_bytes() == b"1" and sorted(os.listdir(tmp_path / "out")) == ["equal", "same"]
    assert checks.collisions_by_path(merge.collisions) == [{"path": "same", "kept": "algo-1", "others": ["algo-2"]}]


def test_move_tree_moves_plain_data_and_lists_the_rest(tmp_path):
    volume = tmp_path / "volume"
    (volume / "deep" / "er").mkdir(parents=True)
    (volume / "deep" / "er" / "f").write_text("f")
    os.chmod(volume / "deep" / "er" / "f", 0o4755)
    os.mkfifo(volume / "pipe")
    os.symlink("/etc/passwd", volume / "link")
    result = checks.OutputResult("result", "/x", "")
    merge = Merge(str(tmp_path / "out"), DiskBudget(None))
    os.makedirs(merge.target)
    move_tree(str(volume), merge, result, "algo-1")
    moved = tmp_path / "out" / "deep" / "er" / "f"
    assert moved.read_text() == "f" and stat.S_IMODE(os.lstat(moved).st_mode) == 0o755
    assert not (volume / "deep" / "er" / "f").exists()  # moved, not copied
    assert os.lstat(moved).st_uid == os.getuid()
    assert result.specials == ["pipe (FIFO)"] and result.symlinks == ["link"]
    assert not os.path.lexists(tmp_path / "out" / "pipe") and not os.path.lexists(tmp_path / "out" / "link")


@pytest.mark.parametrize("text, size", [("500m", 500 << 20), ("10g", 10 << 30), ("2GiB", 2 << 30), ("1024", 1024)])
def test_parse_size(text, size):
    assert parse_size(text) == size


def test_parse_size_refuses_words():
    with pytest.raises(ValueError):
        parse_size("lots")


def test_default_bound_is_volume_size_per_instance():
    request = {"ProcessingResources": {"ClusterConfig": {"VolumeSizeInGB": 5}}}
    assert default_bound(request, 3) == 15 << 30
    assert default_bound({}, 1) == 30 << 30


def test_tree_bytes_counts_without_following_links(tmp_path):
    (tmp_path / "a").write_bytes(b"x" * 10000)
    os.symlink("/", tmp_path / "root")
    assert 10000 <= tree_bytes(str(tmp_path)) < 10000 + 16384


def test_log_prefixes_every_line_across_chunks():
    out = io.StringIO()
    streams = prefixed(out, "algo-2 | ")
    for chunk in (b"one\ntw", b"o\n", b"\nthree"):
        streams["stdout"].write(chunk)
    assert out.getvalue() == "algo-2 | one\nalgo-2 | two\n\nalgo-2 | three"


def test_permission_hint_names_the_user_at_fault():
    hint = checks.permission_hint("1000", ["sh: can't create /opt/ml/processing/output/x: Permission denied"], None)
    assert "USER 1000" in hint and "root-owned" in hint
    assert checks.permission_hint("root", ["Permission denied"], None) == ""
    assert checks.permission_hint("1000", ["ValueError: bad row"], None) == ""
