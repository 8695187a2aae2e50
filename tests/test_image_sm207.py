"""SM207 in images: shell scripts PID 1 runs without exec, and what /bin/sh is."""
from __future__ import annotations

import io
import time
import tracemalloc

import pytest

from image_helpers import SCRIPT, base_layer, check, image, rules_of
from archives import layer_tar, oci_layout_from_docker_archive
from smlint.image import load_image
from smlint.image import walker
from smlint.image.walker import walk_layer

pytestmark = pytest.mark.usefixtures("cache_home")  # each test its own layer cache


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
    (b"#!/usr/bin/env bash\nif [ -n \"$1\" ]; then\n  exec \"$@\"\nelse\n  exec python3 job.py\nfi\n", False),
    (b"#!/usr/bin/env bash\nif [ -n \"$1\" ]; then\n  exec \"$@\"\nelse\n  python3 job.py\nfi\n", True),
    (b"#!/bin/bash\ntrap 'kill -TERM $child' TERM\npython3 job.py\n", True),  # a trap alone hands nothing on
    (b"#!/bin/bash\ntrap 'kill -TERM $child' TERM\npython3 job.py & child=$!\nwait $child\n", False),
    (b"#!/bin/sh\nexec >/tmp/log 2>&1\npython3 job.py\n", True),
    (b"#!/usr/bin/python3\nprint(1)\n", False),
])
def test_sm207_entrypoint_script(tmp_path, text, fires):
    found = sm207(tmp_path, [("entrypoint.sh", text, 0o755)], ["/entrypoint.sh"])
    assert bool(found) == fires, found
    if fires:
        message = found[0]["message"]
        assert found[0]["pointer"] == "/entrypoint.sh" and "`exec python3 job.py" in message, message
        assert "trap INT and TERM, run the job in the background and `wait`" in message


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
    assert view.script_verdict("/entrypoint.sh").startswith(walker.SCRIPT_NEITHER + ":`python3 job.py")
    assert view.shebang("/entrypoint.sh") == b"#!/bin/sh" and view.shebang("/usr/local/bin/job") == b"#!/bin/sh"
    assert rules_of(check(layout)[1])["SM207"][0]["pointer"] == "/entrypoint.sh"


@pytest.mark.parametrize("target, shell", [("dash", "dash"), ("bash", "bash"), ("/bin/busybox", "busybox")])
def test_sm207_names_the_images_bin_sh(tmp_path, target, shell):
    """`sh /start.sh`: the message says what /bin/sh is in the image (its symlink followed)."""
    files = [("bin/dash", b"\x7fELF", 0o755), ("bin/bash", b"\x7fELF", 0o755), ("bin/busybox", b"\x7fELF", 0o755),
             ("bin/sh", "symlink", target), ("start.sh", b"cd /\npython3 job.py\n", 0o644)]
    [found] = sm207(tmp_path, files, ["sh", "/start.sh"])
    assert f"(/bin/sh here is {shell})" in found["message"] and found["data"]["bin_sh"] == shell
    assert "`python3 job.py`" in found["message"]


def test_sm207_names_every_faulty_path(tmp_path):
    body = b'#!/bin/sh\ncase "$1" in\n  a) python3 a.py ;;\n  *) python3 b.py ;;\nesac\n'
    [found] = sm207(tmp_path, [("entrypoint.sh", body, 0o755)], ["/entrypoint.sh"])
    assert "on 2 paths: (1) `python3 a.py` (the `a)` branch) is not run with `exec`" in found["message"]
    assert "(2) `python3 b.py` (the `*)` branch) is not run with `exec`; write `exec python3 b.py`" in found["message"]
