"""Table-driven decisions of SM104, SM131, SM140, SM142 and SM143 (issue 9),
bad and good: each case is (rule, Dockerfile, fires?)."""
import json

import pytest

from smlint import lint_text
from smlint.config import Policy
from smlint.contract import runs_as_root

P = "FROM python:3.12-slim\n"
EP = 'ENTRYPOINT ["python3", "/app/job.py"]\n'
HEX = "3f1f6a9e8e2c52a4c0b47f3d6f1d4b0c9d6a0e6b8c5f3a2d1e0f9b8a7c6d5e4f"


def _script(body, entrypoint='["/entrypoint.sh"]'):
    return f"{P}COPY <<'EOF' /entrypoint.sh\n{body}EOF\nENTRYPOINT {entrypoint}\n"


CASES = [
    # SM104: BuildKit's automatic target args resolve for linux/amd64; BUILD* stay unknown
    ("SM104", P.replace("slim", "slim AS stage-linux") + EP + "FROM stage-$TARGETOS\n", False),
    ("SM104", P.replace("slim", "slim AS b-amd64") + EP + "FROM b-${TARGETARCH}${TARGETVARIANT}\n", False),
    ("SM104", P.replace("slim", "slim AS b-linux/amd64") + EP + "FROM b-${TARGETPLATFORM}\n", False),
    ("SM104", P.replace("slim", "slim AS b-amd64") + EP + "FROM b-${BUILDARCH}\n", True),
    ("SM104", P.replace("slim", "slim AS stage-linux") + EP + "FROM stage-$TARGETOS\nCMD []\nENTRYPOINT []\n", True),
    # SM131: job-time text only
    ("SM131", P + "RUN wget -q https://e.x/hosts -O /etc/hosts\n" + EP, False),  # issue 9: a build-time write
    ("SM131", P + "RUN cat /etc/hostname && hostname\n" + EP, False),  # RUN never fires
    ("SM131", P + 'ENTRYPOINT ["sh", "-c", "echo 10.0.0.1 algo-1 >> /etc/hosts && exec python3 j.py"]\n', False),
    ("SM131", P + 'ENTRYPOINT ["sh", "-c", "until getent hosts algo-2; do sleep 1; done; exec python3 j.py"]\n', False),
    ("SM131", P + 'ENTRYPOINT ["sh", "-c", "nslookup algo-2 && exec python3 j.py"]\n', False),
    ("SM131", P + 'ENTRYPOINT ["sh", "-c", "hostname algo-1 && exec python3 j.py"]\n', False),  # sets it
    ("SM131", P + 'ENTRYPOINT ["sh", "-c", "sed -i s/a/b/ /etc/hosts && exec python3 j.py"]\n', False),
    ("SM131", P + 'ENTRYPOINT ["sh", "-c", "[ -f /etc/hosts ] && exec python3 j.py"]\n', False),
    ("SM131", P + 'ENTRYPOINT ["sh", "-c", "H=$(hostname -s) exec python3 j.py"]\n', True),
    ("SM131", P + 'ENTRYPOINT ["sh", "-c", "while read a b; do :; done < /etc/hosts; exec python3 j.py"]\n', True),
    ("SM131", P + "CMD awk '{print $2}' /etc/hosts\n", True),
    ("SM131", P + 'ENTRYPOINT ["tini", "--", "cat", "/etc/hostname"]\n', True),
    ("SM131", P + 'ENTRYPOINT ["hostname"]\n', True),
    ("SM131", _script("#!/bin/sh\nexport ME=$(cat /etc/hostname)\nexec python3 /app/job.py\n"), True),
    ("SM131", _script("#!/bin/sh\necho \"$IP $(cat /tmp/n)\" >> /etc/hosts\nexec python3 /app/job.py\n"), False),
    ("SM131", _script("#!/bin/sh\nexec python3 /app/job.py\n", '["gosu", "app", "/entrypoint.sh"]'), False),
    # SM140: registry ports, ids, digests
    ("SM140", "FROM localhost:5000/team/img\n" + EP, True),
    ("SM140", "FROM registry.internal:443/img:latest\n" + EP, True),
    ("SM140", "FROM registry.internal:443/img:1.2\n" + EP, False),
    ("SM140", f"FROM {HEX}\n" + EP, False),
    ("SM140", f"FROM python@sha256:{HEX}\n" + EP, False),
    ("SM140", f"FROM {HEX[:12]}\n" + EP, True),  # a short id is a name without a tag
    # SM142: the effective USER of the final stage
    ("SM142", P + "USER app\n" + EP, True),
    ("SM142", P + "USER 1000:0\n" + EP, True),
    ("SM142", P + "USER root:staff\n" + EP, False),
    ("SM142", P + "USER 0:1000\n" + EP, False),
    ("SM142", P + "USER app\nRUN true\nUSER root\n" + EP, False),
    ("SM142", P + "ARG NB_UID\nUSER ${NB_UID}\n" + EP, False),  # unresolved: not judged
    ("SM142", P + "ARG NB_UID=1000\nUSER ${NB_UID}\n" + EP, True),
    ("SM142", P + "ENV NB_USER=jovyan\nUSER $NB_USER\n" + EP, True),
    ("SM142", P + "USER ${NB_USER:-root}\n" + EP, False),
    ("SM142", P.replace("slim", "slim AS a") + "USER app\nFROM a\n" + EP, True),  # inherited
    ("SM142", P.replace("slim", "slim AS a") + "USER app\nFROM a\nUSER root\n" + EP, False),
    ("SM142", P.replace("slim", "slim AS a") + "USER app\nFROM python:3.12-slim\n" + EP, False),
    ("SM142", "FROM jupyter/base-notebook:2024-05-13\n" + EP, False),  # the base's own USER: unknown here
    # SM143: what BuildKit's instructions accept
    ("SM143", P + 'CMD --doit -- [ "a" ]\n', True),
    ("SM143", P + "COPY --chown=1000 --chmod=0755 --link --parents --exclude=*.pyc a /b/\n" + EP, False),
    ("SM143", P + "ADD --keep-git-dir=true --checksum=sha256:00 --unpack=false --link https://e.x/a /a\n" + EP, False),
    ("SM143", P + "RUN --mount=type=cache,target=/c --network=none --security=insecure --device=x true\n" + EP, False),
    ("SM143", P + 'HEALTHCHECK --interval=5s --timeout=3s --start-period=1s --start-interval=1s --retries=3 CMD ["true"]\n'
     + EP, False),
    ("SM143", "FROM --platform=linux/amd64 python:3.12-slim\n" + EP, False),
    ("SM143", P + "ARG --anything=1 X=1\nSTOPSIGNAL --x SIGINT\nHEALTHCHECK --x NONE\n" + EP, False),  # never read
    ("SM143", P + "COPY --From=build a /b\n" + EP, True),  # case-sensitive
    ("SM143", P + "RUN --chown=1000 true\n" + EP, True),
    ("SM143", P + "COPY --link=yes a /b\n" + EP, True),
    ("SM143", P + "COPY --link= a /b\n" + EP, True),
    ("SM143", P + "COPY --chown a /b\n" + EP, True),
    ("SM143", P + "COPY --from=a --from=b x /b\n" + EP, True),
    ("SM143", P + "COPY --exclude=a --exclude=b x /b\n" + EP, False),  # a list flag
    ("SM143", P + "ONBUILD --x RUN true\n" + EP, True),
    ("SM143", P + "ENV --A=1\n" + EP, True),
    ("SM143", "FROM python:3.12-slim AS b\nUSER --x app\nFROM python:3.12-slim\n" + EP, True),  # any stage
]


