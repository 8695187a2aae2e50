"""The disk a run may fill: parse the bound, poll the usage.

No portable quota exists for bind mounts or local volumes, so a thread polls
what the run's volumes and containers' writable layers hold, every
POLL_SECONDS. Where smlint can read the engine's folders (rootful local
engine, smlint as root) it sums them itself (`du`-like, allocated blocks);
elsewhere it asks the engine (`docker system df`), which is slower, so it
polls every ENGINE_POLL_SECONDS. Between two polls a job can write at full
disk speed: the overshoot past the bound is at most one interval's worth of
writes (about 1 GB at 1 GB/s with the 1 s interval).
"""
from __future__ import annotations

import os
import re
import threading

POLL_SECONDS = 1.0
ENGINE_POLL_SECONDS = 5.0
DEFAULT_VOLUME_GB = 30  # CreateProcessingJob's usual VolumeSizeInGB
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?", re.I)
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_size(text: str) -> int:
    """`500m`, `10g`, `2GiB`, `1048576` -> bytes; ValueError otherwise."""
    match = _SIZE.fullmatch(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a size (examples: 500m, 10g)")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def default_bound(request: dict, instance_count: int) -> int:
    """VolumeSizeInGB per instance, as the cloud gives each instance."""
    cluster = (request.get("ProcessingResources") or {}).get("ClusterConfig") or {}
    size = cluster.get("VolumeSizeInGB")
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        size = DEFAULT_VOLUME_GB
    return size * (1 << 30) * instance_count


def tree_bytes(root: str) -> int:
    """Allocated bytes below root, symlinks not followed; iterative."""
    total, pending = 0, [root]
    while pending:
        try:
            with os.scandir(pending.pop()) as entries:
                for entry in entries:
                    try:
                        info = entry.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    total += getattr(info, "st_blocks", 0) * 512 or info.st_size
                    if entry.is_dir(follow_symlinks=False):
                        pending.append(entry.path)
        except OSError:
            continue
    return total


class DiskWatch:
    """Polls the run's usage in a thread; `exceeded` is set past the bound."""

    def __init__(self, client, bound: int, volumes: list[str], containers: list) -> None:
        self.client, self.bound = client, bound
        self.exceeded = threading.Event()
        self.peak = 0
        self._stop = threading.Event()
        self._folders = self._local_folders(volumes, containers)
        self._volumes, self._containers = set(volumes), {c.id for c in containers}
        self.interval = POLL_SECONDS if self._folders is not None else ENGINE_POLL_SECONDS
        self._thread = threading.Thread(target=self._poll, daemon=True)

    @property
    def method(self) -> str:
        return "folders" if self._folders is not None else "engine"

    def _local_folders(self, volumes: list[str], containers: list) -> list[str] | None:
        folders = []
        try:
            for name in volumes:
                folders.append(self.client.volumes.get(name).attrs["Mountpoint"])
            for container in containers:
                container.reload()
                upper = ((container.attrs.get("GraphDriver") or {}).get("Data") or {}).get("UpperDir")
                if upper:
                    folders.append(upper)
        except Exception:
            return None
        readable = all(os.access(folder, os.R_OK | os.X_OK) for folder in folders)
        return folders if readable else None

    def start(self) -> "DiskWatch":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def usage(self) -> int:
        if self._folders is not None:
            return sum(tree_bytes(folder) for folder in self._folders)
        return self._engine_usage()

    def _engine_usage(self) -> int:
        try:
            df = self.client.df()
        except Exception:
            return 0  # "a disk usage operation is already running": next time
        total = sum((v.get("UsageData") or {}).get("Size", 0) or 0
                    for v in df.get("Volumes") or [] if v.get("Name") in self._volumes)
        total += sum(c.get("SizeRw", 0) or 0 for c in df.get("Containers") or [] if c.get("Id") in self._containers)
        return max(total, 0)

    def _poll(self) -> None:
        while not self._stop.wait(self.interval):
            used = self.usage()
            self.peak = max(self.peak, used)
            if used > self.bound:
                self.exceeded.set()
                return
