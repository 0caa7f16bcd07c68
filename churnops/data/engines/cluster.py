"""Cluster addresses (Spark masters, Ray addresses): their endpoints, and a quick reachability
check, so a wrong address is a one-line error naming the setting rather than a hang."""

from __future__ import annotations

import re
import socket


class ClusterUnreachableError(ConnectionError, ValueError):
    """A configured cluster address (Spark master, Ray address) that does not answer.

    A ValueError too: it is bad input, reported in one line like any other setting.
    """


def is_local(master: str) -> bool:
    """True for `local`, `local[4]`, `local[*]`, `local[2,3]` (driver and executors in one JVM)."""
    return master == "local" or master.startswith("local[")


def check_reachable(setting: str, address: str, timeout_s: float = 10.0) -> None:
    """Raise `ClusterUnreachableError` naming `setting` unless one of `address`'s
    `host:port` endpoints accepts a TCP connection within `timeout_s`."""
    endpoints = cluster_endpoints(address)
    errors = []
    for host, port in endpoints:
        try:
            with socket.create_connection((host, port), timeout=timeout_s):
                return
        except OSError as exc:
            errors.append(f"{host}:{port}: {exc.strerror or exc}")
    if endpoints:
        raise ClusterUnreachableError(
            f"{setting}={address!r}: cannot connect ({'; '.join(errors)}); "
            "expected a running cluster at that address"
        )


def cluster_endpoints(address: str) -> list[tuple[str, int]]:
    """The (host, port) pairs of `spark://h1:7077,h2:7077`, `sc://h:15002`, `ray://h:10001`,
    `h:6379`; empty where the address names no endpoint (`yarn`, `local[*]`, `auto`)."""
    match = re.fullmatch(r"(?:(spark|sc|ray)://)?([^/?]+?)/?(?:[?;].*)?", address)
    if not match or match.group(2) in ("auto", "local") or is_local(address):
        return []
    defaults = {"spark": 7077, "sc": 15002, "ray": 10001, None: None}
    out = []
    for part in match.group(2).split(","):
        host, _, port = part.rpartition(":") if ":" in part else (part, "", "")
        port_no = int(port) if port.isdigit() else defaults[match.group(1)]
        if host and port_no:
            out.append((host.strip("[]"), port_no))
    return out


def advertised_address(host: str, port: int) -> str:
    """This machine's address on the route to `host` (what a cluster there can connect back to)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect((host, port))  # UDP: no packet is sent, the kernel only picks a route
        return probe.getsockname()[0]
