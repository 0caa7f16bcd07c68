"""A run's rows in the records table: the run row at each of its states and every task's state
changes, held and committed once per pass of the runner's loop (one append, one Delta commit).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from churnops.pipelines.records import RUN_ROW, Record, RunRecords, runner_identity
from churnops.pipelines.spec import JobSpec


@dataclass
class TaskResult:
    """How one task of a run ended (or where it stands)."""

    task_key: str
    state: str = "PENDING"
    attempt: int = 0
    start_time: datetime | None = None
    end_time: datetime | None = None
    seconds: float | None = None
    error: str | None = None
    outputs: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, Any] = field(default_factory=dict)
    log_path: str | None = None
    pid: int | None = None  # the last attempt's process


class RunJournal:
    """The records of one execution (or repair) of a run, written through `records`."""

    def __init__(
        self,
        records: RunRecords,
        spec: JobSpec,
        run_id: str,
        params: dict[str, str],
        spec_dir: Path,
        *,
        repair: int,
        trigger: str,
        start: datetime,
    ):
        self.records, self.spec, self.run_id, self.params = records, spec, run_id, params
        self.spec_dir, self.repair, self.trigger, self.start = spec_dir, repair, trigger, start
        self.identity = runner_identity()
        self.pending: list[Record] = []  # state changes not yet committed

    def run_row(self, state: str, **extra: Any) -> Record:
        """The run's own row (`task_key` RUN_ROW) in `state`, with its spec to repair from."""
        return Record(
            run_id=self.run_id, job=self.spec.name, task_key=RUN_ROW, state=state,
            repair=self.repair, start_time=self.start, parameters=self.params,
            trigger=self.trigger, spec=self.spec.model_dump(mode="json", exclude_defaults=True),
            spec_dir=str(self.spec_dir), **self.identity, **extra,
        )  # fmt: skip

    def hold(self, record: Record) -> None:
        """Keep `record` for the next flush."""
        self.pending.append(record)

    def task_row(
        self,
        key: str,
        res: TaskResult,
        state: str,
        attempt: int,
        error: str | None = None,
        final: bool = False,
    ) -> None:
        """Hold a task's change to `state`; a final one stamps the task's end time."""
        if final:
            res.end_time = datetime.now(UTC)
        self.hold(
            Record(
                run_id=self.run_id,
                job=self.spec.name,
                task_key=key,
                state=state,
                repair=self.repair,
                attempt=attempt,
                start_time=res.start_time,
                end_time=res.end_time if final else None,
                seconds=res.seconds if final else None,
                error=error,
                outputs=res.outputs if state == "SUCCESS" else {},
                parameters=res.inputs,
                log_path=res.log_path,
                trigger=self.trigger,
                **self.identity,
            )
        )

    def flush(self) -> None:
        """Commit the state changes held since the last flush as one append."""
        if self.pending:
            self.records.append(*self.pending)
            self.pending.clear()
