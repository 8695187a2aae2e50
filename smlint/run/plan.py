"""What a local processing job looks like before any container starts.

Pure functions: the request (or the command-line options standing in for
one) becomes a `RunPlan` with every mount, variable and the argv, and the two
config files Processing writes into `/opt/ml/config` (contract section 3).
Nothing here talks to Docker, so all of it is tested without an engine.
"""
from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field

from ..container_command import Resolution, resolve
from ..contract import PROCESSING

PROCESSING_ROOT = PROCESSING + "/"  # a LocalPath must lie strictly below it
HOST_NAME = "algo-1"
MAX_INSTANCES = 100  # ClusterConfig.InstanceCount's API maximum
SHARDED = "ShardedByS3Key"
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
    distribution: str = "FullyReplicated"  # or ShardedByS3Key
    mode: str = "File"  # Pipe is not emulated: the files are mounted as for File
    single_file: bool = False  # host_dir is one file, mounted inside LocalPath (--code FILE)

    @property
    def sharded(self) -> bool:
        return self.distribution == SHARDED


@dataclass(frozen=True)
class Output:
    name: str
    local_path: str
    destination: str | None  # --output DIR, else the run folder


CODE_INPUT = "code"
CODE_PATH = PROCESSING_ROOT + "input/code"  # where ScriptProcessor mounts its `code` input


@dataclass(frozen=True)
class Code:
    """--code PATH [--entry SCRIPT] --command WORDS, as ScriptProcessor sets a job up."""

    path: str  # a script, or a source folder
    script: str  # the file to run, relative to the code folder
    command: tuple[str, ...] = ("python3",)
    single_file: bool = False


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

    @property
    def hosts(self) -> list[str]:
        return host_names(self.instance_count)


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
    instance_count: int | None = None,
    code: Code | None = None,
) -> RunPlan:
    """The job to run. Command-line values override the request's."""
    from .request import check_request  # refuses a request of the wrong shape (SM001)

    if request:
        check_request(request, "the request")
    if max_runtime is not None:  # the API's bounds hold for the override too
        check_request({"StoppingCondition": {"MaxRuntimeInSeconds": max_runtime}}, "--max-runtime")
    inputs, outputs = dict(inputs or {}), dict(outputs or {})
    request = copy.deepcopy(request) if request else _request_from_options(image, inputs, outputs)
    if code is not None:
        entrypoint = _add_code(request, inputs, code)
    app = request.get("AppSpecification") or {}
    plan_inputs = _plan_inputs(request, inputs, code)
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

    notes = [f"input {item.name!r} uses Pipe mode, which is not emulated: its files are mounted as in File mode"
             for item in plan_inputs if item.mode == "Pipe"]
    return RunPlan(image=image, request=request, inputs=plan_inputs, outputs=plan_outputs, environment=environment,
                   resolution=resolution, max_runtime=_max_runtime(request, max_runtime),
                   instance_count=_instance_count(request, instance_count), notes=notes)


def _max_runtime(request: dict, given: int | None) -> int:
    stopping = request.get("StoppingCondition") or {}
    runtime = given or stopping.get("MaxRuntimeInSeconds") or DEFAULT_MAX_RUNTIME
    if not isinstance(runtime, int) or runtime < 1:
        raise PlanError(f"MaxRuntimeInSeconds must be a positive integer, not {runtime!r}")
    return runtime


def _instance_count(request: dict, given: int | None) -> int:
    """--instance-count, else the request's InstanceCount (1..100); the
    config file then shows the count that runs."""
    cluster = request.setdefault("ProcessingResources", {}).setdefault("ClusterConfig", {})
    count = given if given is not None else cluster.get("InstanceCount", 1)
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= MAX_INSTANCES:
        raise PlanError(f"InstanceCount must be an integer from 1 to {MAX_INSTANCES}, not {count!r}")
    cluster["InstanceCount"] = count
    return count


def host_names(count: int) -> list[str]:
    return [f"algo-{i}" for i in range(1, count + 1)]


def shard(keys: list[str], count: int) -> list[list[str]]:
    """ShardedByS3Key, emulated: keys in sorted order, cut into `count`
    contiguous runs whose sizes differ by at most one; each key goes to
    exactly one host (the service's own split is unverified)."""
    ordered = sorted(keys)
    size, extra = divmod(len(ordered), count)
    shards, start = [], 0
    for index in range(count):
        end = start + size + (1 if index < extra else 0)
        shards.append(ordered[start:end])
        start = end
    return shards


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


def _add_code(request: dict, inputs: dict[str, str], code: Code) -> list[str]:
    """The `code` input (kept where the request already declares it) and the
    entrypoint that runs the script from it."""
    local = next((_input_local_path(item) for item in request.get("ProcessingInputs") or []
                  if item.get("InputName") == CODE_INPUT and _input_local_path(item)), None)
    if local is None:
        local = CODE_PATH
        request.setdefault("ProcessingInputs", []).append({
            "InputName": CODE_INPUT, "AppManaged": False,
            "S3Input": {"S3Uri": "s3://smlint-local/code", "LocalPath": local, "S3DataType": "S3Prefix",
                        "S3InputMode": "File", "S3DataDistributionType": "FullyReplicated",
                        "S3CompressionType": "None"}})
    inputs[CODE_INPUT] = code.path
    return [*code.command, f"{local.rstrip('/')}/{code.script}"]


def _plan_inputs(request: dict, given: dict[str, str], code: Code | None = None) -> list[Input]:
    planned, seen = [], set()
    for item in request.get("ProcessingInputs") or []:
        name = item.get("InputName")
        path = _input_local_path(item)
        if not name or not path:
            continue  # AppManaged inputs without a LocalPath: nothing to mount
        if not _under_processing(path):
            raise PlanError(f"input {name!r}: LocalPath {path!r} is not below {PROCESSING_ROOT} (SM302)")
        s3 = item.get("S3Input") if isinstance(item.get("S3Input"), dict) else {}
        planned.append(Input(name, path.rstrip("/"), given.get(name),
                             s3.get("S3DataDistributionType") or "FullyReplicated", s3.get("S3InputMode") or "File",
                             single_file=bool(code and code.single_file and name == CODE_INPUT)))
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
    name = config.get("ProcessingJobName") or "smlint-local"
    config.setdefault("ProcessingJobArn", f"arn:aws:sagemaker:us-east-1:000000000000:processing-job/{name}".lower())
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


def resource_config(instance_count: int = 1, current_host: str = HOST_NAME) -> dict:
    """`/opt/ml/config/resourceconfig.json` as host `current_host` sees it."""
    return {"current_host": current_host, "hosts": host_names(instance_count)}


def check_input_dirs(plan: RunPlan) -> None:
    for item in plan.inputs:
        exists = os.path.isfile if item.single_file else os.path.isdir
        if item.host_dir is not None and not exists(item.host_dir):
            raise PlanError(f"--input {item.name}={item.host_dir}: not a {'file' if item.single_file else 'directory'}")
