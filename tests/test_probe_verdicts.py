"""The probe's verdicts (SM401-SM403) from what was observed, without Docker."""
from smlint.config import Policy
from smlint.engine import run_checks
from smlint.run.probe_checks import ProbeOutcome, SignalTrial, registry as PROBE_CHECKS

SHELL = ["/bin/sh", "-c", 'trap "" INT TERM; sleep 300 & wait']


def verdicts(**trial):
    outcome = ProbeOutcome(pid1_argv=SHELL, pid1_is_shell=True, children=["sleep 300"], grace=2.0, trials={
        name: SignalTrial(name, **trial) for name in ("SIGINT", "SIGTERM")})
    return run_checks(PROBE_CHECKS, outcome, "img:1", Policy())


def test_a_shell_that_ignores_the_signal_is_sm401_with_the_trap_as_cause():
    findings = verdicts(disposition="ignored (SIG_IGN)", handled=False, ignored=True)
    assert [(f.rule_id, str(f.severity)) for f in findings] == [("SM401", "error"), ("SM401", "warning")]
    assert 'ignores SIGINT on purpose (SIG_IGN, as `trap "" INT` sets it)' in findings[0].message
    assert "exec form" not in findings[0].message


def test_a_shell_that_only_holds_the_signal_is_still_sm402():
    findings = verdicts(disposition="caught (handler installed)", handled=True)
    assert [f.rule_id for f in findings] == ["SM402"]
    assert "Use exec form" in findings[0].message
