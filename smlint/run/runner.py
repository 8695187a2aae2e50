"""`smlint run`: one local processing job under the Processing contract.

The host side of contract section 3: config files, read-only inputs, fresh
output directories, `/opt/ml/output`, hostname `algo-1`, the request's
Environment, the four-case command, MaxRuntimeInSeconds (stop signal, grace,
SIGKILL). Facts go into a `RunOutcome`; `checks.py` judges them.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from ..config import Policy
from ..engine import run_checks, unreadable
from ..report import Report
from . import checks
from .plan import CONFIG_DIR, OUTPUT_DIR, PlanError, RunPlan, build_plan, processing_job_config, resource_config
from .sandbox import EngineError, Limits, Session, connect, gpu_request, image_config, nvidia_runtime

STOP_SIGNAL = "SIGINT"  # what Processing sends (contract section 1)
MESSAGE_READ_LIMIT = 1 << 20


@dataclass
class RunOptions:
    inputs: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    entrypoint: list[str] | None = None
    arguments: list[str] | None = None
    max_runtime: int | None = None
    grace: float | None = None  # default: policy.grace_period
    limits: Limits = field(default_factory=Limits)
    gpus: bool = False
    run_dir: str | None = None  # where outputs without --output go
    keep_outputs: bool = False  # copy outputs of a Failed/Stopped job too


def run(image: str, request: dict | None, options: RunOptions, policy: Policy, stream=None, client=None) -> Report:
    """Run the job and report; input and engine problems become SM001."""
    report = Report(command="run", targets=[image])
    try:
        client = client or connect()
        config = image_config(client, image)
        plan = build_plan(
            image, request, config.get("Entrypoint"), config.get("Cmd"),
            inputs=options.inputs, outputs=options.outputs, env=options.env,
            entrypoint=options.entrypoint, arguments=options.arguments, max_runtime=options.max_runtime,
        )
        _check_input_dirs(plan)
        report.findings.extend(_before_start(plan, config, policy))
        if options.gpus:
            reason = nvidia_runtime(client)
            if reason:
                raise PlanError(f"--gpus: {reason}")
        return _run_plan(client, plan, options, policy, stream or sys.stderr, report)
    except (PlanError, EngineError) as error:
        report.findings.append(unreadable(image, str(error)))
        return report


def _before_start(plan: RunPlan, config: dict, policy: Policy) -> list:
    """SM309 is told before the container starts; the job then runs anyway,
    so the user sees the arguments go missing."""
    from ..command_line import swallowed_arguments
    from ..engine import make_finding
    from ..findings import Problem
    from ..job.checks import swallowed_message

    app = plan.request.get("AppSpecification") or {}
    swallowed = swallowed_arguments(config.get("Entrypoint"), app.get("ContainerEntrypoint"),
                                    app.get("ContainerArguments"))
    if swallowed is None or not policy.enabled("SM309", plan.image):
        return []
    finding = make_finding("SM309", plan.image, Problem(swallowed_message(f"the image {plan.image}", swallowed),
                                                        data={"lost": list(swallowed.lost)}), policy)
    _notice(f"{finding.severity.name.lower()} SM309: {finding.message}")
    return [finding]


def _check_input_dirs(plan: RunPlan) -> None:
    for item in plan.inputs:
        if item.host_dir is not None and not os.path.isdir(item.host_dir):
            raise PlanError(f"--input {item.name}={item.host_dir}: not a directory")


def _write_json(path: str, data: dict) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2)


def prepare_mounts(session: Session, plan: RunPlan) -> tuple[dict, dict[str, str], str]:
    """Host directories and the volume map: (volumes, output name -> host dir, message dir)."""
    root = session.temp_dir
    config_dir = os.path.join(root, "config")
    os.makedirs(config_dir)
    _write_json(os.path.join(config_dir, "processingjobconfig.json"), processing_job_config(plan.request))
    _write_json(os.path.join(config_dir, "resourceconfig.json"), resource_config(plan.instance_count))
    volumes = {config_dir: {"bind": CONFIG_DIR, "mode": "ro"}}

    message_dir = os.path.join(root, "output")
    os.makedirs(message_dir)
    os.chmod(message_dir, 0o777)  # the image's user may not be root
    volumes[message_dir] = {"bind": OUTPUT_DIR, "mode": "rw"}

    for index, item in enumerate(plan.inputs):
        host = item.host_dir
        if host is None:  # no local data: an empty directory, as an empty S3 prefix would give
            host = os.path.join(root, "inputs", str(index))
            os.makedirs(host)
        volumes[os.path.abspath(host)] = {"bind": item.local_path, "mode": "ro"}

    output_dirs = {}
    for index, item in enumerate(plan.outputs):
        host = os.path.join(root, "outputs", str(index))
        os.makedirs(host)
        os.chmod(host, 0o777)
        output_dirs[item.name] = host
        volumes[host] = {"bind": item.local_path, "mode": "rw"}
    return volumes, output_dirs, message_dir


class LogPump:
    """Streams the container's output live and keeps the last lines."""

    def __init__(self, container, stream, tail: int = 50) -> None:
        self.lines: deque[str] = deque(maxlen=tail)
        self._lock = threading.Lock()
        self._partial = {"stdout": b"", "stderr": b""}
        self.threads = [
            threading.Thread(target=self._pump, args=(container, which, stream), daemon=True)
            for which in ("stdout", "stderr")
        ]
        for thread in self.threads:
            thread.start()

    def _pump(self, container, which: str, stream) -> None:
        target = stream[which] if isinstance(stream, dict) else stream
        try:
            for chunk in container.logs(stdout=which == "stdout", stderr=which == "stderr", stream=True, follow=True):
                _write(target, chunk)
                self._remember(which, chunk)
        except Exception:
            pass  # the container went away: nothing more to stream
        self._remember(which, b"\n")

    def _remember(self, which: str, chunk: bytes) -> None:
        with self._lock:
            data = self._partial[which] + chunk
            *complete, self._partial[which] = data.split(b"\n")
            self.lines.extend(line.decode("utf-8", "replace").rstrip("\r") for line in complete if line.strip())

    def finish(self, timeout: float = 5.0) -> list[str]:
        for thread in self.threads:
            thread.join(timeout)
        with self._lock:
            return list(self.lines)


