"""The runner on real task processes: values, retries, timeouts, conditions, run_if, records."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from churnops.config import ConfigError
from churnops.pipelines.records import RunRecords
from churnops.pipelines.runner import run_job
from churnops.pipelines.spec import parse_job_spec
from tests.pipelines.conftest import job, wait_for, write_spec


def test_values_flow_between_tasks_and_records_hold_them(home: Path, tmp_path: Path) -> None:
    calls = tmp_path / "calls.txt"
    spec = job(
        "values",
        [
            {"task_key": "first", "task": "count",
             "parameters": {"path": str(calls), "value": "{{job.parameters.n}}"}},
            {
                "task_key": "second",
                "depends_on": [{"task_key": "first"}],
                "task": "add",
                "parameters": {
                    "a": "{{tasks.first.values.doubled}}",
                    "b": 1,
                    "note": "run {{job.run_id}} saw {{tasks.first.values.label}}",
                },
            },
        ],
        parameters=[{"name": "n", "default": "2"}],
    )  # fmt: skip
    result = run_job(spec, {"n": "5"}, home=home)

    assert result.state == "SUCCESS"
    assert result.tasks["second"].outputs == {"total": 11, "note": f"run {result.run_id} saw v5"}
    view = RunRecords(home).run(result.run_id)
    assert view.run.state == "SUCCESS" and view.run.parameters == {"n": "5"}
    assert view.tasks["first"].outputs["doubled"] == 10
    assert view.tasks["second"].parameters["a"] == 10  # a whole-value reference keeps its type
    log = Path(view.tasks["first"].log_path)
    assert log.parent == result.run_dir / "first" and "counted value=5" in log.read_text()
    assert view.tasks["first"].seconds > 0


def test_a_task_that_fails_once_is_retried(home: Path, tmp_path: Path) -> None:
    spec = job(
        "retry",
        [{"task_key": "flaky", "task": "flaky", "parameters": {"marker": str(tmp_path / "m")},
          "max_retries": 1, "min_retry_interval_millis": 10}],
    )  # fmt: skip
    result = run_job(spec, home=home)

    assert result.state == "SUCCESS"
    assert result.tasks["flaky"].attempt == 2
    logs = sorted(p.name for p in (result.run_dir / "flaky").glob("*.log"))
    assert logs == ["attempt-1.log", "attempt-2.log"]
    assert "first attempt fails on purpose" in (result.run_dir / "flaky/attempt-1.log").read_text()


def test_without_retries_a_failure_fails_the_run_and_skips_downstream(
    home: Path, tmp_path: Path
) -> None:
    spec = job(
        "noretry",
        [
            {"task_key": "flaky", "task": "flaky", "parameters": {"marker": str(tmp_path / "m")}},
            {"task_key": "after", "depends_on": [{"task_key": "flaky"}], "task": "add",
             "parameters": {"a": 1, "b": 2}},
            {"task_key": "cleanup", "depends_on": [{"task_key": "flaky"}], "run_if": "ALL_DONE",
             "task": "add", "parameters": {"a": 1, "b": 2}},
            {"task_key": "alert", "depends_on": [{"task_key": "flaky"}],
             "run_if": "AT_LEAST_ONE_FAILED", "task": "add", "parameters": {"a": 0, "b": 0}},
        ],
    )  # fmt: skip
    result = run_job(spec, home=home)

    states = {k: r.state for k, r in result.tasks.items()}
    assert states == {
        "flaky": "FAILED",
        "after": "UPSTREAM_FAILED",
        "cleanup": "SUCCESS",
        "alert": "SUCCESS",
    }
    assert result.state == "FAILED"
    assert "RuntimeError: first attempt fails on purpose" in result.tasks["flaky"].error


def test_a_task_past_its_timeout_is_killed_and_marked(home: Path) -> None:
    spec = job(
        "timeout",
        [
            {"task_key": "slow", "task": "sleep", "timeout_seconds": 1,
             "parameters": {"seconds": 120}},
            {"task_key": "after", "depends_on": [{"task_key": "slow"}], "task": "add",
             "parameters": {"a": 1, "b": 2}},
        ],
    )  # fmt: skip
    result = run_job(spec, home=home)

    assert result.tasks["slow"].state == "TIMEDOUT"
    assert "timeout_seconds=1" in result.tasks["slow"].error
    assert result.tasks["after"].state == "UPSTREAM_FAILED"
    assert result.state == "FAILED"
    with pytest.raises(ProcessLookupError):
        os.kill(result.tasks["slow"].pid, 0)  # the task process is gone, not orphaned


def _gated(champion: Path, metric: float) -> dict:
    return {
        "name": "gated",
        "parameters": [{"name": "threshold", "default": "0.7"}],
        "tasks": [
            {"task_key": "model_validation", "task": "validate",
             "parameters": {"metric": metric, "threshold": "{{job.parameters.threshold}}"}},
            {"task_key": "validation_passed", "depends_on": [{"task_key": "model_validation"}],
             "condition_task": {"op": "EQUAL_TO",
                                "left": "{{tasks.model_validation.values.passed}}",
                                "right": "true"}},
            {"task_key": "model_deployment",
             "depends_on": [{"task_key": "validation_passed", "outcome": "true"}],
             "task": "deploy", "parameters": {"champion_file": str(champion), "version": "2"}},
        ],
    }  # fmt: skip


def test_a_failed_validation_skips_deployment_and_keeps_the_champion(
    home: Path, tmp_path: Path
) -> None:
    champion = tmp_path / "champion"
    champion.write_text("1")
    result = run_job(job(**_gated(champion, metric=0.6)), home=home)

    assert result.state == "SUCCESS"  # a model that fails the gate is not a broken run
    assert result.tasks["validation_passed"].outputs["outcome"] == "false"
    assert result.tasks["model_deployment"].state == "EXCLUDED"
    assert champion.read_text() == "1"

    passed = run_job(job(**_gated(champion, metric=0.9)), home=home)
    assert passed.tasks["model_deployment"].state == "SUCCESS"
    assert champion.read_text() == "2"


def test_bad_task_inputs_fail_the_task_naming_the_field(home: Path) -> None:
    spec = job("badinputs", [{"task_key": "t", "task": "add", "parameters": {"a": "x", "b": 1}}])
    result = run_job(spec, home=home)
    assert result.tasks["t"].state == "FAILED"
    assert "a='x'" in result.tasks["t"].error


def test_unknown_job_parameter_and_task_are_refused_before_running(home: Path) -> None:
    spec = job("params", [{"task_key": "t", "task": "add", "parameters": {"a": 1, "b": 1}}])
    with pytest.raises(ConfigError, match=r"unknown parameter\(s\) \['nope'\]"):
        run_job(spec, {"nope": "1"}, home=home)
    missing = parse_job_spec({"name": "missing", "tasks": [{"task_key": "t", "task": "nope"}]})
    with pytest.raises(ConfigError, match="task='nope': not a churnops task"):
        run_job(missing, home=home, registry={})
    assert not (home / "records").exists()


def test_parallel_branches_both_run(home: Path, tmp_path: Path) -> None:
    calls = tmp_path / "calls.txt"
    spec = job(
        "fan",
        [
            {"task_key": "a", "task": "count", "parameters": {"path": str(calls), "value": 1}},
            {"task_key": "b", "task": "count", "parameters": {"path": str(calls), "value": 2}},
            {"task_key": "join", "depends_on": [{"task_key": "a"}, {"task_key": "b"}],
             "task": "add", "parameters": {"a": "{{tasks.a.values.value}}",
                                           "b": "{{tasks.b.values.value}}"}},
        ],
    )  # fmt: skip
    result = run_job(spec, home=home, max_parallel_tasks=2)
    assert result.tasks["join"].outputs["total"] == 3
    assert len(calls.read_text().split()) == 2


def test_records_keep_every_attempt(home: Path, tmp_path: Path) -> None:
    spec = job(
        "attempts",
        [{"task_key": "flaky", "task": "flaky", "parameters": {"marker": str(tmp_path / "m")},
          "max_retries": 2}],
    )  # fmt: skip
    result = run_job(spec, home=home)
    from deltalake import DeltaTable

    rows = DeltaTable(str(home / "records")).to_pyarrow_table().to_pylist()
    task_rows = [
        (r["state"], r["attempt"])
        for r in rows
        if r["run_id"] == result.run_id and r["task_key"] == "flaky"
    ]
    assert sorted(task_rows) == [("FAILED", 1), ("RUNNING", 1), ("RUNNING", 2), ("SUCCESS", 2)]
    assert json.loads(next(r["spec"] for r in rows if r["task_key"] == ""))["name"] == "attempts"


def test_run_job_task_runs_the_other_job_when_the_condition_holds(
    home: Path, tmp_path: Path
) -> None:
    from tests.pipelines.conftest import write_spec

    champion = tmp_path / "champion"
    child = job(
        "child",
        [{"task_key": "deploy", "task": "deploy",
          "parameters": {"champion_file": str(champion), "version": "{{job.parameters.v}}"}}],
        parameters=[{"name": "v", "default": "0"}],
    )  # fmt: skip
    write_spec(tmp_path, child)

    def parent(metric: float):
        return job(
            "parent",
            [
                {"task_key": "check", "task": "validate",
                 "parameters": {"metric": metric, "threshold": 0.5}},
                {"task_key": "needed", "depends_on": [{"task_key": "check"}],
                 "condition_task": {"op": "GREATER_THAN",
                                    "left": "{{tasks.check.values.metric}}", "right": "0.5"}},
                {"task_key": "retrain", "depends_on": [{"task_key": "needed", "outcome": "true"}],
                 "run_job_task": {"job": "child", "job_parameters": {"v": "from-{{job.name}}"}}},
            ],
        )  # fmt: skip

    skipped = run_job(parent(0.2), home=home, spec_dir=tmp_path)
    assert skipped.tasks["retrain"].state == "EXCLUDED" and not champion.exists()

    ran = run_job(parent(0.9), home=home, spec_dir=tmp_path)
    assert ran.state == "SUCCESS"
    assert champion.read_text() == "from-parent"
    child_run = RunRecords(home).run(ran.tasks["retrain"].outputs["run_id"]).run
    assert child_run.job == "child" and child_run.trigger == "RUN_JOB_TASK"


def test_a_run_job_tasks_tasks_fork_from_the_runners_task_server(
    home: Path, tmp_path: Path
) -> None:
    """The child job's tasks come from the server the parent's tasks came from: no second
    server importing everything again."""
    from tests.pipelines.conftest import write_spec

    write_spec(tmp_path, job("child", [{"task_key": "where", "task": "forked_from"}]))
    parent = job(
        "parent",
        [{"task_key": "where", "task": "forked_from"},
         {"task_key": "child", "depends_on": [{"task_key": "where"}],
          "run_job_task": {"job": "child"}}],
    )  # fmt: skip
    ran = run_job(parent, home=home, spec_dir=tmp_path)
    assert ran.state == "SUCCESS"
    child_run = RunRecords(home).run(ran.tasks["child"].outputs["run_id"])
    server = ran.tasks["where"].outputs["parent_pid"]
    assert child_run.tasks["where"].outputs["parent_pid"] == server
    assert server != os.getpid()  # a server, not the runner itself


def test_job_timeout_stops_what_is_running_and_cancels_the_rest(home: Path) -> None:
    spec = job(
        "jobtimeout",
        [
            {"task_key": "slow", "task": "sleep", "parameters": {"seconds": 120}},
            {"task_key": "after", "depends_on": [{"task_key": "slow"}], "task": "add",
             "parameters": {"a": 1, "b": 1}},
        ],
        timeout_seconds=1,
    )  # fmt: skip
    result = run_job(spec, home=home)
    assert result.state == "FAILED"
    assert result.tasks["slow"].state == "TIMEDOUT" and result.tasks["after"].state == "CANCELED"


def test_with_more_ready_tasks_than_slots_the_chain_goes_first(home: Path) -> None:
    add = {"task": "add", "parameters": {"a": 1, "b": 1}}
    spec = job(
        "priority",
        [
            {"task_key": "root", **add},
            {"task_key": "side", "depends_on": [{"task_key": "root"}], **add},
            {"task_key": "head", "depends_on": [{"task_key": "root"}], **add},
            {"task_key": "link", "depends_on": [{"task_key": "head"}], **add},
            {"task_key": "end", "depends_on": [{"task_key": "link"}], **add},
        ],
    )
    result = run_job(spec, home=home, max_parallel_tasks=1)

    assert result.state == "SUCCESS"
    started = sorted(result.tasks, key=lambda k: result.tasks[k].start_time)
    # `head` has tasks waiting on it, so it starts before `side` (listed first); once ready, the
    # chain's deeper links also go before the side task.
    assert started == ["root", "head", "link", "end", "side"]


# ---- SIGTERM, refusals and orphans (a runner in its own process) ------------------------------


def _marked_runner(spec_path: Path, home: Path, mark: str) -> subprocess.Popen[bytes]:
    """`churnops pipeline run` with an environment mark every process it starts inherits."""
    return subprocess.Popen(
        [sys.executable, "-m", "churnops.cli", "pipeline", "run", str(spec_path), "--home",
         str(home)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ, "CHURNOPS_MARK": mark},
    )  # fmt: skip


def _marked(mark: str) -> list[int]:
    """Live processes carrying `mark` in their environment (a runner's server and tasks)."""
    found = []
    needle = f"CHURNOPS_MARK={mark}".encode()
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and needle in (proc / "environ").read_bytes().split(b"\0"):
                state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if state != "Z":  # a zombie is gone, only not yet reaped by its parent
                    found.append(int(proc.name))
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return found


def _slow_job(tmp_path: Path, name: str, **fields: object):
    block = tmp_path / f"{name}-block"
    block.touch()
    spec = job(
        name,
        [
            {"task_key": "slow", "task": "sleep",
             "parameters": {"seconds": 300, "while_exists": str(block),
                            "pid_file": str(tmp_path / f"{name}-pids")}},
            {"task_key": "after", "depends_on": [{"task_key": "slow"}], "task": "add",
             "parameters": {"a": 1, "b": 1}},
        ],
        **fields,
    )  # fmt: skip
    return spec, block, tmp_path / f"{name}-pids"


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc")
@pytest.mark.slow
@pytest.mark.parametrize("when", ["task-running", "first-task-starting"])
def test_sigterm_cancels_the_run_records_every_task_and_leaves_no_process(
    home: Path, tmp_path: Path, when: str
) -> None:
    spec, block, pids = _slow_job(tmp_path, f"term-{when}")
    mark = uuid.uuid4().hex
    runner = _marked_runner(write_spec(tmp_path, spec), home, mark)
    records = RunRecords(home)
    if when == "task-running":
        wait_for(pids.exists, "the slow task to start")
    else:  # as soon as the run holds its slot: its task server is still importing
        wait_for(lambda: any(r.state == "RUNNING" for r in records.runs(spec.name)), "the run")
    runner.send_signal(signal.SIGTERM)
    output = runner.communicate(timeout=120)[0].decode()
    assert runner.returncode == 143, output[-2000:]
    (run,) = records.runs(spec.name)
    view = records.run(run.run_id)
    assert run.display_state == "CANCELED" and run.error == "SIGTERM"
    assert {k: t.state for k, t in view.tasks.items()} == {"slow": "CANCELED", "after": "CANCELED"}
    wait_for(lambda: not _marked(mark), "the runner's task server and tasks to end")
    block.unlink()


# A refused run, in a fresh interpreter: what the task server's pid is after the refusal.
_REFUSED = """
import multiprocessing.forkserver as fs, sys
from churnops.pipelines.runner import RunRefused, run_job
from churnops.pipelines.spec import load_job_spec
try:
    run_job(load_job_spec(sys.argv[1]), home=sys.argv[2])
except RunRefused:
    print("server", fs._forkserver._forkserver_pid)
"""


@pytest.mark.slow
def test_a_refused_run_starts_no_task_server(home: Path, tmp_path: Path) -> None:
    # Started before the concurrency check, the server kept importing for seconds after the
    # refused runner had gone, parented to init.
    spec, block, pids = _slow_job(tmp_path, "refused", max_concurrent_runs=1)
    path = write_spec(tmp_path, spec)
    first = _marked_runner(path, home, uuid.uuid4().hex)
    try:
        wait_for(pids.exists, "the first run's slow task to start")
        second = subprocess.run(
            [sys.executable, "-c", _REFUSED, str(path), str(home)],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert second.stdout.strip() == "server None", second.stdout + second.stderr[-2000:]
    finally:
        block.unlink()
        first.communicate(timeout=120)
