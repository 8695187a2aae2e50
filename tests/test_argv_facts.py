"""One home for argv facts (smlint/argv.py): the Dockerfile, image and run
sides read the same inits, shells and defaults."""
from __future__ import annotations

import pytest

from smlint import argv, contract
from smlint.dockerfile import facts as dockerfile_facts
from smlint.dockerfile import model
from smlint.image import checks as image_checks
from smlint.image import view
from smlint.job import checks as job_checks
from smlint.job import facts as job_facts
from smlint.run import procfs


def test_every_side_reads_the_one_set_of_facts():
    assert dockerfile_facts.INIT_WRAPPERS is argv.INITS is image_checks.INIT_WRAPPERS is procfs.INITS
    assert image_checks.SHELLS is argv.SHELLS is procfs.SHELLS
    assert dockerfile_facts.DEFAULT_PATH is argv.DEFAULT_PATH is job_facts.DEFAULT_PATH is view.DEFAULT_PATH
    assert model.DEFAULT_SHELL is argv.DEFAULT_SHELL
    assert job_checks.PROCESSING_ROOT == contract.PROCESSING


@pytest.mark.parametrize("init", sorted(argv.INITS))
def test_every_init_counts_as_one_in_the_probe(init):
    assert procfs.is_init([f"/usr/bin/{init}", "--", "python3", "job.py"])


def test_s6_svscan_is_an_init_everywhere():
    """The merged list is the union: s6-svscan was an init for the Dockerfile
    and image checks but not for the probe's PID-1 verdict."""
    assert procfs.is_init(["/command/s6-svscan", "/etc/s6"])
    assert not procfs.is_init(["python3", "job.py"])
    assert "s6-svscan" in dockerfile_facts.INIT_WRAPPERS and "s6-svscan" in image_checks.INIT_WRAPPERS
