"""The pipeline benchmark's rows on a small job of sample tasks."""

from __future__ import annotations

import json
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
    assert list(rows) == [
        "a", "b", "total", "overhead", "overhead_per_task", "overhead_records_imports",
    ]  # fmt: skip
    tasks = rows["a"]["seconds"] + rows["b"]["seconds"]
    assert abs(rows["total"]["seconds"] - tasks - rows["overhead"]["seconds"]) < 0.01
    assert rows["overhead"]["seconds"] > 0  # sequential: the total covers both processes
    json.dumps(capture.rows)  # the JSON page can hold them


class _Capture:
    def __call__(self, name, rows, columns, title, notes=()):
        self.name, self.rows = name, rows
