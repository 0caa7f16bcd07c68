"""The job spec: Databricks Jobs' fields in strict pydantic, loaded from `configs/pipeline/`.

One spec drives the local runner, the scheduler and the Databricks bundle export, so the field
names are Databricks' own (`task_key`, `depends_on`, `run_if`, `condition_task`, ...).
"""

from __future__ import annotations

import json
import re
import typing
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from churnops.config import CONFIG_DIR, ConfigError, StrictConfig, build_config, load_yaml
from churnops.pipelines.quartz import parse_quartz
from churnops.pipelines.task_functions import import_function, resolve_task

PIPELINE_DIR = CONFIG_DIR / "pipeline"

# Databricks' dynamic value references that the runner resolves.
REFERENCE = re.compile(r"\{\{\s*([^{}]+?)\s*\}\}")


class RunIf(StrEnum):
    """When a task runs, given how its dependencies ended (Databricks' `run_if`)."""

    ALL_SUCCESS = "ALL_SUCCESS"
    AT_LEAST_ONE_SUCCESS = "AT_LEAST_ONE_SUCCESS"
    NONE_FAILED = "NONE_FAILED"
    ALL_DONE = "ALL_DONE"
    AT_LEAST_ONE_FAILED = "AT_LEAST_ONE_FAILED"
    ALL_FAILED = "ALL_FAILED"


class ConditionOp(StrEnum):
    """A condition task's comparison (Databricks' `ConditionTaskOp`)."""

    EQUAL_TO = "EQUAL_TO"
    NOT_EQUAL = "NOT_EQUAL"
    GREATER_THAN = "GREATER_THAN"
    GREATER_THAN_OR_EQUAL = "GREATER_THAN_OR_EQUAL"
    LESS_THAN = "LESS_THAN"
    LESS_THAN_OR_EQUAL = "LESS_THAN_OR_EQUAL"


class PauseStatus(StrEnum):
    UNPAUSED = "UNPAUSED"
    PAUSED = "PAUSED"


class TaskDependency(StrictConfig):
    """An upstream task; `outcome` ("true"/"false") only when the upstream is a condition."""

    task_key: str
    outcome: str | None = None


class ConditionTask(StrictConfig):
    """Compare two values (after reference resolution); the result is the task's outcome."""

    op: ConditionOp
    left: str
    right: str


class RunJobTask(StrictConfig):
    """Run another job of this folder (by its spec name) as one task of this run."""

    job: str
    job_parameters: dict[str, str] = Field(default_factory=dict)


class TaskSpec(StrictConfig):
    """One task: a churnops task function (`task` + `parameters`), a condition or a job run."""

    task_key: str = Field(pattern=r"^[A-Za-z0-9_-]{1,100}$")
    description: str | None = None
    depends_on: list[TaskDependency] = Field(default_factory=list)
    run_if: RunIf = RunIf.ALL_SUCCESS
    task: str | None = None  # a TASKS name, or "module:function"
    parameters: dict[str, Any] = Field(default_factory=dict)
    condition_task: ConditionTask | None = None
    run_job_task: RunJobTask | None = None
    max_retries: int = Field(default=0, ge=0)
    min_retry_interval_millis: int = Field(default=0, ge=0)
    retry_on_timeout: bool = False
    timeout_seconds: int = Field(default=0, ge=0)  # 0: no limit, as in Databricks
    job_cluster_key: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> TaskSpec:
        kinds = [k for k in ("task", "condition_task", "run_job_task") if getattr(self, k)]
        if len(kinds) != 1:
            raise ValueError(
                f"task {self.task_key!r}: expected exactly one of task, condition_task, "
                f"run_job_task, got {kinds or 'none'}"
            )
        if self.parameters and not self.task:
            raise ValueError(f"task {self.task_key!r}: parameters belong to a `task:` task")
        return self


class JobParameter(StrictConfig):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    default: str


class CronSchedule(StrictConfig):
    quartz_cron_expression: str
    timezone_id: str = "UTC"
    pause_status: PauseStatus = PauseStatus.UNPAUSED


class QueueSettings(StrictConfig):
    enabled: bool = False


class EmailNotifications(StrictConfig):
    on_start: list[str] = Field(default_factory=list)
    on_success: list[str] = Field(default_factory=list)
    on_failure: list[str] = Field(default_factory=list)
    on_duration_warning_threshold_exceeded: list[str] = Field(default_factory=list)
    on_streaming_backlog_exceeded: list[str] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _no_deprecated(cls, data: Any) -> Any:
        if isinstance(data, dict) and "no_alert_for_skipped_runs" in data:
            raise ValueError(
                "email_notifications.no_alert_for_skipped_runs: deprecated by Databricks; "
                "expected notification_settings.no_alert_for_skipped_runs"
            )
        return data