def _write(target, chunk: bytes) -> None:
    try:
        buffer = getattr(target, "buffer", None)
        if buffer is not None:
            buffer.write(chunk)
            buffer.flush()
        else:
            target.write(chunk.decode("utf-8", "replace"))
            target.flush()
    except (OSError, ValueError):
        pass


class Waiter:
    """container.wait() in a thread, so the main thread stays interruptible."""

    def __init__(self, container) -> None:
        self.done = threading.Event()
        self.exit_code: int | None = None
        self.finished_at: float | None = None  # time.monotonic() when the exit was seen
        threading.Thread(target=self._wait, args=(container,), daemon=True).start()

    def _wait(self, container) -> None:
        while not self.done.is_set():
            try:
                result = container.wait(timeout=60)
                self.exit_code = result.get("StatusCode")
                self.finished_at = time.monotonic()
                self.done.set()
            except Exception as error:
                if type(error).__name__ == "NotFound":
                    self.done.set()
                    return
                # a read timeout on a long job: wait again

    def wait(self, seconds: float) -> bool:
        return self.done.wait(max(seconds, 0))


def stop_container(container, waiter: Waiter, grace: float) -> None:
    """The contract's stop: SIGINT, the grace period, then SIGKILL."""
    try:
        container.kill(signal=STOP_SIGNAL)
    except Exception:
        pass
    if not waiter.wait(grace):
        try:
            container.kill(signal="SIGKILL")
        except Exception:
            pass
        waiter.wait(10)


def _run_plan(client, plan: RunPlan, options: RunOptions, policy: Policy, stream, report: Report) -> Report:
    grace = options.grace if options.grace is not None else policy.grace_period
    with Session(client) as session:
        volumes, output_dirs, message_dir = prepare_mounts(session, plan)
        extra = {"device_requests": gpu_request()} if options.gpus else {}
        container = session.create(
            plan.image, "job", options.limits,
            entrypoint=plan.argv, hostname="algo-1", environment=plan.environment, volumes=volumes, **extra,
        )
        _notice(f"run {session.run_id}: container {container.name}: {_quote(plan.argv)}")
        started = time.monotonic()
        try:
            container.start()
        except Exception as error:
            raise EngineError(f"cannot start the container: {getattr(error, 'explanation', None) or error}") from None
        pump = LogPump(container, stream)
        waiter = Waiter(container)
        stopped = not waiter.wait(plan.max_runtime)
        if stopped:
            _notice(f"run {session.run_id}: MaxRuntimeInSeconds ({plan.max_runtime}) reached: "
                    f"{STOP_SIGNAL}, {grace:g} s grace, then SIGKILL")
            stop_container(container, waiter, grace)
        duration = time.monotonic() - started
        pump.finish()
        log_tail = _log_tail(container)
        outcome = checks.RunOutcome(
            exit_code=waiter.exit_code,
            stopped=stopped,
            message=_read_message(message_dir),
            outputs=[_measure(item.name, item.local_path, output_dirs[item.name]) for item in plan.outputs],
            changes=_changes(container),
            declared=[item.local_path for item in plan.inputs] + [item.local_path for item in plan.outputs],
            log_tail=log_tail,
        )
        status = checks.status(outcome)
        destinations = _deliver(plan, outcome, status, options, session.run_id)
        report.findings.extend(run_checks(checks.RUN_CHECKS, outcome, plan.image, policy))
        _summarise(report, plan, outcome, status, duration, destinations, session.run_id, grace)
        return report


def _log_tail(container) -> list[str]:
    """The last lines of stdout and stderr together, in the order written."""
    try:
        raw = container.logs(stdout=True, stderr=True, tail=checks.LOG_TAIL_LINES)
    except Exception:
        return []
    return [line.rstrip("\r") for line in raw.decode("utf-8", "replace").splitlines() if line.strip()]


