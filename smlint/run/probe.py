"""`smlint probe`: does PID 1 stop when Processing stops the job? Does the GPU work?

Two containers start as `smlint run` would start the job. PID 1's command
line and signal masks are read from the host's `/proc/<State.Pid>` (or via
the engine, `cat /proc/1/...` inside, when the host's /proc is not the
engine's); that gives the verdict within a second or two. Then SIGINT goes to
one container and SIGTERM to the other, and the exits are timed against the
grace period. Facts go into a `ProbeOutcome`; `probe_checks.py` judges them.
"""
from __future__ import annotations

import shlex
import time
from dataclasses import dataclass, field

from ..config import Policy
from ..engine import run_checks, unreadable
from ..report import Report
from . import probe_checks, procfs
from .cluster import Waiter
from .hosts import Shards, prepare_host
from .plan import PlanError, build_plan, check_input_dirs
from .relay import LogPump
from .sandbox import EngineError, Limits, Session, connect, gpu_request, image_config, nvidia_runtime

POLL = 0.05
MIN_SETTLE = 0.3  # let the program install its handlers (an interpreter's start-up)
MAX_SETTLE = 1.5  # the verdict must come within 2 s of the start
GPU_WAIT = 120  # seconds one GPU check container may take
START_ALLOWANCE = 60  # creating and starting the containers, on a busy engine
GPU_CHECKS = (["nvidia-smi", "-L"],
              ["python3", "-c", "import ctypes,sys; sys.exit(ctypes.CDLL('libnvidia-ml.so.1').nvmlInit_v2())"])


@dataclass
class ProbeOptions:
    env: dict[str, str] = field(default_factory=dict)
    entrypoint: list[str] | None = None
    arguments: list[str] | None = None
    grace: float | None = None  # default: policy.grace_period
    limits: Limits = field(default_factory=lambda: Limits(read_only=True))
    init: bool = False  # mirror `docker run --init`
    gpus: bool = False
    inputs: dict[str, str] = field(default_factory=dict)  # as for run: the job finds its data
    outputs: dict[str, str] = field(default_factory=dict)  # the output folders exist; nothing is copied back


@dataclass
class Pid1:
    """One reading of a container's PID 1."""

    argv: list[str]
    masks: procfs.SignalMasks
    children: list[str]
    source: str  # "host /proc" or "engine (cat /proc/1/...)"


class ProbeInconclusive(Exception):
    pass


def probe(image: str, request: dict | None, options: ProbeOptions, policy: Policy, client=None) -> Report:
    report = Report(command="probe", targets=[image])
    try:
        client = client or connect()
        config = image_config(client, image)
        plan = build_plan(image, request, config.get("Entrypoint"), config.get("Cmd"), env=options.env,
                          entrypoint=options.entrypoint, arguments=options.arguments,
                          inputs=options.inputs, outputs=options.outputs)
        check_input_dirs(plan)
        outcome, facts = _probe(client, plan, options, policy)
    except (PlanError, EngineError) as error:
        report.findings.append(unreadable(image, str(error)))
        return report
    report.findings.extend(run_checks(probe_checks.registry, outcome, image, policy))
    _summarise(report, image, outcome, facts)
    return report


def probe_runtime(options: ProbeOptions) -> float:
    """A bound on how long a probe's containers live, less the grace period:
    their start, the settling, and the GPU checks after the signals. Only a
    stuck smlint comes near it."""
    return START_ALLOWANCE + MAX_SETTLE + (len(GPU_CHECKS) * GPU_WAIT if options.gpus else 0)


def _probe(client, plan, options: ProbeOptions, policy: Policy):
    grace = options.grace if options.grace is not None else policy.grace_period
    outcome = probe_checks.ProbeOutcome(grace=grace)
    facts: dict = {"argv": plan.argv, "init": options.init}
    with Session(client) as session:
        facts["run_id"] = session.run_id
        # The backstop: even if smlint is stuck or stopped, the watchdog kills what outlives the probe's own bounds.
        session.watch_deadline(probe_runtime(options), grace)
        # as `run` mounts host algo-1 (root-owned output volumes included); both containers share them
        mounts = prepare_host(client, session, plan, 0, Shards())
        common = dict(entrypoint=plan.argv, hostname=mounts.name, environment=plan.environment, volumes=mounts.binds,
                      init=options.init or None)
        containers = {name: session.create(plan.image, name.lower(), options.limits, **common)
                      for name in ("SIGINT", "SIGTERM")}
        pumps = {name: LogPump(c, _Discard()) for name, c in containers.items()}  # attached before the start
        for container in containers.values():
            _start(container)
        started = time.monotonic()
        waiters = {name: Waiter(c) for name, c in containers.items()}
        try:
            readings = {name: _settle(c, waiters[name], started) for name, c in containers.items()}
        except ProbeInconclusive as why:
            outcome.inconclusive = _inconclusive(str(why), waiters, pumps)
            facts["log_tail"] = {name: pump.finish(1) for name, pump in pumps.items()}
            _gpu(client, session, plan, options, outcome)
            return outcome, facts
        facts["verdict_seconds"] = round(time.monotonic() - started, 3)
        first = readings["SIGINT"]
        outcome.pid1_argv, outcome.children = first.argv, first.children
        outcome.pid1_is_shell = procfs.is_shell(first.argv)
        facts["source"] = first.source
        facts["masks"] = {name: r.masks.as_dict() for name, r in readings.items()}
        outcome.trials = _signal_trials(containers, waiters, readings, grace)
        for pump in pumps.values():  # ends the relay threads (a caller's later fork needs one thread)
            pump.finish(1)
        _gpu(client, session, plan, options, outcome)
    return outcome, facts


