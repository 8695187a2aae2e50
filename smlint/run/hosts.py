"""What each host of a local job gets: config files, inputs, output volumes,
and the job network between hosts.

- Outputs and `/opt/ml/output` are engine volumes mounted with `nocopy`: the
  engine creates them root-owned, mode 0755, as Processing creates output
  directories, whoever runs smlint (a caller's folder would belong to the
  caller, often uid 1000, and let a `USER 1000` job write where the cloud
  refuses it). The image's own files at those paths are not copied in.
- Inputs are read-only binds. A ShardedByS3Key input gives each host its own
  folder holding its share of the files, hard-linked where the filesystem
  allows, copied (and said so) where not.
- Several hosts share a network made for the run: `internal`, and a bridge
  without a host address (`inhibit_ipv4`), so nothing is routed off it even
  on an engine run with `--iptables=false`, where `internal` alone does not
  isolate. Each container's upstream resolver is set to its own loopback
  (`dns 127.0.0.1`): Docker's embedded resolver answers the job's host names
  and forwards other names there, inside the container, so no job name ever
  reaches a resolver outside the job network and unknown names fail there.
"""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field

from ..contract import CONFIG_DIR, OUTPUT_DIR
from .plan import Input, PlanError, RunPlan, processing_job_config, resource_config, shard
from .sandbox import LABEL, EngineError

# The loopback of each container: Docker's resolver forwards unknown names
# there (nothing listens), never to the host's or a public resolver.
LOCAL_UPSTREAM = ["127.0.0.1"]
NETWORK_OPTIONS = {"com.docker.network.bridge.inhibit_ipv4": "true"}


@dataclass
class HostSetup:
    """One host's mounts, before its container exists."""

    name: str  # algo-K
    binds: dict = field(default_factory=dict)  # for containers.create(volumes=...)
    output_volumes: dict[str, str] = field(default_factory=dict)  # output name -> volume name
    message_volume: str = ""


@dataclass
class Shards:
    """Per input name: the folder each host sees, and how it was built."""

    folders: dict[str, list[str]] = field(default_factory=dict)
    files: dict[str, list[int]] = field(default_factory=dict)  # input name -> file count per host
    copied: list[str] = field(default_factory=list)  # inputs whose files had to be copied


def run_labels(session) -> dict[str, str]:
    """The labels sandbox.py puts on what a run creates (the watchdog and
    orphan reaping find networks and volumes by them)."""
    labels = getattr(session, "labels", None)
    return dict(labels()) if callable(labels) else {LABEL: session.run_id}


def _write_json(path: str, data: dict) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2)


def input_files(root: str) -> list[str]:
    """Relative keys of the regular files below root (what S3 would list)."""
    keys, pending = [], [""]
    while pending:
        relative = pending.pop()
        with os.scandir(os.path.join(root, relative)) as entries:
            for entry in entries:
                key = f"{relative}/{entry.name}" if relative else entry.name
                if entry.is_dir(follow_symlinks=False):
                    pending.append(key)
                elif entry.is_file(follow_symlinks=False):
                    keys.append(key)
    return keys


def build_shards(temp_dir: str, plan: RunPlan) -> Shards:
    """Each host's share of every sharded input with local data."""
    shards = Shards()
    for index, item in enumerate(plan.inputs):
        if not item.sharded or item.host_dir is None:
            continue
        parts = shard(input_files(item.host_dir), plan.instance_count)
        folders = []
        for host, keys in zip(plan.hosts, parts):
            folder = os.path.join(temp_dir, "shards", str(index), host)
            os.makedirs(folder)
            for key in keys:
                if _link_or_copy(os.path.join(item.host_dir, key), os.path.join(folder, key)) and \
                        item.name not in shards.copied:
                    shards.copied.append(item.name)
            folders.append(folder)
        shards.folders[item.name] = folders
        shards.files[item.name] = [len(keys) for keys in parts]
    return shards


