"""`churnops pipeline deploy --target databricks`: create or reset the jobs with the Jobs API.

The task notebook is imported to the workspace first (`cfg.notebook`). A job is found by name
(`jobs.list(name=...)`): reset in place when it exists, created when not. Jobs that others run
(`run_job_task`) are deployed first, so their ids can be filled in. `run_now` starts a deployed
job and waits for its run to end.
"""

from __future__ import annotations

import base64
import dataclasses
import posixpath
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from churnops.config import ConfigError
from churnops.pipelines.databricks.bundle import (
    BundleConfig,
    job_names,
    job_settings,
    load_bundle_config,
)
from churnops.pipelines.databricks.task_values import NOTEBOOK_SOURCE
from churnops.pipelines.spec import JobSpec, load_job_spec


@dataclass
class DeployedJob:
    name: str
    job_id: int
    action: str  # "created" or "reset"


def workspace_client(
    profile: str | None = None, host: str | None = None, token: str | None = None, **config: Any
) -> Any:
    """A databricks-sdk WorkspaceClient: a profile, an explicit host/token, or DATABRICKS_* env."""
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.core import Config

    return WorkspaceClient(config=Config(profile=profile, host=host, token=token, **config))


def deploy(
    client: Any, names: list[str] | None, wheel: str, cfg: BundleConfig | None = None
) -> list[DeployedJob]:
    """Create or reset each job on the workspace `client` talks to.

    Args:
        client: a `WorkspaceClient`.
        names: job spec names (default: every spec in configs/pipeline/).
        wheel: the churnops wheel's workspace path (e.g. /Volumes/main/churnops/wheels/...).
        cfg: the bundle config (default configs/pipeline/bundle/databricks.yaml).
    """
    from databricks.sdk.service import workspace

    cfg = (cfg or load_bundle_config()).model_copy(update={"wheel": wheel})
    specs = _callees_first([load_job_spec(n) for n in (names or job_names())])
    for spec in specs:  # build (and so validate) every job before the workspace changes
        job_settings(spec, cfg, job_ids={s.name: 0 for s in specs})
    ids: dict[str, int] = {}
    client.workspace.mkdirs(posixpath.dirname(cfg.notebook))
    client.workspace.import_(
        cfg.notebook,
        content=base64.b64encode(NOTEBOOK_SOURCE.encode()).decode(),
        format=workspace.ImportFormat.SOURCE,
        language=workspace.Language.PYTHON,
        overwrite=True,
    )
    deployed = []
    for spec in specs:
        settings = job_settings(spec, cfg, job_ids=ids)
        existing = list(client.jobs.list(name=spec.name))
        if len(existing) > 1:
            raise ConfigError(
                f"job {spec.name!r}: {len(existing)} jobs of that name on the workspace "
                f"({[j.job_id for j in existing]}); expected at most one to reset"
            )
        if existing:
            job_id = existing[0].job_id
            client.jobs.reset(job_id, new_settings=settings)
            action = "reset"
        else:
            fields = {
                f.name: getattr(settings, f.name)
                for f in dataclasses.fields(settings)
                if getattr(settings, f.name) is not None
            }
            job_id = client.jobs.create(**fields).job_id
            action = "created"
        ids[spec.name] = job_id
        deployed.append(DeployedJob(spec.name, job_id, action))
    return deployed


def _callees_first(specs: list[JobSpec]) -> list[JobSpec]:
    by_name = {s.name: s for s in specs}
    ordered: list[JobSpec] = []

    def visit(spec: JobSpec, path: tuple[str, ...]) -> None:
        if spec in ordered:
            return
        if spec.name in path:
            raise ConfigError(f"run_job_task cycle: {' -> '.join((*path, spec.name))}")
        for t in spec.tasks:
            if t.run_job_task is not None:
                callee = by_name.get(t.run_job_task.job)
                if callee is None:
                    raise ConfigError(
                        f"job {spec.name!r}: task {t.task_key!r} runs job "
                        f"{t.run_job_task.job!r}, which is not deployed with it"
                    )
                visit(callee, (*path, spec.name))
        ordered.append(spec)

    for s in specs:
        visit(s, ())
    return ordered


@dataclass
class FinishedRun:
    run_id: int
    life_cycle_state: str  # TERMINATED, SKIPPED, INTERNAL_ERROR
    result_state: str | None  # SUCCESS, FAILED, ...
    tasks: dict[str, str | None]  # task_key -> result state


def run_now(
    client: Any, job_id: int, parameters: dict[str, str] | None = None, timeout_minutes: float = 60
) -> FinishedRun:
    """Start a deployed job (`jobs.run_now`) and wait for the run to end (`jobs.get_run`)."""
    run = client.jobs.run_now(job_id, job_parameters=parameters or None).result(
        timeout=timedelta(minutes=timeout_minutes)
    )
    state = run.state
    return FinishedRun(
        run_id=run.run_id,
        life_cycle_state=state.life_cycle_state.value,
        result_state=state.result_state.value if state.result_state else None,
        tasks={
            t.task_key: t.state.result_state.value if t.state and t.state.result_state else None
            for t in run.tasks or []
        },
    )
