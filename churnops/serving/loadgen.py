"""`run_load`: a lean HTTP/1.1 load generator over loopback for the serving benchmark and demo.

Pre-built request bytes on keep-alive connections, one thread, non-blocking sockets and
`select.select`, no client library and no event loop in the timed path: the client must not be
what limits the rate. At a fixed rate (open loop) each request's latency counts from when it was
due, not when it was sent or a connection came free, so a server that falls behind shows it (no
coordinated omission). `select` takes a timeout in microseconds; asyncio's and libuv's timers
round to the millisecond, which would send requests late and bill the lateness to the server.
Without a rate, `concurrency` connections send back to back (closed loop) to find the maximum.
"""

from __future__ import annotations

import select
import socket
import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

# `select.select` takes descriptors below FD_SETSIZE (1024); far more than loopback needs.
MAX_CONNECTIONS = 512
_SERVED = b"\r\nx-churnops-served-entity:"
_SPIN_S = 0.0002  # open loop: poll, not sleep, this close to a request's due time


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
    cpu_seconds: float = 0.0  # the client's own CPU time over the run
    late_ms: list[float] = field(default_factory=list)  # open loop: send time minus due time

    @property
    def sent(self) -> int:
        return sum(self.statuses.values()) + self.failures

    @property
    def errors(self) -> int:
        return self.sent - self.statuses.get(200, 0)

    @property
    def rps(self) -> float:
        return len(self.latencies_ms) / self.seconds if self.seconds else 0.0

    @property
    def client_cpu_share(self) -> float:
        """The client's CPU time as a share of one core over the run (1.0: one core busy)."""
        return self.cpu_seconds / self.seconds if self.seconds else 0.0

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
    """One keep-alive connection with at most one request in flight."""

    __slots__ = ("buf", "due", "out", "sent_at", "sock")

    def __init__(self, host: str, port: int):
        self.sock = socket.create_connection((host, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)
        self.buf = bytearray()
        self.due = 0.0  # when the request in flight counts from
        self.sent_at = 0.0  # when it was sent: the timeout counts from here
        self.out = b""  # request bytes the socket has not taken yet

    def send(self, request: bytes, due: float) -> None:
        self.due = due
        self.sent_at = time.perf_counter()
        n = self.sock.send(request)
        self.out = request[n:]

    def flush(self) -> None:
        n = self.sock.send(self.out)
        self.out = self.out[n:]

    def receive(self) -> tuple[int, bytes] | None:
        """(status, head) once the whole answer is in; None while it is not; OSError: closed."""
        data = self.sock.recv(262144)
        if not data:
            raise ConnectionResetError("server closed the connection")
        buf = self.buf
        buf += data
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            return None
        head = bytes(buf[:end]).lower()
        at = head.find(b"\r\ncontent-length:")
        length = int(head[at + 17 : head.find(b"\r\n", at + 2)]) if at >= 0 else 0
        if len(buf) < end + 4 + length:
            return None
        del buf[: end + 4 + length]
        return int(head[9:12]), head

    def close(self) -> None:
        self.sock.close()


def _record(result: LoadResult, status: int, head: bytes, latency_s: float) -> None:
    result.statuses[status] += 1
    if status == 200:
        result.latencies_ms.append(latency_s * 1000)
        at = head.find(_SERVED)
        if at >= 0:
            end = head.find(b"\r\n", at + 2)
            result.served[head[at + len(_SERVED) : end if end >= 0 else None].strip().decode()] += 1


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
        max_connections: the most connections an open-loop run opens when the server lags
            (at most `MAX_CONNECTIONS`).
    """
    if count <= 0 or not requests:
        return LoadResult()
    limit = min(max_connections, MAX_CONNECTIONS) if rate else max(1, concurrency)
    result = LoadResult()
    # Connections are opened before the clock starts, so connecting is not what is timed; one
    # that fails here is retried, and counted, when a request needs it.
    idle: list[_Connection] = []
    for _ in range(min(limit, concurrency, count)):
        try:
            idle.append(_Connection(host, port))
        except OSError:
            break
    opened = len(idle)
    busy: dict[socket.socket, _Connection] = {}
    writing: dict[socket.socket, _Connection] = {}
    n_req = len(requests)
    sent = finished = 0
    cpu0 = time.process_time()
    start = time.perf_counter()

    def fail(conn: _Connection) -> None:
        nonlocal finished, opened
        result.failures += 1
        finished += 1
        busy.pop(conn.sock, None)
        writing.pop(conn.sock, None)
        conn.close()
        opened -= 1

    while finished < count:
        now = time.perf_counter()
        # Send what is due (open loop) or keep every connection busy (closed loop).
        while sent < count:
            due = start + sent / rate if rate else 0.0
            if due > now:
                break
            if idle:
                conn = idle.pop()
            elif opened < limit:
                try:
                    conn = _Connection(host, port)
                except OSError:
                    result.failures += 1
                    finished += 1
                    sent += 1
                    continue
                opened += 1
            else:
                break  # every connection is busy: the next request waits, its clock running
            try:
                conn.send(requests[sent % n_req], due if rate else time.perf_counter())
            except OSError:
                sent += 1
                fail(conn)
                continue
            if rate:
                result.late_ms.append((time.perf_counter() - due) * 1000)
            sent += 1
            busy[conn.sock] = conn
            if conn.out:
                writing[conn.sock] = conn
        if finished >= count:
            break
        wait = timeout
        if rate and sent < count and (idle or opened < limit):
            wait = start + sent / rate - time.perf_counter()
            # Wake early and poll the last stretch: a sleeping thread wakes up to ~0.1 ms late,
            # and that lateness would be billed to the server.
            wait = wait - _SPIN_S if wait > _SPIN_S else 0.0
        if busy:
            oldest = min(c.sent_at for c in busy.values())
            wait = min(wait, max(0.0, oldest + timeout - time.perf_counter()))
            readable, writable, _ = select.select(list(busy), list(writing), [], wait)
        else:
            readable, writable = [], []
            time.sleep(wait)
        for sock in writable:
            conn = writing[sock]
            try:
                conn.flush()
            except OSError:
                fail(conn)
                continue
            if not conn.out:
                del writing[sock]
        for sock in readable:
            reading = busy.get(sock)
            if reading is None:
                continue
            try:
                answer = reading.receive()
            except (OSError, ValueError):
                fail(reading)
                continue
            if answer is None:
                continue
            done = time.perf_counter()
            del busy[sock]
            finished += 1
            _record(result, answer[0], answer[1], done - reading.due)
            idle.append(reading)
        if busy:
            now = time.perf_counter()
            for conn in [c for c in busy.values() if now - c.sent_at > timeout]:
                fail(conn)
    result.seconds = time.perf_counter() - start
    result.cpu_seconds = time.process_time() - cpu0
    for conn in idle:
        conn.close()
    for conn in list(busy.values()):
        conn.close()
    return result
