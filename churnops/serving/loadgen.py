"""`run_load`: a lean HTTP/1.1 load generator over loopback for the serving benchmark and demo.

Pre-built request bytes on keep-alive connections, no client library in the timed path. At a
fixed rate (open loop) each request's latency counts from when it was due, not when a connection
came free, so a server that falls behind shows it (no coordinated omission); without a rate,
`concurrency` connections send back to back (closed loop) to find the sustainable maximum.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np


def build_request(host: str, port: int, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    """One POST as raw HTTP/1.1 bytes."""
    head = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", "Content-Type: application/json"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


@dataclass
class LoadResult:
    """Latencies (ms) of answered requests, status counts, and which served entity answered."""

    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    served: Counter = field(default_factory=Counter)
    failures: int = 0  # connection errors or timeouts
    seconds: float = 0.0

    @property
    def sent(self) -> int:
        return sum(self.statuses.values()) + self.failures

    @property
    def errors(self) -> int:
        return self.sent - self.statuses.get(200, 0)

    @property
    def rps(self) -> float:
        return len(self.latencies_ms) / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.latencies_ms, q)) if self.latencies_ms else float("nan")

    def summary(self) -> dict[str, float | int]:
        return {
            "requests": self.sent,
            "rps": round(self.rps, 1),
            "p50_ms": round(self.percentile(50), 3),
            "p95_ms": round(self.percentile(95), 3),
            "p99_ms": round(self.percentile(99), 3),
            "errors": self.errors,
        }


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader, self.writer = reader, writer

    async def call(self, request: bytes) -> tuple[int, dict[bytes, bytes]]:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            if line:
                k, _, v = line.partition(b":")
                headers[k.strip().lower()] = v.strip()
        length = int(headers.get(b"content-length", b"0"))
        if length:
            await self.reader.readexactly(length)
        return status, headers


async def _load(
    host: str,
    port: int,
    requests: list[bytes],
    count: int,
    rate: float | None,
    concurrency: int,
    timeout: float,
    max_connections: int,
) -> LoadResult:
    result = LoadResult()
    idle: list[_Connection] = []
    open_conns = 0
    slots = asyncio.Semaphore(max_connections)

    async def acquire() -> _Connection:
        nonlocal open_conns
        if idle:
            return idle.pop()
        reader, writer = await asyncio.open_connection(host, port)
        open_conns += 1
        return _Connection(reader, writer)

    async def one(i: int, due: float) -> None:
        async with slots:
            conn = await acquire()
            try:
                status, headers = await asyncio.wait_for(
                    conn.call(requests[i % len(requests)]), timeout
                )
            except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError):
                result.failures += 1
                conn.writer.close()
                return
            done = time.perf_counter()
            idle.append(conn)
        result.statuses[status] += 1
        if status == 200:
            result.latencies_ms.append((done - due) * 1000)
            served = headers.get(b"x-churnops-served-entity")
            if served is not None:
                result.served[served.decode()] += 1

    start = time.perf_counter()
    if rate:
        tasks = []
        for i in range(count):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.ensure_future(one(i, due)))
        await asyncio.gather(*tasks)
    else:
        counter = iter(range(count))

        async def worker() -> None:
            for i in counter:
                await one(i, time.perf_counter())

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.seconds = time.perf_counter() - start
    for conn in idle:
        conn.writer.close()
    return result


def run_load(
    host: str,
    port: int,
    requests: list[bytes],
    count: int,
    rate: float | None = None,
    concurrency: int = 4,
    timeout: float = 30.0,
    max_connections: int = 256,
) -> LoadResult:
    """Send `count` requests (cycling through `requests`) and measure them.

    Args:
        rate: requests per second, open loop; None: closed loop with `concurrency` connections.
        timeout: seconds before a request counts as failed.
        max_connections: the most connections an open-loop run opens when the server lags.
    """
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:  # pragma: no cover
        runner = asyncio.run  # type: ignore[assignment]
    return runner(_load(host, port, requests, count, rate, concurrency, timeout, max_connections))
