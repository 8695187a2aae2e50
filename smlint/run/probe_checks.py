"""SM401-SM403, SM408: pure checks over what `smlint probe` observed.

The probe only collects facts into `ProbeOutcome`; deciding what is wrong
happens here, so every rule is a small function tested without Docker.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..engine import Registry
from ..findings import Problem, Severity

registry = Registry()


@dataclass
class SignalTrial:
    """One container, one signal: what /proc said, and what happened."""

    signal: str
    disposition: str = ""  # Disposition.describe()
    handled: bool | None = None  # None: could not be read
    ignored: bool = False  # SIG_IGN on purpose (`trap "" INT`), not just the default action
    exited: bool = False
    seconds: float | None = None  # signal -> exit
    exit_code: int | None = None


@dataclass
class ProbeOutcome:
    pid1_argv: list[str] = field(default_factory=list)
    pid1_is_shell: bool = False
    children: list[str] = field(default_factory=list)  # command lines of PID 1's children
    trials: dict[str, SignalTrial] = field(default_factory=dict)  # by signal name
    grace: float = 10.0
    inconclusive: str | None = None
    gpu: dict | None = None  # {"status": "passed|failed|skipped", "reason": ..., "output": ...}


def _shell_holds_signal(probe: ProbeOutcome, trial: SignalTrial) -> bool:
    """SM402's case: the shell swallows the signal by being PID 1. A shell that
    ignores it on purpose is SM401's: exec form would not help, since an
    ignored signal stays ignored in every program the shell starts."""
    return probe.pid1_is_shell and bool(probe.children) and not trial.exited and not trial.ignored


def _severity(signal: str) -> Severity | None:
    """SIGINT is what StopProcessingJob sends: the rule's own severity; SIGTERM only a warning."""
    return None if signal == "SIGINT" else Severity.WARNING


@registry.check("SM402")
def pid1_is_shell(probe: ProbeOutcome):
    trial = probe.trials.get("SIGINT")
    if probe.inconclusive or trial is None or not _shell_holds_signal(probe, trial):
        return
    yield Problem(
        f"PID 1 is a shell ({' '.join(probe.pid1_argv)[:120]}) with a child ({probe.children[0][:80]}); "
        f"SIGINT stopped at the shell: the container was still running {probe.grace:g} s later. "
        "Use exec form, or `exec` the program",
        data={"pid1": probe.pid1_argv, "children": probe.children},
    )


@registry.check("SM401")
def stop_signal_ignored(probe: ProbeOutcome):
    if probe.inconclusive:
        return
    for name, trial in probe.trials.items():
        if trial.exited or trial.handled is True or _shell_holds_signal(probe, trial):
            continue  # SM402 already names the cause
        consequence = (
            "StopProcessingJob can only SIGKILL it" if name == "SIGINT" else "a SIGTERM-based stop would not reach it"
        )
        cause = f"does not handle {name}: {trial.disposition}"
        if trial.ignored:
            how = f', as `trap "" {name[3:]}` sets it' if probe.pid1_is_shell else ""
            cause = (f"ignores {name} on purpose (SIG_IGN{how}), and every program it starts inherits that; "
                     "remove the ignore")
        yield Problem(
            f"PID 1 ({' '.join(probe.pid1_argv)[:120]}) {cause}; "
            f"confirmed: still running {probe.grace:g} s after {name}. {consequence}",
            data={"signal": name, "disposition": trial.disposition},
            severity=_severity(name),
        )


@registry.check("SM403")
def stop_timeout(probe: ProbeOutcome):
    if probe.inconclusive:
        return
    for name, trial in probe.trials.items():
        # A signal that is not handled at all is SM401/SM402: one finding per defect.
        if trial.exited or trial.handled is not True or _shell_holds_signal(probe, trial):
            continue
        yield Problem(
            f"PID 1 handles {name} ({trial.disposition}) but the container did not exit within the "
            f"{probe.grace:g} s grace period",
            data={"signal": name, "grace": probe.grace},
            severity=_severity(name),
        )


@registry.check("SM408")
def gpu_unusable(probe: ProbeOutcome):
    if probe.gpu and probe.gpu.get("status") == "failed":
        yield Problem(
            f"GPUs were requested and the NVIDIA runtime is present, but NVML fails inside the container: "
            f"{probe.gpu.get('reason')}",
            data=dict(probe.gpu),
        )
