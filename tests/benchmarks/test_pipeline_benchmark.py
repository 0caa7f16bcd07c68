"""The pipeline benchmark's rows on small jobs of sample tasks."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from churnops.benchmarks import pipeline
from tests.pipelines.conftest import job, write_spec


def test_rows_are_tasks_then_total_and_overhead(tmp_path: Path, monkeypatch) -> None:
    spec = job(
        "bench",
        [
            {"task_key": "a", "task": "add", "parameters": {"a": 1, "b": 2}},
            {"task_key": "b", "depends_on": [{"task_key": "a"}], "task": "add",
             "parameters": {"a": "{{tasks.a.values.total}}", "b": 2}},
        ],
    )  # fmt: skip
    capture = _Capture()  # the rows, without writing docs/results/
    monkeypatch.setattr(pipeline, "write_results", capture)
    assert pipeline.main(["--job", str(write_spec(tmp_path, spec))]) == 0
    rows = {r["task"]: r for r in capture.rows}
    assert list(rows) == ["a", "b", "total", "overhead", "overhead_per_task"]
    tasks = rows["a"]["seconds"] + rows["b"]["seconds"]
    # One after the other: the total covers both processes and the runner's time between them.
    assert 0 < rows["overhead"]["seconds"] <= rows["total"]["seconds"] - tasks + 0.01
    assert abs(rows["overhead_per_task"]["seconds"] * 2 - rows["overhead"]["seconds"]) < 0.003
    json.dumps(capture.rows)  # the JSON page can hold them


def test_overhead_stays_honest_when_tasks_run_side_by_side(tmp_path: Path, monkeypatch) -> None:
    spec = job(
        "bench_parallel",
        [{"task_key": k, "task": "sleep", "parameters": {"seconds": 1.5}} for k in ("a", "b")],
    )
    capture = _Capture()
    monkeypatch.setattr(pipeline, "write_results", capture)
    assert pipeline.main(["--job", str(write_spec(tmp_path, spec)), "--parallel", "2"]) == 0
    rows = {r["task"]: r["seconds"] for r in capture.rows}
    # Side by side: the tasks' seconds add up to more than the total, and the overhead is
    # still the positive time no task ran (a total-minus-sum formula would go negative).
    assert rows["a"] + rows["b"] > rows["total"]
    assert 0 < rows["overhead"] < rows["total"] - 1.5


def test_busy_seconds_counts_overlapping_time_once() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)

    def span(a: float, b: float) -> tuple[datetime, datetime]:
        return t0 + timedelta(seconds=a), t0 + timedelta(seconds=b)

    assert pipeline.busy_seconds([]) == 0
    assert pipeline.busy_seconds([span(0, 2), span(1, 3)]) == 3  # overlap counted once
    assert pipeline.busy_seconds([span(4, 5), span(0, 1)]) == 2  # a gap is not busy
    assert pipeline.busy_seconds([span(0, 5), span(1, 2), span(6, 7)]) == 6  # nested


class _Capture:
    def __call__(self, name, rows, columns, title, notes=()):
        self.name, self.rows, self.notes = name, rows, notes
