"""SM105, SM106, SM107 through `lint_text`: the false positives of issue 9 and
reduced cases of what linting public Dockerfiles showed (bad and good)."""
import pytest

from smlint import lint_text

P = "FROM python:3.12-slim\n"


def _ids(text):
    return {f.rule_id for f in lint_text(text)}


CASES = [
    # (Dockerfile, rule, fires?)
    # issue 9: the main program runs last, so its status is the script's
    ("FROM debian:bookworm\nCMD setsid cron; tmux -2\n", "SM106", False),
    (P + "CMD service nginx start; bin/slyd -p 9001\n", "SM106", False),
    # both branches exec: neither "write `exec fi`" nor a masked status
    (P + 'ENTRYPOINT ["sh","-c","if [ -n \\"$X\\" ]; then exec python3 a.py; else exec python3 b.py; fi"]\n', "SM105", False),
    (P + 'ENTRYPOINT ["sh","-c","if [ -n \\"$X\\" ]; then exec python3 a.py; else exec python3 b.py; fi"]\n', "SM106", False),
    (P + 'ENTRYPOINT ["sh","-c","case \\"$1\\" in t) exec python3 t.py;; *) exec python3 s.py;; esac","sh"]\n', "SM105", False),
    (P + 'ENTRYPOINT ["sh","-c","case \\"$1\\" in t) python3 t.py;; *) exec python3 s.py;; esac","sh"]\n', "SM105", True),
    # errexit on the command line or inside
    (P + 'ENTRYPOINT ["bash","-o","pipefail","-ec","a; b; echo finished"]\n', "SM106", False),
    (P + 'ENTRYPOINT ["sh","-o","errexit","-c","python3 a.py; echo finished"]\n', "SM106", False),
    (P + 'ENTRYPOINT ["sh","-c","set -e; python3 a.py; echo finished"]\n', "SM106", False),
    (P + 'ENTRYPOINT ["sh","-c","python3 a.py; echo finished"]\n', "SM106", True),
    # the status kept
    (P + 'ENTRYPOINT ["sh","-c","python3 a.py; status=$?; echo done; exit $status"]\n', "SM106", False),
    (P + 'ENTRYPOINT ["sh","-c","python3 a.py || exit 1"]\n', "SM106", False),
    (P + 'ENTRYPOINT ["sh","-c","trap \'kill $c\' TERM; python3 a.py & c=$!; wait $c"]\n', "SM106", False),
    (P + 'ENTRYPOINT ["sh","-c","trap \'kill $c\' TERM; python3 a.py & c=$!; wait $c"]\n', "SM105", False),
    # kept: the pipeline's status is tee's
    (P + 'ENTRYPOINT ["bash","-c","python3 job.py 2>&1 | tee log"]\n', "SM106", True),
    (P + 'ENTRYPOINT ["bash","-ec","python3 job.py 2>&1 | tee log"]\n', "SM106", True),
    # which shell runs: bash and busybox exec the final command; dash does not; unknown bases say so
    (P + 'ENTRYPOINT ["bash","-c","cd /app && python3 job.py"]\n', "SM105", False),
    (P + 'ENTRYPOINT ["sh","-c","cd /app && python3 job.py"]\n', "SM105", True),
    ("FROM alpine:3.19\nENTRYPOINT [\"sh\",\"-c\",\"cd /app && python3 job.py\"]\n", "SM105", False),
    ("FROM openjdk:8-alpine\nENTRYPOINT [ \"sh\", \"-c\", \"/usr/src/atd/run.sh\" ]\n", "SM105", False),
    ("FROM amazonlinux:2023\nENTRYPOINT [\"sh\",\"-c\",\"cd /app && python3 job.py\"]\n", "SM105", False),
    ("FROM base AS b\nFROM b\n", "SM105", False),
    # /bin/sh is inferred through the stage chain
    ("FROM alpine:3.19 AS base\nRUN true\nFROM base\nENTRYPOINT [\"sh\",\"-c\",\"cd / && python3 job.py\"]\n", "SM105", False),
    ("FROM ubuntu:22.04 AS base\nFROM base AS app\nFROM app\nENTRYPOINT [\"sh\",\"-c\",\"cd / && python3 job.py\"]\n", "SM105", True),
    # a pipeline whose last command is the job, or a trailer after &&
    ("FROM busybox:1.36\nCMD echo 'test' | wc -\n", "SM106", False),
    (P + 'ENTRYPOINT ["sh","-c","python3 job.py && touch /tmp/done"]\n', "SM106", False),
]


