"""`smlint run`: a local processing job under the Processing contract.

The host side of contract sections 3 and 7: config files, read-only inputs,
root-owned output volumes, `/opt/ml/output`, hostnames `algo-1`..`algo-N` on
an isolated job network, the request's Environment, the four-case command,
MaxRuntimeInSeconds (stop signal, grace, SIGKILL). Facts go into a
`RunOutcome`; `checks.py` judges them.
"""
from __future__ import annotations

import codecs
import os
import sys
import threading
import time
from dataclasses import dataclass, field, replace

from ..config import Policy
from ..engine import run_checks, unreadable
from ..report import Report
from . import checks
from .cluster import HostRun, Supervisor, Waiter
from .collect import host_outcome, job_outcome, read_outputs
from .disk import DiskWatch, default_bound, parse_size
from .hosts import build_shards, check_network_choice, create_networks, network_options, prepare_host
from .plan import Code, PlanError, RunPlan, build_plan, check_input_dirs
from .relay import LogPump, report_relay
from .sandbox import EngineError, Limits, Session, connect, gpu_request, image_config, nvidia_runtime
from .summary import RunFacts, summarise as _summarise


MAX_PARALLEL_CALLS = 8  # engine calls in flight at once for several hosts


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
    instance_count: int | None = None  # default: the request's InstanceCount
    late_hosts: float = 0  # seconds before peers' host names resolve
    max_disk: int | None = None  # bytes; default: VolumeSizeInGB per instance
    code: str | None = None  # --code PATH: mounted as the `code` input, as ScriptProcessor does
    command: list[str] | None = None  # --command: what runs the script (default python3)
    entry: str | None = None  # --entry: the script inside a --code folder


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
            instance_count=options.instance_count, code=code_option(options),
        )
        check_input_dirs(plan)
        _hints(plan, options)
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
    from ..container_command import swallowed_arguments
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


def code_option(options: RunOptions) -> Code | None:
    """--code FILE runs that file; --code DIR needs --entry SCRIPT inside it."""
    if options.code is None:
        if options.entry or options.command:
            raise PlanError("--entry and --command need --code PATH")
        return None
    command = tuple(options.command or ("python3",))
    if os.path.isfile(options.code):
        return Code(os.path.abspath(options.code), os.path.basename(options.code), command, single_file=True)
    if not os.path.isdir(options.code):
        raise PlanError(f"--code {options.code}: no such file or directory")
    if not options.entry:
        raise PlanError(f"--code {options.code} is a folder: name the script to run with --entry")
    if not os.path.isfile(os.path.join(options.code, options.entry)):
        raise PlanError(f"--entry {options.entry}: no such file in {options.code}")
    return Code(os.path.abspath(options.code), options.entry.lstrip("/"), command)


def _hints(plan: RunPlan, options: RunOptions) -> None:
    from ..job.checks import GPU_PREFIXES

    if options.late_hosts and plan.instance_count == 1:
        plan.notes.append("--late-hosts has no effect with one instance: a host has no peers to resolve")
    kind = ((plan.request.get("ProcessingResources") or {}).get("ClusterConfig") or {}).get("InstanceType")
    if isinstance(kind, str) and kind.startswith(GPU_PREFIXES) and not options.gpus:
        plan.notes.append(f"{kind} is a GPU instance type: add --gpus to give the job this machine's GPUs "
                          "(needs the NVIDIA runtime)")


class _Prefixer:
    """Puts `algo-K | ` at the start of every line, as docker compose prints them."""

    def __init__(self, prefix: str) -> None:
        self._prefix = prefix.encode()
        self._at_line_start = True
        self._lock = threading.Lock()

    def apply(self, chunk: bytes) -> bytes:
        with self._lock:
            lines = chunk.split(b"\n")
            first = (self._prefix if self._at_line_start and lines[0] else b"") + lines[0]
            rest = [self._prefix + line if line else line for line in lines[1:]]
            self._at_line_start = chunk.endswith(b"\n")
            return b"\n".join([first, *rest])


class _PrefixedSide:
    """A byte sink (it has `.buffer`, as sys.stdout does) that prefixes lines
    and passes them to `target`, a binary buffer or a text stream."""

    def __init__(self, prefixer: _Prefixer, target) -> None:
        self.prefixer, self.target = prefixer, target
        self.buffer = self
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")  # a character split across chunks

    def write(self, chunk) -> None:
        data = self.prefixer.apply(chunk if isinstance(chunk, bytes) else chunk.encode())
        try:
            buffer = getattr(self.target, "buffer", None)
            if buffer is not None:
                buffer.write(data)
            else:
                self.target.write(self._decoder.decode(data))
        except (OSError, ValueError):
            pass  # the reader went away: the job's output is not ours to fail on

    def flush(self) -> None:
        try:
            (getattr(self.target, "buffer", None) or self.target).flush()
        except (OSError, ValueError):
            pass


def prefixed(stream, prefix: str) -> dict:
    """LogPump's stream map for one host of several: both sides prefixed."""
    targets = stream if isinstance(stream, dict) else {"stdout": stream, "stderr": stream}
    prefixer = _Prefixer(prefix)
    return {which: _PrefixedSide(prefixer, target) for which, target in targets.items()}


def _run_plan(client, plan: RunPlan, options: RunOptions, policy: Policy, stream, report: Report) -> Report:
    grace = options.grace if options.grace is not None else policy.grace_period
    check_network_choice(plan, options.limits.network)
    _warn_memory(plan, options)
    bound = options.max_disk if options.max_disk is not None else default_bound(plan.request, plan.instance_count)
    with Session(client) as session:
        return _run_hosts(client, session, plan, options, policy, stream, report, grace, bound)


