"""smlint run reports SM309 before the container starts, then runs the job so
the lost argument can be seen."""
import io

import pytest
from dockerutil import BUSYBOX_BASE, build_image, engine_or_skip, remove_image

from smlint.config import Policy
from smlint.run.runner import RunOptions, run

pytestmark = pytest.mark.docker


def test_run_reports_sm309_and_still_runs(tmp_path):
    client = engine_or_skip()
    tag = build_image(client, BUSYBOX_BASE + 'ENTRYPOINT echo "0=$0 rest=$*" > /opt/ml/processing/output/result/argv\n')
    try:
        options = RunOptions(outputs={"result": str(tmp_path / "result")}, arguments=["--ratio", "0.2"])
        report = run(tag, None, options, Policy(grace_period=2), stream=io.StringIO(), client=client)
    finally:
        remove_image(client, tag)
    [finding] = [f for f in report.findings if f.rule_id == "SM309"]
    assert finding.data["lost"] == ["--ratio"]  # the script reads $*, so only $0 is lost
    assert report.result["status"] == "Completed"
    assert (tmp_path / "result" / "argv").read_text() == "0=--ratio rest=0.2\n"