@pytest.mark.parametrize("rule, text, fires", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_rule_decision(rule, text, fires):
    findings = lint_text(text)
    assert not [f for f in findings if f.rule_id in ("SM001", "SM003")], findings
    assert (rule in {f.rule_id for f in findings}) == fires, [(f.rule_id, f.message) for f in findings]


@pytest.mark.parametrize("user, uids, expected", [
    ("", None, True), ("root", None, True), ("0", None, True), ("0:1000", None, True), ("root:staff", None, True),
    ("00", None, True), ("1000", None, False), ("app", None, False), ("1000:0", None, False),
    ("toor", {"toor": 0}, True), ("app", {"app": 1000}, False), ("ghost", {"app": 1000}, None),
])
def test_runs_as_root(user, uids, expected):
    assert runs_as_root(user, uids) is expected


def test_sm143_names_the_flag_and_the_rest_is_read_as_buildkit_reads_it():
    findings = lint_text(P + 'CMD --doit -- [ "python3", "job.py" ]\n')
    assert [f.rule_id for f in findings] == ["SM143"]  # exec form: no SM103
    assert "--doit" in findings[0].message and findings[0].line == 2


def test_sm143_suggests_the_flag_meant():
    [finding] = [f for f in lint_text(P + "COPY --form=build a /b\n" + EP) if f.rule_id == "SM143"]
    assert "did you mean --from?" in finding.message
    [finding] = [f for f in lint_text(P + "RUN --chown=1 true\n" + EP) if f.rule_id == "SM143"]
    assert "--mount" in finding.message  # the flags RUN does take


def test_sm143_on_an_argument_meant_for_the_program_says_exec_form():
    [finding] = [f for f in lint_text(P + EP + "CMD --verbose\n") if f.rule_id == "SM143"]
    assert '["--verbose"]' in finding.message


def test_sm142_points_at_the_user_that_decides():
    text = P.replace("slim", "slim AS a") + "USER app\nFROM a\nRUN true\n" + EP
    [finding] = [f for f in lint_text(text) if f.rule_id == "SM142"]
    assert finding.line == 2 and finding.data == {"user": "app"}


def test_sm142_build_arg_resolves_an_unresolved_user():
    text = P + "ARG NB_UID\nUSER ${NB_UID}\n" + EP
    assert "SM142" in {f.rule_id for f in lint_text(text, policy=Policy(build_args={"NB_UID": "1000"}))}
    assert "SM142" not in {f.rule_id for f in lint_text(text, policy=Policy(build_args={"NB_UID": "0"}))}


def test_sm131_context_script_run_by_the_entrypoint(tmp_path):
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "job.py").write_text("import socket\nHOST = socket.gethostname()\n")
    (tmp_path / "app" / "util.py").write_text("open('/etc/hosts').read()\n")  # copied, never run
    text = P + "COPY app/ /app/\nWORKDIR /app\n" + 'ENTRYPOINT ["python3", "job.py"]\n'
    assert "SM131" not in {f.rule_id for f in lint_text(text)}  # the text is unknown without --context
    [finding] = [f for f in lint_text(text, context_dir=str(tmp_path)) if f.rule_id == "SM131"]
    assert "/app/job.py" in finding.message and "gethostname() on its line 2" in finding.message
    assert finding.line == 4 and finding.data == {"script": "/app/job.py", "copied_on_line": 2}


