"""Every check registry, by the catalog scope its rules must have.

The catalog tests derive their rule lists from here, so a new rule (a check
plus a catalog file) is picked up without editing a count."""
from __future__ import annotations

from smlint.dockerfile.lint import registry as dockerfile_registry
from smlint.image.checks import registry as image_registry
from smlint.job.checks import registry as job_registry
from smlint.run.checks import registry as run_registry
from smlint.run.probe_checks import registry as probe_registry

REGISTRIES = {
    "dockerfile": dockerfile_registry,
    "image": image_registry,
    "job": job_registry,
    "run": run_registry,
    "probe": probe_registry,
}
# Rules the engine reports itself (bad input, unused ignores, a crashing check):
# they have a catalog file but no check.
ENGINE_SCOPE = "meta"


def registered(*scopes: str) -> list[str]:
    """The rule ids with a check in the registries of `scopes`, in id order."""
    return sorted(rule_id for scope in scopes for rule_id in REGISTRIES[scope].checks)