@pytest.mark.parametrize("text, rule, fires", CASES, ids=[f"{c[1]}-{i}" for i, c in enumerate(CASES)])
def test_rule_decisions(text, rule, fires):
    assert (rule in _ids(text)) is fires


def test_unknown_base_says_unless_bash_or_busybox():
    [finding] = [f for f in lint_text('FROM myorg/base:1\nENTRYPOINT ["sh","-c","cd /app && python3 job.py"]\n')
                 if f.rule_id == "SM105"]
    assert "unless /bin/sh is bash or busybox" in finding.message and "`exec python3 job.py`" in finding.message
    [finding] = [f for f in lint_text(P + 'ENTRYPOINT ["sh","-c","cd /app && python3 job.py"]\n') if f.rule_id == "SM105"]
    assert "/bin/sh is dash on this base" in finding.message


def test_sm105_names_the_branch_at_fault():
    text = P + 'ENTRYPOINT ["sh","-c","if [ -n \\"$X\\" ]; then exec python3 a.py; else python3 b.py; fi"]\n'
    [finding] = [f for f in lint_text(text) if f.rule_id == "SM105"]
    assert "`python3 b.py` (the `else` branch)" in finding.message and "write `exec python3 b.py`" in finding.message


def test_sm105_names_every_faulty_branch_with_its_fix():
    text = P + 'CMD ["sh","-c","if [ -n \\"$X\\" ]; then python3 a.py; else python3 b.py; fi"]\n'
    [finding] = [f for f in lint_text(text) if f.rule_id == "SM105"]
    assert ("on 2 paths (/bin/sh is dash on this base, which does not exec the final command itself): "
            "(1) `python3 a.py` (the `then` branch) is not run with `exec`; write `exec python3 a.py`; "
            "(2) `python3 b.py` (the `else` branch) is not run with `exec`; write `exec python3 b.py`") in finding.message


def test_sm105_bounds_the_paths_it_names():
    arms = " ".join(f"{n}) python3 {n}.py;;" for n in "abcdef")
    [finding] = [f for f in lint_text(P + f'CMD ["sh","-c","case $1 in {arms} esac"]\n') if f.rule_id == "SM105"]
    assert "on 6 paths" in finding.message and "(4) `python3 d.py`" in finding.message
    assert "e.py" not in finding.message and finding.message.endswith("; and 2 more")


def test_sm107_names_every_faulty_branch():
    body = '#!/bin/sh\ncase "$1" in\n  a) python3 a.py ;;\n  *) python3 b.py ;;\nesac\n'
    [finding] = [f for f in lint_text(_script(body)) if f.rule_id == "SM107"]
    assert "(1) `python3 a.py` (the `a)` branch)" in finding.message
    assert "(2) `python3 b.py` (the `*)` branch)" in finding.message and "write `exec python3 b.py`" in finding.message


def test_sm106_names_every_masking_path():
    script = 'if [ -n \\"$X\\" ]; then python3 a.py || true; else python3 b.py; echo done; fi'
    [finding] = [f for f in lint_text(P + f'CMD ["sh","-c","{script}"]\n') if f.rule_id == "SM106"]
    assert "on 2 paths: (1) `python3 a.py || true` turns every failure into success" in finding.message
    assert "(2) `echo done` after `python3 b.py` replaces its status" in finding.message


def test_sm106_one_masking_path_is_one_sentence():
    [finding] = [f for f in lint_text(P + 'CMD ["sh","-c","python3 a.py || true"]\n') if f.rule_id == "SM106"]
    assert finding.message.endswith("`python3 a.py || true` turns every failure into success; drop `|| true` "
                                    "(or end the fallback with `exit 1`)")


