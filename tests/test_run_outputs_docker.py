"""Root-owned output folders, data-only read-back and the disk bound, with
real containers."""
import io
import os
import stat

import pytest
from dockerutil import BUSYBOX_BASE, build_image, remove_image

from smlint.config import Policy
from smlint.run import collect
from smlint.run.disk import DiskWatch
from smlint.run.outputs import stream_archive
from smlint.run.runner import RunOptions, run

pytestmark = pytest.mark.docker

OUT = "/opt/ml/processing/output/result"


@pytest.fixture(scope="module")
def image(busybox_image):
    return busybox_image


def _run(client, image, tmp_path, script, **options):
    options.setdefault("outputs", {"result": str(tmp_path / "result")})
    options["entrypoint"] = ["/bin/sh", "-c", script]
    return run(image, None, RunOptions(**options), Policy(grace_period=2), stream=io.StringIO(), client=client)


def test_a_non_root_user_cannot_write_outputs_as_in_the_cloud(client, tmp_path):
    # The image even prepares the folder for its user: Processing's mount hides it.
    tag = build_image(client, BUSYBOX_BASE + f"RUN mkdir -p {OUT} && chown 1000 {OUT}\nUSER 1000\n")
    try:
        report = _run(client, tag, tmp_path, f"ls -ld {OUT} /opt/ml/output; echo rows > {OUT}/part.csv")
    finally:
        remove_image(client, tag)
    assert report.result["status"] == "Failed"
    [finding] = [f for f in report.findings if f.rule_id == "SM407"]
    assert "Permission denied" in finding.message and "USER 1000" in finding.message
    assert "root-owned, mode 0755" in finding.message


def test_root_owned_0755_output_and_message_folders(client, image, tmp_path):
    report = _run(client, image, tmp_path, f"stat -c '%u %a' {OUT} /opt/ml/output > {OUT}/modes")
    assert report.result["status"] == "Completed"
    assert (tmp_path / "result" / "modes").read_text().split() == ["0", "755", "0", "755"]


@pytest.fixture(params=["moved", "copied"])
def read_back(request, monkeypatch):
    """Both ways outputs come back: moved from the volume's folder (root, local
    engine), or streamed through the engine's `docker cp` archive (elsewhere)."""
    if request.param == "copied":
        monkeypatch.setattr(collect, "movable", lambda mountpoint, target: False)
    streams = []
    monkeypatch.setattr(collect, "stream_archive", lambda *args: (streams.append(args), stream_archive(*args)))
    return request.param, streams


def test_outputs_arrive_as_plain_data(client, image, tmp_path, read_back):
    script = (f"cp /bin/busybox {OUT}/rootshell && chmod 6755 {OUT}/rootshell; mkdir {OUT}/tmp && chmod 1777 {OUT}/tmp; "
              f"mkfifo {OUT}/pipe; mknod {OUT}/null c 1 3 2>/dev/null; ln -s /etc/shadow {OUT}/link; "
              f"echo a > {OUT}/a; ln {OUT}/a {OUT}/hard")
    report = _run(client, image, tmp_path, script)
    assert report.result["status"] == "Completed", report.summary_lines
    out = tmp_path / "result"
    for directory, dirs, files in os.walk(out):
        for name in dirs + files:
            mode = os.lstat(os.path.join(directory, name)).st_mode
            assert stat.S_ISREG(mode) or stat.S_ISDIR(mode), name
            assert not mode & (stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX), name
            assert os.lstat(os.path.join(directory, name)).st_uid == os.getuid()
    assert sorted(os.listdir(out)) == ["a", "hard", "rootshell", "tmp"]
    assert os.stat(out / "a").st_ino != os.stat(out / "hard").st_ino
    [output] = report.result["outputs"]
    assert "pipe (FIFO)" in output["not_copied_special_files"]
    assert output["symlinks"] == ["link"] and "not copied (not plain data): " in "\n".join(report.summary_lines)
    how, streams = read_back
    assert bool(streams) == (how == "copied") and output["how"] == "copied"  # the hard link is copied either way


@pytest.fixture(params=["folders", "engine"])
def disk_watch(request, monkeypatch):
    """Both ways the disk is polled: summing the engine's folders (root, local
    engine), or asking the engine (`docker system df`, elsewhere)."""
    if request.param == "engine":
        monkeypatch.setattr(DiskWatch, "_local_folders", lambda self, volumes, containers: None)
    return request.param


def test_passing_the_disk_bound_stops_the_job(client, image, tmp_path, disk_watch):
    # One file well past the bound, then idle: the watch counts allocated blocks and folders, the
    # read-back counts file bytes, so small files landing exactly on the bound would be a race.
    script = f"dd if=/dev/zero of={OUT}/big bs=1M count=24 2>/dev/null; sleep 600"
    # The max runtime only ends the test should the bound never be seen (then the status says so).
    report = _run(client, image, tmp_path, script, max_disk=16 << 20, keep_outputs=True, max_runtime=120)
    result = report.result
    assert result["status"] == "Failed" and result["stop_reason"] == "disk bound reached"
    assert "more than the disk bound of 16777216 bytes" in "\n".join(report.summary_lines)
    assert result["disk"]["peak_bytes"] > 16 << 20 and result["disk"]["method"] == disk_watch
    [output] = result["outputs"]
    # Copied back: the copy keeps to the bound too; moved: no second copy exists.
    assert output["how"] == "moved" or output["incomplete"] is not None
