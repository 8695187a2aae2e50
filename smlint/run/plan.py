"""What a local processing job looks like before any container starts.

Pure functions: the request (or the command-line options standing in for
one) becomes a `RunPlan` with every mount, variable and the argv, and the two
config files Processing writes into `/opt/ml/config` (contract section 3).
Nothing here talks to Docker, so all of it is tested without an engine.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field

from ..container_command import Resolution, resolve

PROCESSING_ROOT = "/opt/ml/processing/"
CONFIG_DIR = "/opt/ml/config"
OUTPUT_DIR = "/opt/ml/output"  # where the container writes `message`
HOST_NAME = "algo-1"
DEFAULT_INSTANCE_TYPE = "ml.m5.xlarge"
# CreateProcessingJob's default when StoppingCondition is absent (1 day).
DEFAULT_MAX_RUNTIME = 86400


class PlanError(ValueError):
    """The options and the request do not describe a runnable job (SM001)."""


@dataclass(frozen=True)
class Input:
    name: str
    local_path: str  # in the container
    host_dir: str | None  # None: no local data given, an empty directory is mounted


@dataclass(frozen=True)
class Output:
    name: str
    local_path: str
    destination: str | None  # --output DIR, else the run folder


@dataclass
class RunPlan:
    image: str
    request: dict
    inputs: list[Input]
    outputs: list[Output]
    environment: dict[str, str]
    resolution: Resolution
    max_runtime: int
    instance_count: int = 1
    notes: list[str] = field(default_factory=list)

    @property
    def argv(self) -> list[str]:
        return self.resolution.argv


def parse_pairs(values, what: str) -> dict[str, str]:
    """`NAME=VALUE` options -> dict; a malformed one is a PlanError."""
    pairs: dict[str, str] = {}
    for value in values or ():
        key, sep, val = value.partition("=")
        if not sep or not key:
            hint = "; to write the report to a file, use -o/--report FILE" if what == "--output" else ""
            raise PlanError(f"{what} {value!r} is not NAME=VALUE{hint}")
        pairs[key] = val
    return pairs


def _input_local_path(item: dict) -> str | None:
    for source in ("S3Input", "DatasetDefinition"):
        if isinstance(item.get(source), dict) and item[source].get("LocalPath"):
            return item[source]["LocalPath"]
    return None


def _output_local_path(item: dict) -> str | None:
    s3 = item.get("S3Output")
    return s3.get("LocalPath") if isinstance(s3, dict) else None


def _under_processing(path: str) -> bool:
    return path.startswith(PROCESSING_ROOT) and len(path) > len(PROCESSING_ROOT)


def build_plan(
    image: str,
    request: dict | None,
    image_entrypoint: list[str] | None,
    image_cmd: list[str] | None,
    *,
    inputs: dict[str, str] | None = None,
    outputs: dict[str, str] | None = None,
    env: dict[str, str] | None = None,
    entrypoint: list[str] | None = None,
    arguments: list[str] | None = None,
    max_runtime: int | None = None,
) -> RunPlan:
    """The job to run. Command-line values override the request's."""
    inputs, outputs = dict(inputs or {}), dict(outputs or {})
    request = copy.deepcopy(request) if request else _request_from_options(image, inputs, outputs)
    app = request.get("AppSpecification") or {}
    plan_inputs = _plan_inputs(request, inputs)
    plan_outputs = _plan_outputs(request, outputs)
    environment = {str(k): str(v) for k, v in (request.get("Environment") or {}).items()}
    environment.update(env or {})

    entrypoint = entrypoint if entrypoint is not None else app.get("ContainerEntrypoint")
    arguments = arguments if arguments is not None else app.get("ContainerArguments")
    resolution = resolve(image_entrypoint, image_cmd, entrypoint or None, arguments or None)
    if not resolution.argv:
        raise PlanError("nothing to run: the image has neither ENTRYPOINT nor CMD and no entrypoint was given")
    # The config file shows what the job was started with, overrides included.
    app = request.setdefault("AppSpecification", {})
    app["ImageUri"] = app.get("ImageUri") or image
    if entrypoint:
        app["ContainerEntrypoint"] = list(entrypoint)
    if arguments:
        app["ContainerArguments"] = list(arguments)
    if env:
        request["Environment"] = environment

    stopping = request.get("StoppingCondition") or {}
    runtime = max_runtime or stopping.get("MaxRuntimeInSeconds") or DEFAULT_MAX_RUNTIME
    if not isinstance(runtime, int) or runtime < 1:
        raise PlanError(f"MaxRuntimeInSeconds must be a positive integer, not {runtime!r}")
    cluster = (request.get("ProcessingResources") or {}).get("ClusterConfig") or {}
    count = cluster.get("InstanceCount") or 1
    notes = []
    if isinstance(count, int) and count > 1:
        notes.append(
            f"InstanceCount is {count}: only {HOST_NAME} was run (multi-host runs are not emulated); "
            f"resourceconfig.json still lists all {count} hosts"
        )
    return RunPlan(
        image=image,
        request=request,
        inputs=plan_inputs,
        outputs=plan_outputs,
        environment=environment,
        resolution=resolution,
        max_runtime=runtime,
        instance_count=count if isinstance(count, int) and count >= 1 else 1,
        notes=notes,
    )