def test_sm131_context_python_that_writes_hosts_is_not_reading(tmp_path):
    (tmp_path / "job.py").write_text("with open('/etc/hosts', 'a') as f:\n    f.write('10.0.0.2 algo-2\\n')\n")
    text = P + "COPY job.py /app/job.py\n" + EP
    assert "SM131" not in {f.rule_id for f in lint_text(text, context_dir=str(tmp_path))}


def test_sm131_follows_the_entrypoint_script_to_the_program_it_runs(tmp_path):
    (tmp_path / "start.sh").write_text("#!/bin/bash\nset -e\nexec python3 /app/job.py \"$@\"\n")
    (tmp_path / "job.py").write_text("hosts = open('/etc/hosts').read()\n")
    text = P + "COPY start.sh /start.sh\nCOPY job.py /app/job.py\n" + 'ENTRYPOINT ["/start.sh"]\n'
    [finding] = [f for f in lint_text(text, context_dir=str(tmp_path)) if f.rule_id == "SM131"]
    assert "runs /app/job.py" in finding.message and "reads /etc/hosts on its line 1" in finding.message


def _message(rule, text):
    [finding] = [f for f in lint_text(text) if f.rule_id == rule]
    return finding.message


@pytest.mark.parametrize("text, advice", [
    (P + "CMD zsh -c weechat\n", 'write ENTRYPOINT ["weechat"]'),  # a wrapper is not the advice
    (P + "CMD bash -c 'exec python3 job.py'\n", 'write ENTRYPOINT ["python3", "job.py"]'),
    (P + "CMD exec python3 job.py --x 1\n", 'write ENTRYPOINT ["python3", "job.py", "--x", "1"]'),
    (P + "CMD python3 a.py && python3 b.py\n", 'end a wrapper script with `exec "$@"`'),
    # a lone command that needs the shell for its expansions keeps it, execs, and takes the arguments
    (P + "CMD /bin/app --port=${PORT} --in /data/*.csv\n",
     'write ENTRYPOINT ["/bin/sh", "-c", "exec /bin/app --port=${PORT} --in /data/*.csv \\"$@\\"", "sh"]'),
    (P + 'CMD exec python3 job.py --name "$NAME"\n',
     'write ENTRYPOINT ["/bin/sh", "-c", "exec python3 job.py --name \\"$NAME\\" \\"$@\\"", "sh"]'),
    (P + "CMD python3 job.py > /tmp/log\n", 'end a wrapper script with `exec "$@"`'),  # a redirection: a script
    (P + 'SHELL ["/bin/bash", "-o", "pipefail", "-c"]\nCMD /bin/app --user=${USER,,}\n',  # the SHELL in effect
     'write ENTRYPOINT ["/bin/bash", "-c", "exec /bin/app --user=${USER,,} \\"$@\\"", "bash"]'),
])
def test_sm103_advice_is_said_once_and_is_no_wrapper(text, advice):
    message = _message("SM103", text)
    assert advice in message
    assert message.count("exec form") + message.count("exec-form") <= 1  # issue 9: it repeated itself


