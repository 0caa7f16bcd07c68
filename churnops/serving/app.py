"""The ASGI wiring: FastAPI routes for health, Prometheus metrics, live reload and the
documented invocation route, in front of the framework-free `Endpoint` core."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response

from churnops.config import mask_secrets
from churnops.serving.config import EndpointConfig, load_endpoint_config
from churnops.serving.endpoint import Endpoint
from churnops.serving.invocations import InvocationMiddleware, asgi_body_reader
from churnops.serving.openapi import ERROR_RESPONSES, INVOCATION_RESPONSE, invocation_body

JSON = "application/json"


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps({"error_code": code, "message": mask_secrets(message)}),
        status_code=status,
        media_type=JSON,
        headers=headers,
    )


def _documented_body(serving: Endpoint) -> dict[str, Any]:
    """The request body's schema with the served models' feature columns and params."""
    columns: dict[str, str] = {}
    params: dict[str, Any] = {}
    kinds = {"double": "number", "float": "number", "long": "integer", "integer": "integer"}
    for model in serving.state.models.values():
        columns.update(zip(model.columns, model.dtypes, strict=True))
        schema = model.params_schema
        for p in schema.params if schema is not None else []:
            params[p.name] = {"type": kinds.get(p.dtype.name, "string"), "default": p.default}
    return invocation_body(columns, params)


def create_app(
    cfg: EndpointConfig | str | Path,
    config_path: str | Path | None = None,
    overrides: list[str] = (),  # type: ignore[assignment]
) -> FastAPI:
    """The FastAPI app serving `cfg` (an `EndpointConfig` or the path of its YAML).

    `config_path` (and `overrides`) is what `POST /-/reload` and SIGHUP re-read; it defaults to
    `cfg` when that is a path.
    """
    if not isinstance(cfg, EndpointConfig):
        config_path = config_path or cfg
        cfg = load_endpoint_config(cfg, overrides)
    serving = Endpoint(cfg, config_path, overrides)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        loop = asyncio.get_running_loop()
        if threading.current_thread() is threading.main_thread():
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(
                    signal.SIGHUP, lambda: loop.create_task(_reload_quietly(serving))
                )
        try:
            yield
        finally:
            await asyncio.to_thread(serving.close)

    app = FastAPI(
        title=f"churnops serving: {cfg.name}",
        version="1",
        description="Databricks-compatible model serving with online feature lookup.",
        lifespan=lifespan,
    )
    app.state.serving = serving
    app.add_middleware(InvocationMiddleware, serving=serving)

    @app.post(
        "/serving-endpoints/{name}/invocations",
        openapi_extra={"requestBody": _documented_body(serving)},
        responses={200: INVOCATION_RESPONSE, **ERROR_RESPONSES},
        summary="Score rows with the endpoint's served models",
    )
    async def invocations(name: str, request: Request) -> Response:
        # Documents the route; `InvocationMiddleware` answers these requests before routing.
        status, content, headers = await serving.invoke(
            name,
            request.headers,
            asgi_body_reader(
                request.headers, request.receive, serving.state.cfg.limits.body_timeout_seconds
            ),
        )
        return Response(content, status_code=status, media_type=JSON, headers=dict(headers))

    @app.get("/health", summary="Liveness and what is served")
    async def health() -> dict[str, Any]:
        return serving.health()

    @app.get(
        "/metrics",
        summary="Prometheus metrics",
        responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
    )
    async def metrics() -> Response:
        return Response(serving.metrics.render(), media_type=serving.metrics.content_type)

    @app.post(
        "/-/reload",
        summary="Reload the endpoint config file without dropping requests",
        responses={
            200: {"description": "The reloaded endpoint, as /health shows it"},
            400: {**ERROR_RESPONSES[400], "description": "Config refused; the old one serves"},
            401: ERROR_RESPONSES[401],
            409: {**ERROR_RESPONSES[400], "description": "Started without a config file"},
        },
    )
    async def reload(request: Request) -> Response:
        if not serving.state.auth.allows(request.headers.get("authorization")):
            return _error(
                401,
                "UNAUTHENTICATED",
                "missing or invalid bearer token",
                {"WWW-Authenticate": "Bearer"},
            )
        if serving.config_path is None:
            return _error(409, "NO_CONFIG_FILE", "reload: the server was started without a file")
        try:
            await asyncio.to_thread(serving.reload)
        except Exception as exc:
            return _error(
                400, "INVALID_CONFIG", f"config refused, the old one keeps serving: {exc}"
            )
        return Response(orjson.dumps(serving.health()), media_type=JSON)

    return app


async def _reload_quietly(serving: Endpoint) -> None:
    # The one place the server speaks on its own: a SIGHUP has no caller to answer.
    try:
        await asyncio.to_thread(serving.reload)
        print(f"churnops serve: reloaded {serving.config_path}", file=sys.stderr)
    except Exception as exc:
        why = mask_secrets(str(exc))
        print(f"churnops serve: reload refused, the old one keeps serving: {why}", file=sys.stderr)
