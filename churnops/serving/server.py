"""Run the endpoint: `serve` in the foreground (SIGHUP reloads, SIGTERM drains and flushes), or
`ServingServer` in a background thread on a free loopback port for tests, the demo and benchmarks.
"""

from __future__ import annotations

import gc
import socket
import threading
import time
from pathlib import Path
from typing import Any

from churnops.config import build_config
from churnops.serving.config import EndpointConfig, ServerConfig, load_endpoint_config


def _uvicorn_config(app: Any, host: str, port: int) -> Any:
    import uvicorn

    # uvloop and httptools: the C event loop and parser; no access log on the hot path.
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=30,
    )


def freeze_heap() -> None:
    """Move every object alive now out of the garbage collector's sight.

    MLflow, sklearn and the loaded models are about half a million long-lived objects; a full
    collection walks all of them (0.2 to 0.6 s on a 2-core machine), a pause that lands on
    whichever request is in flight. Frozen, they are never walked again. Call once, in the
    serving process, after the models are loaded.
    """
    gc.collect()
    gc.freeze()


def serve(
    config: str | Path | EndpointConfig,
    host: str | None = None,
    port: int | None = None,
    overrides: list[str] = (),  # type: ignore[assignment]
) -> None:
    """Serve the endpoint until SIGINT/SIGTERM; in-flight requests finish and the log flushes.

    With a config path, SIGHUP and `POST /-/reload` re-read it (with the same overrides).
    """
    import uvicorn

    from churnops.serving.app import create_app

    if isinstance(config, EndpointConfig):
        cfg, path = config, None
    else:
        cfg, path = load_endpoint_config(config, overrides), config
    # --host/--port are checked as the YAML's `server` is (uvicorn would wrap port 99999).
    listen = {"host": host or cfg.server.host, "port": cfg.server.port if port is None else port}
    server = build_config(ServerConfig, listen, source="--host/--port")
    host, port = server.host, server.port
    app = create_app(cfg, path, overrides)
    freeze_heap()
    print(
        f"churnops serve: {cfg.name} on http://{host}:{port}/serving-endpoints/{cfg.name}/invocations"
    )
    uvicorn.Server(_uvicorn_config(app, host, port)).run()


class ServingServer:
    """The endpoint on a free 127.0.0.1 port in a background thread.

    Use as a context manager; `stop()` shuts down gracefully (in-flight requests finish, the
    inference log is flushed).
    """

    def __init__(self, config: str | Path | EndpointConfig):
        from churnops.serving.app import create_app

        self.app = create_app(config)
        self.serving = self.app.state.serving
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self, timeout: float = 30.0) -> ServingServer:
        import uvicorn

        self._server = uvicorn.Server(_uvicorn_config(self.app, "127.0.0.1", self.port))
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"serving: the server on port {self.port} did not start")
            time.sleep(0.02)
        return self

    def stop(self, timeout: float = 60.0) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout)
            self._server = None
        self._sock.close()

    def __enter__(self) -> ServingServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
