"""Fixtures for the runner tests: a records home and job specs over tests' sample tasks."""

from __future__ import annotations

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
