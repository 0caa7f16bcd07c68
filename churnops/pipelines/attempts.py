"""One attempt of a task: its process, its clock, and its files in the run folder.

A task's attempt writes `attempt-N.inputs.json` before it starts and `.outputs.json` or
`.error.json` when it ends, with its output in `attempt-N.log` (`repair-R-attempt-N.*` in the
R-th repair), so `pipeline show` and a repair read what each attempt did.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from churnops.pipelines.task_process import TaskProcess


@dataclass
class Attempt:
    """A running attempt: its process, when it started and must end (monotonic), its files."""

    proc: TaskProcess
    started: float
    deadline: float | None
    paths: dict[str, Path]


def attempt_files(folder: Path, attempt: int, repair: int) -> dict[str, Path]:
    """The attempt's files (inputs.json, outputs.json, error.json, log) in the task's folder."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"attempt-{attempt}" if not repair else f"repair-{repair}-attempt-{attempt}"
    paths = {n: folder / f"{stem}.{n}" for n in ("inputs.json", "outputs.json", "error.json")}
    paths["log"] = folder / f"{stem}.log"
    return paths


def attempt_error(att: Attempt) -> str:
    """Why a finished attempt failed: its recorded error, else its exit code and last log lines."""
    if att.paths["error.json"].is_file():
        return json.loads(att.paths["error.json"].read_text())["error"]
    tail = att.paths["log"].read_text(errors="replace").strip().splitlines()[-3:]
    return f"exit code {att.proc.returncode}: " + " | ".join(tail)
