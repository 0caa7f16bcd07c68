"""Real task functions for the runner's tests: typed inputs and outputs, as churnops' tasks are."""

from __future__ import annotations

import os
import time
from pathlib import Path

from churnops.config import StrictConfig


class CountInputs(StrictConfig):
    path: str  # a file that gets one line per call: how many times the task ran
    value: int = 1


class CountOutputs(StrictConfig):
    value: int
    doubled: int
    label: str


def count(inputs: CountInputs) -> CountOutputs:
    with open(inputs.path, "a") as fh:
        fh.write(f"{os.getpid()}\n")
    print(f"counted value={inputs.value}")
    return CountOutputs(value=inputs.value, doubled=2 * inputs.value, label=f"v{inputs.value}")


class SumInputs(StrictConfig):
    a: int
    b: int
    note: str = ""


class SumOutputs(StrictConfig):
    total: int
    note: str


def add(inputs: SumInputs) -> SumOutputs:
    return SumOutputs(total=inputs.a + inputs.b, note=inputs.note)


class FlakyInputs(StrictConfig):
    marker: str  # absent: fail and create it; present: succeed


class FlakyOutputs(StrictConfig):
    attempts_seen: int


def flaky(inputs: FlakyInputs) -> FlakyOutputs:
    marker = Path(inputs.marker)
    if not marker.exists():
        marker.write_text("failed once\n")
        raise RuntimeError(f"first attempt fails on purpose (marker {marker} now written)")
    return FlakyOutputs(attempts_seen=2)


class GateInputs(StrictConfig):
    marker: str  # the task fails while this file is absent


def needs_marker(inputs: GateInputs) -> None:
    if not Path(inputs.marker).exists():
        raise FileNotFoundError(f"marker {inputs.marker} is missing")


class SleepInputs(StrictConfig):
    seconds: float
    pid_file: str = ""  # written first, so a test can check that the process was killed
    while_exists: str = ""  # sleep while this file exists (up to `seconds`), then return


def sleep(inputs: SleepInputs) -> None:
    if inputs.pid_file:
        with open(inputs.pid_file, "a") as fh:
            fh.write(f"{os.getpid()}\n")
    if not inputs.while_exists:
        time.sleep(inputs.seconds)
        return
    deadline = time.monotonic() + inputs.seconds
    while Path(inputs.while_exists).exists() and time.monotonic() < deadline:
        time.sleep(0.05)


class ValidateInputs(StrictConfig):
    metric: float
    threshold: float


class ValidateOutputs(StrictConfig):
    passed: bool
    metric: float


def validate(inputs: ValidateInputs) -> ValidateOutputs:
    return ValidateOutputs(passed=inputs.metric >= inputs.threshold, metric=inputs.metric)


class DeployInputs(StrictConfig):
    champion_file: str
    version: str


class DeployOutputs(StrictConfig):
    champion: str


def deploy(inputs: DeployInputs) -> DeployOutputs:
    Path(inputs.champion_file).write_text(inputs.version)
    return DeployOutputs(champion=inputs.version)


class LogInputs(StrictConfig):
    tracking_uri: str
    experiment: str
    run_name: str
    rows: int = 200


class LogOutputs(StrictConfig):
    mlflow_run_id: str


def log_to_mlflow(inputs: LogInputs) -> LogOutputs:
    """Log params, a metric series and an artifact to the tracking server named in the inputs."""
    import mlflow

    mlflow.set_tracking_uri(inputs.tracking_uri)
    mlflow.set_experiment(inputs.experiment)
    with mlflow.start_run(run_name=inputs.run_name) as run:
        mlflow.log_param("rows", inputs.rows)
        for step in range(20):
            mlflow.log_metric("train/loss", 1.0 / (step + 1), step=step)
        mlflow.log_text("\n".join(str(i) for i in range(inputs.rows)), "data/rows.txt")
    return LogOutputs(mlflow_run_id=run.info.run_id)


class ForkedFromInputs(StrictConfig):
    note: str = ""


class ForkedFromOutputs(StrictConfig):
    parent_pid: int  # the process that forked this task: the runner's task server


def forked_from(inputs: ForkedFromInputs) -> ForkedFromOutputs:
    return ForkedFromOutputs(parent_pid=os.getppid())