class NotificationSettings(StrictConfig):
    """Which runs send no alert (Databricks' `notification_settings`)."""

    no_alert_for_skipped_runs: bool = False
    no_alert_for_canceled_runs: bool = False


class Webhook(StrictConfig):
    id: str  # a notification destination's id


class WebhookNotifications(StrictConfig):
    on_start: list[Webhook] = Field(default_factory=list)
    on_success: list[Webhook] = Field(default_factory=list)
    on_failure: list[Webhook] = Field(default_factory=list)
    on_duration_warning_threshold_exceeded: list[Webhook] = Field(default_factory=list)
    on_streaming_backlog_exceeded: list[Webhook] = Field(default_factory=list)


class HealthRule(StrictConfig):
    metric: Literal[
        "RUN_DURATION_SECONDS",
        "STREAMING_BACKLOG_BYTES",
        "STREAMING_BACKLOG_RECORDS",
        "STREAMING_BACKLOG_SECONDS",
        "STREAMING_BACKLOG_FILES",
    ]
    op: Literal["GREATER_THAN"] = "GREATER_THAN"
    value: int = Field(ge=0)


class Health(StrictConfig):
    rules: list[HealthRule] = Field(min_length=1)


class RunAs(StrictConfig):
    """Who the job runs as: exactly one of a user or a service principal (application id)."""

    user_name: str | None = None
    service_principal_name: str | None = None

    @model_validator(mode="after")
    def _one(self) -> RunAs:
        if (self.user_name is None) == (self.service_principal_name is None):
            raise ValueError("run_as: expected exactly one of user_name, service_principal_name")
        return self


class FileArrivalTrigger(StrictConfig):
    url: str  # a Unity Catalog volume or external location path
    min_time_between_triggers_seconds: int | None = Field(default=None, ge=60)
    wait_after_last_change_seconds: int | None = Field(default=None, ge=60)


class PeriodicTrigger(StrictConfig):
    interval: int = Field(ge=1)
    unit: Literal["HOURS", "DAYS", "WEEKS"]


class TableUpdateTrigger(StrictConfig):
    table_names: list[str] = Field(min_length=1)
    condition: Literal["ALL_UPDATED", "ANY_UPDATED"] | None = None
    min_time_between_triggers_seconds: int | None = Field(default=None, ge=60)
    wait_after_last_change_seconds: int | None = Field(default=None, ge=60)


class Trigger(StrictConfig):
    """A Databricks trigger (one kind); the local scheduler only fires `schedule`."""

    pause_status: PauseStatus = PauseStatus.UNPAUSED
    file_arrival: FileArrivalTrigger | None = None
    periodic: PeriodicTrigger | None = None
    table_update: TableUpdateTrigger | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Trigger:
        kinds = [k for k in ("file_arrival", "periodic", "table_update") if getattr(self, k)]
        if len(kinds) != 1:
            raise ValueError(
                f"trigger: expected exactly one of file_arrival, periodic, table_update, got "
                f"{kinds or 'none'}"
            )
        return self


class JobCluster(StrictConfig):
    """A cluster the Databricks export declares; `new_cluster` holds ClusterSpec's fields."""

    job_cluster_key: str
    new_cluster: dict[str, Any]


class JobSpec(StrictConfig):
    """A job: tasks in a DAG, parameters, schedule, concurrency and (for Databricks) clusters."""

    name: str = Field(pattern=r"^[A-Za-z0-9_-]+$")
    description: str | None = None
    tasks: list[TaskSpec] = Field(min_length=1)
    parameters: list[JobParameter] = Field(default_factory=list)
    schedule: CronSchedule | None = None
    max_concurrent_runs: int = Field(default=1, ge=1)
    queue: QueueSettings = Field(default_factory=QueueSettings)
    timeout_seconds: int = Field(default=0, ge=0)
    email_notifications: EmailNotifications | None = None
    notification_settings: NotificationSettings | None = None
    webhook_notifications: WebhookNotifications | None = None
    health: Health | None = None
    run_as: RunAs | None = None
    trigger: Trigger | None = None
    job_clusters: list[JobCluster] = Field(default_factory=list)
    tags: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_timer(self) -> JobSpec:
        if self.schedule is not None and self.trigger is not None:
            raise ValueError("schedule and trigger: a job takes one of them, not both")
        return self

    def task(self, key: str) -> TaskSpec:
        for t in self.tasks:
            if t.task_key == key:
                return t
        raise KeyError(f"job {self.name!r} has no task {key!r}")

    def parameter_defaults(self) -> dict[str, str]:
        return {p.name: p.default for p in self.parameters}