class _Discard:
    def write(self, text):
        pass

    def flush(self):
        pass


def _start(container) -> None:
    try:
        container.start()
    except Exception as error:
        raise EngineError(f"cannot start the container: {getattr(error, 'explanation', None) or error}") from None


def _settle(container, waiter, started: float) -> Pid1:
    """Read PID 1 until the reading is stable (handlers installed, a shell's
    child forked), at least MIN_SETTLE and at most MAX_SETTLE after the start."""
    previous = None
    while True:
        if waiter.done.is_set():
            raise ProbeInconclusive("the container exited before it could be probed")
        try:
            reading = read_pid1(container)
        except ProbeInconclusive:
            if waiter.wait(0.2):
                raise ProbeInconclusive("the container exited before it could be probed") from None
            raise
        elapsed = time.monotonic() - started
        stable = previous is not None and (previous.argv, previous.masks) == (reading.argv, reading.masks)
        waiting_for_child = procfs.is_shell(reading.argv) and not reading.children
        if elapsed >= MAX_SETTLE or (elapsed >= MIN_SETTLE and stable and not waiting_for_child):
            return reading
        previous = reading
        time.sleep(POLL)


def read_pid1(container) -> Pid1:
    """PID 1 from the host's /proc when it is the engine's, else through the engine."""
    container.reload()
    state = container.attrs.get("State") or {}
    pid = state.get("Pid") or 0
    if not state.get("Running") or pid <= 0:
        raise ProbeInconclusive("the container is not running")
    host = _read_host(pid, container.id)
    if host is not None:
        return host
    return _read_via_engine(container, pid)


def _read_host(pid: int, container_id: str) -> Pid1 | None:
    base = f"/proc/{pid}"
    try:
        with open(f"{base}/cgroup", encoding="utf-8") as handle:
            cgroup = handle.read()
        # Same /proc as the engine only if this pid is in the container's cgroup.
        if container_id not in cgroup and not _cgroup_namespaced(cgroup):
            return None
        with open(f"{base}/status", encoding="utf-8") as handle:
            masks = procfs.parse_status(handle.read())
        with open(f"{base}/cmdline", "rb") as handle:
            argv = procfs.parse_cmdline(handle.read())
        return Pid1(argv, masks, _host_children(pid), "host /proc")
    except (OSError, ValueError):
        return None


def _cgroup_namespaced(cgroup: str) -> bool:
    """With a cgroup namespace every path reads '/': no id to compare."""
    return all(line.rsplit(":", 1)[-1] == "/" for line in cgroup.strip().splitlines())


def _host_children(pid: int) -> list[str]:
    children = []
    try:
        with open(f"/proc/{pid}/task/{pid}/children", encoding="utf-8") as handle:
            child_pids = handle.read().split()
    except OSError:
        return children
    for child in child_pids:
        try:
            with open(f"/proc/{child}/cmdline", "rb") as handle:
                children.append(" ".join(procfs.parse_cmdline(handle.read())))
        except OSError:
            continue
    return children


def _read_via_engine(container, pid: int) -> Pid1:
    """`cat /proc/1/status` inside (the image needs cat); children via `docker top`."""
    try:
        status = container.exec_run(["cat", "/proc/1/status"])
        cmdline = container.exec_run(["cat", "/proc/1/cmdline"])
    except Exception as error:
        raise ProbeInconclusive(f"cannot read PID 1 through the engine: {error}") from None
    if status.exit_code != 0:
        raise ProbeInconclusive("cannot read PID 1: the host's /proc is not the engine's and the image has no `cat`")
    masks = procfs.parse_status(status.output.decode("utf-8", "replace"))
    children = []
    try:
        top = container.top(ps_args="-o pid,ppid,args")
        titles = top.get("Titles") or []
        for process in top.get("Processes") or []:
            row = dict(zip(titles, process))
            if row.get("PPID") == str(pid):
                children.append(row.get("COMMAND") or row.get("ARGS") or "")
    except Exception:
        pass
    return Pid1(procfs.parse_cmdline(cmdline.output), masks, children, "engine (cat /proc/1/...)")


