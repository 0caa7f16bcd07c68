"""The one engine setting: its config, the master it resolves to, and cluster addresses."""

import socket

import pytest

from churnops.config import ConfigError, load_config
from churnops.data.engines import EngineConfig, get_engine
from churnops.data.engines.cluster import (
    ClusterUnreachableError,
    check_reachable,
    cluster_endpoints,
)
from churnops.data.engines.spark import resolve_master
from churnops.data.features.build import FeaturesJobConfig
from churnops.trainers.config import load_train_config


def test_a_bare_name_is_shorthand_and_dotted_overrides_reach_spark_settings():
    cfg = load_config(FeaturesJobConfig, None, ["engine=spark"])
    assert cfg.engine.name == "spark" and cfg.engine.spark.master is None
    cfg = load_config(
        FeaturesJobConfig,
        None,
        ["engine.name=spark", "engine.spark.master=spark://head:7077",
         "engine.spark.conf.spark.executor.cores=1"],
    )  # fmt: skip
    assert cfg.engine.spark.master == "spark://head:7077"
    assert cfg.engine.spark.conf == {"spark.executor.cores": "1"}  # flat keys, text values
    assert str(cfg.engine) == "spark (spark://head:7077)"


def test_train_config_has_an_engine_group():
    cfg = load_train_config(["engine=spark", "engine.spark.master=local[2]"])
    assert (cfg.engine.name, cfg.engine.spark.master) == ("spark", "local[2]")
    assert load_train_config([]).engine.name == "duckdb"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("engine.name=polars", r"engine\.name='polars'.*'duckdb' or 'spark'"),
        ("engine.spark.mastr=x", r"unknown key 'engine\.spark\.mastr' \(did you mean 'master'"),
        ("engine.duckdb.threads=0", r"engine\.duckdb\.threads=0"),
    ],
)
def test_bad_engine_settings_are_named(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(FeaturesJobConfig, None, [override])


def test_only_set_duckdb_settings_reach_the_engine():
    assert EngineConfig().options() == {}
    assert EngineConfig(duckdb={"threads": 2}).options() == {"threads": 2}
    engine = get_engine(EngineConfig(duckdb={"threads": 1}))
    assert engine.name == "duckdb"
    assert engine.connection.execute("SELECT current_setting('threads')").fetchone()[0] == 1
    engine.connection.execute("RESET threads")


def test_master_comes_from_the_setting_then_env_then_spark_defaults(tmp_path, monkeypatch):
    monkeypatch.delenv("SPARK_MASTER", raising=False)
    monkeypatch.delenv("PYSPARK_GATEWAY_PORT", raising=False)
    monkeypatch.setenv("SPARK_CONF_DIR", str(tmp_path))
    assert resolve_master(None, default="local[3]") == "local[3]"
    (tmp_path / "spark-defaults.conf").write_text(
        "# cluster\nspark.master   spark://defaults:7077\n"
    )
    assert resolve_master(None) == "spark://defaults:7077"
    monkeypatch.setenv("SPARK_MASTER", "spark://env:7077")
    assert resolve_master(None) == "spark://env:7077"
    assert resolve_master("local[2]") == "local[2]"


@pytest.mark.parametrize(
    ("address", "endpoints"),
    [
        ("spark://h1:7077,h2:7078", [("h1", 7077), ("h2", 7078)]),
        ("spark://head", [("head", 7077)]),
        ("sc://head:15002/;token=x", [("head", 15002)]),
        ("ray://head:10001", [("head", 10001)]),
        ("10.0.0.5:6379", [("10.0.0.5", 6379)]),
        ("local[*]", []),
        ("yarn", []),
        ("auto", []),
    ],
)
def test_cluster_endpoints(address, endpoints):
    assert cluster_endpoints(address) == endpoints


def test_an_unreachable_address_is_one_line_naming_the_setting():
    with socket.socket() as s:  # a port nobody listens on: bound, then closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ClusterUnreachableError) as info:
        check_reachable("engine.spark.master", f"spark://127.0.0.1:{port}", timeout_s=5)
    message = str(info.value)
    assert f"engine.spark.master='spark://127.0.0.1:{port}'" in message
    assert "\n" not in message and isinstance(info.value, ValueError)


def test_every_engine_command_takes_engine_overrides(tmp_path, capsys):
    from churnops.cli import main

    commands = [
        ["features", "build", "--output-dir", str(tmp_path)],
        ["score-batch", "--model-uri", "models:/m/1", "--input", "in", "--output", "out"],
        ["monitor", "refresh"],
        ["train"],
        ["tune", "random_forest"],
    ]
    for command in commands:
        assert main([*command, "engine.spark.mastr=x"]) == 2, command
        assert "unknown key 'engine.spark.mastr'" in capsys.readouterr().err, command


# An older YAML wrote the engine as a bare name; overrides of its settings follow it.
OLD_ENGINE = "engine: spark\n"
SPARK_OVERRIDES = ["engine.spark.master=spark://head:7077", "engine.spark.conf.spark.x=1"]


def _spark_at_head(engine: EngineConfig) -> None:
    assert (engine.name, engine.spark.master) == ("spark", "spark://head:7077")
    assert engine.spark.conf == {"spark.x": "1"}


def test_an_old_train_config_with_a_bare_engine_takes_engine_overrides(tmp_path):
    path = tmp_path / "train.yaml"
    path.write_text("defaults:\n  engine: duckdb\n" + OLD_ENGINE)
    _spark_at_head(load_train_config(SPARK_OVERRIDES, path=path).engine)


def test_an_old_features_config_with_a_bare_engine_takes_flags_and_overrides(tmp_path):
    from churnops.cli import build_parser  # the flags `features build` takes
    from churnops.cli.features import job_config, store_config

    path = tmp_path / "features.yaml"
    path.write_text(OLD_ENGINE)
    _spark_at_head(load_config(FeaturesJobConfig, path, SPARK_OVERRIDES).engine)
    store = tmp_path / "store.yaml"
    store.write_text(f"root: {tmp_path / 'fs'}\n" + OLD_ENGINE)
    args = build_parser().parse_args(
        ["features", "build", "--config", str(path), "--store-config", str(store),
         "--engine", "spark", *SPARK_OVERRIDES]
    )  # fmt: skip
    _spark_at_head(job_config(args).engine)
    assert store_config(args).engine.name == "spark"


def test_an_old_monitor_config_with_a_bare_engine_takes_engine_overrides(tmp_path):
    from churnops.monitoring.config import MonitorConfig

    path = tmp_path / "monitor.yaml"
    path.write_text(f"table: {tmp_path / 'p'}\noutput_dir: {tmp_path / 'o'}\n" + OLD_ENGINE)
    _spark_at_head(load_config(MonitorConfig, path, SPARK_OVERRIDES).engine)


def test_pipeline_task_inputs_take_a_bare_engine_at_any_depth():
    from churnops.config import build_config
    from churnops.pipelines.task_functions import inputs_model
    from churnops.pipelines.tasks.features import feature_engineering

    model = inputs_model(feature_engineering)
    inputs = build_config(model, {"engine": "spark", "feature_store": {"engine": "spark"}})
    assert inputs.engine.name == inputs.feature_store.engine.name == "spark"
