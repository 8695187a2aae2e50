"""--fix on real images: busybox-based variants of the fixable catalog
instructions are built before and after the fix; the fixed image's config
holds the exec form the fixed Dockerfile says, and running both gives the job
program the same argv, environment and output (PID 1 differs by design: after
the fix it is the job). SM102: the fixed image runs what its author meant; the
unsafe fix hands CMD and the run's arguments to the program, as its message says."""
import json
import subprocess
import uuid

import pytest

from smlint.config import Policy
from smlint.dockerfile.fix_files import fix_text
from smlint.dockerfile.parser import parse

from dockerutil import BUSYBOX_BASE, build_image, engine_or_skip, remove_image

pytestmark = pytest.mark.docker

# The job program: its argv one per line, what it reads from the environment, its pid.
JOB = '#!/bin/sh\necho "program=$0"\nfor a in "$@"; do echo "[$a]"; done\necho "MODE=$MODE cwd=$(pwd)"\necho "pid=$$"\n'
BASE = BUSYBOX_BASE + "COPY job /app/job\nENV MODE=fast\n"

# (id, instructions, the fixed image's Entrypoint, its Cmd)
SAME_RUN = [
    ("SM101 plain words", 'ENTRYPOINT /app/job --fast "a b"\n', ["/app/job", "--fast", "a b"], None),
    ("SM101 needs a shell", 'ENTRYPOINT cd /app && ./job "$MODE" x\n',
     ["/bin/sh", "-c", 'cd /app && exec ./job "$MODE" x'], None),
    ("SM101 continuation", "ENTRYPOINT /app/job \\\n    --input /x \\\n    --output /y\n",
     ["/app/job", "--input", "/x", "--output", "/y"], None),
    ("SM101 pipefail SHELL", 'SHELL ["/bin/sh", "-o", "pipefail", "-c"]\nENTRYPOINT /app/job a\n', ["/app/job", "a"],
     None),
    ("SM101 login SHELL kept", 'SHELL ["/bin/sh", "-l", "-c"]\nENTRYPOINT /app/job a\n',
     ["/bin/sh", "-l", "-c", "exec /app/job a"], None),
    ("SM101 shell kept with a CMD", 'ENTRYPOINT cd /app; ./job $MODE\nCMD ["ignored"]\n',
     ["/bin/sh", "-c", "cd /app; exec ./job $MODE"], ["ignored"]),
    ("SM103 plain words", "CMD /app/job one 'two three'\n", None, ["/app/job", "one", "two three"]),
    ("SM103 variable", "CMD /app/job --mode=$MODE\n", None, ["/bin/sh", "-c", "exec /app/job --mode=$MODE"]),
    ("SM105 exec added", 'ENTRYPOINT ["/bin/sh", "-c", "cd /app && ./job z"]\n',
     ["/bin/sh", "-c", "cd /app && exec ./job z"], None),
]


@pytest.fixture(scope="module")
def client():
    return engine_or_skip()


@pytest.fixture()
def images(client):
    built = []

    def build(dockerfile):
        tag = build_image(client, dockerfile, {"job": (JOB, 0o755)}, tag=f"smlint-fix-{uuid.uuid4().hex[:12]}:t")
        built.append(tag)
        return tag

    yield build
    for tag in built:
        remove_image(client, tag)


def run(tag, *args):
    name = f"smlint-fix-{uuid.uuid4().hex[:12]}"
    result = subprocess.run(["docker", "run", "--rm", "--name", name, "--network", "none", tag, *args],
                            capture_output=True, text=True, timeout=120)
    return result.returncode, result.stdout


def config(tag):
    out = subprocess.run(["docker", "image", "inspect", "-f", "{{json .Config}}", tag], capture_output=True,
                         text=True, check=True).stdout
    found = json.loads(out)
    return found.get("Entrypoint"), found.get("Cmd")


def fix(text, unsafe=False):
    after, applied, _ = fix_text(text, "Dockerfile", Policy(), unsafe)
    assert applied and after != text
    return after


def written_exec_form(text, keyword):
    found = [i for i in parse(text).instructions if i.keyword == keyword]
    return list(found[-1].exec_args) if found and found[-1].exec_args is not None else None


def without_pid(output):
    return [line for line in output.splitlines() if not line.startswith("pid=")]


@pytest.mark.parametrize("name, body, entrypoint, cmd", SAME_RUN, ids=[c[0] for c in SAME_RUN])
def test_fixed_image_runs_the_same_job(images, name, body, entrypoint, cmd):
    before = BASE + body
    after = fix(before)
    original, fixed = images(before), images(after)
    assert config(fixed) == (entrypoint, cmd)
    if entrypoint is not None:
        assert written_exec_form(after, "ENTRYPOINT") == entrypoint
    else:
        assert written_exec_form(after, "CMD") == cmd
    code_before, out_before = run(original)
    code_after, out_after = run(fixed)
    assert code_before == code_after == 0, (out_before, out_after)
    assert without_pid(out_before) == without_pid(out_after)
    assert "MODE=fast cwd=" in out_after
    assert "pid=1" in out_after.splitlines()  # the job is PID 1 now


def test_sm102_fixed_image_runs_what_was_meant(images):
    before = BASE + "ENTRYPOINT ['/app/job', 'x y']\n"
    fixed = images(fix(before))
    assert config(fixed)[0] == ["/app/job", "x y"]
    code, out = run(fixed)
    assert code == 0 and "[x y]" in out.splitlines() and "pid=1" in out.splitlines()
    code, out = run(images(before))
    assert code != 0 and "[x y]" not in out  # as written, /bin/sh fails on the text


def test_sm102_trailing_comma_cmd_reaches_the_program(images):
    before = BASE + 'ENTRYPOINT ["/app/job"]\nCMD ["a", "b c",]\n'
    fixed = images(fix(before))
    assert config(fixed) == (["/app/job"], ["a", "b c"])
    assert without_pid(run(fixed)[1])[1:3] == ["[a]", "[b c]"]
    assert "[-c]" in run(images(before))[1].splitlines()  # as written: /bin/sh -c [...] were its arguments


def test_unsafe_fix_hands_cmd_and_arguments_to_the_program(images):
    before = BASE + 'ENTRYPOINT /app/job a\nCMD ["b"]\n'
    assert fix_text(before, "Dockerfile", Policy())[0] == before  # not without --unsafe-fixes
    original, fixed = images(before), images(fix(before, unsafe=True))
    assert config(fixed) == (["/app/job", "a"], ["b"])
    assert without_pid(run(original)[1])[1:2] == ["[a]"] and "[b]" not in run(original)[1]
    assert without_pid(run(fixed)[1])[1:3] == ["[a]", "[b]"]
    # ContainerArguments (docker run IMAGE ARGS) replace CMD: ignored before, the program's now
    assert "[extra]" not in run(original, "extra")[1]
    assert without_pid(run(fixed, "extra")[1])[1:3] == ["[a]", "[extra]"]