def test_sm105_trap_alone_says_why():
    text = P + 'ENTRYPOINT ["bash","-c","trap \'echo bye\' TERM; python3 job.py"]\n'
    [finding] = [f for f in lint_text(text) if f.rule_id == "SM105"]
    assert "trap runs only after the foreground" in finding.message


def _script(body, base="FROM python:3.12-slim"):
    return f"{base}\nCOPY --chmod=755 <<'EOF' /entrypoint.sh\n{body}EOF\nENTRYPOINT [\"/entrypoint.sh\"]\n"


@pytest.mark.parametrize("body, fires", [
    # reduced from docker-library/docker's dind entrypoint: error paths end in `exit 1`, the script in exec
    ('#!/bin/sh\niptables --version\nif [ "$(id -u)" != 0 ]; then\n  echo >&2 "error"\n  exit 1\nfi\nexec "$@"\n', False),
    # reduced from docker-library/mysql: a bash array whose items hold $( ) and comments
    ('#!/bin/bash\nargs=(\n  --verbose # why\n  --x="$(mktemp -u)"\n)\nexec mysqld "${args[@]}"\n', False),
    # reduced from jessfraz/dockerfiles: `su -c` in one branch, not exec'd
    ('#!/bin/sh\nif [ "$1" = x ]; then\n  su app -c "$@"\nelse\n  exec "$@"\nfi\n', True),
    # `"$@"` as the last line without exec (jessfraz ykman and others)
    ('#!/bin/bash\nset -e\npcscd\n"$@"\n', True),
    # reduced from aws/sagemaker-tensorflow-serving-container: redirections before the command
    ('#!/bin/bash\nerror() {\n  >&2 echo "$1"\n  exit 1\n}\n[ -n "$1" ] || error usage\nexec serve "$@"\n', False),
    # a trap alone vs trap, background, wait
    ("#!/bin/sh\ntrap 'exit 0' TERM\npython3 /app/job.py\n", True),
    ("#!/bin/sh\ntrap 'kill -TERM $c' TERM INT\npython3 /app/job.py &\nc=$!\nwait $c\n", False),
])
def test_sm107_on_reduced_real_scripts(body, fires):
    findings = [f for f in lint_text(_script(body)) if f.rule_id == "SM107"]
    assert bool(findings) is fires, [f.message for f in findings]
    if fires:
        assert "; or trap INT and TERM, run the job in the background and `wait`" in findings[0].message


def test_the_grammar_loads_only_for_files_with_a_shell_script():
    """Cold start: a Dockerfile whose command runs no shell never imports the grammar."""
    import subprocess
    import sys

    code = ("import sys; from smlint import lint_text; lint_text(%r); "
            "print('smlint.dockerfile.shell_questions' in sys.modules)")
    plain = subprocess.run([sys.executable, "-c", code % (P + 'ENTRYPOINT ["python3", "/app/job.py"]\n')],
                           capture_output=True, text=True, check=True)
    wrapped = subprocess.run([sys.executable, "-c", code % (P + 'ENTRYPOINT ["sh", "-c", "python3 /app/job.py"]\n')],
                             capture_output=True, text=True, check=True)
    assert (plain.stdout.strip(), wrapped.stdout.strip()) == ("False", "True")


@pytest.mark.parametrize("keeper", ["tail -f /var/log/app.log", "tail -F /var/log/app.log", "sleep infinity"])
def test_a_keeper_after_a_daemon_is_not_told_to_exec(keeper):
    """`service x start; tail -f log`: exec'ing the keeper would forward nothing to the service (torchserve,
    apacheds in the real-file review); the fix says to run the service in the foreground or trap."""
    body = f"#!/bin/sh\nservice app start\n{keeper}\n"
    [finding] = [f for f in lint_text(_script(body)) if f.rule_id == "SM107"]
    assert "only keeps the container up" in finding.message and f"write `exec {keeper}`" not in finding.message
