"""`smlint job` and `smlint explain`: load requests and the image facts, run
the SM3xx checks, and build the Report. The CLI only parses options."""
from __future__ import annotations

import glob
import os
import shlex
import sys
from dataclasses import dataclass

from ..container_command import resolve, swallowed_arguments
from ..config import Policy
from ..engine import Finding, Registry, run_checks, unreadable
from ..inputs import MAX_DOCKERFILE_BYTES, InputError, read_bounded
from ..report import Report
from .facts import ImageFacts, facts_from_dockerfile, facts_from_image
from .source import MAX_BYTES, Request, RequestError, parse_request, read_request

STDIN = "-"


class NeedsImage(Exception):
    """explain was given no image, and the request's command depends on it."""


def read_stdin() -> bytes:
    """Standard input, bounded: one byte past MAX_BYTES is enough to say "too big"."""
    return sys.stdin.buffer.read(MAX_BYTES + 1)


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
        raw = read_stdin() if path == STDIN else read_bounded(path, MAX_DOCKERFILE_BYTES, "Dockerfile")
    except InputError as error:
        return None, unreadable(path, str(error)), []
    if b"\0" in raw:
        return None, unreadable(path, "is a binary file (holds a NUL byte), not a Dockerfile"), []
    text = raw.decode("utf-8", "replace")
    try:
        facts = facts_from_dockerfile(path, text, source.target, source.build_args)
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


def load(path: str, stdin_name: str | None = None) -> tuple[Request | None, Finding | None]:
    """The request in `path` (`-`: standard input, reported as `stdin_name`)."""
    shown = display_name(path, stdin_name)
    try:
        if path == STDIN:
            return parse_request(read_stdin(), shown), None
        return read_request(path), None
    except RequestError as error:
        return None, unreadable(shown, error.reason, error.span)
    except OSError as error:
        return None, unreadable(shown, f"cannot read: {error.strerror or error}")


def display_name(path: str, stdin_name: str | None) -> str:
    return (stdin_name or "<stdin>") if path == STDIN else path


def check_requests(paths: list[str], policy: Policy, source: ImageSource | None = None,
                   stdin_name: str | None = None) -> Report:
    from .checks import JobSubject, registry

    report = Report(command="job")
    searched = not paths
    if searched:
        paths = discover_requests(policy)
    facts, facts_error, facts_lines = load_facts(source)
    if facts_error:
        report.findings.append(facts_error)
        report.targets.append(facts_error.path)
    if facts is None and paths:
        why = "no --image or --dockerfile given" if facts_error is None else "the image could not be read"
        report.summary_lines.append(f"SM305-SM307 not checked: {why}")
    elif source and source.dockerfile:
        report.sources[source.dockerfile] = facts_lines
    checked = {"image": facts.described if facts else None, "requests": []}
    for path in paths:
        shown = display_name(path, stdin_name)
        report.targets.append(shown)
        request, error = load(path, stdin_name)
        if error:
            report.findings.append(error)
            continue
        report.sources[shown] = request.lines
        report.findings.extend(run_checks(registry, JobSubject(request, facts), shown, policy))
        checked["requests"].append(shown)
    if searched and not paths:
        report.summary_lines.append(f"note: no request files found (job-files: {', '.join(policy.job_files)})")
    report.result = {"checked": checked, "image_rules_checked": facts is not None}
    return report


def explain(path: str, source: ImageSource, policy: Policy | None = None) -> Report:
    """The argv the container runs and where each part comes from, and the
    findings of SM305-SM307 on it (the same checks as `smlint job`)."""
    from .checks import JobSubject

    policy = policy or Policy()
    shown = display_name(path, None)
    report = Report(command="explain", targets=[shown])
    request, error = load(path)
    if error:
        report.findings.append(error)
        return report
    report.sources[shown] = request.lines
    entrypoint, arguments, problem = _app_argv(request, shown)
    if problem:
        report.findings.append(problem)
        return report
    if not (source.image or source.dockerfile) and not entrypoint:
        raise NeedsImage("give --image REF or --dockerfile PATH: the request sets no ContainerEntrypoint, so the "
                         "image's ENTRYPOINT and CMD decide what runs")
    facts, facts_error, facts_lines = load_facts(source)
    if facts_error:
        report.findings.append(facts_error)
        return report
    if source.dockerfile:
        report.sources[source.dockerfile] = facts_lines
    resolution = resolve(facts.entrypoint if facts else None, facts.cmd if facts else None, entrypoint, arguments)
    described = facts.described if facts else "not needed: ContainerEntrypoint replaces its ENTRYPOINT and CMD"
    report.result = {
        "argv": resolution.argv,
        "parts": [{"source": source_name, "args": list(args)} for source_name, args in resolution.parts],
        "case": resolution.case,
        "executable_source": resolution.executable_source,
        "image": described,
        "image_config_known": facts.config_known if facts else None,
    }
    report.summary_lines.extend(_explain_lines(resolution, facts, described, entrypoint))
    swallowed = swallowed_arguments(facts.entrypoint, entrypoint, arguments) if facts else None
    if swallowed is not None:
        report.result["lost_arguments"] = list(swallowed.lost)
        report.summary_lines.append(_swallowed_line(swallowed))
    report.findings.extend(run_checks(_command_checks(), JobSubject(request, facts), shown, policy))
    return report


def _app_argv(request: Request, shown: str) -> tuple[list | None, list | None, Finding | None]:
    """(ContainerEntrypoint, ContainerArguments, an SM001 if either is not a list of strings)."""
    app = request.data.get("AppSpecification") if isinstance(request.data.get("AppSpecification"), dict) else {}
    entrypoint, arguments = app.get("ContainerEntrypoint"), app.get("ContainerArguments")
    for key, value in (("ContainerEntrypoint", entrypoint), ("ContainerArguments", arguments)):
        if value is not None and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            problem = unreadable(shown, f"AppSpecification.{key} is not a list of strings",
                                 request.span(f"/AppSpecification/{key}"))
            return None, None, problem
    return entrypoint, arguments, None


def _command_checks() -> Registry:
    from .checks import COMMAND_AND_IMAGE, registry

    return registry.group(COMMAND_AND_IMAGE)


def _swallowed_line(swallowed) -> str:
    """Show the shell's view: which argument lands in $0 and which reach the job."""
    dollar0, parameters = swallowed.arguments[0], swallowed.arguments[1:]
    reach = ("reach the script as $1..." if swallowed.script_reads_arguments
             else "are never read: the script does not use \"$@\"")
    shown = f"{shlex.join(parameters)} {reach}" if parameters else "no other argument"
    return (f"the ENTRYPOINT is a shell script ({swallowed.shell} -c), so {dollar0!r} becomes $0 "
            f"and is lost; {shown}. Lost: {shlex.join(swallowed.lost)} (SM309)")


def _explain_lines(resolution, facts: ImageFacts | None, described: str, entrypoint) -> list[str]:
    """The text report's explanation; what can go wrong is a finding (SM305-SM307), not a line here."""
    lines = [shlex.join(resolution.argv) if resolution.argv else "(nothing: no command at all)", ""]
    width = max((len(shlex.join(args)) for _, args in resolution.parts), default=0)
    for source_name, args in resolution.parts:
        lines.append(f"  {shlex.join(args):<{width}}  <- {source_name}")
    lines.append(f"case: {resolution.case}")
    lines.append(f"image: {described}")
    if facts is not None and not facts.config_known and not entrypoint:
        lines.append(f"note: the base image {facts.base_image or '(unknown)'} may add its own ENTRYPOINT/CMD, "
                     "unknown statically; use --image to see them")
    return lines

