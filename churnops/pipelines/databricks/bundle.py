"""`churnops pipeline export --target databricks`: job specs -> a Databricks Asset Bundle.

Every job goes through databricks-sdk's `JobSettings` (and the monitor through its catalog
classes), so a field name Databricks does not know cannot reach the bundle. Each churnops task
is a notebook task on one generated notebook (`task_values.NOTEBOOK_SOURCE`) with the churnops
wheel as its library: a notebook is where Databricks lets a task set task values, and each input
is its own parameter, so a `{{...}}` reference Databricks fills as text never lands inside JSON.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field

from churnops.config import ConfigError, StrictConfig, load_config
from churnops.pipelines.databricks.task_values import NOTEBOOK_SOURCE, notebook_parameters
from churnops.pipelines.spec import PIPELINE_DIR, JobSpec, TaskSpec, load_job_spec

BUNDLE_CONFIG = PIPELINE_DIR / "bundle" / "databricks.yaml"
NOTEBOOK_FILE = "notebooks/churnops_task.py"  # in the bundle, beside databricks.yml


class BundleTarget(StrictConfig):
    mode: str = "development"
    default: bool = False
    host: str | None = None


class InferenceLog(StrictConfig):
    problem_type: str
    timestamp_col: str
    granularities: list[str]
    model_id_col: str
    prediction_col: str
    prediction_proba_col: str | None = None
    label_col: str | None = None


class MonitorSchedule(StrictConfig):
    quartz_cron_expression: str
    timezone_id: str = "UTC"


class BundleMonitor(StrictConfig):
    """A Lakehouse Monitoring (data profiling) monitor on the predictions table, as the bundle
    declares it (`resources.quality_monitors`); the local monitor is `monitoring.MonitorConfig`."""

    name: str
    table_name: str
    output_schema_name: str
    assets_dir: str
    inference_log: InferenceLog
    schedule: MonitorSchedule | None = None


class Runtime(StrictConfig):
    """The Databricks Runtime every job cluster runs, with library versions its release notes
    publish (checked against the wheel's dependency ranges in the tests)."""

    spark_version: str  # the prefix of every job cluster's spark_version, e.g. "17.3.x"
    libraries: dict[str, str] = Field(default_factory=dict)  # distribution -> version
    source: str = ""  # the page the Spark, MLflow and client versions come from
    libraries_source: str = ""  # the page the Python library versions come from


class BundleConfig(StrictConfig):
    """How the export names the bundle, installs the wheel and sets workspace defaults."""

    bundle_name: str = "churnops"
    wheel: str | None = None  # a workspace path; None: the bundle's own build in dist/
    artifact_build: str = "pip wheel --no-deps -w dist ."
    # the task notebook's workspace path for `deploy` (the bundle ships its own copy)
    notebook: str = "/Workspace/Shared/churnops/churnops_task"
    targets: dict[str, BundleTarget] = Field(
        default_factory=lambda: {"dev": BundleTarget(default=True)}
    )
    parameter_defaults: dict[str, str] = Field(default_factory=dict)
    # what differs on the workspace, per job and task: {job: {task_key: {input: value}}}
    task_parameters: dict[str, dict[str, dict[str, Any]]] = Field(default_factory=dict)
    runtime: Runtime | None = None
    monitors: list[BundleMonitor] = Field(default_factory=list)


def load_bundle_config(path: str | Path | None = None) -> BundleConfig:
    return load_config(BundleConfig, path or BUNDLE_CONFIG)


def job_names() -> list[str]:
    """Every job spec in configs/pipeline/."""
    return sorted(p.stem for p in PIPELINE_DIR.glob("*.yaml"))


def project_root() -> Path | None:
    """The source checkout churnops is imported from (where `pip wheel .` builds it), found
    from the package itself; None when churnops is installed from a wheel."""
    root = Path(__file__).resolve().parents[3]
    return root if (root / "pyproject.toml").is_file() else None


def job_settings(
    spec: JobSpec,
    cfg: BundleConfig,
    job_ids: dict[str, Any] | None = None,
    notebook: str | None = None,
) -> Any:
    """The spec as a databricks-sdk `JobSettings`.

    Args:
        spec: the job spec.
        cfg: the bundle config (wheel, notebook, workspace parameter defaults).
        job_ids: run_job_task job name -> job id (deploy); by default the bundle's
            `${resources.jobs.NAME.id}` reference.
        notebook: the task notebook's path (default `cfg.notebook`).
    """
    from databricks.sdk.service import compute, jobs

    clusters = []
    cluster_fields = set(compute.ClusterSpec.__dataclass_fields__)
    for c in spec.job_clusters:
        unknown = sorted(set(c.new_cluster) - cluster_fields)
        if unknown:
            raise ConfigError(
                f"job {spec.name!r}: job_clusters[{c.job_cluster_key!r}].new_cluster has "
                f"unknown field(s) {unknown} (not ClusterSpec fields)"
            )
        version = str(c.new_cluster.get("spark_version", ""))
        if cfg.runtime and not version.startswith(cfg.runtime.spark_version + "-"):
            raise ConfigError(
                f"job {spec.name!r}: job_clusters[{c.job_cluster_key!r}].new_cluster."
                f"spark_version={version!r}: expected the bundle's runtime "
                f"{cfg.runtime.spark_version}-... (runtime.spark_version in the bundle config)"
            )
        clusters.append(
            jobs.JobCluster(
                job_cluster_key=c.job_cluster_key,
                new_cluster=compute.ClusterSpec.from_dict(c.new_cluster),
            )
        )
    default_cluster = spec.job_clusters[0].job_cluster_key if spec.job_clusters else None
    if default_cluster is None and any(t.task or t.run_job_task is None for t in spec.tasks):
        raise ConfigError(f"job {spec.name!r}: declare job_clusters for its wheel tasks to run on")
    ids = job_ids or {}
    workspace = workspace_parameters(spec, cfg)
    return jobs.JobSettings(
        name=spec.name,
        description=spec.description,
        tasks=[
            _task(t, cfg, default_cluster, ids, notebook or cfg.notebook, workspace)
            for t in spec.tasks
        ],
        parameters=[
            jobs.JobParameterDefinition(
                name=p.name, default=cfg.parameter_defaults.get(p.name, p.default)
            )
            for p in spec.parameters
        ]
        or None,
        schedule=jobs.CronSchedule(
            quartz_cron_expression=spec.schedule.quartz_cron_expression,
            timezone_id=spec.schedule.timezone_id,
            pause_status=jobs.PauseStatus(spec.schedule.pause_status.value),
        )
        if spec.schedule
        else None,
        max_concurrent_runs=spec.max_concurrent_runs,
        queue=jobs.QueueSettings(enabled=spec.queue.enabled),
        timeout_seconds=spec.timeout_seconds or None,
        email_notifications=_sdk(jobs.JobEmailNotifications, spec.email_notifications),
        notification_settings=_sdk(jobs.JobNotificationSettings, spec.notification_settings),
        webhook_notifications=_sdk(jobs.WebhookNotifications, spec.webhook_notifications),
        health=_sdk(jobs.JobsHealthRules, spec.health),
        run_as=_sdk(jobs.JobRunAs, spec.run_as),
        trigger=_sdk(jobs.TriggerSettings, spec.trigger),
        job_clusters=clusters or None,
        tags=spec.tags or None,
    )


def _sdk(cls: Any, section: StrictConfig | None) -> Any:
    """A spec section as its databricks-sdk class (empty lists and unset fields left out)."""
    if section is None:
        return None
    data = section.model_dump(mode="json", exclude_none=True, exclude_defaults=False)
    return cls.from_dict({k: v for k, v in data.items() if v != []})


def workspace_parameters(spec: JobSpec, cfg: BundleConfig) -> dict[str, dict[str, Any]]:
    """The task inputs the bundle config sets for `spec` on the workspace, checked: known
    tasks, literal values (a reference belongs in the spec)."""
    sets = cfg.task_parameters.get(spec.name, {})
    keys = [t.task_key for t in spec.tasks]
    for key, values in sets.items():
        if key not in keys or spec.task(key).task is None:
            raise ConfigError(
                f"task_parameters.{spec.name}.{key}: not a churnops task of job {spec.name!r} "
                f"(tasks: {keys})"
            )
        for name, value in values.items():
            if "{{" in json.dumps(value):
                raise ConfigError(
                    f"task_parameters.{spec.name}.{key}.{name}={value!r}: expected a literal "
                    "value (references belong in the job spec)"
                )
    return sets


def _task(
    t: TaskSpec,
    cfg: BundleConfig,
    default_cluster: str | None,
    ids: dict[str, Any],
    notebook: str,
    workspace: dict[str, dict[str, Any]],
) -> Any:
    from databricks.sdk.service import compute, jobs

    task = jobs.Task(
        task_key=t.task_key,
        description=t.description,
        depends_on=[
            jobs.TaskDependency(task_key=d.task_key, outcome=d.outcome) for d in t.depends_on
        ]
        or None,
        run_if=jobs.RunIf(t.run_if.value) if t.depends_on else None,
        max_retries=t.max_retries or None,
        min_retry_interval_millis=t.min_retry_interval_millis or None,
        retry_on_timeout=t.retry_on_timeout or None,
        timeout_seconds=t.timeout_seconds or None,
    )
    if t.condition_task is not None:
        task.condition_task = jobs.ConditionTask(
            op=jobs.ConditionTaskOp(t.condition_task.op.value),
            left=t.condition_task.left,
            right=t.condition_task.right,
        )
    elif t.run_job_task is not None:
        job = t.run_job_task.job
        task.run_job_task = jobs.RunJobTask(
            job_id=ids.get(job, f"${{resources.jobs.{job}.id}}"),
            job_parameters=dict(t.run_job_task.job_parameters) or None,
        )
    else:
        assert t.task is not None
        task.notebook_task = jobs.NotebookTask(
            notebook_path=notebook,
            base_parameters=notebook_parameters(
                t.model_copy(
                    update={"parameters": {**t.parameters, **workspace.get(t.task_key, {})}}
                )
            ),
            source=jobs.Source.WORKSPACE,
        )
        task.job_cluster_key = t.job_cluster_key or default_cluster
        task.libraries = [compute.Library(whl=cfg.wheel)]
    return task


def monitor_resources(cfg: BundleConfig) -> dict[str, Any]:
    """`quality_monitors` resources, each built through databricks-sdk's catalog classes."""
    from databricks.sdk.service import catalog

    out = {}
    for m in cfg.monitors:
        log = catalog.MonitorInferenceLog(
            problem_type=catalog.MonitorInferenceLogProblemType(m.inference_log.problem_type),
            timestamp_col=m.inference_log.timestamp_col,
            granularities=m.inference_log.granularities,
            model_id_col=m.inference_log.model_id_col,
            prediction_col=m.inference_log.prediction_col,
            prediction_proba_col=m.inference_log.prediction_proba_col,
            label_col=m.inference_log.label_col,
        )
        body: dict[str, Any] = {
            "table_name": m.table_name,
            "output_schema_name": m.output_schema_name,
            "assets_dir": m.assets_dir,
            "inference_log": log.as_dict(),
        }
        if m.schedule:
            body["schedule"] = catalog.MonitorCronSchedule(
                quartz_cron_expression=m.schedule.quartz_cron_expression,
                timezone_id=m.schedule.timezone_id,
            ).as_dict()
        out[m.name] = body
    return out


def bundle_files(
    names: list[str] | None = None,
    cfg: BundleConfig | None = None,
    project_from_bundle: str | None = "..",
) -> dict[str, Any]:
    """The bundle as {relative path: content}: databricks.yml and resources/*.yml as YAML-ready
    mappings, the task notebook as text.

    Args:
        names: job spec names (default: every spec in configs/pipeline/).
        cfg: the bundle config (default configs/pipeline/bundle/databricks.yaml).
        project_from_bundle: the project (where the wheel builds) relative to the bundle folder;
            None when there is no project to build (then `cfg.wheel` must name the wheel).
    """
    cfg = cfg or load_bundle_config()
    if cfg.wheel is None:  # resource files resolve paths from resources/, one level down
        if project_from_bundle is None:
            raise ConfigError(
                "wheel: churnops is installed from a wheel, with no project to build one from; "
                "expected `wheel:` in the bundle config (the wheel's workspace path)"
            )
        wheel = (Path("..") / project_from_bundle / "dist" / "*.whl").as_posix()
        cfg = cfg.model_copy(update={"wheel": wheel})
    specs = [load_job_spec(n) for n in (names or job_names())]
    known = {s.name for s in specs}
    for s in specs:
        for t in s.tasks:
            if t.run_job_task and t.run_job_task.job not in known:
                raise ConfigError(
                    f"job {s.name!r}: task {t.task_key!r} runs job {t.run_job_task.job!r}, "
                    f"which is not exported with it (exported: {sorted(known)})"
                )
    bundle: dict[str, Any] = {
        "bundle": {"name": cfg.bundle_name},
        "include": ["resources/*.yml"],
    }
    if project_from_bundle is not None:
        bundle["artifacts"] = {
            "churnops_wheel": {
                "type": "whl",
                "path": project_from_bundle,
                "build": cfg.artifact_build,
            }
        }
    bundle["targets"] = {
        name: {
            k: v
            for k, v in {
                "mode": t.mode,
                "default": t.default or None,
                "workspace": {"host": t.host} if t.host else None,
            }.items()
            if v is not None
        }
        for name, t in cfg.targets.items()
    }
    files: dict[str, Any] = {"databricks.yml": bundle, NOTEBOOK_FILE: NOTEBOOK_SOURCE}
    notebook = f"../{NOTEBOOK_FILE}"  # from resources/
    for s in specs:
        job = job_settings(s, cfg, notebook=notebook).as_dict()
        files[f"resources/{s.name}.job.yml"] = {
            "resources": {"jobs": {s.name: bundle_checked("jobs", s.name, job)}}
        }
    if cfg.monitors:
        monitors = {
            name: bundle_checked("quality_monitors", name, body)
            for name, body in monitor_resources(cfg).items()
        }
        files["resources/monitors.yml"] = {"resources": {"quality_monitors": monitors}}
    return files


def bundle_checked(kind: str, name: str, resource: dict[str, Any]) -> dict[str, Any]:
    """`resource` read by Databricks' own bundle classes (`databricks-bundles`), which refuse a
    field they do not know; returned as those classes write it."""
    from databricks.bundles.jobs import Job
    from databricks.bundles.quality_monitors import QualityMonitor

    cls: Any = {"jobs": Job, "quality_monitors": QualityMonitor}[kind]
    try:
        return cls.from_dict(resource).as_dict()
    except (ValueError, TypeError) as exc:
        raise ConfigError(
            f"resources.{kind}.{name}: databricks-bundles refuses it ({exc})"
        ) from None


def write_bundle(
    names: list[str] | None, out: str | Path, cfg: BundleConfig | None = None
) -> list[Path]:
    """Write the bundle under `out`, every file computed (and validated) before the first is
    written; the wheel builds from the checkout churnops is imported from."""
    out = Path(out)
    root = project_root()
    project = os.path.relpath(root, out.resolve()) if root else None
    contents = bundle_files(names, cfg, Path(project).as_posix() if project else None)
    written = []
    for rel, content in contents.items():
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_text(content)
        else:
            path.write_text(
                "# Generated by `churnops pipeline export --target databricks`; edit the job "
                "specs in configs/pipeline/ instead.\n"
                + yaml.safe_dump(content, sort_keys=False, width=100)
            )
        written.append(path)
    return written
