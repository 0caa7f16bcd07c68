"""The endpoint core, without any web framework: the loaded state, invocations, reload.

`Endpoint` holds an immutable `EndpointState` (config, loaded models, router, lookups, auth);
a reload builds a new state off the event loop and swaps one reference, so requests in flight
finish on the state they started with and none is dropped; the old state's online store is
closed when its last request is done. A config that does not load is refused and the old state
keeps serving.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from churnops.config import ConfigError, mask_secrets
from churnops.data.feature_store.config import get_online_store
from churnops.data.feature_store.online import OnlineStore
from churnops.serving.auth import BearerAuth
from churnops.serving.batching import RowScorer
from churnops.serving.config import (
    AuthConfig,
    EndpointConfig,
    load_endpoint_config,
    restart_only_changes,
)
from churnops.serving.errors import Answer, RequestError, error_answer, error_body, model_error
from churnops.serving.inference_log import InferenceLogError, InferenceLogWriter
from churnops.serving.log_handover import LogHandover
from churnops.serving.lookup import FeatureLookupSpec, OnlineFeatureLookup
from churnops.serving.metrics import ServingMetrics
from churnops.serving.payload import parse_payload
from churnops.serving.routing import TrafficRouter
from churnops.serving.served import ServedModel

_JSON_TYPES = ("application/json",)

# Reads a request's body, at most the given number of bytes (over it: a 413 RequestError); the
# front end supplies it (`invocations.asgi_body_reader`).
BodyReader = Callable[[int], Awaitable[bytes]]


MAX_CLIENT_REQUEST_ID = 256  # characters of a client's X-Request-Id kept and echoed


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
    # The one lookup every served model reads by (None: they read different tables): a request
    # whose customers go to several models is completed by one store read before it splits.
    shared_lookup: OnlineFeatureLookup | None = None
    # The inference log this state's requests journal to (None: off), and what closing the
    # state tells the `LogHandover`: a reload that switches the log off drains it after them.
    log: InferenceLogWriter | None = None
    on_close: Callable[[], None] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _users: int = 0
    _retired: bool = False
    closed: bool = False

    def acquire(self) -> bool:
        """Count a request in; False when the state was retired and closed meanwhile."""
        with self._lock:
            if self.closed:
                return False
            self._users += 1
            return True

    def release(self) -> None:
        with self._lock:
            self._users -= 1
            last = self._retired and self._users == 0
        if last:
            self.close()

    def retire(self) -> None:
        """Close once no request uses this state any more (now, when none does)."""
        with self._lock:
            self._retired = True
            idle = self._users == 0
        if idle:
            self.close()

    def close(self) -> None:
        with self._lock:
            if self.closed:
                return
            self.closed = True
        if self.store is not None:
            self.store.close()
        if self.on_close is not None:
            self.on_close()


def build_state(cfg: EndpointConfig, previous: EndpointState | None = None) -> EndpointState:
    """Load every served model (reusing the previous state's where the version is the same).

    Raises:
        ConfigError: the online store or its table is not there (nothing is created).
    """
    import mlflow
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    if cfg.tracking_uri:
        _check_tracking_uri(cfg.tracking_uri)
        mlflow.set_tracking_uri(cfg.tracking_uri)
        mlflow.set_registry_uri(cfg.tracking_uri)
    client = MlflowClient()
    old = {m.uri: m for m in previous.models.values()} if previous else {}
    models: dict[str, ServedModel] = {}
    for entity in cfg.served_entities:
        version = entity.entity_version
        try:
            if entity.alias is not None:  # resolved once, here
                alias = client.get_model_version_by_alias(entity.entity_name, entity.alias)
                version = alias.version
            reuse = old.get(f"models:/{entity.entity_name}/{version}")
            if reuse is not None:
                models[entity.name] = reuse.renamed(entity.name)
            else:
                models[entity.name] = ServedModel.load(entity, client, version)
        except MlflowException as exc:  # no such model, version or alias: the user's to fix
            raise ConfigError(
                f"served_entities[{entity.name!r}]: {entity.model_uri} cannot be loaded from "
                f"the registry {mask_secrets(mlflow.get_registry_uri())}: {exc.message}"
            ) from None
    auth = BearerAuth.from_config(cfg.auth)
    state = EndpointState(cfg, models, TrafficRouter.from_config(cfg), auth)
    if cfg.feature_lookup.enabled:
        specs = {name: _lookup_spec(cfg, model) for name, model in models.items()}
        tables = sorted({t for spec in specs.values() for t in spec.table_names})
        state.store = open_online_store(cfg, tables)
        for name, model in models.items():
            state.lookups[name] = OnlineFeatureLookup(specs[name], state.store)
            model.share_online_store(state.store)  # the pyfunc's own lookups read the same
        first = next(iter(state.lookups.values()))
        if all(lookup.spec == first.spec for lookup in state.lookups.values()):
            state.shared_lookup = first
    state.scorers = {name: RowScorer(m, state.lookups.get(name)) for name, m in models.items()}
    return state


def _check_tracking_uri(uri: str) -> None:
    """A SQLite registry must exist: opening a mistyped path would create folders and an empty
    MLflow database there, and serve nothing."""
    if not uri.startswith("sqlite:"):
        return
    from sqlalchemy.engine import make_url

    database = make_url(uri).database
    if database and database != ":memory:" and not Path(database).is_file():
        raise ConfigError(
            f"tracking_uri={uri!r}: no SQLite database at {database!r}; expected the MLflow "
            "registry the models were registered in"
        )


def _lookup_spec(cfg: EndpointConfig, model: ServedModel) -> FeatureLookupSpec:
    """The model's own feature-spec lookups where it has them, else the YAML's table."""
    spec = model.feature_spec
    if spec is not None and spec.lookups:
        return FeatureLookupSpec.from_model(spec, cfg.feature_lookup)
    return FeatureLookupSpec.from_config(cfg.feature_lookup, model.columns)


def open_online_store(cfg: EndpointConfig, tables: list[str] | None = None) -> Any:
    """The endpoint's online store, checked to hold its feature tables (default: the YAML's).

    A SQLite path that does not exist is refused before it is opened (opening would create an
    empty database there), and so is a store without the table: either would answer every
    lookup with 503.
    """
    lookup = cfg.feature_lookup
    online = lookup.online
    if online.kind == "sqlite" and not Path(online.path).is_file():
        raise ConfigError(
            f"feature_lookup.online.path={online.path!r}: no such SQLite file; publish the "
            f"feature table {lookup.table!r} there first, or fix the path"
        )
    store = get_online_store(online)
    assert isinstance(store, OnlineStore)  # FeatureLookupConfig allows only sqlite and redis
    try:
        store.info(lookup.table)
    except Exception as exc:
        store.close()
        raise ConfigError(
            f"feature_lookup.online ({online.kind}): cannot be read: {type(exc).__name__}: {exc}"
        ) from None
    absent = [t for t in tables or [lookup.table] if store.info(t) is None]
    if absent:
        store.close()
        raise ConfigError(
            f"feature table(s) {absent}: not published in the online store "
            f"({online.kind}); publish them first (feature_lookup.table={lookup.table!r})"
        )
    return store


class Endpoint:
    """The endpoint behind the HTTP routes; `churnops.serving.app.create_app` wires it to ASGI."""

    def __init__(
        self,
        cfg: EndpointConfig,
        config_path: str | Path | None = None,
        overrides: list[str] = (),  # type: ignore[assignment]
    ):
        self.config_path = Path(config_path) if config_path else None
        self.overrides = list(overrides)
        state = build_state(cfg)
        self.metrics = ServingMetrics()
        try:
            self._logs = LogHandover(_log_writer(cfg))
        except ConfigError:
            state.close()
            raise
        self._attach_log(state, self._logs.current)
        self.state = state
        self.metrics.watch_inference_log(cfg.name, self._log_stats)
        self._shadow = ThreadPoolExecutor(max_workers=1, thread_name_prefix="shadow")
        self._reload_lock = threading.Lock()
        self.acknowledged = 0  # 200 answers sent

    # ---- reload --------------------------------------------------------------------------

    def reload(self, cfg: EndpointConfig | None = None) -> EndpointState:
        """Swap in a new state from `cfg` or the config file; on any error the old one stays.

        Everything but the name, the inference log path and the listening address can change;
        those need a restart (a `ConfigError` says which).
        """
        with self._reload_lock:
            if cfg is None:
                if self.config_path is None:
                    raise ConfigError("reload: the server was started without a config file")
                cfg = load_endpoint_config(self.config_path, self.overrides)
            old = self.state
            fixed = restart_only_changes(old.cfg, cfg)
            if fixed:
                raise ConfigError(
                    f"reload: cannot change {'; '.join(fixed)} while serving; restart"
                )
            new = build_state(cfg, previous=old)
            capture = cfg.auto_capture_config
            try:
                log = self._logs.next_writer(capture.enabled, lambda: _log_writer(cfg))
            except ConfigError:
                new.close()
                raise
            if log is not None:
                log.batch_rows = capture.batch_rows
                log.flush_seconds = capture.flush_seconds
                log.fsync = capture.journal_fsync
                log.hidden_env = _token_variables(cfg)
            self._attach_log(new, log)
            self._logs.switch(log)
            self.state = new  # one reference swap: requests in flight keep their state and log
            old.retire()
            return new

    def _attach_log(self, state: EndpointState, log: InferenceLogWriter | None) -> None:
        self._logs.hold(log)
        state.log = log
        state.on_close = lambda: self._logs.release(log)

    @property
    def log(self) -> InferenceLogWriter | None:
        """The inference log new requests journal to (None: off)."""
        return self._logs.current

    def _log_stats(self) -> dict[str, int] | None:
        log = self.log
        return log.stats() if log is not None else None

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
        while not state.acquire():  # retired and closed between the read and the count
            state = self.state
        try:
            return await self._invoke(state, name, headers, read_body, start)
        except Exception as exc:  # a bug: still a JSON answer, and counted
            self.metrics.observe(state.cfg.name, "", "", 500, time.perf_counter() - start, 0)
            self.metrics.error(state.cfg.name, "", "", "server")
            return error_answer(500, "INTERNAL_ERROR", f"{type(exc).__name__}: {exc}")
        finally:
            state.release()

    async def _invoke(
        self,
        state: EndpointState,
        name: str,
        headers: Mapping[str, str],
        read_body: BodyReader,
        start: float,
    ) -> Answer:
        cfg = state.cfg
        request_id = uuid.uuid4().hex
        client_id = headers.get("x-request-id")
        too_long = client_id is not None and len(client_id) > MAX_CLIENT_REQUEST_ID
        if too_long:
            client_id = None  # neither echoed nor logged
        # The client's id echoed (ours when it sent none); ours is the log's request id.
        echo = [("x-request-id", client_id or request_id), ("x-churnops-request-id", request_id)]
        refusal = self._refuse(state, name, headers)
        if refusal is None and too_long:
            refusal = error_answer(
                400,
                "INVALID_PARAMETER_VALUE",
                f"X-Request-Id: {len(headers['x-request-id'])} characters, expected at most "
                f"{MAX_CLIENT_REQUEST_ID}",
            )
        if refusal is not None:
            status, content, extra = refusal
            self.metrics.observe(cfg.name, "", "", status, time.perf_counter() - start, 0)
            self.metrics.error(cfg.name, "", "", "bad_request")
            return status, content, extra + echo
        groups: dict[str, list[int]] = {}
        rows: list[dict[str, Any]] = []
        preds: list[Any] = []
        try:
            body = await read_body(cfg.limits.max_body_bytes)
            payload = parse_payload(body, cfg.limits.max_rows)
            rows = payload.rows
            groups = self._route(state, headers, rows)
            params = {}
            for served, idx in groups.items():  # every check before any scoring
                model = state.models[served]
                model.check_types([rows[i] for i in idx])
                params = model.check_params(payload.params)
            preds = [None] * len(rows)
            missing: list[str | None] = []
            if len(groups) > 1 and state.shared_lookup is not None:
                # One store read for every customer, not one per model the request reaches.
                missing = state.shared_lookup.complete(rows)
            for served, idx in groups.items():
                if any(missing):  # unknown keys (on_missing: error) answer as unsplit, unscored
                    unknown_rows = [i for i in idx if missing[i] is not None]
                    for i in unknown_rows:
                        preds[i] = {"error": missing[i]}
                    idx = [i for i in idx if missing[i] is None]
                    self._count_unknown(state, served, len(unknown_rows))
                    if not idx:
                        continue
                part = [rows[i] for i in idx]
                out, unknown = await state.scorers[served].score(part, params)
                self._count_unknown(state, served, unknown)
                for j, i in enumerate(idx):
                    rows[i] = part[j]  # completed by the lookup, for the log
                    preds[i] = out[j]
            status = 200
            body_out: dict[str, Any] = {"predictions": preds}
        except RequestError as exc:
            status, body_out = exc.status, error_body(exc.status, str(exc))
        except LookupError as exc:  # the online table went away: the server's fault
            status, body_out = 503, {"error_code": "TEMPORARILY_UNAVAILABLE", "message": str(exc)}
        except Exception as exc:
            status, body_out = model_error(exc)
        if status != 200:
            groups = {}
        content = self._answer_body(state, body_out, groups, len(rows))
        seconds = time.perf_counter() - start
        error_kind = "bad_request" if status < 500 else "server"
        try:
            self._journal(
                state, request_id, client_id, status, seconds, rows, preds, groups, content
            )
        except InferenceLogError as exc:  # not journalled: not acknowledged either
            status, groups, error_kind = 503, {}, "inference_log"
            message = f"{exc}; the request was not acknowledged: retry"
            content = orjson.dumps({"error_code": "TEMPORARILY_UNAVAILABLE", "message": message})
        self._observe(state, status, seconds, groups, error_kind)
        if status == 200:
            self.acknowledged += 1
            shadow = cfg.routing.shadow
            if shadow and shadow not in groups:
                self._shadow.submit(
                    self._run_shadow, state, shadow, [dict(r) for r in rows], client_id
                )
        out_headers = echo
        if groups:
            versions = [state.models[s].version for s in groups]
            out_headers.append(("x-churnops-served-entity", ",".join(groups)))
            out_headers.append(("served-model-name", ",".join(groups)))  # as Databricks sends
            out_headers.append(("x-churnops-model-version", ",".join(versions)))
        return status, content, out_headers

    @staticmethod
    def _answer_body(
        state: EndpointState, body_out: dict[str, Any], groups: dict[str, list[int]], n: int
    ) -> bytes:
        """The answer's JSON: with the served model(s) that answered, if any."""
        served_names = list(groups)
        if len(served_names) == 1:
            model = state.models[served_names[0]]
            body_out |= {
                "served_entity": model.name,
                "model_name": model.model_name,
                "model_version": model.version,
            }
        elif served_names:  # rows of one request routed to several models, customer by customer
            owner = {i: s for s, idx in groups.items() for i in idx}
            body_out["served_entities"] = [owner[i] for i in range(n)]
            body_out["model_versions"] = [state.models[owner[i]].version for i in range(n)]
        return orjson.dumps(body_out, option=orjson.OPT_SERIALIZE_NUMPY)

    def _count_unknown(self, state: EndpointState, served: str, n: int) -> None:
        if n:
            version = state.models[served].version
            self.metrics.error(state.cfg.name, served, version, "unknown_key", n)

    def _refuse(self, state: EndpointState, name: str, headers: Mapping[str, str]) -> Answer | None:
        cfg = state.cfg
        if name != cfg.name:
            return error_answer(
                404, "RESOURCE_DOES_NOT_EXIST", f"endpoint {name!r} not found; serving {cfg.name!r}"
            )
        if not state.auth.allows(headers.get("authorization")):
            return error_answer(
                401,
                "UNAUTHENTICATED",
                "missing or invalid bearer token",
                [("www-authenticate", "Bearer")],
            )
        media = headers.get("content-type", "").partition(";")[0].strip().lower()
        if media not in _JSON_TYPES:
            return error_answer(
                415,
                "UNSUPPORTED_MEDIA_TYPE",
                f"Content-Type={media or '(none)'!r}: expected application/json",
            )
        return None

    def _observe(
        self,
        state: EndpointState,
        status: int,
        seconds: float,
        groups: dict[str, list[int]],
        error_kind: str,
    ) -> None:
        """Metrics: the answer per served model it came from (an error: from none)."""
        cfg = state.cfg
        if status != 200:
            self.metrics.observe(cfg.name, "", "", status, seconds, 0)
            self.metrics.error(cfg.name, "", "", error_kind)
            return
        for served, idx in groups.items():
            model = state.models[served]
            self.metrics.observe(cfg.name, served, model.version, 200, seconds, len(idx))

    def _journal(
        self,
        state: EndpointState,
        request_id: str,
        client_id: str | None,
        status: int,
        seconds: float,
        rows: list[dict[str, Any]],
        preds: list[Any],
        groups: dict[str, list[int]],
        content: bytes,
    ) -> None:
        """The inference log: one row per served model the request reached, in one write.

        Raises:
            InferenceLogError: the rows were not journalled; the request must not be answered
                as it would have been.
        """
        cfg = state.cfg
        log = state.log  # the state's own: a reload drains it after this request
        if log is None:
            return
        if status != 200:
            row = _log_row(cfg, request_id, client_id, "", None, status, seconds, "", content)
            log.append_many([row])
            return
        entries = []
        for served, idx in groups.items():
            model = state.models[served]
            if len(groups) == 1:
                request, response = orjson.dumps(rows), content
            else:
                request = orjson.dumps([rows[i] for i in idx])
                response = orjson.dumps(
                    {"predictions": [preds[i] for i in idx]}, option=orjson.OPT_SERIALIZE_NUMPY
                )
            entries.append(
                _log_row(
                    cfg, request_id, client_id, served, model, 200, seconds, request.decode(),
                    response, len(idx),
                )
            )  # fmt: skip
        if entries:
            log.append_many(entries)  # one journal write for the request, however it split

    @staticmethod
    def _route(
        state: EndpointState, headers: Mapping[str, str], rows: list[dict[str, Any]]
    ) -> dict[str, list[int]]:
        """Row positions by served entity: the force header for all, else each row's customer."""
        forced = headers.get(state.cfg.routing.force_header.lower())
        if forced is not None:
            if forced not in state.models:
                raise RequestError(
                    f"header {state.cfg.routing.force_header}={forced!r}: expected one of "
                    f"{sorted(state.models)}"
                )
            return {forced: list(range(len(rows)))}
        key = state.cfg.routing.key
        groups: dict[str, list[int]] = {}
        for i, served in enumerate(state.router.choose_many([row.get(key) for row in rows])):
            groups.setdefault(served, []).append(i)
        return groups

    def _run_shadow(
        self, state: EndpointState, name: str, rows: list[dict[str, Any]], client_id: str | None
    ) -> None:
        """Score a copy on the shadow model; its answer is logged (is_shadow) and never sent."""
        if not state.acquire():
            return
        try:
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
            log = state.log
            if log is not None:
                response = orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)
                row = _log_row(
                    state.cfg, uuid.uuid4().hex, client_id, name, model, status, seconds,
                    orjson.dumps(rows).decode(), response, len(rows), is_shadow=True,
                )  # fmt: skip
                try:
                    log.append_many([row])
                except InferenceLogError:  # the log says so; nobody waits for this answer
                    self.metrics.error(state.cfg.name, name, model.version, "inference_log")
        finally:
            state.release()

    def health(self) -> dict[str, Any]:
        """What is served, and "degraded" while the inference log fails (it says how)."""
        state, log = self.state, self.log
        error = log.error if log is not None else None
        return {
            "status": "degraded" if error else "ok",
            "endpoint": state.cfg.name,
            "served_entities": [
                {"name": m.name, "model_name": m.model_name, "model_version": m.version}
                for m in state.models.values()
            ],
            "routes": {
                r.served_model_name: r.traffic_percentage for r in state.cfg.traffic_config.routes
            },
            "shadow": state.cfg.routing.shadow,
            "inference_log": log is not None,
            "inference_log_error": error,
            "inference_log_pending_rows": log.stats()["pending_rows"] if log is not None else 0,
        }

    def close(self) -> None:
        """Finish shadow work, flush the inference log(s), close the online store."""
        self._shadow.shutdown(wait=True)
        self._logs.close()
        self.state.close()


