"""The bundle export: every job through databricks-sdk's JobSettings, and back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from databricks.sdk.service import catalog, jobs

from churnops.config import ConfigError
from churnops.pipelines.databricks.bundle import (
    BundleConfig,
    job_names,
    job_settings,
    load_bundle_config,
    write_bundle,
)
from churnops.pipelines.databricks.task_values import NOTEBOOK_SOURCE, notebook_parameters
from churnops.pipelines.spec import load_job_spec, parse_job_spec
from churnops.trainers.config import load_train_config

REPO = Path(__file__).resolve().parents[3]
GPUS_PER_NODE = {"g5.12xlarge": 4}  # AWS: 4 NVIDIA A10G per g5.12xlarge


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bundle")
    write_bundle(None, out)
    return out


def test_the_wheel_path_comes_from_the_package_not_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # anywhere but the project
    write_bundle(["batch_inference"], "out")
    root = yaml.safe_load(Path("out/databricks.yml").read_text())
    assert (Path("out") / root["artifacts"]["churnops_wheel"]["path"]).resolve() == REPO


def _job(bundle: Path, name: str) -> dict:
    return yaml.safe_load((bundle / f"resources/{name}.job.yml").read_text())["resources"]["jobs"][
        name
    ]


def test_bundle_has_every_job_and_the_monitor(bundle: Path) -> None:
    root = yaml.safe_load((bundle / "databricks.yml").read_text())
    assert root["bundle"]["name"] == "churnops" and root["include"] == ["resources/*.yml"]
    artifact = root["artifacts"]["churnops_wheel"]
    assert artifact["type"] == "whl" and "pip wheel" in artifact["build"]
    assert (bundle / artifact["path"]).resolve() == REPO  # the project, found from the package
    names = sorted(p.name for p in (bundle / "resources").iterdir())
    assert names == [
        "batch_inference.job.yml", "demo.job.yml", "monitoring.job.yml", "monitors.yml",
        "training.job.yml",
    ]  # fmt: skip
    assert (bundle / "notebooks/churnops_task.py").read_text() == NOTEBOOK_SOURCE


@pytest.mark.parametrize("name", ["training", "batch_inference", "monitoring", "demo"])
def test_each_job_round_trips_through_job_settings(bundle: Path, name: str) -> None:
    exported = _job(bundle, name)
    for task in exported["tasks"]:  # a bundle reference stands where the SDK wants an int id
        if "run_job_task" in task:
            assert task["run_job_task"]["job_id"].startswith("${resources.jobs.")
            task["run_job_task"]["job_id"] = 123
    # from_dict drops any key JobSettings does not know: a round trip that loses nothing
    # means every field name in the bundle is one Databricks reads.
    assert jobs.JobSettings.from_dict(exported).as_dict() == exported


def test_training_job_is_the_spec_gated_on_validation_with_a_gpu_cluster(bundle: Path) -> None:
    job = _job(bundle, "training")
    tasks = {t["task_key"]: t for t in job["tasks"]}
    assert list(tasks) == [
        "feature_engineering", "model_training", "model_validation", "validation_passed",
        "model_deployment",
    ]  # fmt: skip
    assert tasks["validation_passed"]["condition_task"] == {
        "op": "EQUAL_TO", "left": "{{tasks.model_validation.values.passed}}", "right": "true",
    }  # fmt: skip
    assert tasks["model_deployment"]["depends_on"] == [
        {"task_key": "validation_passed", "outcome": "true"}
    ]
    notebook = tasks["model_training"]["notebook_task"]
    assert (bundle / "resources" / notebook["notebook_path"]).read_text() == NOTEBOOK_SOURCE
    spec = load_job_spec("training")
    params = notebook["base_parameters"]
    assert params["churnops_task"] == "model_training"
    expected = notebook_parameters(spec.task("model_training"))
    workspace_only = ("input.overrides", "input.feature_store")  # bundle task_parameters
    assert {k: v for k, v in params.items() if k not in workspace_only} == {
        k: v for k, v in expected.items() if k not in workspace_only
    }
    clusters = {c["job_cluster_key"]: c["new_cluster"] for c in job["job_clusters"]}
    gpu = clusters[tasks["model_training"]["job_cluster_key"]]
    assert "gpu" in gpu["spark_version"] and gpu["num_workers"] >= 2  # multi-node
    # TorchDistributor on the workers: one process per GPU of every worker
    overrides = json.loads(params["input.overrides"])
    cfg = load_train_config(["model=mlp", *overrides])
    assert cfg.launcher.name == "torch_distributor" and cfg.launcher.local_mode is False
    assert cfg.launcher.use_gpu is True
    assert cfg.launcher.num_workers == GPUS_PER_NODE[gpu["node_type_id"]] * gpu["num_workers"]
    (library,) = tasks["feature_engineering"]["libraries"]
    wheel_dir = (bundle / "resources" / library["whl"]).parent.resolve()
    assert wheel_dir == REPO / "dist"  # where the artifact step builds it
    fe = tasks["feature_engineering"]["notebook_task"]["base_parameters"]
    assert fe["input.engine"] == "spark"  # on the job cluster's Spark session
    assert load_job_spec("training").task("feature_engineering").parameters.get("engine") is None
    assert job["schedule"]["quartz_cron_expression"] == spec.schedule.quartz_cron_expression
    assert job["email_notifications"]["on_failure"] == ["mlops-alerts@example.com"]
    assert {p["name"]: p["default"] for p in job["parameters"]}["tracking_uri"] == "databricks"


def test_monitoring_runs_the_training_job_by_reference(bundle: Path) -> None:
    tasks = {t["task_key"]: t for t in _job(bundle, "monitoring")["tasks"]}
    assert tasks["retrain"]["run_job_task"]["job_id"] == "${resources.jobs.training.id}"
    assert tasks["retrain"]["depends_on"] == [{"task_key": "retrain_needed", "outcome": "true"}]


def test_monitor_round_trips_through_the_catalog_classes(bundle: Path) -> None:
    monitors = yaml.safe_load((bundle / "resources/monitors.yml").read_text())
    (monitor,) = monitors["resources"]["quality_monitors"].values()
    log = monitor["inference_log"]
    assert catalog.MonitorInferenceLog.from_dict(log).as_dict() == log
    assert log["model_id_col"] == "model_version" and log["prediction_col"] == "prediction"


def test_unknown_cluster_field_is_refused() -> None:
    spec = parse_job_spec(
        {
            "name": "bad",
            "job_clusters": [{"job_cluster_key": "c", "new_cluster": {"node_typ_id": "x"}}],
            "tasks": [{"task_key": "t", "task": "feature_engineering"}],
        }
    )
    with pytest.raises(ConfigError, match=r"unknown field\(s\) \['node_typ_id'\]"):
        job_settings(spec, BundleConfig())


def test_bundle_config_is_strict(tmp_path: Path) -> None:
    path = tmp_path / "b.yaml"
    path.write_text("bundle_name: x\nwheels: y\n")
    with pytest.raises(ConfigError, match="unknown key 'wheels'"):
        load_bundle_config(path)


def test_workspace_parameters_default_to_workspace_paths(bundle: Path) -> None:
    for name in ("training", "batch_inference", "monitoring", "demo"):
        for p in _job(bundle, name).get("parameters", []):
            default = p["default"]
            assert not default.startswith((".churnops", "sqlite:")), (name, p)
            if "/" in default:  # a path: in a Volume, or an external location's URI
                assert default.startswith(("/Volumes/", "s3://", "abfss://", "gs://")), (name, p)
        # and no literal local path in any task's inputs either
        for task in _job(bundle, name)["tasks"]:
            params = task.get("notebook_task", {}).get("base_parameters", {})
            assert not [v for v in params.values() if ".churnops/" in v], (name, task["task_key"])


@pytest.mark.parametrize("where", ["local", "workspace"])
def test_batch_and_monitoring_defaults_read_what_the_training_job_writes(
    bundle: Path, where: str
) -> None:
    # feature_engineering writes <workdir>/training_set.parquet and the cleaned orders beside
    # it as training_set-orders.parquet (build_training_set); the other jobs' defaults must
    # name those very paths, locally and on the workspace.
    if where == "local":
        defaults = {n: load_job_spec(n).parameter_defaults() for n in job_names()}
    else:
        defaults = {n: {p["name"]: p["default"] for p in _job(bundle, n)["parameters"]}
                    for n in ("training", "batch_inference", "monitoring")}  # fmt: skip
    workdir = defaults["training"]["workdir"]
    assert defaults["batch_inference"]["workdir"] == defaults["monitoring"]["workdir"] == workdir
    assert defaults["batch_inference"]["orders_path"] == f"{workdir}/training_set-orders.parquet"
    assert defaults["monitoring"]["training_set"] == f"{workdir}/training_set.parquet"


def test_one_registered_model_name_everywhere(bundle: Path) -> None:
    from churnops.config import CONFIG_DIR
    from churnops.pipelines.tasks.deployment import ModelDeploymentInputs
    from churnops.pipelines.tasks.training import ModelTrainingInputs

    name = yaml.safe_load((CONFIG_DIR / "registry" / "default.yaml").read_text())["model_name"]
    assert ModelTrainingInputs.model_fields["model_name"].default == name
    assert ModelDeploymentInputs.model_fields["model_name"].default == name
    for job in ("training", "batch_inference", "monitoring", "demo"):
        assert load_job_spec(job).parameter_defaults()["model_name"] == name, job
    workspace = load_bundle_config().parameter_defaults["model_name"]
    assert workspace == f"main.churnops.{name}"  # the same model, in Unity Catalog
    for path in (CONFIG_DIR / "serving").glob("*.yaml"):
        served = yaml.safe_load(path.read_text())["served_entities"]
        assert {e["entity_name"] for e in served} == {name}, path
    replay = yaml.safe_load((CONFIG_DIR / "monitor" / "replay_cdnow.yaml").read_text())
    assert {a["model_uri"].split("@")[0] for a in replay["arms"]} == {f"models:/{name}"}


def test_the_monitor_watches_columns_the_monitoring_job_writes(bundle: Path) -> None:
    from churnops.monitoring.refresh.unpack import BASE_FIELDS

    columns = {n for n, _ in BASE_FIELDS}
    for monitor in load_bundle_config().monitors:
        log = monitor.inference_log
        used = {log.timestamp_col, log.model_id_col, log.prediction_col}
        used |= {c for c in (log.prediction_proba_col, log.label_col) if c}
        assert used <= columns, sorted(used - columns)


@pytest.mark.parametrize("name", ["training", "batch_inference", "monitoring", "demo"])
def test_each_job_is_read_whole_by_databricks_bundles(bundle: Path, name: str) -> None:
    from databricks.bundles.jobs import Job

    exported = _job(bundle, name)
    # databricks-bundles refuses a field it does not know; what it reads back is all there was
    assert Job.from_dict(exported).as_dict() == exported


def test_the_monitor_is_read_whole_by_databricks_bundles(bundle: Path) -> None:
    from databricks.bundles.quality_monitors import QualityMonitor

    monitors = yaml.safe_load((bundle / "resources/monitors.yml").read_text())
    for body in monitors["resources"]["quality_monitors"].values():
        assert QualityMonitor.from_dict(body).as_dict() == body


def test_a_field_databricks_bundles_does_not_know_is_refused() -> None:
    from churnops.pipelines.databricks.bundle import bundle_checked

    job = {"name": "j", "tasks": [{"task_key": "t", "notebook_task": {"notebook_path": "p"},
                                   "max_retry": 2}]}  # fmt: skip
    with pytest.raises(ConfigError, match=r"resources.jobs.j: .*Unexpected field 'max_retry'"):
        bundle_checked("jobs", "j", job)


def test_the_runtime_named_in_the_bundle_meets_the_wheels_dependency_ranges(bundle: Path) -> None:
    import tomllib

    from packaging.requirements import Requirement

    runtime = load_bundle_config().runtime
    assert runtime is not None
    for name in ("training", "batch_inference", "monitoring", "demo"):
        for cluster in _job(bundle, name)["job_clusters"]:
            assert cluster["new_cluster"]["spark_version"].startswith(runtime.spark_version + "-")
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    requirements = [Requirement(r) for r in project["dependencies"]]
    for extra in project["optional-dependencies"].values():
        requirements += [Requirement(r) for r in extra if not r.startswith("churnops")]
    checked = set()
    for req in requirements:
        version = runtime.libraries.get(req.name)
        if version is not None:
            assert req.specifier.contains(version), (str(req), version)
            checked.add(req.name)
    # Every published version is checked against a range of the wheel, but the client's,
    # which the wheel does not depend on: its test env pins the runtime's (with its Spark).
    assert checked == set(runtime.libraries) - {"databricks-feature-engineering"}
    assert {"pyarrow", "pandas", "numpy", "torch"} <= checked
    pins = [Requirement(line) for line in (REPO / "requirements/databricks-fe.txt").read_text()
            .splitlines() if line.strip() and not line.startswith("#")]  # fmt: skip
    for name in ("databricks-feature-engineering", "pyspark"):
        (pin,) = [str(r.specifier) for r in pins if r.name == name]
        assert pin == f"=={runtime.libraries[name]}", (name, pin)
    assert runtime.libraries_source.endswith("/release-notes/runtime/17.3lts-ml")


def test_a_cluster_on_another_runtime_is_refused() -> None:
    spec = parse_job_spec(
        {
            "name": "old",
            "job_clusters": [{"job_cluster_key": "c",
                              "new_cluster": {"spark_version": "15.4.x-cpu-ml-scala2.12"}}],
            "tasks": [{"task_key": "t", "task": "batch_inference"}],
        }
    )  # fmt: skip
    with pytest.raises(ConfigError, match=r"spark_version='15.4.x-cpu-ml-scala2.12': expected"):
        job_settings(spec, load_bundle_config().model_copy(update={"wheel": "w"}))


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        ({"training": {"nope": {"engine": "spark"}}}, "task_parameters.training.nope: not a"),
        ({"training": {"feature_engineering": {"as_of": "{{job.parameters.as_of}}"}}},
         "expected a literal value"),
    ],
)  # fmt: skip
def test_workspace_task_parameters_are_checked(sets: dict, message: str) -> None:
    cfg = load_bundle_config().model_copy(update={"wheel": "w", "task_parameters": sets})
    with pytest.raises(ConfigError, match=message):
        job_settings(load_job_spec("training"), cfg)