def _notice(text: str) -> None:
    print(f"smlint: {text}", file=sys.stderr, flush=True)


def _quote(argv: list[str]) -> str:
    import shlex

    return " ".join(shlex.quote(arg) for arg in argv)


def _read_message(message_dir: str) -> bytes | None:
    path = os.path.join(message_dir, "message")
    if not os.path.isfile(path) or os.path.islink(path):
        return None
    with open(path, "rb") as handle:
        return handle.read(MESSAGE_READ_LIMIT)


def _measure(name: str, local_path: str, host_dir: str) -> checks.OutputResult:
    result = checks.OutputResult(name, local_path, host_dir)
    for directory, dirs, files in os.walk(host_dir):
        for entry in dirs + files:
            path = os.path.join(directory, entry)
            relative = os.path.relpath(path, host_dir)
            if os.path.islink(path):
                result.symlinks.append(relative)
            elif entry in files and os.path.isfile(path):
                result.files += 1
                result.bytes += os.path.getsize(path)
    result.symlinks.sort()
    return result


def _changes(container) -> list[str]:
    try:
        return sorted(change["Path"] for change in container.diff() or [] if change.get("Kind") in (0, 1))
    except Exception:
        return []


def _deliver(plan: RunPlan, outcome: checks.RunOutcome, status: str, options: RunOptions, run_id: str) -> dict[str, str | None]:
    """Copy outputs out of the temp dir as the upload would: regular files only
    (symlinks are not uploaded), and only for a Completed job unless asked."""
    destinations: dict[str, str | None] = {}
    for item, result in zip(plan.outputs, outcome.outputs):
        if status != "Completed" and not options.keep_outputs:
            destinations[item.name] = None
            continue
        target = item.destination or os.path.join(options.run_dir or f"smlint-run-{run_id}", item.name)
        _copy_regular_files(result.host_dir, target)
        destinations[item.name] = os.path.abspath(target)
    return destinations


def _copy_regular_files(source: str, target: str) -> None:
    os.makedirs(target, exist_ok=True)
    for directory, dirs, files in os.walk(source):
        relative = os.path.relpath(directory, source)
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(directory, d))]
        for entry in dirs:
            os.makedirs(os.path.join(target, relative, entry), exist_ok=True)
        for entry in files:
            path = os.path.join(directory, entry)
            if os.path.isfile(path) and not os.path.islink(path):
                shutil.copy2(path, os.path.join(target, relative, entry))


def _summarise(report: Report, plan: RunPlan, outcome: checks.RunOutcome, status: str, duration: float,
               destinations: dict, run_id: str, grace: float) -> None:
    message = checks.exit_message(outcome.message)
    outputs = []
    for item, result in zip(plan.outputs, outcome.outputs):
        outputs.append({
            "name": item.name, "local_path": item.local_path, "files": result.files, "bytes": result.bytes,
            "symlinks": result.symlinks, "copied_to": destinations.get(item.name),
        })
    report.result = {
        "run_id": run_id,
        "image": plan.image,
        "status": status,
        "exit_code": outcome.exit_code,
        "duration_seconds": round(duration, 3),
        "stopped_after_max_runtime": outcome.stopped,
        "max_runtime_seconds": plan.max_runtime,
        "grace_seconds": grace,
        "exit_message": message,
        "exit_message_bytes": len(outcome.message) if outcome.message is not None else None,
        "exit_message_valid_utf8": checks.message_is_utf8(outcome.message),
        "argv": plan.argv,
        "command_case": plan.resolution.case,
        "hostname": "algo-1",
        "inputs": [{"name": i.name, "local_path": i.local_path, "host_dir": i.host_dir} for i in plan.inputs],
        "outputs": outputs,
        "notes": plan.notes,
    }
    lines = [f"run {run_id}: {plan.image}", f"  command:      {_quote(plan.argv)}  ({plan.resolution.case})"]
    code = f"exit code {outcome.exit_code}" if outcome.exit_code is not None else "no exit code"
    why = f", MaxRuntimeInSeconds {plan.max_runtime} reached" if outcome.stopped else ""
    lines.append(f"  status:       {status} ({code}{why}) in {duration:.1f} s")
    if message is not None:
        shown = message if len(message) <= 200 else message[:200] + "..."
        lines.append(f"  ExitMessage:  {json.dumps(shown, ensure_ascii=False)}")
    for item in outputs:
        where = f"copied to {item['copied_to']}" if item["copied_to"] else f"not copied (job {status}; --keep-outputs copies it)"
        files = f"{item['files']} file{'' if item['files'] == 1 else 's'}"
        lines.append(f"  output {item['name']}: {files}, {item['bytes']} bytes, {where}")
    for item in plan.inputs:
        source = item.host_dir or "no --input given: empty directory"
        lines.append(f"  input {item.name}: {source} -> {item.local_path} (read-only)")
    lines.extend(f"  note: {note}" for note in plan.notes)
    report.summary_lines = lines
