"""The wheel task's entry point exits non-zero on failure, called the way Databricks calls it.

Databricks' python_wheel_task trampoline (databricks/cli, bundle/trampoline/python_wheel.go)
sets `sys.argv = [package_name, *parameters]`, finds the entry point in the wheel's
entry_points metadata and calls it, ignoring what it returns: only an exception or SystemExit
fails the task. Each case runs that code in a fresh interpreter.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]

TRAMPOLINE = """
import sys
from importlib import metadata

sys.argv = {argv!r}
entry = [ep for ep in metadata.distribution("churnops").entry_points if ep.name == "churnops"]
if entry:
    entry[0].load()()  # the return value is dropped, as on Databricks
else:
    raise ImportError("Entry point 'churnops' not found")
"""


def call_like_databricks(parameters: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    code = TRAMPOLINE.format(argv=["churnops", *parameters])
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def test_the_trampoline_finds_churnops_cli_main() -> None:
    from importlib import metadata

    (ep,) = [e for e in metadata.distribution("churnops").entry_points if e.name == "churnops"]
    assert ep.value == "churnops.cli:main"


def test_a_passing_task_exits_zero(tmp_path: Path) -> None:
    out = call_like_databricks(
        ["pipeline", "task", "tests.pipelines.sample_tasks:add", "--inputs", '{"a": 2, "b": 3}'],
        tmp_path,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {"total": 5, "note": ""}


@pytest.mark.parametrize(
    ("parameters", "code", "message"),
    [
        # bad inputs: the CLI reports them and returns 2, which the trampoline would drop
        (["pipeline", "task", "tests.pipelines.sample_tasks:add", "--inputs", '{"a": "x"}'], 2,
         "a='x'"),
        (["pipeline", "task", "no_such_task", "--inputs", "{}"], 2, "not a churnops task"),
        # the task itself raises
        (["pipeline", "task", "tests.pipelines.sample_tasks:needs_marker", "--inputs",
          '{"marker": "/nonexistent/marker"}'], 2, "is missing"),
        (["pipeline", "task", "tests.pipelines.sample_tasks:flaky", "--inputs",
          '{"marker": "MARKER"}'], 1, "first attempt fails on purpose"),
        (["pipeline", "export", "no_such_job", "--target", "databricks", "--out", "b"], 2,
         "known jobs"),
    ],
)  # fmt: skip
def test_a_failing_task_exits_non_zero(
    tmp_path: Path, parameters: list[str], code: int, message: str
) -> None:
    parameters = [p.replace("MARKER", str(tmp_path / "marker")) for p in parameters]
    out = call_like_databricks(parameters, tmp_path)
    assert out.returncode == code, out.stderr[-2000:]
    assert message in out.stderr
    assert not (tmp_path / "b").exists()  # nothing half-written


def test_main_with_argv_returns_the_code_for_callers() -> None:
    from churnops.cli import main

    assert main(["pipeline", "task", "no_such_task", "--inputs", "{}"]) == 2
