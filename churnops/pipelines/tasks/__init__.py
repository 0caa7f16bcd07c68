"""The lifecycle's stages as typed task functions (`def name(inputs: XInputs) -> XOutputs`).

`TASKS` maps each task's name (what a job spec's `task:` says) to its function as a lazy
`module:function` string, so listing tasks imports none of their dependencies.
`churnops.pipelines.task_functions` resolves and runs them.
"""

from __future__ import annotations

TASKS: dict[str, str] = {
    "feature_engineering": "churnops.pipelines.tasks.features:feature_engineering",
    "model_training": "churnops.pipelines.tasks.training:model_training",
    "tuning": "churnops.pipelines.tasks.tuning:tuning",
    "model_validation": "churnops.pipelines.tasks.validation:model_validation",
    "model_deployment": "churnops.pipelines.tasks.deployment:model_deployment",
    "batch_inference": "churnops.pipelines.tasks.batch:batch_inference",
    "serving_check": "churnops.pipelines.tasks.serving:serving_check",
    "monitor_refresh": "churnops.pipelines.tasks.monitoring:monitor_refresh",
    "monitor_replay": "churnops.pipelines.tasks.monitoring:monitor_replay",
}
