"""The local job runner: each task in its own process, records at every state change.

`run_job` runs a job spec's DAG with Databricks' semantics (run_if, condition tasks, retries,
timeouts, task values, max_concurrent_runs and queueing); `repair_run` reruns a run's failed
tasks and everything downstream of them, reusing the values of the tasks that finished.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from churnops.config import ConfigError
from churnops.pipelines.attempts import Attempt, attempt_error, attempt_files
from churnops.pipelines.records import (
    ACTIVE_RUN_STATES,
    FAILED_TASK_STATES,
    RunRecords,
    runner_alive,
)
from churnops.pipelines.run_if import compare, launch_priority, run_verdict, skip_reason
from churnops.pipelines.run_journal import RunJournal, TaskResult
from churnops.pipelines.spec import (
    PIPELINE_DIR,
    JobSpec,
    TaskSpec,
    downstream,
    load_job_spec,
    parse_job_spec,
    render_value,
    resolve_references,
    spec_path,
    topological_order,
)
from churnops.pipelines.task_functions import resolve_task, run_task
from churnops.pipelines.task_process import (
    kill_task_group,
    start_server,
    start_task_process,
)

DEFAULT_HOME = ".churnops/pipelines"
POLL_SECONDS = 0.02
KILL_GRACE_SECONDS = 2.0  # SIGTERM first, SIGKILL when the task has not gone by then
QUEUE_POLL_SECONDS = 0.5


class RunRefused(RuntimeError):
    """A run that max_concurrent_runs does not allow now (and the job does not queue)."""


class RunnerTerminated(SystemExit):
    """SIGTERM reached the runner: its run is recorded CANCELED, then it exits 143 (128 + 15)
    as a terminated process does, without a traceback."""

    def __init__(self) -> None:
        super().__init__(128 + signal.SIGTERM)


@dataclass
class RunResult:
    """A finished run: its state and each task's result."""

    run_id: str
    job: str
    state: str
    run_dir: Path
    start_time: datetime
    end_time: datetime
    tasks: dict[str, TaskResult]
    repair: int = 0


def run_job(
    spec: JobSpec,
    parameters: dict[str, str] | None = None,
    *,
    home: str | Path = DEFAULT_HOME,
    trigger: str = "MANUAL",
    registry: dict[str, Any] | None = None,
    spec_dir: str | Path | None = None,
    max_parallel_tasks: int | None = None,
) -> RunResult:
    """Run `spec` once, every task in its own process, and return how it ended.

    Args:
        spec: the job spec.
        parameters: job parameter values over the spec's defaults (unknown names are errors).
        home: where the records table, locks and run folders (logs, inputs, outputs) live.
        trigger: what started the run (MANUAL, SCHEDULE, RUN_JOB_TASK), recorded.
        registry: task name -> "module:function" (default: churnops.pipelines.tasks.TASKS).
        spec_dir: the folder run_job_task names resolve in (default configs/pipeline/).
        max_parallel_tasks: tasks running at once (default: the CPU count).

    Raises:
        RunRefused: max_concurrent_runs is reached and the job's queue is disabled.
    """
    params = _job_parameters(spec, parameters or {})
    run_id = f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"
    run = _Run(spec, run_id, params, Path(home), registry, spec_dir, max_parallel_tasks)
    return run.execute(trigger=trigger, reuse={}, repair=0)


def repair_run(
    run_id: str,
    *,
    home: str | Path = DEFAULT_HOME,
    registry: dict[str, Any] | None = None,
    max_parallel_tasks: int | None = None,
) -> RunResult:
    """Rerun a run's unfinished tasks (failed, timed out, skipped, never reached or cut off by a
    dead runner) and everything downstream of them; finished tasks keep their values."""
    records = RunRecords(home)
    view = records.run(run_id)
    if view.run.state in ACTIVE_RUN_STATES and runner_alive(view.run):
        raise RunRefused(
            f"run {run_id} is still {view.run.state} (runner pid {view.run.runner_pid}): "
            "repair it once it has ended"
        )
    if view.run.spec is None:
        raise ConfigError(f"run {run_id}: its record holds no job spec to repair from")
    spec = parse_job_spec(view.run.spec, source=f"run {run_id} spec")
    done = {k: r for k, r in view.tasks.items() if r.state in ("SUCCESS", "EXCLUDED")}
    rerun = downstream(spec, {t.task_key for t in spec.tasks} - set(done))
    if not rerun:
        raise ValueError(f"run {run_id}: every task finished, nothing to repair")
    reuse = {
        k: TaskResult(
            task_key=k,
            state=r.state,
            attempt=r.attempt,
            start_time=r.start_time,
            end_time=r.end_time,
            seconds=r.seconds,
            outputs=r.outputs,
            inputs=r.parameters,
            log_path=r.log_path,
        )
        for k, r in done.items()
        if k not in rerun
    }
    params = {k: str(v) for k, v in view.run.parameters.items()}
    run = _Run(spec, run_id, params, Path(home), registry, view.run.spec_dir, max_parallel_tasks)
    return run.execute(trigger="REPAIR", reuse=reuse, repair=view.run.repair + 1)


