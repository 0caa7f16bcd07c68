"""A run's journal: rows held until a flush, committed as one append, a final row stamped."""

from datetime import UTC, datetime

from churnops.pipelines.records import RUN_ROW, RunRecords
from churnops.pipelines.run_journal import RunJournal, TaskResult
from churnops.pipelines.spec import parse_job_spec


def test_rows_wait_for_one_flush_and_a_final_row_is_stamped(tmp_path):
    spec = parse_job_spec({"name": "j", "tasks": [{"task_key": "a", "task": "x:y"}]})
    records = RunRecords(tmp_path / "home")
    journal = RunJournal(
        records, spec, "run-1", {"p": "1"}, tmp_path, repair=0, trigger="MANUAL",
        start=datetime.now(UTC),
    )  # fmt: skip
    res = TaskResult(task_key="a", attempt=1, outputs={"x": 1})
    journal.hold(journal.run_row("RUNNING"))
    journal.task_row("a", res, "RUNNING", attempt=1)
    journal.task_row("a", res, "SUCCESS", attempt=1, final=True)
    assert records.runs("j") == []  # nothing committed before the flush
    journal.flush()
    view = records.run("run-1")
    assert view.run.task_key == RUN_ROW and view.run.parameters == {"p": "1"}
    assert view.tasks["a"].state == "SUCCESS" and view.tasks["a"].outputs == {"x": 1}
    assert res.end_time is not None and journal.pending == []
