"""COPY/ADD are read one way (facts.read_copy) by SM110, SM122 and the
copied-file lookups: --from copies, heredoc sources and destinations alike."""
from __future__ import annotations

import pytest

from smlint import lint_text

P = "FROM python:3.12-slim\n"
EP = 'ENTRYPOINT ["python3", "/app/job.py"]\n'


def rules(text: str) -> set[str]:
    findings = lint_text(text)
    assert not [f for f in findings if f.rule_id in ("SM001", "SM003")], findings
    return {f.rule_id for f in findings}


@pytest.mark.parametrize("copy, fires", [
    ("COPY --from=build /src /opt/ml/code/\n", True),  # another stage's files land there too
    ("COPY <<EOF /opt/ml/processing/config.txt\nx\nEOF\n", True),
    ('COPY ["job.py", "/opt/ml/code/"]\n', True),
    ("ARG D=/opt/ml/x\nCOPY job.py $D\n", True),
    ("WORKDIR /opt\nCOPY job.py ml/\n", True),  # relative to WORKDIR
    ("COPY job.py /app/\n", False),
    ("COPY job.py\n", False),  # no destination: nothing lands anywhere
])
def test_sm110_reads_every_copy_form(copy, fires):
    text = "FROM busybox AS build\nRUN true\n" + P + copy + EP
    assert ("SM110" in rules(text)) == fires


@pytest.mark.parametrize("copy, fires", [
    ("COPY libcuda.so.1 /usr/lib/x86_64-linux-gnu/\n", True),
    ("COPY --from=drivers /usr/lib/libcuda.so.1 /usr/lib/x86_64-linux-gnu/\n", True),
    ("COPY <<libcuda.so.1 /usr/lib/x86_64-linux-gnu/\nx\nlibcuda.so.1\n", True),  # a heredoc lands under its name
    ("COPY libcuda.so.1 /usr/local/cuda/lib64/stubs/\n", False),
    ("COPY job.py /app/\n", False),
])
def test_sm122_reads_every_copy_form(copy, fires):
    assert ("SM122" in rules(P + copy + EP)) == fires