def _run_hosts(client, session, plan: RunPlan, options: RunOptions, policy: Policy, stream, report: Report,
               grace: float, bound: int) -> Report:
    shards = build_shards(session.temp_dir, plan)
    multi = plan.instance_count > 1
    late = options.late_hosts if multi else 0
    networks, names_network = create_networks(client, session, plan.hosts, bool(late)) if multi else ([], None)

    def create(position: int):
        name = plan.hosts[position]
        setup = prepare_host(client, session, plan, position, shards)
        extra = {"device_requests": gpu_request()} if options.gpus else {}
        limits = options.limits
        if multi:
            extra.update(network_options(client, networks[position], None if late else name))
            limits = replace(limits, network=networks[position])
        return setup, session.create(plan.image, name, limits, entrypoint=plan.argv, hostname=name,
                                     environment=plan.environment, volumes=setup.binds, **extra)

    setups, created = zip(*_each(create, range(plan.instance_count)))
    _notice(f"run {session.run_id}: {_hosts_phrase(plan)}: {_quote(plan.argv)}")
    volumes = [v for s in setups for v in [s.message_volume, *s.output_volumes.values()]]
    disk = DiskWatch(client, bound, volumes, list(created)).start()
    changed = threading.Event()
    session.watch_deadline(plan.max_runtime, grace)  # before the start: a stuck smlint is covered at once
    hosts = _each(lambda pair: _start(pair[1], pair[0], changed, stream, multi), list(zip(plan.hosts, created)))
    session.watch_deadline(plan.max_runtime, grace)  # and again from the start, as smlint counts
    publish = (late, lambda: _publish_names(client, names_network, hosts)) if late else None
    supervision = Supervisor(hosts, changed, grace, plan.max_runtime, disk, publish, _notice).run()
    disk.stop()
    duration = time.monotonic() - supervision.started
    for host in hosts:
        host.pump.finish()
    outcomes = _each(lambda host: host_outcome(host, supervision), hosts)
    config_user = (image_config(client, plan.image) or {}).get("User") or None
    outcome = job_outcome(plan, outcomes, supervision, config_user, late)
    status = checks.status(outcome)
    targets = _targets(plan, status, options, session.run_id)
    outcome.outputs, how = read_outputs(client, plan, hosts, [s.output_volumes for s in setups], targets, bound)
    report.findings.extend(run_checks(checks.registry, outcome, plan.image, policy))
    facts = RunFacts(session.run_id, status, duration, grace, how, shards, disk, bound, supervision)
    _summarise(report, plan, outcome, facts)
    _report_relays(report, hosts)
    return report


def _each(function, items) -> list:
    """function over items, in order; the engine calls of several hosts overlap."""
    items = list(items)
    if len(items) < 2:
        return [function(item) for item in items]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(len(items), MAX_PARALLEL_CALLS)) as pool:
        return list(pool.map(function, items))


def _report_relays(report: Report, hosts: list[HostRun]) -> None:
    """The live relay's counts (per host when several) and any dropped output."""
    if len(hosts) == 1:
        report_relay(report, hosts[0].pump)
        return
    report.result["live_output"] = {host.name: host.pump.summary() for host in hosts}
    for host in hosts:
        note = host.pump.dropped_note()
        if note:
            report.summary_lines.append(f"  {host.name} {note}")


def _start(container, name: str, changed: threading.Event, stream, multi: bool) -> HostRun:
    pump = LogPump(container, prefixed(stream, f"{name} | ") if multi else stream)  # attaches before the start
    try:
        container.start()
    except Exception as error:
        raise EngineError(f"cannot start {name}: {getattr(error, 'explanation', None) or error}") from None
    return HostRun(name, container, Waiter(container, changed), pump)


def _publish_names(client, network: str, hosts: list[HostRun]) -> None:
    """--late-hosts: the `algo-K` names appear only now, on the names network."""
    joined = client.networks.get(network)
    for host in hosts:
        try:
            joined.connect(host.container, aliases=[host.name])
        except Exception:
            pass  # the host already exited
    _notice(f"host names {', '.join(h.name for h in hosts)} now resolve (--late-hosts)")


def _hosts_phrase(plan: RunPlan) -> str:
    if plan.instance_count == 1:
        return "host algo-1"
    return f"{plan.instance_count} hosts algo-1..algo-{plan.instance_count} on an isolated job network"


def _warn_memory(plan: RunPlan, options: RunOptions) -> None:
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        each = parse_size(options.limits.memory)
    except (ValueError, OSError, AttributeError):
        return
    if plan.instance_count * each > total:
        _notice(f"warning: {plan.instance_count} hosts x --memory {options.limits.memory} = "
                f"{plan.instance_count * each / (1 << 30):.1f} GiB, more than this machine's "
                f"{total / (1 << 30):.1f} GiB: hosts may be killed for memory")


def _targets(plan: RunPlan, status: str, options: RunOptions, run_id: str) -> dict[str, str | None]:
    """Where each output goes: only for a Completed job unless --keep-outputs."""
    if status != "Completed" and not options.keep_outputs:
        return {item.name: None for item in plan.outputs}
    return {item.name: os.path.abspath(item.destination or os.path.join(options.run_dir or f"smlint-run-{run_id}",
                                                                        item.name))
            for item in plan.outputs}


def _notice(text: str) -> None:
    print(f"smlint: {text}", file=sys.stderr, flush=True)


def _quote(argv: list[str]) -> str:
    import shlex

    return " ".join(shlex.quote(arg) for arg in argv)
