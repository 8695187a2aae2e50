"""Reads a CreateProcessingJob request for `run`/`probe`, and refuses one
that cannot be run as written.

Uses `smlint.job.source.read_request`, the same reader `smlint job` uses:
anything that is not a request is a one-line reason (SM001).

A request is then checked against the job schema (`smlint.job.schema`): a
field of the wrong type or out of range (Environment as a list, a number in
ProcessingInputs, MaxRuntimeInSeconds of 10^30 or `true`, ContainerArguments
as one string, which would run as its characters) is SM001 naming the field,
before any container starts. Not refused: missing fields (run fills them in
or does without) and the fields run never reads (`NOT_READ_BY_RUN`);
`smlint job` reports those.
"""
from __future__ import annotations

from .plan import PlanError

# Request fields that make no difference to a local run.
NOT_READ_BY_RUN = ("/ProcessingJobName", "/RoleArn", "/Tags", "/NetworkConfig", "/ExperimentConfig",
                   "/AppSpecification/ImageUri")


def load_request(path: str) -> dict:
    from ..job.source import RequestError, read_request

    try:
        data = read_request(path).data
    except RequestError as error:
        raise PlanError(error.reason) from None  # the caller names the file
    check_request(data)
    return data


def check_request(data: dict, where: str = "") -> None:
    """PlanError naming the first field that makes the request unrunnable."""
    from ..job.schema import violations

    prefix = f"{where}: " if where else ""
    if not isinstance(data, dict):
        raise PlanError(f"{prefix}a request must be a JSON/YAML object, not {type(data).__name__}")
    found = [v for v in violations(data) if _matters(v)]
    if found:
        more = f" (and {len(found) - 1} more; `smlint job` lists them)" if len(found) > 1 else ""
        raise PlanError(f"{prefix}{found[0].message}{more}; not run")


def _matters(violation) -> bool:
    if violation.keyword == "required":
        return False
    return not any(violation.pointer == field or violation.pointer.startswith(field + "/")
                   for field in NOT_READ_BY_RUN)
