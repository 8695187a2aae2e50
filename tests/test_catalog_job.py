"""Every example in rules/SM30x.md: the failing ones fire, the passing ones don't.

A `json` or `yaml` block is the request. A `dockerfile` block in the same
section is the image: statically (`--dockerfile`) for SM305, built with the
Docker engine and read with `--image` for the rules that need the image's
files (SM306, SM307)."""
from __future__ import annotations

import os

import pytest
from registries import registered

from smlint import catalog
from smlint.config import Policy
from smlint.job.command import ImageSource, check_requests

FILESYSTEM_RULES = {"SM306", "SM307"}
JOB_RULES = [rule_id for rule_id, doc in catalog.load().items() if doc.scope == "job"]
CASES = [
    pytest.param(rule_id, heading, id=f"{rule_id}-{heading.replace(' ', '-')}",
                 marks=[pytest.mark.docker] if rule_id in FILESYSTEM_RULES else [])
    for rule_id in JOB_RULES for heading in ("Example", "Use instead")
]
EXTENSIONS = {"json": "json", "yaml": "yaml", "yml": "yaml"}


def test_every_job_rule_has_a_catalog_file():
    assert JOB_RULES == registered("job") and JOB_RULES
    for rule_id in JOB_RULES:
        doc = catalog.load()[rule_id]
        assert set(doc.sections()) >= {"What it does", "Why it matters for Processing", "Example", "Use instead"}


def _blocks(rule_id, heading):
    blocks = catalog.load()[rule_id].examples(heading)
    requests = [(EXTENSIONS[lang], text) for lang, text in blocks if lang in EXTENSIONS]
    dockerfiles = [text for lang, text in blocks if lang == "dockerfile"]
    assert requests, f"{rule_id} {heading} has no request example"
    return requests, dockerfiles


@pytest.mark.parametrize("rule_id,heading", CASES)
def test_catalog_example(rule_id, heading, tmp_path):
    requests, dockerfiles = _blocks(rule_id, heading)
    source, cleanup = None, None
    if dockerfiles and rule_id in FILESYSTEM_RULES:
        pytest.importorskip("docker")
        from dockerutil import build_image, engine_or_skip, remove_image

        client = engine_or_skip()
        tag = build_image(client, dockerfiles[0])
        source, cleanup = ImageSource(image=tag), (lambda: remove_image(client, tag))
    elif dockerfiles:
        path = tmp_path / "Dockerfile"
        path.write_text(dockerfiles[0])
        source = ImageSource(dockerfile=str(path))
    try:
        paths = []
        for index, (extension, text) in enumerate(requests):
            path = tmp_path / f"request{index}.{extension}"
            path.write_text(text)
            paths.append(str(path))
        report = check_requests(paths, Policy(), source)
    finally:
        if cleanup:
            cleanup()
    assert [f for f in report.findings if f.rule_id in ("SM001", "SM003")] == []
    default = catalog.load()[rule_id].severity
    fired = [f for f in report.findings if f.rule_id == rule_id and f.severity >= default]
    if heading == "Example":
        assert {f.path for f in fired} == set(paths), report.findings
    else:
        assert [f for f in report.findings if f.rule_id == rule_id] == []
        if rule_id != "SM301":
            assert [f for f in report.findings if f.rule_id == "SM301"] == []


def test_use_instead_examples_are_fully_clean():
    """A passing example should not teach another mistake: no error anywhere."""
    for rule_id in JOB_RULES:
        requests, dockerfiles = _blocks(rule_id, "Use instead")
        if rule_id in FILESYSTEM_RULES:
            continue
        for extension, text in requests:
            import tempfile

            with tempfile.TemporaryDirectory() as directory:
                path = os.path.join(directory, f"r.{extension}")
                with open(path, "w") as handle:
                    handle.write(text)
                report = check_requests([path], Policy())
            assert report.findings == [], (rule_id, report.findings)
