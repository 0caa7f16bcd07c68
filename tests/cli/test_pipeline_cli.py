"""`churnops pipeline`: run, runs, show, the task entry point, export, and its errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from churnops.cli import main
from churnops.cli.output import console
from churnops.pipelines.records import RunRecords
from tests.pipelines.conftest import job, write_spec


@pytest.fixture(autouse=True)
def wide_console(monkeypatch) -> None:
    monkeypatch.setattr(console, "width", 240)  # whole cells, not ellipses


def test_run_then_runs_and_show(tmp_path: Path, capsys) -> None:
    spec = job(
        "cli",
        [{"task_key": "sum", "task": "add", "parameters": {"a": "{{job.parameters.a}}", "b": 2}}],
        parameters=[{"name": "a", "default": "1"}],
    )
    path, home = write_spec(tmp_path, spec), str(tmp_path / "home")
    assert main(["pipeline", "run", str(path), "a=40", "--home", home]) == 0
    out = capsys.readouterr().out
    assert "SUCCESS" in out and '"total": 42' in out

    assert main(["pipeline", "runs", "--home", home]) == 0
    listing = capsys.readouterr().out
    (run,) = RunRecords(home).runs()
    run_id = run.run_id
    assert run_id in listing and "SUCCESS" in listing
    assert main(["pipeline", "show", run_id, "--home", home]) == 0
    shown = capsys.readouterr().out
    assert "MANUAL" in shown and '"a": "40"' in shown


def test_errors_name_what_is_wrong(tmp_path: Path, capsys) -> None:
    home = str(tmp_path / "home")
    assert main(["pipeline", "show", "nope", "--home", home]) == 2
    assert "no pipeline run 'nope'" in capsys.readouterr().err
    spec = job("cli2", [{"task_key": "t", "task": "add", "parameters": {"a": 1, "b": 1}}])
    path = write_spec(tmp_path, spec)
    assert main(["pipeline", "run", str(path), "zz=1", "--home", home]) == 2
    assert "unknown parameter(s) ['zz']" in capsys.readouterr().err
    assert main(["pipeline", "run", "no_such_job", "--home", home]) == 2
    assert "known jobs" in capsys.readouterr().err


def test_task_entry_point_runs_one_task_and_writes_outputs(tmp_path: Path, capsys) -> None:
    out = tmp_path / "out.json"
    target = "tests.pipelines.sample_tasks:add"
    code = main(
        ["pipeline", "task", target, "--inputs", '{"a": 2, "b": "3"}', "--outputs", str(out)]
    )
    assert code == 0
    assert json.loads(capsys.readouterr().out) == {"total": 5, "note": ""}
    assert json.loads(out.read_text()) == {"total": 5, "note": ""}
    assert main(["pipeline", "task", target, "--inputs", '{"a": "x", "b": 3}']) == 2
    assert "a='x'" in capsys.readouterr().err


def test_export_writes_the_bundle(tmp_path: Path, capsys) -> None:
    assert (
        main(["pipeline", "export", "training", "--target", "databricks", "--out", str(tmp_path)])
        == 0
    )
    assert (tmp_path / "databricks.yml").is_file()
    assert (tmp_path / "resources/training.job.yml").is_file()