def check_graph(spec: JobSpec) -> None:
    """Refuse duplicate keys, unknown or cyclic dependencies and dangling references."""
    keys = [t.task_key for t in spec.tasks]
    dupes = sorted({k for k in keys if keys.count(k) > 1})
    if dupes:
        raise ValueError(f"tasks: task_key {dupes} used more than once")
    by_key = {t.task_key: t for t in spec.tasks}
    clusters = {c.job_cluster_key for c in spec.job_clusters}
    params = {p.name for p in spec.parameters}
    for t in spec.tasks:
        for dep in t.depends_on:
            if dep.task_key not in by_key:
                raise ValueError(
                    f"task {t.task_key!r}: depends_on {dep.task_key!r} is not a task of "
                    f"this job (tasks: {keys})"
                )
            upstream = by_key[dep.task_key]
            if dep.outcome is not None and (
                upstream.condition_task is None or dep.outcome not in ("true", "false")
            ):
                raise ValueError(
                    f"task {t.task_key!r}: outcome={dep.outcome!r} on {dep.task_key!r}: "
                    "expected 'true' or 'false', and only on a condition_task"
                )
        if t.job_cluster_key and t.job_cluster_key not in clusters:
            raise ValueError(
                f"task {t.task_key!r}: job_cluster_key={t.job_cluster_key!r} is not in "
                f"job_clusters {sorted(clusters)}"
            )
    order = topological_order(spec)  # raises on a cycle
    ancestors = _ancestors(spec, order)
    for t in spec.tasks:
        _check_nesting(t)
        for ref in task_references(t):
            _check_reference(t.task_key, ref, params, ancestors[t.task_key])
            _check_value(t.task_key, ref, by_key)
    if spec.schedule is not None:  # the scheduler's own parser: one verdict for every command
        parse_quartz(spec.schedule.quartz_cron_expression, spec.schedule.timezone_id)


def task_outputs(task: TaskSpec) -> set[str] | None:
    """The values a task sets on Databricks: its outputs model's fields (None: not known here,
    a task function this process cannot import; the runner refuses it before anything runs)."""
    if task.task is None:
        return set()  # condition and run_job tasks set no task values on Databricks
    try:
        fn = import_function(resolve_task(task.task))
        model = typing.get_type_hints(fn).get("return")
    except (ConfigError, NameError):
        return None
    fields = getattr(model, "model_fields", None)
    return set(fields) if fields is not None else set()


def _check_value(task_key: str, ref: str, by_key: dict[str, TaskSpec]) -> None:
    parts = ref.split(".")
    if parts[0] != "tasks":
        return
    upstream = by_key[parts[1]]
    names = task_outputs(upstream)
    if names is not None and parts[3] not in names:
        kind = "a churnops task" if upstream.task else "a condition or run_job task"
        raise ValueError(
            f"task {task_key!r}: reference {{{{{ref}}}}}: {parts[1]!r} ({kind}) sets no value "
            f"{parts[3]!r} (its values: {sorted(names)})"
        )


def _check_nesting(task: TaskSpec) -> None:
    """Databricks substitutes text: a reference inside a list or mapping would land inside
    JSON text, so references belong in a parameter's own string only."""
    for name, value in task.parameters.items():
        if isinstance(value, dict | list):
            nested: list[str] = []
            _collect_strings(value, nested)
            if any(REFERENCE.search(text) for text in nested):
                raise ValueError(
                    f"task {task.task_key!r}: parameters.{name}: a {{{{...}}}} reference inside "
                    "a list or mapping; expected it as the parameter's own string value"
                )


def topological_order(spec: JobSpec) -> list[str]:
    """Task keys with every task after its dependencies (spec order kept among equals)."""
    pending = {t.task_key: {d.task_key for d in t.depends_on} for t in spec.tasks}
    order: list[str] = []
    while pending:
        ready = [k for k, deps in pending.items() if deps <= set(order)]
        if not ready:
            raise ValueError(f"tasks: depends_on forms a cycle among {sorted(pending)}")
        for k in ready:
            order.append(k)
            del pending[k]
    return order


