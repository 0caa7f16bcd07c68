"""The records table: latest row per (run, task), ordering, compaction, dead runners."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from churnops.data.delta_tables import open_table
from churnops.pipelines.records import RUNNER_DIED, Record, RunRecords, runner_identity


@pytest.mark.parametrize("where", ["local", "s3"])
def test_latest_row_wins_and_compaction_keeps_the_view(tmp_path: Path, where, request) -> None:
    # On s3:// (moto's S3 server) the table is remote and the runner's lock file stays local.
    table = f"{request.getfixturevalue('s3_storage').root}/records" if where == "s3" else None
    records = RunRecords(tmp_path, table=table)
    for state in ("RUNNING", "FAILED", "RUNNING"):  # one commit per state change
        records.append(Record(run_id="r1", job="j", task_key="t", state=state))
    records.append(  # one commit holding two rows: the order within it counts too
        Record(run_id="r1", job="j", task_key="t", state="SUCCESS", outputs={"x": 1}),
        Record(run_id="r1", job="j", task_key="", state="SUCCESS", **runner_identity()),
    )
    before = records.run("r1")
    assert before.tasks["t"].state == "SUCCESS" and before.tasks["t"].outputs == {"x": 1}

    assert records.compact() == 4  # four commit files became one
    assert len(open_table(records.path).file_uris()) == 1
    after = records.run("r1")
    assert after.tasks["t"].state == "SUCCESS" and after.run.state == "SUCCESS"


def test_an_active_run_whose_runner_is_gone_shows_as_died(tmp_path: Path) -> None:
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    identity = {**runner_identity(), "runner_pid": int(gone.stdout), "runner_started": 1}
    records = RunRecords(tmp_path)
    records.append(Record(run_id="r", job="j", task_key="", state="RUNNING", **identity))
    records.append(Record(run_id="alive", job="j", task_key="", state="RUNNING",
                          **runner_identity()))  # fmt: skip
    states = {r.run_id: r.display_state for r in records.runs("j")}
    assert states == {"r": RUNNER_DIED, "alive": "RUNNING"}