def _log_writer(cfg: EndpointConfig) -> InferenceLogWriter | None:
    """The endpoint's inference log, or None; `ConfigError` if it cannot be kept there."""
    capture = cfg.auto_capture_config
    if not capture.enabled:
        return None
    try:
        return InferenceLogWriter(
            cfg.log_path(),
            capture.batch_rows,
            capture.flush_seconds,
            fsync=capture.journal_fsync,
            hidden_env=_token_variables(cfg),
        )
    except InferenceLogError as exc:
        raise ConfigError(f"auto_capture_config.path={capture.path!r}: {exc}") from None


def _token_variables(cfg: EndpointConfig) -> set[str]:
    """The environment variables bearer tokens may come from: the committer never gets them."""
    return {cfg.auth.tokens_env, AuthConfig.model_fields["tokens_env"].default}


def _log_row(
    cfg: EndpointConfig,
    request_id: str,
    client_id: str | None,
    served: str,
    model: ServedModel | None,
    status: int,
    seconds: float,
    request: str,
    response: bytes,
    num_rows: int = 0,
    is_shadow: bool = False,
) -> dict[str, Any]:
    return InferenceLogWriter.row(
        request_id=request_id,
        client_request_id=client_id,
        endpoint=cfg.name,
        served_entity=served,
        model_name=model.model_name if model else "",
        model_version=model.version if model else "",
        status_code=status,
        execution_time_ms=seconds * 1000,
        request=request,
        response=response.decode(),
        num_rows=num_rows,
        is_shadow=is_shadow,
    )
