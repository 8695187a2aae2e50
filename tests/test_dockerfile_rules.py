"""Table-driven semantics of the SM1xx rules beyond the catalog examples:
each case is (rule, Dockerfile, fires?)."""
import pytest

from smlint import lint_text
from smlint.config import Policy
from smlint.dockerfile.model import build, expand, static_image_config

P = "FROM python:3.12-slim\n"
EP = 'ENTRYPOINT ["python3", "/app/job.py"]\n'

CASES = [
    # SM101: through continuation, escape directive, inherited from an earlier stage
    ("SM101", P + "ENTRYPOINT python3 \\\n  /app/job.py\n", True),
    ("SM101", "# escape=`\n" + P + "ENTRYPOINT python3 `\n  /app/job.py\n", True),
    ("SM101", P.replace("slim", "slim AS base") + "ENTRYPOINT python3 x\nFROM base\nCMD [\"a\"]\n", True),
    ("SM101", P + "ENTRYPOINT python3 x\nFROM python:3.12-slim\n" + EP, False),  # only the final stage counts
    ("SM101", P + "entrypoint python3 x\r\n", True),
    ("SM101", P + "ENTRYPOINT ['python3', 'x']\n", False),  # SM102 alone: one finding per defect
    # SM102
    ("SM102", P + "CMD [\"a\", \"b\",]\n", True),
    ("SM102", P + "SHELL [bash, -c]\n" + EP, True),
    ("SM102", P + EP, False),
    # SM103: CMD shell form without ENTRYPOINT; with an ENTRYPOINT it is only arguments
    ("SM103", P + "CMD python3 /app/job.py\n", True),
    ("SM103", P + EP + "CMD --verbose\n", False),
    # SM104
    ("SM104", "FROM scratch\nCOPY x /x\n", True),
    ("SM104", P + "RUN true\n", True),  # info: base image config unknown
    ("SM104", P + 'CMD ["python3"]\n', False),
    # ENTRYPOINT resets an inherited CMD (so the parent's CMD does not count)
    ("SM103", P.replace("slim", "slim AS a") + "CMD python3 x\nFROM a\n" + EP, False),
    # SM105
    ("SM105", P + 'ENTRYPOINT ["sh", "-c", "cd /app && python3 job.py"]\n', True),
    ("SM105", P + 'ENTRYPOINT ["sh", "-c", "cd /app && exec python3 job.py"]\n', False),
    ("SM105", P + 'ENTRYPOINT ["bash", "-c", "python3 job.py"]\n', False),
    ("SM105", P + 'ENTRYPOINT ["bash", "-c", "python3 a.py && python3 b.py"]\n', False),  # bash execs b.py itself
    ("SM105", P + 'ENTRYPOINT ["/bin/sh", "-ec", "python3 job.py"]\n', True),
    ("SM105", P + 'ENTRYPOINT ["sh", "-c"]\nCMD ["python3 job.py"]\n', True),
    ("SM105", P + 'ENTRYPOINT ["sh", "-c", "trap \'kill -INT $p\' INT; python3 j.py & p=$!; wait $p"]\n', False),
    ("SM105", P + 'ENTRYPOINT ["tini", "--", "sh", "-c", "python3 job.py"]\n', False),  # the shell is not PID 1
    # SM106
    ("SM106", P + "ENTRYPOINT python3 job.py; echo done\n", True),
    ("SM106", P + 'ENTRYPOINT ["sh", "-c", "python3 job.py || true"]\n', True),
    ("SM106", P + 'ENTRYPOINT ["sh", "-c", "python3 job.py; exit 0"]\n', True),
    ("SM106", P + 'ENTRYPOINT ["bash", "-c", "python3 job.py 2>&1 | tee /tmp/log"]\n', True),
    ("SM106", P + 'ENTRYPOINT ["bash", "-o", "pipefail", "-c", "python3 job.py | tee /tmp/log"]\n', False),
    ("SM106", P + 'ENTRYPOINT ["sh", "-ec", "python3 a.py; python3 b.py"]\n', False),
    ("SM106", P + 'ENTRYPOINT ["sh", "-c", "cd /app; exec python3 job.py"]\n', False),
    ("SM106", P + 'ENTRYPOINT ["tini", "--", "sh", "-c", "python3 job.py || echo failed"]\n', True),
    ("SM106", P + 'ENTRYPOINT ["sh", "-c", "python3 job.py || exit 1"]\n', False),
    # SM110: variables, WORKDIR-relative, heredoc COPY, exec-form COPY
    ("SM110", P + "ARG DIR=/opt/ml\nCOPY x ${DIR}/y\n" + EP, True),
    ("SM110", P + "WORKDIR /opt\nWORKDIR ml/code\nCOPY x .\n" + EP, True),
    ("SM110", P + "COPY <<EOF /opt/ml/config.json\n{}\nEOF\n" + EP, True),
    ("SM110", P + 'COPY ["a b", "/opt/ml/c"]\n' + EP, True),
    ("SM110", P + "COPY --from=build /opt/ml/model /app/model\n" + EP, False),
    ("SM110", P + "COPY x /opt/mlflow/\n" + EP, False),
    ("SM110", P.replace("slim", "slim AS b") + "COPY x /opt/ml/\nFROM python:3.12-slim\n" + EP, False),
    # SM111, SM113
    ("SM111", P + "ARG W=/opt/ml/processing\nWORKDIR $W\n" + EP, True),
    ("SM113", P + 'VOLUME ["/opt/ml/processing/output"]\n' + EP, True),
    ("SM113", P + "VOLUME /data /cache\n" + EP, False),
    # SM112: destinations, cd tracking, heredoc scripts, variables
    ("SM112", P + "RUN cd /opt/ml && touch x\n" + EP, True),
    ("SM112", P + "RUN echo hi > /opt/ml/processing/input/x\n" + EP, True),
    ("SM112", P + "RUN <<EOF\nset -e\nmkdir -p /opt/ml/code\nEOF\n" + EP, True),
    ("SM112", P + "ENV ML=/opt/ml\nRUN wget -qO $ML/model.bin https://x/y\n" + EP, True),
    ("SM112", P + "RUN tar -xzf a.tgz -C /opt/ml/code\n" + EP, True),
    ("SM112", P + "RUN git clone https://github.com/x/y /opt/ml/code\n" + EP, True),
    ("SM112", P + "RUN cp -r src /app && mkdir -p /app/out\n" + EP, False),
    ("SM112", P + "RUN ln -s /opt/ml/processing/input /data\n" + EP, False),  # the link is /data
    ("SM112", P + "RUN cat /opt/ml/x > /tmp/y\n" + EP, False),
    # SM112 through the grammar: a cd lasts in its shell (if, brace group), not out of a subshell or pipeline
    ("SM112", P + "RUN if [ -d /opt ]; then cd /opt; fi && touch ml/x\n" + EP, True),
    ("SM112", P + "RUN (cd /opt && true); touch ml/x\n" + EP, False),
    ("SM112", P + "RUN cd /opt && (touch ml/x)\n" + EP, True),
    ("SM112", P + "RUN cd /opt | true; touch ml/x\n" + EP, False),
    ("SM112", P + "RUN for d in a b; do mkdir -p /opt/ml/$d; done\n" + EP, True),
    ("SM112", P + "RUN { echo a; } > /opt/ml/log\n" + EP, True),
    ("SM112", P + "RUN echo x 2>&1 >/tmp/y\n" + EP, False),  # 2>&1 duplicates, writes no file "1"
    # SM120 inside compound commands (reserved words are not program names)
    ("SM120", P + "RUN if [ \"$GPU\" = 1 ]; then apt-get install -y nvidia-driver-535; fi\n" + EP, True),
    ("SM120", P + "RUN case $A in x) yum install -y cuda-drivers;; esac\n" + EP, True),
    ("SM120", P + "RUN f() { dnf install -y nvidia-driver; }; f\n" + EP, True),
    ("SM120", P + "RUN echo $(apt-get install -y nvidia-utils-535)\n" + EP, True),
    ("SM120", P + "RUN if true; then echo apt-get install nvidia-driver-535; fi\n" + EP, False),
    # reduced from aws/deep-learning-containers: the first command of a `then` branch (main read `then` as its program)
    ("SM133", P + 'RUN if [ ! -e "$D/x" ]; then ln -s /data /opt/ml/processing/output/d; fi && cd /tmp\n' + EP, True),
    ("SM120", P + 'RUN if [ "$TARGETPLATFORM" = "linux/amd64" ]; then apt-get install -y nvidia-utils-535 && true; fi\n'
     + EP, True),
    # reduced from docker-library/php: the first command of a `for` body
    ("SM112", P + "RUN set -eux; for dir in a b; do rm -rvf \"$dir\"; touch /opt/ml/$dir; done\n" + EP, True),
    # SM121 in a loop
    ("SM121", P + "RUN for f in /tmp/*.run; do sh /tmp/NVIDIA-Linux-x86_64-535.run --silent; done\n" + EP, True),
    # SM120
    ("SM120", P + "RUN yum install -y cuda-12-4 && yum clean all\n" + EP, True),
    ("SM120", P + "RUN conda install -y -c nvidia cuda-drivers\n" + EP, True),
    ("SM120", P + "RUN sudo apt-get install -y nvidia-utils-535 libnvidia-compute-535:amd64\n" + EP, True),
    ("SM120", P + "RUN apt-get install -y cuda-toolkit-12-4 cuda-compat-12-4 libcudnn9-cuda-12\n" + EP, False),
    ("SM120", P + "RUN apt-get download cuda-drivers\n" + EP, False),
    ("SM120", P + "RUN dnf -y module install nvidia-driver:latest-dkms && dnf install -y nvidia-driver\n" + EP, True),
    ("SM120", P + "RUN dnf install -y libnvidia-ml nvidia-kmod-common\n" + EP, True),
    ("SM120", P + "RUN dnf install -y akmod-nvidia xorg-x11-drv-nvidia-cuda\n" + EP, True),
    ("SM120", P + "RUN dnf install -y nvidia-container-toolkit libnvidia-ml-dev cuda-toolkit-12-4\n" + EP, False),
    # SM121
    ("SM121", P + "RUN sh cuda_12.4.0_550.54.14_linux.run --silent --toolkit --driver\n" + EP, True),
    ("SM121", P + "RUN ./NVIDIA-Linux-x86_64-550.54.14.run -s\n" + EP, True),
    ("SM121", P + "RUN wget https://x/NVIDIA-Linux-x86_64-550.run\n" + EP, False),
    # SM122
    ("SM122", P + "COPY drivers/ /usr/lib/x86_64-linux-gnu/\nCOPY nvidia-smi /usr/bin/\n" + EP, True),
    ("SM122", P + "COPY libcuda.so.1 /usr/local/cuda-12.4/compat/\n" + EP, False),
    # SM123 takes the effective value
    ("SM123", P + "ENV NVIDIA_VISIBLE_DEVICES=void\nENV NVIDIA_VISIBLE_DEVICES=all\n" + EP, False),
    ("SM123", P + "ENV NVIDIA_DRIVER_CAPABILITIES=compute,utility\n" + EP, False),
    ("SM123", P + 'ENV NVIDIA_VISIBLE_DEVICES=""\n' + EP, True),
    # SM130: the final stage, also through FROM <stage>
    ("SM130", "FROM --platform=linux/arm64 python:3.12-slim AS b\nFROM b\n" + EP, True),
    ("SM130", "FROM --platform=$BUILDPLATFORM golang:1.22 AS b\nFROM python:3.12-slim\n" + EP, False),
    ("SM130", "FROM --platform=linux/amd64 python:3.12-slim\n" + EP, False),
    # SM131
    ("SM131", P + 'ENTRYPOINT ["sh", "-c", "exec python3 job.py --host $(hostname)"]\n', True),
    ("SM131", P + "RUN echo '127.0.0.1 db' >> /etc/hosts\n" + EP, False),
    # SM132
    ("SM132", "ARG AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\n" + P + EP, True),
    ("SM132", P + "ARG AWS_SESSION_TOKEN\nENV AWS_SESSION_TOKEN=$AWS_SESSION_TOKEN\n" + EP, True),
    ("SM132", P + "ARG AWS_ACCESS_KEY_ID\nENV AWS_DEFAULT_REGION=eu-west-1\n" + EP, False),
    # SM133
    ("SM133", P + 'ENTRYPOINT ["sh", "-c", "ln -sf /data /opt/ml/processing/output/d && exec python3 j.py"]\n', True),
    # SM140
    ("SM140", "FROM localhost:5000/team/img\n" + EP, True),
    ("SM140", "FROM localhost:5000/team/img:2.1\n" + EP, False),
    ("SM140", "ARG BASE\nFROM ${BASE}\n" + EP, False),  # unknown until build time
    ("SM140", "ARG V=latest\nFROM python:${V}\n" + EP, True),
    ("SM140", "FROM scratch\n" + EP, False),
    # SM141
    ("SM141", P + EP + EP, True),
    ("SM141", P.replace("slim", "slim AS a") + EP + "FROM a\n" + EP, False),
]


