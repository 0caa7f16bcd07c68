"""The ASGI app: the Databricks invocation API, health, Prometheus metrics, live reload.

`ServingApp` holds an immutable `EndpointState` (config, loaded models, router, lookups, auth);
a reload builds a new state off the event loop and swaps one reference, so requests in flight
finish on the state they started with and none is dropped. A config that does not load is
refused and the old state keeps serving.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
import time
import uuid
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response

from churnops.config import ConfigError
from churnops.serving.auth import BearerAuth
from churnops.serving.batching import RowScorer
from churnops.serving.config import EndpointConfig, load_endpoint_config
from churnops.serving.inference_log import InferenceLogWriter
from churnops.serving.invocations import BodyReader, InvocationMiddleware, asgi_body_reader
from churnops.serving.lookup import FeatureLookupSpec, OnlineFeatureLookup, RequestError
from churnops.serving.metrics import ServingMetrics
from churnops.serving.openapi import ERROR_RESPONSES, INVOCATION_BODY, INVOCATION_RESPONSE
from churnops.serving.payload import parse_payload
from churnops.serving.routing import TrafficRouter
from churnops.serving.served import ServedModel

JSON = "application/json"
Answer = tuple[int, bytes, list[tuple[str, str]]]  # status, JSON body, extra headers


@dataclass
class EndpointState:
    """Everything one request needs, built whole before it serves."""

    cfg: EndpointConfig
    models: dict[str, ServedModel]
    router: TrafficRouter
    auth: BearerAuth
    lookups: dict[str, OnlineFeatureLookup] = field(default_factory=dict)
    store: Any = None
    scorers: dict[str, RowScorer] = field(default_factory=dict)

    def close(self) -> None:
        if self.store is not None:
            self.store.close()


def build_state(cfg: EndpointConfig, previous: EndpointState | None = None) -> EndpointState:
    """Load every served model (reusing the previous state's where the version is the same)."""
    import mlflow
    from mlflow import MlflowClient

    if cfg.tracking_uri:
        mlflow.set_tracking_uri(cfg.tracking_uri)
        mlflow.set_registry_uri(cfg.tracking_uri)
    client = MlflowClient()
    old = {m.uri: m for m in previous.models.values()} if previous else {}
    models: dict[str, ServedModel] = {}
    for entity in cfg.served_entities:
        version = entity.entity_version
        if entity.alias is not None:
            version = client.get_model_version_by_alias(entity.entity_name, entity.alias).version
        reuse = old.get(f"models:/{entity.entity_name}/{version}")
        if reuse is not None:
            models[entity.name] = reuse.renamed(entity.name)
        else:
            models[entity.name] = ServedModel.load(entity, client)
    auth = BearerAuth.from_config(cfg.auth)
    state = EndpointState(cfg, models, TrafficRouter.from_config(cfg), auth)
    if cfg.feature_lookup.enabled:
        from churnops.data.feature_store.online import get_online_store

        state.store = get_online_store(cfg.feature_lookup.online)
        for name, model in models.items():
            spec = FeatureLookupSpec.from_config(cfg.feature_lookup, model.columns)
            state.lookups[name] = OnlineFeatureLookup(spec, state.store)
    state.scorers = {name: RowScorer(m, state.lookups.get(name)) for name, m in models.items()}
    return state


class ServingApp:
    """The endpoint behind the HTTP routes; `create_app` wires it into FastAPI."""

    def __init__(
        self,
        cfg: EndpointConfig,
        config_path: str | Path | None = None,
        overrides: list[str] = (),  # type: ignore[assignment]
    ):
        self.config_path = Path(config_path) if config_path else None
        self.overrides = list(overrides)
        self.state = build_state(cfg)
        self.metrics = ServingMetrics()
        self.log = (
            InferenceLogWriter(
                cfg.log_path(),
                cfg.auto_capture_config.batch_rows,
                cfg.auto_capture_config.flush_seconds,
            )
            if cfg.auto_capture_config.enabled
            else None
        )
        self._shadow = ThreadPoolExecutor(max_workers=1, thread_name_prefix="shadow")
        self._reload_lock = threading.Lock()
        self.acknowledged = 0  # 200 answers sent

    # ---- reload --------------------------------------------------------------------------

    def reload(self, cfg: EndpointConfig | None = None) -> EndpointState:
        """Swap in a new state from `cfg` or the config file; on any error the old one stays."""
        with self._reload_lock:
            if cfg is None:
                if self.config_path is None:
                    raise ConfigError("reload: the server was started without a config file")
                cfg = load_endpoint_config(self.config_path, self.overrides)
            if cfg.name != self.state.cfg.name or cfg.log_path() != self.state.cfg.log_path():
                raise ConfigError(
                    f"reload: name={cfg.name!r} and the inference log path cannot change "
                    f"while serving (serving {self.state.cfg.name!r}); restart instead"
                )
            new = build_state(cfg, previous=self.state)
            self.state = new  # one reference swap: requests in flight keep their state
            return new

    # ---- invocations ---------------------------------------------------------------------

    async def invoke(self, name: str, headers: Mapping[str, str], read_body: BodyReader) -> Answer:
        """Answer one invocation: status, JSON body and response headers.

        Args:
            name: the endpoint name in the path.
            headers: the request headers by lower-case name.
            read_body: awaits the body, refusing one over the given number of bytes (413).
        """
        start = time.perf_counter()
        state = self.state
        cfg = state.cfg
        if name != cfg.name:
            return _error_answer(
                404, "RESOURCE_DOES_NOT_EXIST", f"endpoint {name!r} not found; serving {cfg.name!r}"
            )
        if not state.auth.allows(headers.get("authorization")):
            return _error_answer(
                401,
                "UNAUTHENTICATED",
                "missing or invalid bearer token",
                [("www-authenticate", "Bearer")],
            )
        request_id = uuid.uuid4().hex
        client_id = headers.get("x-request-id")
        served = model = None
        rows: list[dict[str, Any]] = []
        body_out: dict[str, Any]
        try:
            body = await read_body(cfg.limits.max_body_bytes)
            rows = parse_payload(body, cfg.limits.max_rows)
            served = self._pick(state, headers, rows)
            model = state.models[served]
            model.check_types(rows)
            preds, unknown = await state.scorers[served].score(rows)
            if unknown:
                self.metrics.error(cfg.name, served, model.version, "unknown_key", unknown)
            status = 200
            body_out = {"predictions": preds}
        except RequestError as exc:
            status, body_out = exc.status, _error_body(exc.status, str(exc))
        except LookupError as exc:  # the online table is not published: the server's fault
            status, body_out = 503, {"error_code": "TEMPORARILY_UNAVAILABLE", "message": str(exc)}
        except Exception as exc:
            status, body_out = _model_error(exc)
        served_name = served or ""
        version = model.version if model else ""
        if model is not None:
            body_out["served_entity"] = served_name
            body_out["model_name"] = model.model_name
            body_out["model_version"] = version
        content = orjson.dumps(body_out, option=orjson.OPT_SERIALIZE_NUMPY)
        seconds = time.perf_counter() - start
        self.metrics.observe(
            cfg.name, served_name, version, status, seconds, len(rows) if status == 200 else 0
        )
        if status != 200:
            self.metrics.error(
                cfg.name, served_name, version, "bad_request" if status < 500 else "server"
            )
        if self.log is not None:
            self.log.append(
                request_id=request_id,
                client_request_id=client_id,
                endpoint=cfg.name,
                served_entity=served_name,
                model_name=model.model_name if model else "",
                model_version=version,
                status_code=status,
                execution_time_ms=seconds * 1000,
                request=orjson.dumps(rows).decode() if status == 200 else "",
                response=content.decode(),
                num_rows=len(rows),
            )
        if status == 200:
            self.acknowledged += 1
            if cfg.routing.shadow and cfg.routing.shadow != served:
                self._shadow.submit(
                    self._run_shadow, state, cfg.routing.shadow, [dict(r) for r in rows], client_id
                )
        out_headers = [("x-request-id", request_id)]
        if model is not None:
            out_headers.append(("x-churnops-served-entity", served_name))
            out_headers.append(("x-churnops-model-version", version))
        return status, content, out_headers

    @staticmethod
    def _pick(state: EndpointState, headers: Mapping[str, str], rows: list[dict[str, Any]]) -> str:
        forced = headers.get(state.cfg.routing.force_header.lower())
        if forced is not None:
            if forced not in state.models:
                raise RequestError(
                    f"header {state.cfg.routing.force_header}={forced!r}: expected one of "
                    f"{sorted(state.models)}"
                )
            return forced
        return state.router.choose(rows[0].get(state.cfg.routing.key))

    def _run_shadow(
        self, state: EndpointState, name: str, rows: list[dict[str, Any]], client_id: str | None
    ) -> None:
        """Score a copy on the shadow model; its answer is logged (is_shadow) and never sent."""
        model = state.models[name]
        start = time.perf_counter()
        try:
            preds, _ = state.scorers[name].score_now(rows)
            body: dict[str, Any] = {"predictions": preds}
            status = 200
        except Exception as exc:
            status, body = 500, {"error_code": "SHADOW_ERROR", "message": str(exc)}
            self.metrics.error(state.cfg.name, name, model.version, "shadow")
        seconds = time.perf_counter() - start
        self.metrics.observe(state.cfg.name, name, model.version, status, seconds, len(rows))
        if self.log is not None:
            self.log.append(
                request_id=uuid.uuid4().hex,
                client_request_id=client_id,
                endpoint=state.cfg.name,
                served_entity=name,
                model_name=model.model_name,
                model_version=model.version,
                status_code=status,
                execution_time_ms=seconds * 1000,
                request=orjson.dumps(rows).decode(),
                response=orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY).decode(),
                num_rows=len(rows),
                is_shadow=True,
            )

    def health(self) -> dict[str, Any]:
        state = self.state
        return {
            "status": "ok",
            "endpoint": state.cfg.name,
            "served_entities": [
                {"name": m.name, "model_name": m.model_name, "model_version": m.version}
                for m in state.models.values()
            ],
            "routes": {
                r.served_model_name: r.traffic_percentage for r in state.cfg.traffic_config.routes
            },
            "shadow": state.cfg.routing.shadow,
        }

    def close(self) -> None:
        """Finish shadow work, flush the inference log, close the online store."""
        self._shadow.shutdown(wait=True)
        if self.log is not None:
            self.log.close()
        self.state.close()


