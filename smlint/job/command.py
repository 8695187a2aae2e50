"""`smlint job` and `smlint explain`: load requests and the image facts, run
the SM3xx checks, and build the Report. The CLI only parses options."""
from __future__ import annotations

import glob
import os
import shlex
from dataclasses import dataclass

from ..command_line import REQUEST_ARGUMENTS, resolve, swallowed_arguments
from ..config import Policy
from ..engine import Finding, run_checks, unreadable
from ..report import Report
from .facts import ImageFacts, facts_from_dockerfile, facts_from_image
from .source import Request, RequestError, read_request

IMAGE_RULES = ("SM305", "SM306", "SM307")


@dataclass
class ImageSource:
    """Where SM305-SM307 learn about the image: --image or --dockerfile."""

    image: str | None = None
    dockerfile: str | None = None
    target: str | None = None
    build_args: dict | None = None


def load_facts(source: ImageSource | None) -> tuple[ImageFacts | None, Finding | None, list[str]]:
    """(facts, an SM001 finding if the image/Dockerfile is unreadable, its lines)."""
    if source is None or not (source.image or source.dockerfile):
        return None, None, []
    if source.image:
        try:
            return facts_from_image(source.image), None, []
        except LookupError as error:
            return None, unreadable(source.image, str(error)), []
    path = source.dockerfile
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as error:
        reason = "is a directory, not a Dockerfile" if os.path.isdir(path) else f"cannot read: {error.strerror or error}"
        return None, unreadable(path, reason), []
    if b"\0" in raw:
        return None, unreadable(path, "is a binary file (holds a NUL byte), not a Dockerfile"), []
    text = raw.decode("utf-8", "replace")
    try:
        facts = facts_from_dockerfile(path, text, source.target, source.build_args)
    except ImportError:
        return None, unreadable(path, "the Dockerfile model is not available in this installation"), []
    except (ValueError, KeyError, LookupError) as error:  # an unknown --target, a parse failure
        return None, unreadable(path, f"cannot model this Dockerfile: {error}"), text.splitlines(True)
    return facts, None, text.splitlines(True)


def discover_requests(policy: Policy, root: str = ".") -> list[str]:
    """Request files under `root` matching the `job-files` patterns."""
    found = set()
    for pattern in policy.job_files:
        for path in glob.glob(os.path.join(root, pattern), recursive=True):
            if os.path.isfile(path) and "/.git/" not in path:
                found.add(os.path.relpath(path) if root == "." else path)
    return sorted(found)


def load(path: str) -> tuple[Request | None, Finding | None]:
    try:
        return read_request(path), None
    except RequestError as error:
        return None, unreadable(path, error.reason, error.span)


def check_requests(paths: list[str], policy: Policy, source: ImageSource | None = None) -> Report:
    from .checks import JobSubject, registry

    report = Report(command="job")
    if not paths:
        paths = discover_requests(policy)
    facts, facts_error, facts_lines = load_facts(source)
    if facts_error:
        report.findings.append(facts_error)
        report.targets.append(facts_error.path)
    if facts is None:
        why = "no --image or --dockerfile given" if facts_error is None else "the image could not be read"
        report.summary_lines.append(f"SM305-SM307 not checked: {why}")
    elif source and source.dockerfile:
        report.sources[source.dockerfile] = facts_lines
    checked = {"image": facts.described if facts else None, "requests": []}
    for path in paths:
        report.targets.append(path)
        request, error = load(path)
        if error:
            report.findings.append(error)
            continue
        report.sources[path] = request.lines
        report.findings.extend(run_checks(registry, JobSubject(request, facts), path, policy))
        checked["requests"].append(path)
    if not paths:
        report.summary_lines.append(f"no request files found (job-files: {', '.join(policy.job_files)})")
    report.result = {"checked": checked, "image_rules_checked": facts is not None}
    return report


def explain(path: str, source: ImageSource) -> Report:
    """The argv the container runs and where each part comes from."""
    report = Report(command="explain", targets=[path])
    facts, facts_error, _ = load_facts(source)
    request, error = load(path)
    for finding in (facts_error, error):
        if finding:
            report.findings.append(finding)
    if request is None or facts is None:
        return report
    report.sources[path] = request.lines
    app = request.data.get("AppSpecification") if isinstance(request.data.get("AppSpecification"), dict) else {}
    entrypoint, arguments = app.get("ContainerEntrypoint"), app.get("ContainerArguments")
    for key, value in (("ContainerEntrypoint", entrypoint), ("ContainerArguments", arguments)):
        if value is not None and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            report.findings.append(unreadable(path, f"AppSpecification.{key} is not a list of strings",
                                              request.span(f"/AppSpecification/{key}")))
            return report
    resolution = resolve(facts.entrypoint, facts.cmd, entrypoint, arguments)
    unknown_base = not facts.config_known and not entrypoint
    report.result = {
        "argv": resolution.argv,
        "parts": [{"source": source_name, "args": list(args)} for source_name, args in resolution.parts],
        "case": resolution.case,
        "executable_source": resolution.executable_source,
        "image": facts.described,
        "image_config_known": facts.config_known,
    }
    swallowed = swallowed_arguments(facts.entrypoint, entrypoint, arguments)
    report.summary_lines.extend(_explain_lines(resolution, facts, unknown_base))
    if swallowed is not None:
        report.result["lost_arguments"] = list(swallowed.lost)
        report.summary_lines.append(_swallowed_line(swallowed))
    return report


def _swallowed_line(swallowed) -> str:
    """Show the shell's view: which argument lands in $0 and which reach the job."""
    dollar0, parameters = swallowed.arguments[0], swallowed.arguments[1:]
    reach = ("reach the script as $1..." if swallowed.script_reads_arguments
             else "are never read: the script does not use \"$@\"")
    shown = f"{shlex.join(parameters)} {reach}" if parameters else "no other argument"
    return (f"warning: the ENTRYPOINT is a shell script ({swallowed.shell} -c), so {dollar0!r} becomes $0 "
            f"and is lost; {shown}. Lost: {shlex.join(swallowed.lost)} (SM309)")


def _explain_lines(resolution, facts: ImageFacts, unknown_base: bool) -> list[str]:
    lines = [shlex.join(resolution.argv) if resolution.argv else "(nothing: no command at all)", ""]
    width = max((len(shlex.join(args)) for _, args in resolution.parts), default=0)
    for source_name, args in resolution.parts:
        lines.append(f"  {shlex.join(args):<{width}}  <- {source_name}")
    lines.append(f"case: {resolution.case}")
    lines.append(f"image: {facts.described}")
    if unknown_base:
        lines.append(f"note: the base image {facts.base_image or '(unknown)'} may add its own ENTRYPOINT/CMD, "
                     "unknown statically; use --image to see them")
    if resolution.executable_source == REQUEST_ARGUMENTS:
        condition = "if the base image has no ENTRYPOINT, " if unknown_base else ""
        lines.append(f"warning: {condition}the first argument {resolution.argv[0]!r} runs as the program (SM305)")
    return lines