def test_the_expanding_advice_passes_lint_itself():
    message = _message("SM101", P + "ENTRYPOINT /bin/app --port=${PORT}\n")
    suggested = message[message.index("write ENTRYPOINT ") + len("write ENTRYPOINT "):message.index('", "sh"]') + 8]
    assert json.loads(suggested)[2] == 'exec /bin/app --port=${PORT} "$@"'
    assert [f.rule_id for f in lint_text(P + f"ENTRYPOINT {suggested}\n") if f.severity == "error"] == []


@pytest.mark.parametrize("base, said", [
    ("scratch", "the base image has no /bin/sh (scratch or distroless), so the container cannot even start"),
    ("gcr.io/distroless/python3-debian12", "the base image has no /bin/sh"),  # "debian" in the name is no dash
    ("gcr.io/distroless/static:nonroot", "the base image has no /bin/sh"),
    ("gcr.io/distroless/base:debug", "(/bin/sh is busybox here, which execs it itself)"),  # :debug has busybox
])
def test_a_base_without_a_shell_cannot_start_a_shell_form_command(base, said):
    assert said in _message("SM103", f"FROM {base}\nCOPY app /app\nCMD /app --serve\n")


def test_a_shell_copied_into_scratch_is_not_assumed_missing():
    text = "FROM scratch\nCOPY --from=busybox:musl /bin/busybox /bin/sh\nCMD /app --serve\n"
    assert "no /bin/sh" not in _message("SM103", text)
    assert "(bash execs it itself)" in _message("SM103", 'FROM scratch\nSHELL ["/bin/bash", "-c"]\nCMD /app\n')


def test_no_shell_advice_and_fix_never_keep_the_shell():
    text = "FROM gcr.io/distroless/static\nCOPY app /app\nCMD /app --port=$PORT\n"
    [finding] = [f for f in lint_text(text) if f.rule_id == "SM103"]
    assert "/bin/sh\", \"-c\"" not in finding.message.split("; ", 1)[1] and finding.fix is None
    assert "values the shell would have expanded set by ENV or ARG" in finding.message
    [plain] = [f for f in lint_text("FROM scratch\nCMD /app --serve\n") if f.rule_id == "SM103"]
    assert plain.fix is not None  # plain words: exec form needs no shell


def test_quoted_commands_are_json_escaped_not_nested():
    message = _message("SM101", P + 'ENTRYPOINT python3 job.py --name "a b"\n')
    assert '["/bin/sh", "-c", "python3 job.py --name \\"a b\\""]' in message
    shell = _message("SM103", P + 'SHELL ["/bin/bash", "-c"]\nCMD python3 job.py\n')
    assert '["/bin/bash", "-c", "python3 job.py"]' in shell  # the SHELL in effect


def test_sm101_advice_keeps_no_code_under_opt_ml():
    message = _message("SM101", P + "COPY train.py /opt/ml/code/\nENTRYPOINT python3 /opt/ml/code/train.py\n")
    assert 'write ENTRYPOINT ["python3", "/app/train.py"]' in message and '"python3", "/opt/ml' not in message
    kept = _message("SM101", P + "ENTRYPOINT python3 /opt/ml/processing/input/code/run.py\n")
    assert '["python3", "/opt/ml/processing/input/code/run.py"]' in kept  # an input, not the image's code


@pytest.mark.parametrize("workdir, words", [("/opt/ml", "WORKDIR /opt/ml is /opt/ml,"),
                                            ("/opt/ml/code", "WORKDIR /opt/ml/code is under /opt/ml,")])
