"""The examples in rules/SM401.md..SM408.md are run against real containers.

Convention for the SM4xx catalog files: every fenced `dockerfile` block is a
runnable recipe whose `FROM busybox` line stands for a busybox-static image
(the tests build it `FROM scratch` with the static binary: no registry).
Rules with scope `probe` are checked with `smlint probe` (2 s grace); rules
with scope `run` with `smlint run` and one declared output, `result`, at
/opt/ml/processing/output/result. Every block under "Example" must fire the
rule; every block under "Use instead" must not.
"""
import io

import pytest
from dockerutil import BUSYBOX_BASE, build_image, engine_or_skip, remove_image
from registries import registered

from smlint import catalog
from smlint.config import Policy
from smlint.run.probe import ProbeOptions, probe
from smlint.run.runner import RunOptions, run

RULES = registered("run", "probe")
# Not run, with the reason (each file says so too).
EXEMPT = {
    "SM403": "needs a handler slower than the grace period: slow and timing-bound; "
             "test_probe_docker covers it with tini and a 30 s trap",
    "SM408": "needs a GPU and the NVIDIA runtime, which CI lacks; test_probe_docker checks the 'skipped' verdict",
    "SM409": "needs several instances; test_run_multi_docker runs the collision with three hosts",
    "SM410": "needs several instances and --late-hosts; test_run_multi_docker runs both jobs with three hosts",
}


def test_every_run_rule_is_documented_with_examples():
    docs = catalog.load()
    assert RULES == [doc.id for doc in docs.values() if doc.scope in ("run", "probe")] and RULES
    for rule_id in RULES:
        doc = docs[rule_id]
        sections = doc.sections()
        assert list(sections)[:4] == ["What it does", "Why it matters for Processing", "Example", "Use instead"]
        assert doc.examples("Example") and doc.examples("Use instead"), rule_id
        assert doc.scope in ("run", "probe")
        if rule_id in EXEMPT:
            assert "Not run by the catalog test" in sections["Example"], rule_id


def _cases():
    for rule_id in RULES:
        if rule_id in EXEMPT:
            continue
        doc = catalog.load()[rule_id]
        for heading, fires in (("Example", True), ("Use instead", False)):
            for index, (language, text) in enumerate(doc.examples(heading)):
                if language == "dockerfile":
                    yield pytest.param(rule_id, doc.scope, text, fires, id=f"{rule_id}-{heading}-{index}")


def _recipe(text: str) -> str:
    lines = text.splitlines()
    assert lines[0].strip() == "FROM busybox", "catalog recipes start with FROM busybox"
    return BUSYBOX_BASE + "\n".join(lines[1:]) + "\n"


@pytest.mark.docker
@pytest.mark.parametrize("rule_id, scope, text, fires", list(_cases()))
def test_catalog_example(rule_id, scope, text, fires, tmp_path):
    client = engine_or_skip()
    tag = build_image(client, _recipe(text))
    try:
        if scope == "probe":
            report = probe(tag, None, ProbeOptions(grace=2.0), Policy(), client=client)
        else:
            options = RunOptions(outputs={"result": str(tmp_path / "result")})
            report = run(tag, None, options, Policy(), stream=io.StringIO(), client=client)
    finally:
        remove_image(client, tag)
    fired = [f.rule_id for f in report.findings]
    assert "SM001" not in fired, report.findings
    assert (rule_id in fired) == fires, (fired, report.summary_lines)
