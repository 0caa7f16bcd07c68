"""Joining Ray: one way for training and every sweep to reach a cluster or start a local one."""

from __future__ import annotations

import os
from pathlib import Path

from churnops.data.engines.cluster import check_reachable


def ray_address(address: str | None) -> str | None:
    """The cluster to join: `address`, else `$RAY_ADDRESS`; None: Ray's own default."""
    return address or os.environ.get("RAY_ADDRESS") or None


def connect_ray(
    address: str | None, setting: str, timeout_s: float = 10.0, log_to_driver: bool = False
) -> bool:
    """Join the Ray cluster at `address` (or `$RAY_ADDRESS`), else a local instance.

    No resource arguments are passed: a cluster has its own, and Ray refuses them on connect.
    An address that does not answer is a one-line error naming `setting`.

    Returns:
        True when this call initialised Ray (the caller calls `ray.shutdown()`, which only
        disconnects from a cluster).
    """
    import ray

    if ray.is_initialized():
        return False
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # no token files under $HOME
    target = ray_address(address)
    if target:
        check_reachable(setting, target, timeout_s)
    ray.init(address=target, include_dashboard=False, log_to_driver=log_to_driver)
    return True


def storage_uri(storage_path: str | None, fallback: str | Path) -> str:
    """Where Ray keeps trial results and checkpoints: `storage_path` (a folder or URI every node
    sees: NFS, s3://, gs://) or `fallback` (a local folder: one machine only)."""
    if storage_path and "://" in storage_path:
        return storage_path
    return str(Path(storage_path or fallback).resolve())
