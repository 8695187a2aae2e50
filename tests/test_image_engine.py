"""SM2xx against real images built here, read through every source:
the engine, `docker save` archives and OCI layouts made from them."""
from __future__ import annotations

import json
import os
import sys

import pytest
from click.testing import CliRunner

from conftest import FIXTURES
from dockerutil import BUSYBOX_BASE, build_image, docker_cli, engine_or_skip, remove_image

sys.path.insert(0, os.path.join(FIXTURES, "images"))
from archives import oci_layout_from_docker_archive, tar_directory  # noqa: E402

from smlint.cli import cli  # noqa: E402
from smlint.image import load_image  # noqa: E402

pytestmark = pytest.mark.docker

RUN_SCRIPT = "printf '#!/bin/sh\\nexec echo hi\\n' > /job.sh && chmod 755 /job.sh"

# name -> (recipe after the busybox base, rules that must fire, rules that must not)
FIXTURE_IMAGES = {
    "opt_ml": (
        """RUN mkdir -p /opt/ml/code /opt/ml/tmp /data && echo a > /opt/ml/code/a && echo t > /opt/ml/tmp/t \\
 && echo old > /data/old
RUN rm -rf /opt/ml/tmp
RUN rm -rf /data && mkdir /data && echo new > /data/new
ENTRYPOINT ["sleep", "1"]
""", {"SM210"}, {"SM201", "SM204", "SM205"}),
    "gpu": (
        """RUN mkdir -p /usr/lib/x86_64-linux-gnu /usr/local/cuda/lib64/stubs /usr/local/cuda-12.2/compat \\
      /usr/local/cuda/targets/x86_64-linux/lib/stubs /var/lib/dpkg /usr/bin \\
 && touch /usr/lib/x86_64-linux-gnu/libcuda.so.535.104.05 /usr/lib/x86_64-linux-gnu/libcudart.so.12 \\
      /usr/local/cuda/lib64/stubs/libcuda.so /usr/local/cuda-12.2/compat/libcuda.so.1 \\
      /usr/local/cuda/targets/x86_64-linux/lib/stubs/libnvidia-ml.so \\
 && ln -s /bin/busybox /usr/bin/nvidia-smi \\
 && printf 'Package: cuda-toolkit-12-2\\nStatus: install ok installed\\n\\nPackage: cuda-drivers\\nStatus: install ok installed\\n\\nPackage: nvidia-driver-535\\nStatus: deinstall ok config-files\\n\\n' > /var/lib/dpkg/status
ENTRYPOINT ["sleep", "1"]
""", {"SM220", "SM221"}, {"SM210"}),
    "missing": ('ENTRYPOINT ["/opt/app/run"]\n', {"SM204"}, {"SM205"}),
    "not_executable": ("RUN printf 'echo hi\\n' > /job.sh\nENTRYPOINT [\"/job.sh\"]\n", {"SM204"}, {"SM205"}),
    "dangling": ('RUN ln -s /opt/gone /bin/job\nENTRYPOINT ["job"]\n', {"SM204"}, set()),
    "no_interpreter": ("RUN printf '#!/usr/bin/python3\\nprint(1)\\n' > /job.py && chmod 755 /job.py\n"
                       'ENTRYPOINT ["/job.py"]\n', {"SM205"}, {"SM204"}),
    "crlf": ("RUN printf '#!/bin/sh\\r\\necho hi\\r\\n' > /job.sh && chmod 755 /job.sh\nENTRYPOINT [\"/job.sh\"]\n",
             {"SM205"}, {"SM204"}),
    "good_script": (f'RUN {RUN_SCRIPT}\nRUN mkdir -p /usr/local/bin && ln -s ../../../job.sh /usr/local/bin/job\n'
                    'ENTRYPOINT ["job"]\n', set(), {"SM204", "SM205", "SM201", "SM203", "SM210", "SM240"}),
    "user": ("RUN mkdir -p /etc && echo 'root:x:0:0::/root:/bin/sh' > /etc/passwd\nUSER worker\n"
             'ENTRYPOINT ["sleep", "1"]\n', {"SM240"}, set()),
    "numeric_user": ('USER 1000:1000\nENTRYPOINT ["sleep", "1"]\n', set(), {"SM240"}),
    "shell_entrypoint": ("ENTRYPOINT sleep 1\n", {"SM201"}, {"SM202", "SM204"}),
    "shell_cmd": ("CMD sleep 1\n", {"SM202"}, {"SM201", "SM203"}),
    "env": ("ENV NVIDIA_DRIVER_CAPABILITIES=utility AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI\n"
            'ENTRYPOINT ["sleep", "1"]\n', {"SM222", "SM231"}, set()),
}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    client = engine_or_skip()
    directory = tmp_path_factory.mktemp("images")
    images = {}
    try:
        for name, (recipe, _, _) in FIXTURE_IMAGES.items():
            tag = build_image(client, BUSYBOX_BASE + recipe)
            archive = str(directory / f"{name}.tar")
            docker_cli("save", "-o", archive, tag)
            layout = oci_layout_from_docker_archive(archive, str(directory / f"{name}-oci"))
            images[name] = {
                "engine": tag,
                "docker-archive": f"docker-archive:{archive}",
                "oci": f"oci:{layout}",
                "oci-archive": "oci-archive:" + tar_directory(layout, str(directory / f"{name}-oci.tar")),
            }
        yield images
    finally:
        for refs in images.values():
            remove_image(client, refs["engine"])


