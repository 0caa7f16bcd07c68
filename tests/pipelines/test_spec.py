"""The job spec: strict fields, a checked task graph, and the shipped specs."""

from __future__ import annotations

import pytest

from churnops.config import ConfigError
from churnops.pipelines.spec import PIPELINE_DIR, downstream, load_job_spec, parse_job_spec


def spec(*tasks: dict, **fields: object):
    return parse_job_spec({"name": "j", "tasks": list(tasks), **fields})


def t(key: str, *deps: str, **fields: object) -> dict:
    return {"task_key": key, "task": "m:f", "depends_on": [{"task_key": d} for d in deps], **fields}


@pytest.mark.parametrize(
    ("tasks", "fields", "message"),
    [
        ([t("a", "b"), t("b", "a")], {}, "depends_on forms a cycle among \\['a', 'b'\\]"),
        ([t("a", "zz")], {}, "depends_on 'zz' is not a task of this job"),
        ([t("a"), t("a")], {}, "task_key \\['a'\\] used more than once"),
        (
            [t("a", parameters={"x": "{{tasks.b.values.y}}"}), t("b")],
            {},
            "'b' is not upstream of 'a'",
        ),
        ([t("a", parameters={"x": "{{job.parameters.nope}}"})], {}, "no job parameter 'nope'"),
        ([t("a", parameters={"x": "{{job.whatever}}"})], {}, "expected job.parameters.NAME"),
        (
            [t("a"), {"task_key": "b", "task": "m:f",
                      "depends_on": [{"task_key": "a", "outcome": "true"}]}],
            {},
            "only on a condition_task",
        ),
        ([t("a", job_cluster_key="gpu")], {}, "job_cluster_key='gpu' is not in job_clusters"),
    ],
)  # fmt: skip
def test_bad_graphs_are_refused_with_the_reason(tasks, fields, message) -> None:
    with pytest.raises(ConfigError, match=message):
        spec(*tasks, **fields)


def test_field_errors_name_the_field() -> None:
    with pytest.raises(ConfigError, match=r"unknown key 'tasks\.0\.max_retry'"):
        spec(t("a", max_retry=2))
    with pytest.raises(ConfigError, match=r"tasks\.0\.run_if='SOMETIMES'"):
        spec(t("a", run_if="SOMETIMES"))
    with pytest.raises(ConfigError, match="expected exactly one of task, condition_task"):
        cond = {"op": "EQUAL_TO", "left": "1", "right": "1"}
        spec({"task_key": "a", "task": "m:f", "condition_task": cond})
    with pytest.raises(ConfigError, match="max_concurrent_runs=0"):
        spec(t("a"), max_concurrent_runs=0)


def test_downstream_follows_dependencies() -> None:
    s = spec(t("a"), t("b", "a"), t("c", "b"), t("d"))
    assert downstream(s, {"b"}) == {"b", "c"}
    assert downstream(s, {"a", "d"}) == {"a", "b", "c", "d"}


@pytest.mark.parametrize("name", sorted(p.stem for p in PIPELINE_DIR.glob("*.yaml")))
def test_shipped_specs_load(name: str) -> None:
    job = load_job_spec(name)
    assert job.name == name  # run_job_task and the bundle refer to jobs by file name


@pytest.mark.parametrize("name", sorted(p.stem for p in PIPELINE_DIR.glob("*.yaml")))
def test_shipped_specs_pass_only_inputs_their_tasks_take(name: str) -> None:
    from churnops.pipelines.task_functions import import_function, inputs_model, resolve_task

    for task in load_job_spec(name).tasks:
        if task.task is None:
            continue
        fields = inputs_model(import_function(resolve_task(task.task))).model_fields
        unknown = sorted(set(task.parameters) - set(fields))
        assert not unknown, f"{name}.{task.task_key}: {task.task} takes no {unknown}"


def test_training_spec_is_the_four_stages_with_a_gate() -> None:
    job = load_job_spec("training")
    tasks = [x.task for x in job.tasks if x.task]
    assert tasks == [
        "feature_engineering",
        "model_training",
        "model_validation",
        "model_deployment",
    ]
    deploy = job.task("model_deployment")
    assert [(d.task_key, d.outcome) for d in deploy.depends_on] == [("validation_passed", "true")]


def test_unknown_job_name_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"known jobs: \[.*'training'"):
        load_job_spec("trainning")


BAD_SCHEDULES = [
    ({"quartz_cron_expression": "0 0 25 * * ?"}, "25 is outside 0-23"),
    ({"quartz_cron_expression": "0 0 2 1 * MON"}, "expected '?' in exactly one of"),
    ({"quartz_cron_expression": "0 0 2 * * ?", "timezone_id": "Mars/Olympus"},
     "timezone_id='Mars/Olympus': not an IANA time zone"),
]  # fmt: skip