@pytest.mark.parametrize("rule, text, fires", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_rule_semantics(rule, text, fires):
    findings = lint_text(text)
    assert not [f for f in findings if f.rule_id in ("SM001", "SM003")], findings
    assert (rule in {f.rule_id for f in findings}) == fires, [(f.rule_id, f.message) for f in findings]


def test_one_finding_per_defect_for_malformed_entrypoint():
    rules = [f.rule_id for f in lint_text(P + "ENTRYPOINT ['python3', 'x']\n")]
    assert rules.count("SM102") == 1 and "SM101" not in rules


def test_sm104_is_info_for_external_base_and_warning_for_scratch():
    external = next(f for f in lint_text(P + "RUN true\n") if f.rule_id == "SM104")
    scratch = next(f for f in lint_text("FROM scratch\nCOPY x /x\n") if f.rule_id == "SM104")
    assert str(external.severity) == "info" and "ContainerEntrypoint" in external.message
    assert str(scratch.severity) == "warning"


def test_findings_point_at_the_instruction():
    finding = next(f for f in lint_text(P + "RUN true\nENTRYPOINT python3 \\\n  job.py\n") if f.rule_id == "SM101")
    assert (finding.span.line, finding.span.column, finding.span.end_line) == (3, 1, 4)


def test_variable_expansion_forms():
    variables = {"A": "x", "E": ""}
    assert expand("${A}/${B:-d}/${E:-e}/${E-f}/${A:+y}/$A", variables) == "x/d/e//y/x"
    assert expand("\\$A", variables) == "$A"  # an escaped dollar is literal


def test_static_image_config_follows_inheritance_and_cmd_reset():
    text = P.replace("slim", "slim AS a") + 'CMD ["python3", "x"]\nFROM a\nENTRYPOINT ["tini", "--"]\n'
    config = static_image_config(text)
    assert config.entrypoint == ["tini", "--"] and config.cmd is None
    assert config.base_image == "python:3.12-slim" and config.config_known
    shell = static_image_config(P + "ENTRYPOINT python3 job.py\n")
    assert shell.entrypoint == ["/bin/sh", "-c", "python3 job.py"]
    assert not static_image_config(P + "RUN true\n").config_known


def test_build_arg_overrides_and_global_arg_scope():
    dockerfile = build("ARG TAG=3.11\nFROM python:${TAG}\nARG TAG\nRUN echo $TAG\n", {"TAG": "3.12"})
    assert dockerfile.stages[0].base == "python:3.12"
    assert dockerfile.stages[0].steps[-1].variables["TAG"] == "3.12"


@pytest.mark.parametrize("command", [
    "mkdir -p /opt/ml/x", "touch /opt/ml/x", "echo hi | tee /opt/ml/x", "truncate -s 0 /opt/ml/x",
    "cp job.py /opt/ml/", "mv job.py /opt/ml/code/", "rsync -a src/ /opt/ml/code", "install -d /opt/ml/code",
    "ln -s /data /opt/ml/processing/input", "wget -qO /opt/ml/x https://e.x/a", "curl -fsSL -o /opt/ml/x https://e.x/a",
    "tar -xzf a.tgz -C /opt/ml", "bsdtar -xf a.tar -C /opt/ml", "unzip a.zip -d /opt/ml/code",
    "git clone https://e.x/r.git /opt/ml/code", "/usr/bin/mkdir /opt/ml/y",
])
def test_every_writing_command_into_opt_ml_is_seen(command):
    findings = lint_text(f'FROM python:3.12-slim\nRUN {command}\nENTRYPOINT ["python3"]\n')
    assert [f.rule_id for f in findings if f.rule_id == "SM112"] == ["SM112"], command


def test_commands_that_only_read_opt_ml_are_not_writes():
    text = 'FROM python:3.12-slim\nRUN ls /opt/ml && cat /opt/ml/x && python3 /opt/ml/y\nENTRYPOINT ["python3"]\n'
    assert not [f for f in lint_text(text) if f.rule_id == "SM112"]


def test_base_from_a_build_arg_without_value_is_shown_as_written():
    text = "ARG REGISTRY_URI\nFROM ${REGISTRY_URI}/job:latest\nRUN true\n"
    findings = lint_text(text)
    assert [f.rule_id for f in findings] == ["SM104"]  # no SM140: the tag is not known either
    assert "'${REGISTRY_URI}/job:latest'" in findings[0].message
    resolved = lint_text(text, policy=Policy(build_args={"REGISTRY_URI": "r.io"}))
    assert sorted(f.rule_id for f in resolved) == ["SM104", "SM140"]
    assert "'r.io/job:latest'" in resolved[0].message


def _sm107(text, context=None):
    return [f for f in lint_text(text, context_dir=context) if f.rule_id == "SM107"]


def _script_image(body, entrypoint='["/entrypoint.sh"]', copy="COPY <<'EOF' /entrypoint.sh"):
    return f"FROM python:3.12-slim\n{copy}\n{body}EOF\nENTRYPOINT {entrypoint}\n"


@pytest.mark.parametrize("body, entrypoint, fires", [
    ("#!/bin/sh\npython3 /app/job.py\n", '["/entrypoint.sh"]', True),
    ("#!/usr/bin/env bash\nset -euo pipefail\npython3 /app/job.py \"$@\"\n", '["/entrypoint.sh"]', True),
    ("#!/bin/sh\nexec >/tmp/log 2>&1\npython3 /app/job.py\n", '["/entrypoint.sh"]', True),  # only redirects
    ("#!/bin/sh\nexec python3 /app/job.py \"$@\"\n", '["/entrypoint.sh"]', False),
    ('#!/bin/sh\nif [ "$1" = a ]; then\n  exec a\nelse exec b\nfi\n', '["/entrypoint.sh"]', False),
    ("#!/bin/sh\ncase $1 in\n  a) exec a ;;\nesac\n", '["/entrypoint.sh"]', False),
    ("#!/bin/sh\ntrap 'kill $child' TERM INT\npython3 job.py & child=$!\nwait\n", '["/entrypoint.sh"]', False),
    ("python3 /app/job.py\n", '["/entrypoint.sh"]', False),  # no #!: not a script Docker can run
    ("python3 /app/job.py\n", '["bash", "-e", "/entrypoint.sh"]', True),  # the shell is named
    ("#!/bin/sh\npython3 /app/job.py\n", '["gosu", "app", "/entrypoint.sh"]', True),  # gosu execs it
    ("#!/bin/sh\npython3 /app/job.py\n", '["tini", "--", "/entrypoint.sh"]', False),  # tini forwards
    ("#!/bin/sh\npython3 /app/job.py\n", '["sh", "-c", "/entrypoint.sh"]', False),  # SM105's
    ("#!/bin/python3\nprint(1)\n", '["/entrypoint.sh"]', False),
])
def test_sm107_pid1_script_without_exec(body, entrypoint, fires):
    assert bool(_sm107(_script_image(body, entrypoint))) is fires


def test_sm107_finds_the_script_on_path_and_names_both_lines():
    text = _script_image("#!/bin/sh\npython3 /app/job.py\n", '["run-job"]',
                         "WORKDIR /srv\nCOPY <<'EOF' /usr/local/bin/run-job")
    [finding] = _sm107(text)
    assert finding.line == 7 and finding.data == {"script": "/usr/local/bin/run-job", "copied_on_line": 3}
    assert not _sm107(text.replace("/usr/local/bin/run-job", "/opt/tools/run-job"))  # not on PATH


def test_sm107_reads_build_context_scripts_only_with_context(tmp_path):
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "start.sh").write_text("#!/bin/bash\ncd /app\npython3 job.py\n")
    text = "FROM python:3.12-slim\nCOPY scripts/ /opt/bin/\nWORKDIR /opt/bin\nENTRYPOINT [\"bash\", \"-m\", \"start.sh\"]\n"
    assert not _sm107(text)  # the text is unknown without the context
    assert _sm107(text, str(tmp_path))
    (tmp_path / "scripts" / "start.sh").write_text("#!/bin/bash\ncd /app\nexec python3 job.py\n")
    assert not _sm107(text, str(tmp_path))


