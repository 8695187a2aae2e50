"""Benchmark `smlint image` against `docker save` on a realistic image.

Builds (once) an image of at least 1 GB with tens of thousands of files: a
debootstrap'ed Debian bookworm root with python3, imported into the engine,
plus layers padding it with many small files and some large ones. Then, in
one run, times `docker save IMAGE > /dev/null`, `smlint image IMAGE` with a
cold cache and a warm one, and peak RSS of each smlint run.

  python bench/image_bench.py [--image NAME] [--rebuild]

Needs root (debootstrap), a Docker engine and the Debian mirror.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMAGE = "smlint-bench:1gb"
ROOTFS_IMAGE = "smlint-bench-rootfs:bookworm"


def sh(*args, **kwargs):
    return subprocess.run(args, check=True, **kwargs)


def image_exists(name: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", name], capture_output=True).returncode == 0


def build(image: str) -> None:
    if not image_exists(ROOTFS_IMAGE):
        rootfs = tempfile.mkdtemp(prefix="smlint-rootfs-")
        try:
            sh("debootstrap", "--variant=minbase", "--include=python3-minimal", "bookworm", rootfs)
            tar = subprocess.Popen(["tar", "-C", rootfs, "-c", "."], stdout=subprocess.PIPE)
            sh("docker", "import", "-", ROOTFS_IMAGE, stdin=tar.stdout)
            tar.wait()
        finally:
            shutil.rmtree(rootfs, ignore_errors=True)
    context = tempfile.mkdtemp(prefix="smlint-bench-ctx-")
    try:
        # Padding: 4 layers of 10,000 small files each and 800 MB of large files.
        with open(os.path.join(context, "Dockerfile"), "w") as handle:
            handle.write(f"FROM {ROOTFS_IMAGE}\n")
            for n in range(4):
                handle.write(
                    f"RUN python3 -c \"import os; d='/srv/pad{n}'; os.makedirs(d); "
                    f"[open(f'{{d}}/f{{i:05d}}.txt','w').write(str(i)*({n}+1)*50) for i in range(10000)]\"\n")
            for n in range(4):
                handle.write(f"RUN head -c 200000000 /dev/urandom > /srv/blob{n}.bin\n")
            handle.write('ENTRYPOINT ["python3", "-c", "print(1)"]\n')
        sh("docker", "build", "-q", "-t", image, context, stdout=subprocess.DEVNULL)
    finally:
        shutil.rmtree(context, ignore_errors=True)


def measure(command: list[str], env=None) -> tuple[float, float]:
    """(seconds, peak RSS MB) of one command, measured in a fresh child."""
    probe = (
        "import resource,subprocess,sys,time;"
        "t=time.perf_counter();subprocess.run(sys.argv[1:],stdout=subprocess.DEVNULL,stderr=subprocess.DEVNULL);"
        "print(time.perf_counter()-t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    out = subprocess.run([sys.executable, "-c", probe, *command], capture_output=True, text=True, env=env,
                         check=True).stdout.split()
    return float(out[0]), int(out[1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image", default=IMAGE)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if args.rebuild or not image_exists(args.image):
        build(args.image)
    size = int(subprocess.run(["docker", "image", "inspect", "-f", "{{.Size}}", args.image],
                              capture_output=True, text=True, check=True).stdout)
    smlint = [os.path.join(os.path.dirname(sys.executable), "smlint"), "image", "--fail-on", "never", args.image]
    cache = tempfile.mkdtemp(prefix="smlint-bench-cache-")
    env = {**os.environ, "XDG_CACHE_HOME": cache}
    rows = {"docker save": [], "smlint cold": [], "smlint warm": [], "smlint --no-cache": []}
    try:
        for _ in range(args.repeat):
            rows["docker save"].append(measure(["sh", "-c", f"docker save {args.image} > /dev/null"]))
            shutil.rmtree(cache, ignore_errors=True)
            rows["smlint cold"].append(measure(smlint, env))
            rows["smlint warm"].append(measure(smlint, env))
            rows["smlint --no-cache"].append(measure(smlint + ["--no-cache"], env))
        files = subprocess.run(smlint + ["-f", "json"], capture_output=True, text=True, env=env).stdout
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    import json

    result = json.loads(files)["result"]["images"][0]
    print(f"image {args.image}: {size / 1e9:.2f} GB, {result['layers']} layers, {result['files']:,} entries")
    best = {name: min(values) for name, values in rows.items()}
    save = best["docker save"][0]
    for name, (seconds, rss) in best.items():
        ratio = f"{seconds / save:.2f}x docker save" if name != "docker save" else ""
        print(f"  {name:18} {seconds:7.2f} s  peak RSS {rss:6.1f} MB  {ratio}")
    print(f"targets: cold <= 1.30x ({best['smlint cold'][0] / save:.2f}x), warm <= 0.25x "
          f"({best['smlint warm'][0] / save:.2f}x), peak RSS < 150 MB ({max(r for n, (_, r) in best.items() if n != 'docker save'):.0f} MB)")


if __name__ == "__main__":
    main()