def downstream(spec: JobSpec, keys: set[str]) -> set[str]:
    """`keys` and every task that depends on one of them, directly or not."""
    out = set(keys)
    for k in topological_order(spec):
        if any(d.task_key in out for d in spec.task(k).depends_on):
            out.add(k)
    return out


def task_references(task: TaskSpec) -> list[str]:
    """Every `{{...}}` reference a task's parameters, condition or job parameters hold."""
    texts: list[str] = []
    _collect_strings(task.parameters, texts)
    if task.condition_task:
        texts += [task.condition_task.left, task.condition_task.right]
    if task.run_job_task:
        texts += list(task.run_job_task.job_parameters.values())
    return [m.group(1) for text in texts for m in REFERENCE.finditer(text)]


def _collect_strings(value: Any, out: list[str]) -> None:
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, dict):
        for v in value.values():
            _collect_strings(v, out)
    elif isinstance(value, list):
        for v in value:
            _collect_strings(v, out)


def render_value(value: Any) -> str:
    """A value as the text Databricks puts in its place: strings as they are, the rest as JSON
    (`true`, `3`, `{"path": ...}`, `null`)."""
    return value if isinstance(value, str) else json.dumps(value)


def resolve_references(value: Any, lookup: Callable[[str], Any]) -> Any:
    """The local runner's resolution: a string that is one reference takes the referenced value
    itself (its type kept); a reference inside longer text is rendered into it."""
    if isinstance(value, dict):
        return {k: resolve_references(v, lookup) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_references(v, lookup) for v in value]
    if not isinstance(value, str):
        return value
    whole = REFERENCE.fullmatch(value.strip())
    if whole:
        return lookup(whole.group(1))
    return substitute_text(value, lookup)


def substitute_text(text: str, lookup: Callable[[str], Any]) -> str:
    """Databricks' resolution: every reference replaced by its value's text, always a string."""
    return REFERENCE.sub(lambda m: render_value(lookup(m.group(1))), text)


def _ancestors(spec: JobSpec, order: list[str]) -> dict[str, set[str]]:
    anc: dict[str, set[str]] = {}
    for k in order:
        deps = {d.task_key for d in spec.task(k).depends_on}
        anc[k] = deps.union(*(anc[d] for d in deps)) if deps else set()
    return anc


def _check_reference(task_key: str, ref: str, params: set[str], ancestors: set[str]) -> None:
    parts = ref.split(".")
    where = f"task {task_key!r}: reference {{{{{ref}}}}}"
    if parts[:2] == ["job", "parameters"] and len(parts) == 3:
        if parts[2] not in params:
            raise ValueError(f"{where}: no job parameter {parts[2]!r} (have {sorted(params)})")
    elif parts[0] == "tasks" and len(parts) == 4 and parts[2] == "values":
        if parts[1] not in ancestors:
            raise ValueError(
                f"{where}: {parts[1]!r} is not upstream of {task_key!r} (upstream: "
                f"{sorted(ancestors)})"
            )
    elif ref not in ("job.run_id", "job.id", "job.name", "task.name", "job.start_time.iso_date"):
        raise ValueError(
            f"{where}: expected job.parameters.NAME, tasks.KEY.values.FIELD, job.run_id, "
            "job.name, task.name or job.start_time.iso_date"
        )


def spec_path(name: str | Path) -> Path:
    """`configs/pipeline/NAME.yaml` for a bare name, else the path as given."""
    text = str(name)
    if text.endswith((".yaml", ".yml")) or "/" in text:
        return Path(text)
    return PIPELINE_DIR / f"{text}.yaml"


def load_job_spec(name: str | Path) -> JobSpec:
    """Load and validate a job spec by name (configs/pipeline/NAME.yaml) or path."""
    path = spec_path(name)
    if not path.is_file():
        known = sorted(p.stem for p in PIPELINE_DIR.glob("*.yaml"))
        raise ConfigError(f"job spec {str(name)!r}: no file {str(path)!r} (known jobs: {known})")
    return parse_job_spec(load_yaml(path), source=str(path))


def parse_job_spec(data: dict[str, Any], source: str = "job spec") -> JobSpec:
    """Validate a job spec mapping: fields strictly, then the task graph."""
    spec = build_config(JobSpec, data, source=source)
    try:
        check_graph(spec)
    except ValueError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    return spec
