"""Task processes forked from a warm server: each task still runs in its own process, with its own
log and process group, but without paying for the imports every task shares.

A fresh interpreter spends seconds importing mlflow, its SQL store, pandas, pyarrow and sklearn
before a task does anything; a deployment task is nearly all that. The runner starts one
multiprocessing fork server per runner process, which imports `PRELOAD` once; every task is a
fork of it, so those imports are already done. Preloading imports only: no connection, thread
pool or runtime of the task's own is started before the fork (the allocators' and BLAS's own
threads at import handle fork, as every multiprocessing user relies on); torch and xgboost, and
their OpenMP pools, are left to the tasks that train with them.
"""

from __future__ import annotations

import atexit
import contextlib
import multiprocessing
import multiprocessing.forkserver
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from churnops.pipelines.task_functions import run_in_files

# What nearly every task imports: the tracking store and registry, frames, metrics, plots, the
# DataFrame engine and churnops' training modules (each a few seconds' CPU in a fresh process).
PRELOAD = [
    "churnops.pipelines.task_server_watch",  # first: the server dies with its runner meanwhile
    "churnops.pipelines.task_functions",
    "churnops.pipelines.tasks.base",
    "churnops.trainers.registry.gate",
    "churnops.trainers.train",
    "churnops.trainers.training_set",
    "duckdb",
    "matplotlib.pyplot",
    "mlflow",
    "mlflow.pyfunc",
    "mlflow.store.model_registry.sqlalchemy_store",
    "mlflow.store.tracking.sqlalchemy_store",
    "pandas",
    "pyarrow.compute",
    "pyarrow.dataset",
    "pyarrow.parquet",
    "sklearn.ensemble",
    "sklearn.linear_model",
    "sklearn.metrics",
    "sklearn.model_selection",
    "sqlframe.duckdb",
    "yaml",
]


class TaskProcess:
    """One task's process: `pid`, `poll()`, `wait(timeout)` and `returncode`, as `Popen` has."""

    def __init__(self, process: multiprocessing.process.BaseProcess):
        self._process = process
        assert process.pid is not None  # started
        self.pid: int = process.pid

    @property
    def returncode(self) -> int | None:
        return self._process.exitcode

    def poll(self) -> int | None:
        return self._process.exitcode

    def wait(self, timeout: float | None = None) -> bool:
        """Wait up to `timeout` seconds (None: for ever); True when the process has ended."""
        self._process.join(timeout)
        return self._process.exitcode is not None


# The running server's socket, in the environment its tasks get: a task that runs a job (a
# run_job_task's runner) forks that job's tasks from the same warm server.
SERVER_ENV = "CHURNOPS_TASK_SERVER"


def start_server() -> None:
    """Start the fork server now, so its imports overlap the runner's own start-up; in a task
    forked from a server, use that server instead."""
    from churnops.pipelines.task_server_watch import PARENT_ENV

    if _join_parent_server():
        return
    os.environ[PARENT_ENV] = str(os.getpid())
    multiprocessing.forkserver.set_forkserver_preload(PRELOAD)
    multiprocessing.forkserver.ensure_running()
    os.environ[SERVER_ENV] = str(multiprocessing.forkserver._forkserver._forkserver_address)


def _join_parent_server() -> bool:
    """In a task forked from a server (a run_job_task running its job), point multiprocessing
    at that server rather than start a second one: a second server would spend seconds of CPU
    importing `PRELOAD` again, which the task already holds.

    A process the fork server forked holds the runner's keep-alive pipe but no server of its
    own (no pid); the server's address comes from the environment the runner passed down.

    This reads and sets `multiprocessing.forkserver`'s private ForkServer fields because no
    public API does the job: `ensure_running` only starts (or checks) a server of this
    process's own, and `connect_to_new_process` only uses the address `ensure_running`
    recorded. `start_server` reads the address it publishes from the same private field.
    """
    server = multiprocessing.forkserver._forkserver
    if server._forkserver_pid is not None:
        return False  # this process started a server: it is a runner of its own
    address = os.environ.get(SERVER_ENV)
    if not address or server._forkserver_alive_fd is None or not os.path.exists(address):
        return False  # not a process a server forked: start one
    server._forkserver_address = address
    # Not this process's to start or wait for (it is not its child): only to connect to.
    server.ensure_running = lambda: None  # type: ignore[method-assign]
    return True


def start_task_process(
    work: Callable[[dict[str, Any]], dict[str, Any]],
    inputs: Path,
    outputs: Path,
    error: Path,
    log_path: Path,
) -> TaskProcess:
    """Fork a task process that runs `work` on the JSON in `inputs` (`run_in_files`), with
    stdout and stderr in `log_path`, in the runner's current directory and environment. `work`
    travels to the task pickled: a module-level function, or a `functools.partial` of one."""
    start_server()
    context = multiprocessing.get_context("forkserver")
    files = (inputs, outputs, error)
    process = context.Process(
        target=_task_child,
        args=(work, files, str(log_path), os.getcwd(), dict(os.environ), os.getpid()),
        name=f"churnops-task-{log_path.parent.name}",
        daemon=False,
    )
    process.start()
    return TaskProcess(process)


def kill_task_group(proc: TaskProcess, grace_seconds: float) -> None:
    """SIGTERM the task's process group, then SIGKILL what is left after `grace_seconds`."""
    for sig, wait in ((signal.SIGTERM, grace_seconds), (signal.SIGKILL, None)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:  # not its own group yet (just forked), or gone
            try:
                os.kill(proc.pid, sig)
            except ProcessLookupError:
                return
        if proc.wait(wait):
            if sig == signal.SIGTERM:
                # The leader is gone; children it started may still hold the group.
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
            return


def _task_child(
    work: Callable[[dict[str, Any]], dict[str, Any]],
    files: tuple[Path, Path, Path],
    log_path: str,
    cwd: str,
    env: dict[str, str],
    runner_pid: int,
) -> None:
    """In the forked task: its own process group (a timeout kills the whole group), death with
    the runner (so a killed runner leaves no orphan tasks), the runner's directory and
    environment, and the log as stdout and stderr."""
    os.setsid()
    _die_with(runner_pid)
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    try:
        code = run_in_files(work, *files)
    finally:
        # multiprocessing ends the child with os._exit: run what a normal exit would (MLflow
        # ends its active run, logging flushes) and flush the log.
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    sys.exit(code)


def _die_with(pid: int) -> None:
    """Kill this task's process group when process `pid` (the runner) ends.

    The task's parent is the fork server, which outlives a killed runner while tasks hold it
    open, so the parent-death signal would never fire: a daemon thread waits on the runner.
    """
    try:
        handle: int | None = os.pidfd_open(pid)  # readable once the process has ended
    except ProcessLookupError:  # the runner is already gone
        os._exit(1)
    except (AttributeError, OSError):  # no pidfd (not Linux, or an old kernel): poll instead
        handle = None

    def watch() -> None:
        if handle is not None:
            select.select([handle], [], [])
        else:
            while _alive(pid):
                time.sleep(0.5)
        os.killpg(0, signal.SIGKILL)

    threading.Thread(target=watch, name="churnops-runner-watch", daemon=True).start()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
