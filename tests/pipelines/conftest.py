"""Fixtures for the runner tests: a records home and job specs over tests' sample tasks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from churnops.pipelines.spec import JobSpec, parse_job_spec

TASKS = "tests.pipelines.sample_tasks"


def job(name: str, tasks: list[dict[str, Any]], **fields: Any) -> JobSpec:
    """A job spec over sample tasks (`task: count` means tests.pipelines.sample_tasks:count)."""
    for t in tasks:
        if "task" in t and ":" not in t["task"]:
            t["task"] = f"{TASKS}:{t['task']}"
    return parse_job_spec({"name": name, "tasks": tasks, **fields}, source=f"test job {name}")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "pipelines"


def wait_for(predicate: Callable[[], Any], what: str, timeout: float = 120.0) -> Any:
    """Poll until `predicate()` is truthy; fail naming `what` after `timeout` (a hang guard)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"gave up waiting for {what}")


def write_spec(folder: Path, spec: JobSpec) -> Path:
    """Write a job spec as YAML (what `churnops pipeline run PATH` reads)."""
    import yaml

    path = folder / f"{spec.name}.yaml"
    path.write_text(yaml.safe_dump(spec.model_dump(mode="json", exclude_defaults=True)))
    return path


def start_runner(spec_path: Path, home: Path, *args: str) -> subprocess.Popen[bytes]:
    """`churnops pipeline run` in its own process (a runner a test can kill)."""
    return subprocess.Popen(
        [sys.executable, "-m", "churnops.cli", "pipeline", "run", str(spec_path), "--home",
         str(home), *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `mlflow server`: backend on the local PostgreSQL in a fresh database (dropped
    afterwards), artifacts served by the server. Yields its http:// tracking URI."""
    import urllib.request
    import uuid

    psycopg2 = pytest.importorskip("psycopg2")
    admin = "postgresql://postgres@127.0.0.1:5432/test"
    db = f"churnops_test_{uuid.uuid4().hex[:10]}"
    try:
        conn = psycopg2.connect(admin, connect_timeout=5)
    except psycopg2.OperationalError as exc:
        pytest.fail(f"PostgreSQL at {admin} is not reachable: {exc}")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{db}"')
    folder = tmp_path_factory.mktemp("mlflow-server")
    port = _free_port()
    log = open(folder / "server.log", "wb")  # noqa: SIM115 - open for the server's lifetime
    server = subprocess.Popen(
        [
            sys.executable, "-m", "mlflow", "server",
            # psycopg2 named: SQLAlchemy 2.1 takes plain postgresql:// to mean psycopg 3
            "--backend-store-uri", f"postgresql+psycopg2://postgres@127.0.0.1:5432/{db}",
            "--artifacts-destination", str(folder / "artifacts"), "--serve-artifacts",
            "--host", "127.0.0.1", "--port", str(port),
            "--workers", "1",  # no supervisor: it kills workers slow to start on a busy machine
        ],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    uri = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        if server.poll() is not None:
            pytest.fail(f"mlflow server exited: {(folder / 'server.log').read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{uri}/health", timeout=2) as resp:
                return resp.status == 200
        except OSError:
            return False

    try:
        wait_for(healthy, "mlflow server /health", timeout=180)
        yield uri
    finally:
        try:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()
        with conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        conn.close()