def test_sm107_the_last_copy_to_the_path_wins(tmp_path):
    (tmp_path / "entrypoint.sh").write_text("#!/bin/sh\nexec python3 /app/job.py\n")
    text = _script_image("#!/bin/sh\npython3 /app/job.py\n").replace(
        "ENTRYPOINT", "COPY entrypoint.sh /entrypoint.sh\nENTRYPOINT")
    assert not _sm107(text, str(tmp_path))
    assert not _sm107(text)  # the winning COPY's text is unknown: no guess from the earlier heredoc


@pytest.mark.parametrize("copy, entrypoint", [
    ("COPY scripts/entrypoint.sh /", '["sh", "/entrypoint.sh"]'),  # into the root folder (was "//entrypoint.sh")
    ("COPY scripts/entrypoint.sh /", '["/entrypoint.sh"]'),
    ("WORKDIR /app\nCOPY scripts/*.sh ./", '["./entrypoint.sh"]'),  # a wildcard into a folder
    ("COPY scripts/entry*.sh /run.sh", '["/run.sh"]'),  # a wildcard with one match, copied as the target
])
def test_sm107_follows_root_and_wildcard_copies(tmp_path, copy, entrypoint):
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "entrypoint.sh").write_text("#!/bin/sh\ncd /app\npython3 job.py\n")
    (tmp_path / "scripts" / "other.txt").write_text("x\n")
    text = f"FROM python:3.12-slim\n{copy}\nENTRYPOINT {entrypoint}\n"
    assert _sm107(text, str(tmp_path))
    (tmp_path / "scripts" / "entrypoint.sh").write_text("#!/bin/sh\ncd /app\nexec python3 job.py\n")
    assert not _sm107(text, str(tmp_path))


