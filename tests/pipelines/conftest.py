"""Fixtures for the runner tests: a records home and job specs over tests' sample tasks."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
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
