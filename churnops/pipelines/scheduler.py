"""A foreground scheduler: fires a job on its Quartz schedule, each run in its own process.

Missed firings (the scheduler was down, or the machine slept) follow a policy, `missed`:
`skip` (the default, as Databricks does: no catch-up, the next run is the next firing time) or
`run_once` (one run now for all the missed firings together, never one per firing). A firing
counts as on time within `grace_seconds` of its time; later, it is missed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from churnops.config import ConfigError
from churnops.pipelines.quartz import QuartzCron, parse_quartz
from churnops.pipelines.spec import JobSpec, PauseStatus

MissedPolicy = Literal["skip", "run_once"]
MISSED_POLICIES = ("skip", "run_once")


@dataclass
class Tick:
    """What one look at the clock decided: runs to start now and firings given up."""

    now: datetime
    run: list[datetime]
    missed: list[datetime]


class Scheduler:
    """Decides when a job runs from its schedule; remembers the last firing in `home`.

    Args:
        spec: a job spec with a `schedule`.
        home: the pipelines home; the last firing lives in `home/schedules/JOB.json`.
        missed: what to do with firings missed while no scheduler ran (see the module doc).
        grace_seconds: how late a firing may be handled and still count as on time.
    """

    def __init__(
        self,
        spec: JobSpec,
        home: str | Path,
        missed: MissedPolicy = "skip",
        grace_seconds: float = 60.0,
    ):
        if spec.schedule is None:
            raise ConfigError(f"job {spec.name!r}: has no schedule to run on")
        if spec.schedule.pause_status == PauseStatus.PAUSED:
            raise ConfigError(f"job {spec.name!r}: schedule.pause_status is PAUSED")
        if missed not in MISSED_POLICIES:
            raise ConfigError(f"missed={missed!r}: expected one of {MISSED_POLICIES}")
        self.spec, self.missed_policy, self.grace = spec, missed, timedelta(seconds=grace_seconds)
        self.cron: QuartzCron = parse_quartz(
            spec.schedule.quartz_cron_expression, spec.schedule.timezone_id
        )
        self.state_path = Path(home) / "schedules" / f"{spec.name}.json"

    def last_firing(self) -> datetime | None:
        if not self.state_path.is_file():
            return None
        return datetime.fromisoformat(json.loads(self.state_path.read_text())["last_firing"])

    def _remember(self, when: datetime) -> None:
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"last_firing": when.isoformat()}))
        tmp.replace(self.state_path)

    def tick(self, now: datetime) -> Tick:
        """The firings due at `now` since the last one handled, split into run and missed."""
        last = self.last_firing()
        if last is None:  # a first start looks forward only
            self._remember(now)
            return Tick(now, [], [])
        fires = list(self.cron.firings(last, now))
        if not fires:
            return Tick(now, [], [])
        on_time = [f for f in fires if now - f <= self.grace][-1:]
        missed = [f for f in fires if f not in on_time]
        run = on_time
        if not on_time and missed and self.missed_policy == "run_once":
            run, missed = missed[-1:], missed[:-1]
        self._remember(fires[-1])
        return Tick(now, run, missed)

    def next_firing(self, now: datetime) -> datetime | None:
        return self.cron.next_after(max(now, self.last_firing() or now))

    def serve(
        self,
        launch: Callable[[datetime], object],
        on_tick: Callable[[Tick], None] = lambda tick: None,
        max_runs: int | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] = time.sleep,
    ) -> int:
        """Loop until interrupted (or `max_runs` launched): sleep to the next firing, launch.

        Returns:
            How many runs were launched.
        """
        launched = 0
        while max_runs is None or launched < max_runs:
            tick = self.tick(clock())
            for fire in tick.run:
                launch(fire)
                launched += 1
            if tick.run or tick.missed:
                on_tick(tick)
            upcoming = self.next_firing(clock())
            if upcoming is None:
                break
            # Wake at the firing, but at least once a minute: a clock change is noticed.
            sleep(min(max((upcoming - clock()).total_seconds(), 0.0), 60.0) + 0.01)
        return launched


def launch_run_process(spec_path: str | Path, home: str | Path, fire: datetime) -> int:
    """Start `churnops pipeline run` for a firing in its own process (not waited for); the run's
    own claim applies max_concurrent_runs. Returns the process id."""
    logs = Path(home) / "schedules" / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    name = Path(spec_path).stem
    cmd = [sys.executable, "-m", "churnops.cli", "pipeline", "run", str(spec_path)]
    cmd += ["--home", str(home), "--trigger", "SCHEDULE"]
    with open(logs / f"{name}-{fire:%Y%m%dT%H%M%S}.log", "ab") as log:
        proc = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # a run outlives a stopped scheduler, as a job run would
        )
    return proc.pid