def test_sm122_names_a_file_copied_into_the_root_folder_plainly():
    [finding] = [f for f in lint_text(P + "COPY libcuda.so.550.54.14 /\n" + EP) if f.rule_id == "SM122"]
    assert finding.data == {"file": "/libcuda.so.550.54.14"}  # not "//libcuda.so.550.54.14"


def test_sm107_a_wildcard_of_several_files_onto_one_name_is_not_guessed(tmp_path):
    for name in ("a.sh", "b.sh"):
        (tmp_path / name).write_text("#!/bin/sh\npython3 job.py\n")
    assert not _sm107('FROM python:3.12-slim\nCOPY *.sh /run.sh\nENTRYPOINT ["/run.sh"]\n', str(tmp_path))


def test_sm107_binary_or_unreadable_context_file_is_no_finding_and_no_crash(tmp_path):
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "start").write_bytes(b"\x7fELF\0\0")
    text = "FROM python:3.12-slim\nCOPY bin/ /usr/local/bin/\nENTRYPOINT [\"start\"]\n"
    findings = lint_text(text, context_dir=str(tmp_path))
    assert not [f for f in findings if f.rule_id in ("SM107", "SM003")]


def test_sm107_path_that_extends_the_base_images_path():
    text = _script_image("#!/bin/bash\neval \"$@\"\n", '["bash", "-m", "start.sh"]',
                         "ENV PATH=/opt/venv/bin:$PATH\nWORKDIR /workspace\nCOPY <<'EOF' /usr/local/bin/start.sh")
    assert _sm107(text)


