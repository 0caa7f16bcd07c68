"""The demo job (`configs/pipeline/demo.yaml`, what `make demo` runs): its parameters for a
working folder, shared by `churnops demo` and the pipeline benchmark."""

from __future__ import annotations

from pathlib import Path


def demo_parameters(workdir: Path, requests: int = 400) -> dict[str, str]:
    """The demo job's parameters (configs/pipeline/demo.yaml) for a run in `workdir`: what
    `churnops demo` and the pipeline benchmark pass."""
    store = f"sqlite:///{workdir / 'mlflow.db'}"  # one MLflow store and registry for every task
    return {"workdir": str(workdir), "tracking_uri": store, "registry_uri": store,
            "requests": str(requests)}  # fmt: skip