def test_sm111_says_under_only_below_opt_ml(workdir, words):
    message = _message("SM111", f"{P}WORKDIR {workdir}\n{EP}")
    assert message.startswith(words) and "/opt/ml is under /opt/ml" not in message


# Reduced from real Dockerfiles read in the issue 9 review (public repositories).
REAL = [
    # vimagick/dockerfiles obs-web-arm: `--from build` takes no value, BuildKit refuses it
    ("SM143", "FROM node:alpine AS build\nRUN true\nFROM nginx:alpine\nCOPY --from build /app/public/* /usr/share/nginx/html\n",
     True),
    # moby/buildkit: the final stage names a stage through TARGETOS and a ${V:+x} suffix
    ("SM104", "FROM alpine:3.20 AS buildkit-linux\nENTRYPOINT [\"buildkitd\"]\n"
              "FROM buildkit-$TARGETOS${BUILDKIT_DEBUG:+-debug} AS buildkit\n", False),
    # BuildKit's parser test file: flags come off first, so `CMD --doit -- [ ]` is an empty exec form
    ("SM103", "FROM scratch\nCMD --doit -- [ ]\n", False),
    ("SM104", "FROM scratch\nCMD --doit -- [ ]\n", True),
    # docker-library/docker dind: the entrypoint script reads /etc/hostname when the container starts
    ("SM131", P + "COPY <<'EOF' /usr/local/bin/dockerd-entrypoint.sh\n#!/bin/sh\nset -e\n"
              "if [ -z \"$HOST\" ]; then HOST=\"$(cat /etc/hostname)\"; fi\nexec dockerd \"$@\"\nEOF\n"
              'ENTRYPOINT ["dockerd-entrypoint.sh"]\n', True),
    # vimagick/dockerfiles shadowsocks: a default taken from `hostname` at start
    ("SM131", P + 'CMD ssserver -s "$SERVER_ADDR" -k "${PASSWORD:-$(hostname)}"\n', True),
    # jessfraz/dockerfiles browsh: RUN reads /etc/hosts at build time
    ("SM131", P + "RUN cat /etc/hosts\n" + EP, False),
    # docker-library/wordpress cli, lk4d4 edge cases: a name, with or without a root group
    ("SM142", P + "USER www-data\n" + EP, True),
    ("SM142", P + "USER docker:root\n" + EP, True),
    # jupyter/docker-stacks: NB_UID comes from the base image's ENV, unknown here
    ("SM142", "FROM quay.io/jupyter/base-notebook:2024-05-13\nUSER root\nRUN true\nUSER ${NB_UID}\n" + EP, False),
]


@pytest.mark.parametrize("rule, text, fires", REAL, ids=[f"{c[0]}-real-{i}" for i, c in enumerate(REAL)])
def test_reduced_real_cases(rule, text, fires):
    test_rule_decision(rule, text, fires)


@pytest.mark.parametrize("files", [
    {"privoxy.conf": "hostname-file /etc/hostname\n"},  # a config file names it; no program reads it at start
    {"lib/changehostname.c": "int gethostname(char *n, size_t l) { return 0; }\n"},  # copied, compiled later
])
def test_sm131_files_copied_but_not_run_are_not_read(tmp_path, files):
    for name, body in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(body)
    text = P + "COPY . /app/\n" + EP  # moby's `COPY . .`: the whole context, of which the job runs one file
    assert "SM131" not in {f.rule_id for f in lint_text(text, context_dir=str(tmp_path))}


def test_sm104_build_args_describe_the_builder_and_resolve_only_when_given():
    text = P.replace("slim", "slim AS b-amd64") + EP + "FROM b-${BUILDARCH}\n"
    assert "SM104" in {f.rule_id for f in lint_text(text)}
    given = lint_text(text, policy=Policy(build_args={"BUILDARCH": "amd64"}))
    assert "SM104" not in {f.rule_id for f in given}


@pytest.mark.parametrize("entrypoint, fires", [
    ('["gosu", "app", "bash", "/opt/start"]', True),  # a shell given the script, behind a user switcher
    ('["gosu", "app", "/opt/start"]', False),  # no #! line: not run as a shell script, read as text
])
def test_sm131_script_handed_to_a_shell_behind_gosu(entrypoint, fires):
    text = (f"{P}COPY <<'EOF' /opt/start\nH=$(hostname -f)\nexec python3 /app/job.py\nEOF\n"
            f"ENTRYPOINT {entrypoint}\n")
    assert ("SM131" in {f.rule_id for f in lint_text(text)}) is fires
