"""The run report: `result` for machines, summary lines for people."""
from __future__ import annotations

import json
import shlex
from dataclasses import dataclass

from . import checks
from .cluster import HOST_FAILED, MAX_RUNTIME
from .plan import RunPlan


@dataclass
class RunFacts:
    run_id: str
    status: str
    duration: float
    grace: float
    how: dict  # output name -> "moved" or "copied"
    shards: object  # hosts.Shards
    disk: object  # disk.DiskWatch
    bound: int
    supervision: object  # cluster.Supervision


def _outputs(plan: RunPlan, outcome: checks.RunOutcome, facts: RunFacts) -> list[dict]:
    outputs = []
    for item, result in zip(plan.outputs, outcome.outputs):
        outputs.append({
            "name": item.name, "local_path": item.local_path, "files": result.files, "bytes": result.bytes,
            "symlinks": result.symlinks, "not_copied_special_files": result.specials,
            "refused_paths": result.refused, "copied_to": result.host_dir or None,
            "how": facts.how.get(item.name) if result.host_dir else None, "incomplete": result.incomplete,
            "collisions": len(result.collisions),
        })
    return outputs


def _hosts(outcome: checks.RunOutcome) -> list[dict]:
    return [{"host": h.name, "exit_code": h.exit_code, "stopped_by_smlint": h.stopped,
             "seconds": round(h.seconds, 3) if h.seconds is not None else None, "log_tail": h.log_tail}
            for h in outcome.hosts]


def summarise(report, plan: RunPlan, outcome: checks.RunOutcome, facts: RunFacts) -> None:
    message = checks.exit_message(outcome.message)
    outputs = _outputs(plan, outcome, facts)
    notes = list(plan.notes) + [f"input {name!r}: its files were copied, not hard-linked (another filesystem)"
                                for name in facts.shards.copied]
    report.result = {
        "run_id": facts.run_id, "image": plan.image, "status": facts.status, "exit_code": outcome.exit_code,
        "duration_seconds": round(facts.duration, 3),
        "stopped_after_max_runtime": outcome.stop_reason == MAX_RUNTIME,
        "stop_reason": outcome.stop_reason,
        "max_runtime_seconds": plan.max_runtime, "grace_seconds": facts.grace,
        "exit_message": message,
        "exit_message_bytes": len(outcome.message) if outcome.message is not None else None,
        "exit_message_valid_utf8": checks.message_is_utf8(outcome.message),
        "argv": plan.argv, "command_case": plan.resolution.case,
        "hostname": "algo-1", "instance_count": plan.instance_count, "hosts": _hosts(outcome),
        "disk": {"bound_bytes": facts.bound, "peak_bytes": facts.disk.peak, "poll_seconds": facts.disk.interval,
                 "method": facts.disk.method},
        "inputs": [{"name": i.name, "local_path": i.local_path, "host_dir": i.host_dir,
                    "distribution": i.distribution, "files_per_host": facts.shards.files.get(i.name)}
                   for i in plan.inputs],
        "outputs": outputs,
        "notes": notes,
    }
    report.summary_lines = _lines(plan, outcome, facts, message, outputs, notes)


def _status_line(plan: RunPlan, outcome: checks.RunOutcome, facts: RunFacts) -> str:
    code = f"exit code {outcome.exit_code}" if outcome.exit_code is not None else "no exit code"
    why = ""
    if outcome.stop_reason == MAX_RUNTIME:
        why = f", MaxRuntimeInSeconds {plan.max_runtime} reached"
    elif outcome.disk_bound:
        why = (f", stopped: the run used more than the disk bound of {facts.bound} bytes "
               f"(--max-disk; polled every {facts.disk.interval:g} s)")
    elif outcome.stop_reason and outcome.stop_reason != HOST_FAILED:
        why = f", {outcome.stop_reason}"
    return f"  status:       {facts.status} ({code}{why}) in {facts.duration:.1f} s"


def _lines(plan, outcome, facts, message, outputs, notes) -> list[str]:
    lines = [f"run {facts.run_id}: {plan.image}",
             f"  command:      {shlex.join(plan.argv)}  ({plan.resolution.case})",
             _status_line(plan, outcome, facts)]
    if message is not None:
        shown = message if len(message) <= 200 else message[:200] + "..."
        lines.append(f"  ExitMessage:  {json.dumps(shown, ensure_ascii=False)}")
    for host in outcome.hosts:
        state = "stopped by smlint, " if host.stopped else ""
        tail = " | ".join(host.log_tail[-3:]) or "(no output)"
        lines.append(f"  host {host.name}: {state}exit code {host.exit_code}; last output: {tail}")
    for item in outputs:
        if item["copied_to"]:
            where = f"{item['how']} to {item['copied_to']}"
        else:
            where = f"not copied (job {facts.status}; --keep-outputs copies it)"
        files = f"{item['files']} file{'' if item['files'] == 1 else 's'}"
        lines.append(f"  output {item['name']}: {files}, {item['bytes']} bytes, {where}")
        if item["not_copied_special_files"]:
            lines.append(f"    not copied (not plain data): {', '.join(item['not_copied_special_files'][:20])}")
        if item["incomplete"]:
            lines.append(f"    incomplete: {item['incomplete']}")
    for item in plan.inputs:
        source = item.host_dir or "no --input given: empty directory"
        split = facts.shards.files.get(item.name)
        shared = f", sharded by key: {'/'.join(map(str, split))} files per host" if split else ""
        lines.append(f"  input {item.name}: {source} -> {item.local_path} (read-only{shared})")
    lines.extend(f"  note: {note}" for note in notes)
    return lines