def _link_or_copy(source: str, target: str) -> bool:
    """Hard-link source to target; True when it had to be copied instead."""
    os.makedirs(os.path.dirname(target), exist_ok=True)
    try:
        os.link(source, target, follow_symlinks=False)
        return False
    except OSError:
        shutil.copyfile(source, target, follow_symlinks=False)
        return True


def create_volume(client, session, name: str):
    try:
        return client.volumes.create(name=name, labels=run_labels(session))
    except Exception as error:
        raise EngineError(f"cannot create volume {name}: {getattr(error, 'explanation', None) or error}") from None


def prepare_host(client, session, plan: RunPlan, position: int, shards: Shards) -> HostSetup:
    """Config files, inputs and volumes of host `position` (0-based)."""
    host = plan.hosts[position]
    setup = HostSetup(host)
    config_dir = os.path.join(session.temp_dir, "config", host)
    os.makedirs(config_dir)
    _write_json(os.path.join(config_dir, "processingjobconfig.json"), processing_job_config(plan.request))
    _write_json(os.path.join(config_dir, "resourceconfig.json"), resource_config(plan.instance_count, host))
    setup.binds[config_dir] = {"bind": CONFIG_DIR, "mode": "ro"}
    for index, item in enumerate(plan.inputs):
        source = _input_folder(session.temp_dir, item, index, position, shards)
        target = f"{item.local_path}/{os.path.basename(source)}" if item.single_file else item.local_path
        setup.binds[source] = {"bind": target, "mode": "ro"}
    setup.message_volume = f"smlint-{session.run_id}-{host}-message"
    create_volume(client, session, setup.message_volume)
    setup.binds[setup.message_volume] = {"bind": OUTPUT_DIR, "mode": "rw,nocopy"}
    for index, item in enumerate(plan.outputs):
        name = f"smlint-{session.run_id}-{host}-output-{index}"
        create_volume(client, session, name)
        setup.output_volumes[item.name] = name
        setup.binds[name] = {"bind": item.local_path, "mode": "rw,nocopy"}
    return setup


def _input_folder(temp_dir: str, item: Input, index: int, position: int, shards: Shards) -> str:
    if item.name in shards.folders:
        return shards.folders[item.name][position]
    if item.host_dir is not None:
        return os.path.abspath(item.host_dir)
    empty = os.path.join(temp_dir, "inputs", str(index))  # no local data: as an empty S3 prefix
    os.makedirs(empty, exist_ok=True)
    return empty


def create_networks(client, session, hosts: list[str], late: bool) -> tuple[list[str], str | None]:
    """(the network each host starts on, the network that publishes names late).

    Docker makes a container's hostname a DNS alias on every network it
    joins, so with late host names each host starts alone on its own
    network, and all join the shared one (with their `algo-K` alias) only
    when the names are to become resolvable."""
    prefix = f"smlint-{session.run_id}"
    if not late:
        _create_network(client, session, f"{prefix}-net")
        return [f"{prefix}-net"] * len(hosts), None
    for name in [f"{prefix}-{host}" for host in hosts] + [f"{prefix}-names"]:
        _create_network(client, session, name)
    return [f"{prefix}-{host}" for host in hosts], f"{prefix}-names"


def _create_network(client, session, name: str) -> None:
    try:
        client.networks.create(name, driver="bridge", internal=True, options=NETWORK_OPTIONS,
                               labels=run_labels(session), check_duplicate=True)
    except Exception as error:
        raise EngineError(f"cannot create network {name}: {getattr(error, 'explanation', None) or error}") from None


def network_options(client, network: str, alias: str | None) -> dict:
    """containers.create() arguments that put a host on the job network."""
    aliases = [alias] if alias else None
    return {"network": network, "dns": LOCAL_UPSTREAM,
            "networking_config": {network: client.api.create_endpoint_config(aliases=aliases)}}


def check_network_choice(plan: RunPlan, network: str) -> None:
    if plan.instance_count > 1 and network != "none":
        raise PlanError(f"--network {network} with {plan.instance_count} instances: the hosts share only the "
                        "job's own isolated network; leave --network at none")

