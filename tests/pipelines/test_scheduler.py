"""The scheduler's decisions on a given clock, and one real firing through the CLI."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from churnops.config import ConfigError
from churnops.pipelines.records import RunRecords
from churnops.pipelines.scheduler import Scheduler
from tests.pipelines.conftest import job, wait_for, write_spec

HOURLY = {"quartz_cron_expression": "0 0 * * * ?", "timezone_id": "UTC"}


def at(hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2024, 5, 1, hour, minute, second, tzinfo=UTC)


def hourly(**schedule: str):
    return job(
        "hourly",
        [{"task_key": "t", "task": "add", "parameters": {"a": 1, "b": 1}}],
        schedule={**HOURLY, **schedule},
    )


def test_fires_on_time_and_remembers_across_restarts(home: Path) -> None:
    sched = Scheduler(hourly(), home)
    assert sched.tick(at(9, 30)).run == []  # a first start looks forward only
    assert sched.tick(at(9, 59, 59)).run == []
    assert sched.tick(at(10, 0, 1)).run == [at(10)]
    assert sched.tick(at(10, 0, 2)).run == []  # handled once
    assert Scheduler(hourly(), home).tick(at(11, 0, 0)).run == [at(11)]  # state survives


def test_missed_firings_are_skipped_by_default(home: Path) -> None:
    sched = Scheduler(hourly(), home)
    sched.tick(at(9, 30))
    tick = sched.tick(at(13, 20))  # down from 09:30 to 13:20: 10, 11, 12 and 13 missed
    assert tick.run == []
    assert tick.missed == [at(10), at(11), at(12), at(13)]
    assert sched.next_firing(at(13, 20)) == at(14)


def test_missed_firings_run_once_when_asked(home: Path) -> None:
    sched = Scheduler(hourly(), home, missed="run_once")
    sched.tick(at(9, 30))
    tick = sched.tick(at(13, 20))
    assert tick.run == [at(13)]  # one run for all of them, not four
    assert tick.missed == [at(10), at(11), at(12)]
    assert sched.tick(at(13, 21)).run == []


def test_an_on_time_firing_runs_and_older_ones_are_missed(home: Path) -> None:
    sched = Scheduler(hourly(), home, missed="run_once")
    sched.tick(at(9, 30))
    tick = sched.tick(at(12, 0, 5))
    assert tick.run == [at(12)] and tick.missed == [at(10), at(11)]


def test_serve_sleeps_to_the_next_firing_and_launches(home: Path) -> None:
    clock = [at(9, 59, 50)]
    launched: list[datetime] = []

    def sleep(seconds: float) -> None:
        clock[0] += timedelta(seconds=seconds)

    sched = Scheduler(hourly(), home)
    n = sched.serve(launched.append, max_runs=2, clock=lambda: clock[0], sleep=sleep)
    assert n == 2 and launched == [at(10), at(11)]


def test_paused_or_missing_schedule_is_refused(home: Path) -> None:
    with pytest.raises(ConfigError, match="pause_status is PAUSED"):
        Scheduler(hourly(pause_status="PAUSED"), home)
    no_schedule = job("plain", [{"task_key": "t", "task": "add", "parameters": {"a": 1, "b": 1}}])
    with pytest.raises(ConfigError, match="has no schedule"):
        Scheduler(no_schedule, home)
    with pytest.raises(ConfigError, match="missed='later'"):
        Scheduler(hourly(), home, missed="later")  # type: ignore[arg-type]


@pytest.mark.slow  # a real firing: the CLI's scheduler starts a run process
def test_schedule_command_starts_a_recorded_run(home: Path, tmp_path: Path) -> None:
    spec = hourly(quartz_cron_expression="* * * * * ?")  # every second
    path = write_spec(tmp_path, spec)
    cmd = [sys.executable, "-m", "churnops.cli", "pipeline", "schedule", str(path)]
    subprocess.run([*cmd, "--home", str(home), "--max-runs", "1"], check=True, timeout=120)
    records = RunRecords(home)
    run = wait_for(lambda: [r for r in records.runs("hourly") if r.state == "SUCCESS"], "the run")
    assert run[0].trigger == "SCHEDULE"
