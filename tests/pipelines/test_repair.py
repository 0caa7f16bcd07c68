"""Repair and crashes: a failed or killed run is finished without redoing its finished tasks."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from churnops.pipelines.records import RUNNER_DIED, RunRecords
from churnops.pipelines.runner import RunRefused, repair_run, run_job
from tests.pipelines.conftest import job, start_runner, wait_for, write_spec


def test_repair_reruns_the_failed_task_and_its_dependents_only(home: Path, tmp_path: Path) -> None:
    calls, marker = tmp_path / "calls.txt", tmp_path / "marker"
    spec = job(
        "repairable",
        [
            {"task_key": "first", "task": "count", "parameters": {"path": str(calls), "value": 4}},
            {"task_key": "gate", "depends_on": [{"task_key": "first"}], "task": "needs_marker",
             "parameters": {"marker": str(marker)}},
            {"task_key": "after", "depends_on": [{"task_key": "gate"}], "task": "add",
             "parameters": {"a": "{{tasks.first.values.value}}", "b": 1}},
        ],
    )  # fmt: skip
    failed = run_job(spec, home=home)
    assert [failed.tasks[k].state for k in ("first", "gate", "after")] == [
        "SUCCESS", "FAILED", "UPSTREAM_FAILED",
    ]  # fmt: skip

    marker.touch()
    repaired = repair_run(failed.run_id, home=home)

    assert repaired.run_id == failed.run_id and repaired.repair == 1
    assert repaired.state == "SUCCESS"
    assert repaired.tasks["after"].outputs["total"] == 5  # the reused task's value
    assert len(calls.read_text().split()) == 1  # `first` ran once, in the original run
    view = RunRecords(home).run(failed.run_id)
    assert view.run.state == "SUCCESS" and view.run.repair == 1
    assert view.tasks["gate"].log_path.endswith("repair-1-attempt-1.log")
    with pytest.raises(ValueError, match="nothing to repair"):
        repair_run(failed.run_id, home=home)


def _blocking_job(tmp_path: Path, name: str, **fields: object):
    calls, block = tmp_path / f"{name}-calls.txt", tmp_path / f"{name}-block"
    spec = job(
        name,
        [
            {"task_key": "first", "task": "count", "parameters": {"path": str(calls)}},
            {"task_key": "slow", "depends_on": [{"task_key": "first"}], "task": "sleep",
             "parameters": {"seconds": 300, "while_exists": str(block),
                            "pid_file": str(tmp_path / f"{name}-pids")}},
            {"task_key": "after", "depends_on": [{"task_key": "slow"}], "task": "add",
             "parameters": {"a": 1, "b": 1}},
        ],
        **fields,
    )  # fmt: skip
    block.touch()
    return spec, calls, block, tmp_path / f"{name}-pids"


@pytest.mark.slow  # a runner in its own process, started and stopped
def test_a_run_killed_mid_task_shows_as_such_and_repairs(home: Path, tmp_path: Path) -> None:
    spec, calls, block, pids = _blocking_job(tmp_path, "killed")
    runner = start_runner(write_spec(tmp_path, spec), home)
    wait_for(pids.exists, "the slow task to start")
    runner.send_signal(signal.SIGKILL)
    runner.wait()

    records = RunRecords(home)
    (run,) = records.runs("killed")
    assert run.display_state == RUNNER_DIED
    assert records.run(run.run_id).tasks["slow"].state == "RUNNING"
    task_pid = int(pids.read_text().split()[0])

    def task_gone() -> bool:
        # Dead, or a zombie whose new parent has not reaped it yet: it runs nothing either way.
        try:
            return Path(f"/proc/{task_pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
        except (FileNotFoundError, ProcessLookupError):
            return True

    wait_for(task_gone, "the orphaned task to die with its runner")

    block.unlink()
    repaired = repair_run(run.run_id, home=home)
    assert repaired.state == "SUCCESS"
    assert repaired.tasks["slow"].state == "SUCCESS" and repaired.tasks["after"].state == "SUCCESS"
    assert len(calls.read_text().split()) == 1  # `first` was not redone


@pytest.mark.slow  # a runner in its own process, started and stopped
def test_a_second_run_is_refused_at_max_concurrent_runs(home: Path, tmp_path: Path) -> None:
    spec, _, block, pids = _blocking_job(tmp_path, "single", max_concurrent_runs=1)
    runner = start_runner(write_spec(tmp_path, spec), home)
    try:
        wait_for(pids.exists, "the first run's slow task to start")
        with pytest.raises(RunRefused, match="max_concurrent_runs=1 reached"):
            run_job(spec, home=home)
        states = sorted(r.state for r in RunRecords(home).runs("single"))
        assert states == ["RUNNING", "SKIPPED"]
    finally:
        block.unlink()
        runner.wait(timeout=120)
    assert runner.returncode == 0


@pytest.mark.slow  # a runner in its own process, started and stopped
def test_a_queued_run_waits_for_the_running_one(home: Path, tmp_path: Path) -> None:
    import threading

    spec, calls, block, pids = _blocking_job(
        tmp_path, "queued", max_concurrent_runs=1, queue={"enabled": True}
    )
    runner = start_runner(write_spec(tmp_path, spec), home)
    wait_for(pids.exists, "the first run's slow task to start")
    outcome: dict[str, object] = {}
    second = threading.Thread(target=lambda: outcome.update(r=run_job(spec, home=home)))
    second.start()
    records = RunRecords(home)
    wait_for(lambda: any(r.state == "QUEUED" for r in records.runs("queued")), "a queued run")
    assert len(calls.read_text().split()) == 1  # the queued run has not started a task
    block.unlink()
    second.join(timeout=180)
    runner.wait(timeout=60)

    first_id = next(r.run_id for r in records.runs("queued") if r.run_id != outcome["r"].run_id)
    assert outcome["r"].state == "SUCCESS"
    assert len(calls.read_text().split()) == 2
    first_end = records.run(first_id).run.end_time
    second_first_task = records.run(outcome["r"].run_id).tasks["first"].start_time
    assert second_first_task >= first_end  # queued, not concurrent


@pytest.mark.slow  # a runner in its own process, interrupted
def test_ctrl_c_cancels_the_run_and_its_tasks(home: Path, tmp_path: Path) -> None:
    spec, _, block, pids = _blocking_job(tmp_path, "interrupted")
    runner = start_runner(write_spec(tmp_path, spec), home)
    wait_for(pids.exists, "the slow task to start")
    runner.send_signal(signal.SIGINT)
    runner.wait(timeout=60)

    records = RunRecords(home)
    (run,) = records.runs("interrupted")
    assert run.display_state == "CANCELED" and "KeyboardInterrupt" in run.error
    assert records.run(run.run_id).tasks["slow"].state == "CANCELED"
    block.unlink()
    assert repair_run(run.run_id, home=home).state == "SUCCESS"