@pytest.fixture(autouse=True)
def cache_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache"


def run(*args: str):
    result = CliRunner().invoke(cli, ["image", *args, "-f", "json"])
    return result.exit_code, json.loads(result.stdout)


@pytest.mark.parametrize("source", ["engine", "docker-archive", "oci", "oci-archive"])
@pytest.mark.parametrize("name", sorted(FIXTURE_IMAGES))
def test_fixture_through_every_source(built, name, source):
    _, must_fire, must_not = FIXTURE_IMAGES[name]
    code, report = run(built[name][source])
    fired = {f["rule"] for f in report["findings"]}
    assert must_fire <= fired, report["findings"]
    assert not (must_not & fired), report["findings"]
    assert "SM001" not in fired and "SM003" not in fired
    assert code == (1 if fired - {"SM241"} else 0)


def test_deleted_and_opaque_files_are_gone(built):
    view = load_image(built["opt_ml"]["engine"])
    assert view.lookup("/opt/ml/code/a") and view.lookup("/opt/ml/tmp") is None
    assert view.lookup("/data/new") and view.lookup("/data/old") is None
    [finding] = [f for f in run(built["opt_ml"]["engine"])[1]["findings"] if f["rule"] == "SM210"]
    assert finding["data"] == {"files": ["/opt/ml/code/a"], "count": 1}


def test_driver_files_listed_and_stubs_allowed(built):
    _, report = run(built["gpu"]["docker-archive"])
    [files] = [f for f in report["findings"] if f["rule"] == "SM220"]
    assert sorted(files["data"]["files"]) == ["/usr/bin/nvidia-smi", "/usr/lib/x86_64-linux-gnu/libcuda.so.535.104.05"]
    [packages] = [f for f in report["findings"] if f["rule"] == "SM221"]
    assert packages["data"]["packages"] == ["cuda-drivers"]  # deinstalled and toolkit packages are not
    assert load_image(built["gpu"]["engine"]).has_file_matching("libcudart.so*")


def test_credentials_value_never_printed(built):
    result = CliRunner().invoke(cli, ["image", built["env"]["engine"]])
    assert "AWS_SECRET_ACCESS_KEY" in result.output and "wJalrXUtnFEMI" not in result.output


def test_dockerfile_lines_are_mapped(built, tmp_path):
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(BUSYBOX_BASE + FIXTURE_IMAGES["opt_ml"][0])
    code, report = run(built["opt_ml"]["engine"], "--dockerfile", str(dockerfile))
    [finding] = [f for f in report["findings"] if f["rule"] == "SM210"]
    assert finding["path"] == str(dockerfile) and finding["line"] == 4  # the RUN that wrote /opt/ml/code/a
    assert finding["data"]["image"] == built["opt_ml"]["engine"]
    dockerfile.write_text(BUSYBOX_BASE + FIXTURE_IMAGES["shell_entrypoint"][0])
    code, report = run(built["shell_entrypoint"]["engine"], "--dockerfile", str(dockerfile))
    [finding] = [f for f in report["findings"] if f["rule"] == "SM201"]
    assert finding["line"] == 4


def test_engine_rescan_uses_the_cache_and_no_cache_bypasses_it(built, cache_home):
    ref = built["gpu"]["engine"]
    first = load_image(ref)
    assert first.cached_layers == 0
    second = load_image(ref)
    assert second.cached_layers == second.layers == first.layers
    assert sorted(second.entries()) == sorted(first.entries())
    assert load_image(ref, use_cache=False).cached_layers == 0
    written = [os.path.join(d, f) for d, _, files in os.walk(cache_home) for f in files]
    assert written and all(path.startswith(str(cache_home / "smlint")) for path in written)


def test_engine_partial_cache_skips_known_layers(built, cache_home):
    # Two images share the busybox base layers: after the first, the second
    # reads only its own layers (cached_layers counts layers skipped unread).
    load_image(built["opt_ml"]["engine"])
    view = load_image(built["gpu"]["engine"])
    assert 0 < view.cached_layers < view.layers


def test_unknown_engine_ref_is_one_line_sm001_and_never_pulled(built):
    # Without --pull nothing reaches a registry: the message says so rather
    # than "pulling it failed" (the old default pulled, a DNS query at least).
    code, report = run("smlint-test-absent.invalid/nothing:here")
    [finding] = report["findings"]
    assert code == 2 and finding["rule"] == "SM001"
    assert "not in the local Docker engine" in finding["message"] and "--pull" in finding["message"]
    assert "pulling it failed" not in finding["message"]
    assert "\n" not in finding["message"]