def test_onbuild_heredoc_is_one_instruction():
    """`ONBUILD RUN <<EOF` takes its body as BuildKit does (it was SM001 "unknown instruction 'echo'")."""
    findings = lint_text(P + "ONBUILD RUN <<EOF\necho hi\nEOF\n" + EP)
    assert [f.rule_id for f in findings if f.severity.value != "info"] == [], [(f.rule_id, f.message) for f in findings]
    assert [i.keyword for i in build(P + "ONBUILD COPY <<X /a\nb\nX\n" + EP).parsed.instructions] == [
        "FROM", "ONBUILD", "ENTRYPOINT"]
@pytest.mark.parametrize("text, says", [
    # a lone command: busybox (alpine) execs it, dash (Debian, Ubuntu) stays PID 1, unknown says "unless"
    ("FROM alpine:3.19\nCMD fteproxy --mode $MODE", "the program becomes PID 1 (/bin/sh is busybox here"),
    ("FROM ubuntu:22.04\nCMD fteproxy --mode $MODE",
     "PID 1 is the shell while `fteproxy --mode $MODE` runs (/bin/sh is dash here, which does not exec"),
    ("FROM foo/bar:1\nENTRYPOINT cd /app && python3 job.py",
     "unless /bin/sh is bash or busybox (which exec the final simple command), PID 1 is the shell while "
     "`python3 job.py` runs"),
    # the SHELL instruction's shell is the one that runs; nothing execs a job followed by `echo`
    ("FROM foo/bar:1\nSHELL [\"/bin/bash\", \"-c\"]\nCMD python3 job.py; echo done",
     "PID 1 is the shell while `python3 job.py` runs, so"),
    ("FROM ubuntu:22.04\nCMD exec python3 job.py", "`exec` makes the program PID 1"),
    ("FROM ubuntu:22.04\nCMD cd /app && exec python3 job.py", "the script hands the stop signal on (`exec`"),
    # a builtin is no program: nothing takes the signal, and no exec form can be suggested for it
    ("FROM ubuntu:18.04\nCMD source activate fastai-cpu ~/.bashrc", "it runs no program that could take the stop"),
])
def test_shell_form_messages_name_the_shell_that_runs(text, says):
    """SM101/SM103 say what the shell that runs does with the text (issue 9's shell inference)."""
    [finding] = [f for f in lint_text(text + "\n") if f.rule_id in ("SM101", "SM103")]
    assert says in finding.message
    assert 'ENTRYPOINT ["source"' not in finding.message


def test_run_under_a_non_posix_shell_is_not_read_as_sh():
    """SHELL ["powershell", ...] runs RUN text as PowerShell: the sh grammar does not read it."""
    ps = 'FROM mcr.microsoft.com/windows/servercore:ltsc2022\nSHELL ["powershell", "-Command"]\n'
    assert [f.rule_id for f in lint_text(ps + "RUN echo x > /opt/ml/y\n" + EP) if f.rule_id == "SM112"] == []
    ash = P + 'SHELL ["/bin/ash", "-c"]\n'
    assert [f.rule_id for f in lint_text(ash + "RUN echo x > /opt/ml/y\n" + EP) if f.rule_id == "SM112"] == ["SM112"]
    # the SHELL in effect at each RUN counts, not the stage's last one
    back = ps + "RUN echo x > /opt/ml/a\n" + 'SHELL ["cmd", "/S", "/C"]\n'
    assert [f.line for f in lint_text(P + "RUN echo x > /opt/ml/b\n" + back.split("\n", 1)[1] + EP)
            if f.rule_id == "SM112"] == [2]