def _error_body(status: int, message: str) -> dict[str, Any]:
    code = "REQUEST_LIMIT_EXCEEDED" if status == 413 else "BAD_REQUEST"
    return {"error_code": code, "message": message}


def _error_answer(
    status: int, code: str, message: str, headers: list[tuple[str, str]] | None = None
) -> Answer:
    return status, orjson.dumps({"error_code": code, "message": message}), headers or []


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps({"error_code": code, "message": message}),
        status_code=status,
        media_type=JSON,
        headers=headers,
    )


def _model_error(exc: Exception) -> tuple[int, dict[str, Any]]:
    # MLflow's schema enforcement rejects inputs the model cannot take: that is bad input.
    from mlflow.exceptions import MlflowException

    if isinstance(exc, MlflowException):
        return 400, {"error_code": "BAD_REQUEST", "message": f"model input: {exc.message}"}
    return 500, {"error_code": "INTERNAL_ERROR", "message": f"{type(exc).__name__}: {exc}"}


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
    serving = ServingApp(cfg, config_path, overrides)

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
        openapi_extra={"requestBody": INVOCATION_BODY},
        responses={200: INVOCATION_RESPONSE, **ERROR_RESPONSES},
        summary="Score rows with the endpoint's served models",
    )
    async def invocations(name: str, request: Request) -> Response:
        # Documents the route; `InvocationMiddleware` answers these requests before routing.
        status, content, headers = await serving.invoke(
            name, request.headers, asgi_body_reader(request.headers, request.receive)
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


async def _reload_quietly(serving: ServingApp) -> None:
    import sys

    try:
        await asyncio.to_thread(serving.reload)
        print(f"churnops serve: reloaded {serving.config_path}", file=sys.stderr)
    except Exception as exc:
        print(
            f"churnops serve: reload refused, the old config keeps serving: {exc}", file=sys.stderr
        )