def _request_from_options(image: str, inputs: dict[str, str], outputs: dict[str, str]) -> dict:
    """A minimal request standing in for a missing --job, so the container
    sees the same config files it would see on SageMaker."""
    return {
        "ProcessingJobName": "smlint-local",
        "RoleArn": "arn:aws:iam::000000000000:role/smlint-local",
        "AppSpecification": {"ImageUri": image},
        "ProcessingResources": {
            "ClusterConfig": {"InstanceCount": 1, "InstanceType": DEFAULT_INSTANCE_TYPE, "VolumeSizeInGB": 30}
        },
        "ProcessingInputs": [
            {
                "InputName": name,
                "AppManaged": False,
                "S3Input": {
                    "S3Uri": f"s3://smlint-local/input/{name}",
                    "LocalPath": f"{PROCESSING_ROOT}input/{name}",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                    "S3DataDistributionType": "FullyReplicated",
                    "S3CompressionType": "None",
                },
            }
            for name in inputs
        ],
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": name,
                    "AppManaged": False,
                    "S3Output": {
                        "S3Uri": f"s3://smlint-local/output/{name}",
                        "LocalPath": f"{PROCESSING_ROOT}output/{name}",
                        "S3UploadMode": "EndOfJob",
                    },
                }
                for name in outputs
            ]
        },
    }


def _plan_inputs(request: dict, given: dict[str, str]) -> list[Input]:
    planned, seen = [], set()
    for item in request.get("ProcessingInputs") or []:
        name = item.get("InputName")
        path = _input_local_path(item)
        if not name or not path:
            continue  # AppManaged inputs without a LocalPath: nothing to mount
        if not _under_processing(path):
            raise PlanError(f"input {name!r}: LocalPath {path!r} is not below {PROCESSING_ROOT} (SM302)")
        planned.append(Input(name, path.rstrip("/"), given.get(name)))
        seen.add(name)
    unknown = sorted(set(given) - seen)
    if unknown:
        from ..suggest import did_you_mean

        names = [item.name for item in planned]
        raise PlanError(f"--input {unknown[0]!r}: the request has no input with that InputName"
                        f"{did_you_mean(unknown[0], names)}; its inputs: {', '.join(names) or 'none'}")
    return planned


def _plan_outputs(request: dict, given: dict[str, str]) -> list[Output]:
    planned, seen = [], set()
    for item in (request.get("ProcessingOutputConfig") or {}).get("Outputs") or []:
        name = item.get("OutputName")
        path = _output_local_path(item)
        if not name or not path:
            continue  # FeatureStoreOutput: nothing on the local filesystem
        if not _under_processing(path):
            raise PlanError(f"output {name!r}: LocalPath {path!r} is not below {PROCESSING_ROOT} (SM302)")
        planned.append(Output(name, path.rstrip("/"), given.get(name)))
        seen.add(name)
    unknown = sorted(set(given) - seen)
    if unknown:
        raise PlanError(f"--output {unknown[0]!r}: the request has no output with that OutputName")
    return planned


# Absent AppSpecification fields appear as null in the config file.
_APP_FIELDS = ("ImageUri", "ContainerEntrypoint", "ContainerArguments")


def processing_job_config(request: dict) -> dict:
    """`/opt/ml/config/processingjobconfig.json`: the request, with null for
    absent AppSpecification fields, KmsKeyId and VolumeKmsKeyId, and every
    S3Input given `"S3DownloadMode": "StartOfJob"` (contract section 3)."""
    config = copy.deepcopy(request)
    app = config.setdefault("AppSpecification", {})
    for key in _APP_FIELDS:
        app.setdefault(key, None)
    output_config = config.setdefault("ProcessingOutputConfig", {"Outputs": []})
    output_config.setdefault("KmsKeyId", None)
    cluster = config.setdefault("ProcessingResources", {}).setdefault("ClusterConfig", {})
    cluster.setdefault("VolumeKmsKeyId", None)
    for item in config.get("ProcessingInputs") or []:
        if isinstance(item.get("S3Input"), dict):
            item["S3Input"]["S3DownloadMode"] = "StartOfJob"
    return config


def resource_config(instance_count: int = 1) -> dict:
    """`/opt/ml/config/resourceconfig.json`."""
    return {"current_host": HOST_NAME, "hosts": [f"algo-{i}" for i in range(1, instance_count + 1)]}