def _signal_trials(containers, waiters, readings, grace: float) -> dict[str, probe_checks.SignalTrial]:
    """Each container gets its signal at the same moment; each exit is timed
    against the same grace period, so the probe takes one grace, not two."""
    trials, sent = {}, {}
    for name, container in containers.items():
        reading = readings[name]
        if procfs.is_init(reading.argv):
            disposition, handled, ignored = "forwarded to the child by the init process", True, False
        else:
            state = reading.masks.disposition(procfs.SIGNALS[name])
            disposition, handled, ignored = state.describe(), state.handled, state.ignored and not state.handled
        trials[name] = probe_checks.SignalTrial(signal=name, disposition=disposition, handled=handled, ignored=ignored)
        sent[name] = time.monotonic()
        try:
            container.kill(signal=name)
        except Exception:
            pass  # exited in between: the wait below says so
    deadline = max(sent.values()) + grace
    for name, trial in trials.items():
        waiter = waiters[name]
        if waiter.wait(deadline - time.monotonic()):
            trial.exited, trial.exit_code = True, waiter.exit_code
            trial.seconds = round(waiter.finished_at - sent[name], 3)
    return trials


def _inconclusive(reason: str, waiters, pumps) -> str:
    codes = {name: w.exit_code for name, w in waiters.items() if w.done.is_set()}
    code = next(iter(codes.values()), None)
    tail = next((pump.finish(1) for pump in pumps.values()), [])
    last = " | ".join(tail[-5:]) if tail else "(no output)"
    return (f"{reason} (exit code {code}); last output: {last}. If the job needs its data, give it "
            "--job and --input/--output NAME=DIR as for run, so it lives long enough to be probed")


def _gpu(client, session: Session, plan, options: ProbeOptions, outcome: probe_checks.ProbeOutcome) -> None:
    if not options.gpus:
        return
    reason = nvidia_runtime(client)
    if reason:
        outcome.gpu = {"status": "skipped", "reason": reason}
        return
    last = ""
    for index, argv in enumerate(GPU_CHECKS):
        limits = Limits(options.limits.memory, options.limits.pids, options.limits.network, False)
        container = session.create(plan.image, f"gpu{index}", limits, entrypoint=argv, environment=plan.environment,
                                   device_requests=gpu_request())
        try:
            container.start()
            code = container.wait(timeout=GPU_WAIT).get("StatusCode")
            text = container.logs().decode("utf-8", "replace").strip()
        except Exception as error:
            code, text = None, str(getattr(error, "explanation", None) or error)
        if code == 0:
            outcome.gpu = {"status": "passed", "command": shlex.join(argv), "output": text[-500:]}
            return
        last = f"`{shlex.join(argv)}` exited {code}: {text[-300:] or '(no output)'}"
        if code not in (126, 127, None) and "executable file not found" not in text:
            break  # the tool ran and failed: that is the verdict
    outcome.gpu = {"status": "failed", "reason": last}


def _summarise(report: Report, image: str, outcome: probe_checks.ProbeOutcome, facts: dict) -> None:
    trials = {
        name: {"disposition": t.disposition, "handled": t.handled, "exited": t.exited,
               "seconds_to_exit": t.seconds, "exit_code": t.exit_code}
        for name, t in outcome.trials.items()
    }
    report.result = {
        "run_id": facts.get("run_id"),
        "image": image,
        "verdict": "inconclusive" if outcome.inconclusive else ("failed" if report.findings else "passed"),
        "inconclusive": outcome.inconclusive,
        "argv": facts.get("argv"),
        "init": facts.get("init"),
        "pid1": outcome.pid1_argv,
        "pid1_children": outcome.children,
        "pid1_is_shell": outcome.pid1_is_shell,
        "source": facts.get("source"),
        "masks": facts.get("masks"),
        "verdict_seconds": facts.get("verdict_seconds"),
        "grace_seconds": outcome.grace,
        "signals": trials,
        "gpu": outcome.gpu or {"status": "not requested"},
        "log_tail": facts.get("log_tail"),
    }
    lines = [f"probe {image}"]
    if outcome.inconclusive:
        lines.append(f"  inconclusive: {outcome.inconclusive}")
        lines.append("  not a pass: PID 1 could not be observed running")
    else:
        children = ", ".join(outcome.children) or "none"
        lines.append(f"  PID 1:   {' '.join(outcome.pid1_argv)}  (children: {children}; read from {facts.get('source')} "
                     f"{facts.get('verdict_seconds')} s after start)")
        masks = (facts.get("masks") or {}).get("SIGINT") or {}
        lines.append("  masks:   " + "  ".join(f"{k} {v}" for k, v in masks.items()))
        for name, trial in outcome.trials.items():
            result = (f"exited {trial.exit_code} after {trial.seconds:.2f} s" if trial.exited
                      else f"still running after {outcome.grace:g} s grace")
            lines.append(f"  {name + ':':8} {trial.disposition}; sent: {result}")
    if outcome.gpu:
        lines.append(f"  GPU:     {outcome.gpu['status']}: {outcome.gpu.get('reason') or outcome.gpu.get('output', '')}")
    report.summary_lines = lines
