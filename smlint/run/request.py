"""Reads a CreateProcessingJob request for `run`/`probe`.

Uses `smlint.job.source.read_request` (the same reader `smlint job` uses);
the small loader below is only a fallback for a tree without it. Either way,
anything that is not a request is a one-line reason (SM001).
"""
from __future__ import annotations

import json

from .plan import PlanError


def load_request(path: str) -> dict:
    try:
        from ..job.source import RequestError, read_request
    except ImportError:  # pragma: no cover - smlint.job always ships it
        return _load_plain(path)
    try:
        return read_request(path).data
    except RequestError as error:
        raise PlanError(f"{path}: {error.reason}") from None


def _load_plain(path: str) -> dict:
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except IsADirectoryError:
        raise PlanError(f"{path}: is a directory, not a request file") from None
    except OSError as error:
        raise PlanError(f"{path}: cannot read: {error.strerror or error}") from None
    if not raw.strip():
        raise PlanError(f"{path}: empty file, not a CreateProcessingJob request")
    if b"\0" in raw:
        raise PlanError(f"{path}: binary file, not a CreateProcessingJob request")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise PlanError(f"{path}: not UTF-8 text") from None
    try:
        data = json.loads(text)
    except ValueError as json_error:
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError:
            raise PlanError(
                f"{path}: not valid JSON (line {json_error.lineno}, column {json_error.colno}: {json_error.msg}) nor YAML"
            ) from None
    if not isinstance(data, dict):
        raise PlanError(f"{path}: a request must be a JSON/YAML object, not {type(data).__name__}")
    return data