def run_child_job(spec_path: str, parameters: dict[str, Any], home: str | None) -> dict[str, Any]:
    """A run_job_task: run the job to its end; fail when the child run fails."""
    result = run_job(
        load_job_spec(spec_path),
        {k: str(v) for k, v in parameters.items()},
        home=home or DEFAULT_HOME,
        trigger="RUN_JOB_TASK",
        spec_dir=Path(spec_path).parent,
    )
    if result.state != "SUCCESS":
        raise RuntimeError(f"child run {result.run_id} of job {result.job!r} ended {result.state}")
    return {"run_id": result.run_id, "state": result.state}


def _job_parameters(spec: JobSpec, given: dict[str, str]) -> dict[str, str]:
    defaults = spec.parameter_defaults()
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise ConfigError(
            f"job {spec.name!r}: unknown parameter(s) {unknown} (parameters: {sorted(defaults)})"
        )
    return {**defaults, **{k: str(v) for k, v in given.items()}}


class _Run:
    """One execution (or repair) of a run: the scheduling loop over task processes."""

    def __init__(
        self,
        spec: JobSpec,
        run_id: str,
        params: dict[str, str],
        home: Path,
        registry: dict[str, Any] | None,
        spec_dir: str | Path | None,
        max_parallel_tasks: int | None,
    ):
        self.spec, self.run_id, self.params, self.home = spec, run_id, params, home.resolve()
        self.records = RunRecords(self.home)
        self.spec_dir = Path(spec_dir or PIPELINE_DIR).resolve()
        self.max_parallel = max_parallel_tasks or os.cpu_count() or 1
        # Resolve every task name now: an unknown one fails before anything runs.
        self.targets = {
            t.task_key: resolve_task(t.task, registry) for t in spec.tasks if t.task is not None
        }
        for t in spec.tasks:
            if t.run_job_task and not spec_path(self._child_spec(t)).is_file():
                raise ConfigError(
                    f"task {t.task_key!r}: run_job_task.job={t.run_job_task.job!r}: no spec "
                    f"{str(self._child_spec(t))!r}"
                )
        self.run_dir = self.home / "runs" / run_id
        self.queued_seq = 0  # this run's place in its job's queue
        self.terminated = False  # SIGTERM came: stop at the next safe point, record CANCELED
        self.launched = 0

    def _child_spec(self, task: TaskSpec) -> Path:
        assert task.run_job_task is not None
        return self.spec_dir / f"{task.run_job_task.job}.yaml"

    # -- the run row and the concurrency claim -------------------------------------------------

    def _claim(self) -> None:
        """Take one of the job's max_concurrent_runs slots, queueing (FIFO) or refusing."""
        queued = False
        while True:
            with self.records.lock(f"job-{self.spec.name}"):
                runs = [r for r in self.records.runs(self.spec.name) if r.run_id != self.run_id]
                live = [r for r in runs if r.state in ACTIVE_RUN_STATES and runner_alive(r)]
                running = [r for r in live if r.state == "RUNNING"]
                ahead = [r for r in live if r.state == "QUEUED" and r.seq < self.queued_seq]
                if len(running) < self.spec.max_concurrent_runs and not ahead:
                    self.records.append(self.journal.run_row("RUNNING"))
                    return
                if not self.spec.queue.enabled:
                    msg = (
                        f"job {self.spec.name!r}: max_concurrent_runs="
                        f"{self.spec.max_concurrent_runs} reached (running: "
                        f"{[r.run_id for r in running]}) and queue.enabled is false"
                    )
                    if not self.repair:  # a refused repair leaves the run's record as it was
                        self.records.append(
                            self.journal.run_row("SKIPPED", error=msg, end_time=datetime.now(UTC))
                        )
                    raise RunRefused(msg)
                if not queued:
                    rec = self.journal.run_row("QUEUED")
                    self.records.append(rec)
                    self.queued_seq, queued = rec.seq, True
            if self.terminated:  # stopped while queued: the queue entry ends as CANCELED
                end = datetime.now(UTC)
                self.records.append(self.journal.run_row("CANCELED", end_time=end, error="SIGTERM"))
                raise RunnerTerminated
            time.sleep(QUEUE_POLL_SECONDS)

    @contextlib.contextmanager
    def _cancel_on_sigterm(self):
        """While the run runs, SIGTERM cancels it (as Ctrl-C does) instead of killing the runner
        with its run left RUNNING; the signal only sets a flag, acted on between records writes.
        Only the main thread can take signals: elsewhere SIGTERM keeps its own handling."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def stop(signum: int, frame: Any) -> None:
            self.terminated = True

        previous = signal.signal(signal.SIGTERM, stop)
        try:
            yield
        finally:
            signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)

    # -- the loop ------------------------------------------------------------------------------

    def execute(self, trigger: str, reuse: dict[str, TaskResult], repair: int) -> RunResult:
        with self._cancel_on_sigterm():
            return self._execute(trigger, reuse, repair)

    def _execute(self, trigger: str, reuse: dict[str, TaskResult], repair: int) -> RunResult:
        self.repair, self.start = repair, datetime.now(UTC)
        self.journal = RunJournal(
            self.records, self.spec, self.run_id, self.params, self.spec_dir,
            repair=repair, trigger=trigger, start=self.start,
        )  # fmt: skip
        self.queued_seq = time.time_ns()
        self._claim()
        # Only a run that holds its slot starts the task server: a refused or queued run
        # (or a runner killed meanwhile) leaves no server importing on its own.
        start_server()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        order = topological_order(self.spec)
        self.results = {k: reuse.get(k) or TaskResult(task_key=k) for k in order}
        launch_order = launch_priority(self.spec, order)
        self.retry_at: dict[str, float] = {}
        running: dict[str, Attempt] = {}
        job_deadline = (
            time.monotonic() + self.spec.timeout_seconds if self.spec.timeout_seconds else None
        )
        try:
            while True:
                if self.terminated:
                    raise RunnerTerminated
                now = time.monotonic()
                if job_deadline and now > job_deadline:
                    self._time_out_job(running)
                    break
                for key, att in list(running.items()):
                    if att.proc.poll() is not None:
                        del running[key]
                        self._finish(key, att)
                    elif att.deadline is not None and now > att.deadline:
                        kill_task_group(att.proc, KILL_GRACE_SECONDS)
                        del running[key]
                        self._finish(key, att, timed_out=True)
                for key in launch_order:
                    res = self.results[key]
                    if res.state != "PENDING" or key in running:
                        continue
                    if len(running) >= self.max_parallel or self.retry_at.get(key, 0) > now:
                        continue
                    verdict = run_verdict(self.spec.task(key), self.results)
                    if verdict == "WAIT":
                        continue
                    if verdict != "RUN":
                        why = skip_reason(self.spec.task(key), verdict, self.results)
                        self._settle(key, verdict, error=why)
                    elif self.spec.task(key).condition_task is not None:
                        self._evaluate_condition(key)
                    else:
                        launched = self._launch(key)
                        if launched is not None:
                            running[key] = launched
                self.journal.flush()  # one commit per pass: launches are not held up by it
                if not running and all(r.state != "PENDING" for r in self.results.values()):
                    break
                time.sleep(POLL_SECONDS)
        except BaseException as exc:  # Ctrl-C, SIGTERM or a bug: stop the tasks, record the end
            why = "SIGTERM" if isinstance(exc, RunnerTerminated) else type(exc).__name__
            for key, att in running.items():
                kill_task_group(att.proc, KILL_GRACE_SECONDS)
                self._settle(key, "CANCELED", error=f"runner stopped: {why}")
            for key, res in self.results.items():  # starting, waiting to retry, or not reached
                if res.state == "PENDING":
                    self._settle(key, "CANCELED", error=f"runner stopped ({why}) before it ran")
            error = "SIGTERM" if isinstance(exc, RunnerTerminated) else repr(exc)
            end = datetime.now(UTC)
            self.journal.hold(self.journal.run_row("CANCELED", end_time=end, error=error))
            self.journal.flush()
            raise
        failed = any(r.state in FAILED_TASK_STATES for r in self.results.values())
        state = "FAILED" if failed else "SUCCESS"
        end = datetime.now(UTC)
        self.journal.hold(self.journal.run_row(state, end_time=end))
        self.journal.flush()
        self.records.maybe_compact()
        return RunResult(
            run_id=self.run_id, job=self.spec.name, state=state, run_dir=self.run_dir,
            start_time=self.start, end_time=end, tasks=self.results, repair=self.repair,
        )  # fmt: skip

    # -- references ----------------------------------------------------------------------------

    def _resolve(self, value: Any, task_key: str) -> Any:
        return resolve_references(value, lambda ref: self._lookup(ref, task_key))

    def _lookup(self, ref: str, task_key: str) -> Any:
        parts = ref.split(".")
        if parts[0] == "tasks":
            upstream = self.results[parts[1]]
            if parts[3] not in upstream.outputs:
                raise ValueError(
                    f"reference {{{{{ref}}}}}: task {parts[1]!r} ({upstream.state}) has no value "
                    f"{parts[3]!r} (values: {sorted(upstream.outputs)})"
                )
            return upstream.outputs[parts[3]]
        if parts[:2] == ["job", "parameters"]:
            return self.params[parts[2]]
        return {
            "job.run_id": self.run_id,
            "job.id": self.spec.name,
            "job.name": self.spec.name,
            "task.name": task_key,
            "job.start_time.iso_date": self.start.date().isoformat(),
        }[ref]

    # -- tasks ---------------------------------------------------------------------------------

    def _evaluate_condition(self, key: str) -> None:
        cond = self.spec.task(key).condition_task
        assert cond is not None
        self.results[key].start_time, self.results[key].attempt = datetime.now(UTC), 1
        self.journal.task_row(key, self.results[key], "RUNNING", attempt=1)
        try:
            left = render_value(self._resolve(cond.left, key))
            right = render_value(self._resolve(cond.right, key))
            outcome = compare(cond.op, left, right)
        except ValueError as exc:
            self._settle(key, "FAILED", error=str(exc))
            return
        res = self.results[key]
        res.outputs = {"outcome": "true" if outcome else "false", "left": left, "right": right}
        self._settle(key, "SUCCESS")

    def _launch(self, key: str) -> Attempt | None:
        task = self.spec.task(key)
        res = self.results[key]
        attempt = res.attempt + 1
        paths = attempt_files(self.run_dir / key, attempt, self.repair)
        try:
            work: Callable[[dict[str, Any]], dict[str, Any]]
            if task.run_job_task is not None:
                inputs = self._resolve(dict(task.run_job_task.job_parameters), key)
                work = partial(run_child_job, str(self._child_spec(task)), home=str(self.home))
            else:
                inputs = self._resolve(task.parameters, key)
                work = partial(run_task, self.targets[key])
        except ValueError as exc:
            res.attempt = attempt
            self._settle(key, "FAILED", error=str(exc))
            return None
        paths["inputs.json"].write_text(json.dumps(inputs, default=str, indent=1))
        for p in (paths["outputs.json"], paths["error.json"]):
            p.unlink(missing_ok=True)
        res.attempt, res.log_path = attempt, str(paths["log"])
        res.start_time, res.end_time, res.error = datetime.now(UTC), None, None
        res.inputs = inputs
        self.journal.task_row(key, self.results[key], "RUNNING", attempt=attempt)
        if not self.launched:  # the first fork waits for the task server's imports: the run's
            self.journal.flush()  # tasks are on record before (a runner killed there shows them)
        self.launched += 1
        paths["log"].write_bytes(b"")
        started = time.monotonic()
        proc = start_task_process(
            work, paths["inputs.json"], paths["outputs.json"], paths["error.json"], paths["log"]
        )
        res.pid = proc.pid
        deadline = started + task.timeout_seconds if task.timeout_seconds else None
        return Attempt(proc=proc, started=started, deadline=deadline, paths=paths)

    def _finish(self, key: str, att: Attempt, timed_out: bool = False) -> None:
        task, res = self.spec.task(key), self.results[key]
        res.seconds = round(time.monotonic() - att.started, 4)
        if timed_out:
            state, error = "TIMEDOUT", f"timed out after timeout_seconds={task.timeout_seconds}"
        elif att.proc.returncode == 0 and att.paths["outputs.json"].is_file():
            res.outputs = json.loads(att.paths["outputs.json"].read_text())
            self._settle(key, "SUCCESS")
            return
        else:
            state, error = "FAILED", attempt_error(att)
        retry = res.attempt <= task.max_retries and (not timed_out or task.retry_on_timeout)
        if retry:  # record this attempt's failure, then wait min_retry_interval_millis
            self.journal.task_row(
                key, self.results[key], state, attempt=res.attempt, error=error, final=True
            )
            res.state = "PENDING"
            self.retry_at[key] = time.monotonic() + task.min_retry_interval_millis / 1000
        else:
            self._settle(key, state, error=error)

    def _settle(self, key: str, state: str, error: str | None = None) -> None:
        res = self.results[key]
        res.state, res.error = state, error
        self.journal.task_row(
            key, self.results[key], state, attempt=res.attempt, error=error, final=True
        )

    def _time_out_job(self, running: dict[str, Attempt]) -> None:
        for key, att in running.items():
            kill_task_group(att.proc, KILL_GRACE_SECONDS)
            self.results[key].seconds = round(time.monotonic() - att.started, 4)
            self._settle(key, "TIMEDOUT", error="the job's timeout_seconds ran out")
        running.clear()
        for key, res in self.results.items():
            if res.state == "PENDING":
                self._settle(key, "CANCELED", error="the job's timeout_seconds ran out")