@pytest.mark.parametrize(("schedule", "message"), BAD_SCHEDULES)
def test_every_command_refuses_a_bad_schedule_the_same_way_before_writing(
    tmp_path, capsys, schedule, message
) -> None:
    import yaml

    from churnops.cli import main

    path = tmp_path / "bad.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "name": "bad",
                "schedule": schedule,
                "tasks": [{"task_key": "t", "task": "batch_inference"}],
                "job_clusters": [{"job_cluster_key": "c", "new_cluster": {"num_workers": 0}}],
            }
        )
    )
    home, out = tmp_path / "home", tmp_path / "bundle"
    commands = {
        "run": ["pipeline", "run", str(path), "--home", str(home)],
        "schedule": ["pipeline", "schedule", str(path), "--home", str(home), "--max-runs", "1"],
        "export": ["pipeline", "export", str(path), "--target", "databricks", "--out", str(out)],
        "deploy": ["pipeline", "deploy", str(path), "--target", "databricks", "--wheel", "x"],
    }
    errors = {}
    for name, argv in commands.items():
        assert main(argv) == 2, name
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and message in err, (name, err)
        errors[name] = err.split(": error: ", 1)[1]
    assert len(set(errors.values())) == 1, errors  # one validator, one message
    assert not home.exists() and not out.exists()


def test_the_jobs_fields_users_set_are_accepted_and_exported() -> None:
    from databricks.sdk.service import jobs

    from churnops.pipelines.databricks.bundle import BundleConfig, job_settings

    s = spec(
        {"task_key": "a", "task": "batch_inference"},
        job_clusters=[{"job_cluster_key": "c", "new_cluster": {"num_workers": 0}}],
        notification_settings={"no_alert_for_skipped_runs": True},
        email_notifications={"on_failure": ["a@example.com"]},
        webhook_notifications={"on_failure": [{"id": "dest-1"}]},
        health={"rules": [{"metric": "RUN_DURATION_SECONDS", "op": "GREATER_THAN", "value": 600}]},
        run_as={"service_principal_name": "6a1c-app-id"},
        trigger={"file_arrival": {"url": "/Volumes/main/churnops/landing/"}},
        tags={"team": "mlops"},
        timeout_seconds=3600,
        queue={"enabled": True},
    )
    exported = job_settings(s, BundleConfig(wheel="w.whl")).as_dict()
    assert jobs.JobSettings.from_dict(exported).as_dict() == exported  # every name Databricks'
    assert exported["notification_settings"]["no_alert_for_skipped_runs"] is True
    assert exported["webhook_notifications"] == {"on_failure": [{"id": "dest-1"}]}
    assert exported["health"]["rules"][0]["value"] == 600
    assert exported["run_as"] == {"service_principal_name": "6a1c-app-id"}
    assert exported["trigger"]["file_arrival"]["url"] == "/Volumes/main/churnops/landing/"
    assert exported["tags"] == {"team": "mlops"} and exported["timeout_seconds"] == 3600
    assert "no_alert_for_skipped_runs" not in exported["email_notifications"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"email_notifications": {"no_alert_for_skipped_runs": True}},
         "deprecated by Databricks; expected notification_settings.no_alert_for_skipped_runs"),
        ({"run_as": {}}, "expected exactly one of user_name, service_principal_name"),
        ({"trigger": {"periodic": {"interval": 1, "unit": "DAYS"},
                      "file_arrival": {"url": "/Volumes/x"}}}, "expected exactly one of file_arr"),
        ({"trigger": {"periodic": {"interval": 1, "unit": "DAYS"}},
          "schedule": {"quartz_cron_expression": "0 0 2 * * ?"}}, "a job takes one of them"),
        ({"health": {"rules": [{"metric": "RUN_SECONDS", "value": 1}]}}, "RUN_SECONDS"),
    ],
)  # fmt: skip
def test_bad_jobs_fields_are_refused_naming_the_field(fields, message) -> None:
    with pytest.raises(ConfigError, match=message):
        spec(t("a"), **fields)


def test_a_reference_to_a_value_the_upstream_does_not_set_is_refused() -> None:
    fe = {"task_key": "fe", "task": "feature_engineering"}
    train = {"task_key": "train", "task": "model_training", "depends_on": [{"task_key": "fe"}],
             "parameters": {"training_set": "{{tasks.fe.values.trainingset}}"}}  # fmt: skip
    with pytest.raises(ConfigError, match=r"'fe' \(a churnops task\) sets no value 'trainingset'"):
        spec(fe, train)
    cond = {"task_key": "c", "condition_task": {"op": "EQUAL_TO", "left": "1", "right": "1"}}
    after = t("d", "c", parameters={"x": "{{tasks.c.values.outcome}}"})
    with pytest.raises(ConfigError, match="a condition or run_job task"):
        spec(cond, after)
