"""Benchmark `smlint image` against `docker save` on a realistic image.

Builds (once) an image of at least 1 GB with tens of thousands of files: a
debootstrap'ed Debian bookworm root with python3, imported into the engine,
plus layers padding it with many small files and some large ones. Then, in
one run, times `docker save IMAGE > /dev/null`, `smlint image IMAGE` with a
cold cache and a warm one, and peak RSS of each smlint run.

  python bench/image_bench.py [--image NAME] [--rebuild]

Needs root (debootstrap), a Docker engine and the Debian mirror.

  python bench/image_bench.py --archive

needs neither: it crafts a `docker save`-style archive (about 0.85 GB, 8
layers, 40,000 small files and 4 x 200 MB of random data) and its gzip, and
times `sha256sum` of the archive (reading and hashing every byte once: what
verifying the layers must cost at least) against `smlint image` cold, warm
(every layer hashed again, not walked) and --no-cache.

  python bench/image_bench.py --bounds

prints seconds and peak RSS of `smlint image` on the hostile inputs of issue
11: a 4.9M-entry layer, a layer listed three times, an image just under the
entry bound with long paths, a 1,100-level tree (docs/image.md, "Bounds").
"""
from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
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


def smlint_command(*args: str) -> list[str]:
    return [os.path.join(os.path.dirname(sys.executable), "smlint"), "image", "--fail-on", "never", *args]


def measure_report(ref: str, cache: str, *options: str) -> tuple[float, float, int, str]:
    """(seconds, peak RSS MB, exit code, the SM001 reason or summary line) of one cold-cache scan."""
    probe = (
        "import resource,subprocess,sys,time;"
        "t=time.perf_counter();r=subprocess.run(sys.argv[1:],capture_output=True,text=True);"
        "print(time.perf_counter()-t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, r.returncode);"
        "print(r.stdout)"
    )
    env = {**os.environ, "XDG_CACHE_HOME": cache}
    shutil.rmtree(cache, ignore_errors=True)
    out = subprocess.run([sys.executable, "-c", probe, *smlint_command(ref, "-f", "json", *options)],
                         capture_output=True, text=True, env=env, check=True).stdout
    head, _, body = out.partition("\n")
    seconds, rss, code = head.split()
    import json

    report = json.loads(body)
    errors = [f["message"] for f in report["findings"] if f["rule"] == "SM001"]
    images = report.get("result", {}).get("images") or [{}]
    what = errors[0][-110:] if errors else f"{images[0].get('files', 0):,} entries, no SM001"
    return float(seconds), int(rss) / 1024, int(code), what


def bounds(work: str) -> None:
    sys.path.insert(0, os.path.join(ROOT, "fixtures", "images"))
    from archives import docker_archive, docker_archive_of_files, layer_tar, many_entries_layer

    cache = os.path.join(work, "cache")
    deep = [("/".join(["d"] * n), None) for n in range(1, 1101)]
    cases = {
        "4,900,000 entries in one layer": ([4_900_000], 1, ""),
        "400,000 entries, the layer listed 3 times": ([400_000], 3, ""),
        "990,000 entries, 92-byte paths (under both bounds)": ([990_000], 1, "p" * 78 + "/"),
        "300,000 entries, the layer listed 3 times (under)": ([300_000], 3, ""),
    }
    print(f"{'input':52} {'seconds':>8} {'peak RSS':>9}  exit  result")
    for name, (counts, copies, stem) in cases.items():
        layer = os.path.join(work, "layer.tar")
        diff_id = many_entries_layer(layer, counts[0], stem=stem)
        archive = docker_archive_of_files(os.path.join(work, "image.tar"), [layer] * copies, [diff_id] * copies,
                                          {"Entrypoint": ["/x"]})
        os.unlink(layer)
        seconds, rss, code, what = measure_report("docker-archive:" + archive, cache)
        os.unlink(archive)
        print(f"{name:52} {seconds:8.1f} {rss:7.0f} MB  {code:4}  {what}")
    archive = docker_archive(os.path.join(work, "deep.tar"), [layer_tar(deep), layer_tar([(".wh.d", b"")])],
                             {"Entrypoint": ["/x"]})
    seconds, rss, code, what = measure_report("docker-archive:" + archive, cache)
    print(f"{'1,100-level tree, whited out by layer 2':52} {seconds:8.1f} {rss:7.0f} MB  {code:4}  {what}")


def archive_costs(work: str, repeat: int) -> None:
    sys.path.insert(0, os.path.join(ROOT, "fixtures", "images"))
    from archives import docker_archive_of_files, layer_tar, sha256

    layers, diff_ids = [], []
    for n in range(4):
        data = layer_tar([(f"srv/pad{n}/f{i:05d}.txt", str(i).encode() * (n + 1) * 50) for i in range(10_000)])
        layers.append(os.path.join(work, f"small{n}.tar"))
        diff_ids.append(sha256(data))
        with open(layers[-1], "wb") as handle:
            handle.write(data)
    for n in range(4):
        blob = os.path.join(work, f"blob{n}.bin")
        with open(blob, "wb") as handle:
            for _ in range(200):
                handle.write(os.urandom(1 << 20))
        layers.append(os.path.join(work, f"big{n}.tar"))
        with tarfile.open(layers[-1], "w") as tar:
            tar.add(blob, arcname=f"srv/blob{n}.bin")
        os.unlink(blob)
        with open(layers[-1], "rb") as handle:
            diff_ids.append("sha256:" + hashlib.file_digest(handle, "sha256").hexdigest()
                            if hasattr(hashlib, "file_digest") else sha256(handle.read()))
    archive = docker_archive_of_files(os.path.join(work, "image.tar"), layers, diff_ids, {"Entrypoint": ["/x"]})
    subprocess.run(["sh", "-c", f"gzip -1 -c {archive} > {archive}.gz"], check=True)
    cache = os.path.join(work, "cache")
    env = {**os.environ, "XDG_CACHE_HOME": cache}
    print(f"archive: {os.path.getsize(archive) / 1e9:.2f} GB, 8 layers, 40,000 files; best of {repeat}")
    for ref in (archive, archive + ".gz"):
        smlint = smlint_command("docker-archive:" + ref)
        rows = {"sha256sum ARCHIVE": [], "smlint cold": [], "smlint warm": [], "smlint --no-cache": []}
        for _ in range(repeat):
            rows["sha256sum ARCHIVE"].append(measure(["sh", "-c", f"sha256sum {ref} > /dev/null"]))
            shutil.rmtree(cache, ignore_errors=True)
            rows["smlint cold"].append(measure(smlint, env))
            rows["smlint warm"].append(measure(smlint, env))
            rows["smlint --no-cache"].append(measure(smlint + ["--no-cache"], env))
        base = min(rows["sha256sum ARCHIVE"])[0]
        print(os.path.basename(ref))
        for name, values in rows.items():
            seconds, rss = min(values)
            print(f"  {name:18} {seconds:7.2f} s  peak RSS {rss:6.1f} MB  {seconds / base:.2f}x sha256sum")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image", default=IMAGE)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--archive", action="store_true", help="archive verification costs (no engine needed)")
    parser.add_argument("--bounds", action="store_true", help="hostile inputs: seconds and peak RSS")
    args = parser.parse_args()
    if args.archive or args.bounds:
        work = tempfile.mkdtemp(prefix="smlint-bench-")
        try:
            archive_costs(work, args.repeat) if args.archive else bounds(work)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return
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
