"""The invocation route as a bare ASGI handler in front of FastAPI.

FastAPI still documents the route (OpenAPI) and answers every other path. A
`POST /serving-endpoints/{name}/invocations` skips its routing and its request and response
objects and goes straight to `Endpoint.invoke`: on a single-row request that framework work
costs as much as the lookup and the log together.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Mapping
from typing import Any

from churnops.serving.endpoint import BodyReader, Endpoint
from churnops.serving.errors import RequestError

_ROUTE = re.compile(r"/serving-endpoints/([^/]+)/invocations")  # FastAPI's `{name}`: [^/]+
_JSON = (b"content-type", b"application/json")


class InvocationMiddleware:
    """Pure ASGI: invocations to `serving`, everything else to `app`."""

    def __init__(self, app: Any, serving: Endpoint):
        self.app = app
        self.serving = serving

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        match = _ROUTE.fullmatch(path)
        if match is None:
            await self.app(scope, receive, send)
            return
        headers: dict[str, str] = {}
        for key, value in scope["headers"]:  # the first of repeated headers, as Starlette's get
            headers.setdefault(key.decode("latin-1"), value.decode("latin-1"))
        timeout = self.serving.state.cfg.limits.body_timeout_seconds
        status, content, extra = await self.serving.invoke(
            match[1], headers, asgi_body_reader(headers, receive, timeout)
        )
        out = [_JSON, (b"content-length", str(len(content)).encode())]
        if status == 408:  # the rest of the body may still come: not on this connection
            out.append((b"connection", b"close"))
        out += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in extra]
        await send({"type": "http.response.start", "status": status, "headers": out})
        await send({"type": "http.response.body", "body": content})


def asgi_body_reader(
    headers: Mapping[str, str], receive: Any, timeout: float | None = None
) -> BodyReader:
    """Reads the body from ASGI `receive`; over `limit` bytes is a 413 `RequestError`, and a
    body not all there `timeout` seconds after the first read is a 408 (a client that stops
    mid-body would otherwise hold its connection and its task for ever)."""

    async def read(limit: int) -> bytes:
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            raise RequestError(f"body of {int(length):,} bytes is over the limit of {limit:,}", 413)
        chunks: list[bytes] = []
        size = 0
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                left = None if deadline is None else max(deadline - time.monotonic(), 0.0)
                message = await asyncio.wait_for(receive(), left)
            except TimeoutError:
                raise RequestError(
                    f"body: {size:,} bytes came in {timeout:g} s "
                    f"(limits.body_timeout_seconds); expected all of it",
                    408,
                ) from None
            if message["type"] != "http.request":
                raise RequestError("body: the client disconnected before sending all of it")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise RequestError(f"body is over the limit of {limit:,} bytes", 413)
            if not message.get("more_body", False):
                if not chunks:
                    return chunk  # the usual case: the whole body in one message
                chunks.append(chunk)
                return b"".join(chunks)
            chunks.append(chunk)

    return read
