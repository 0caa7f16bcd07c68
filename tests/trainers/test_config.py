from pathlib import Path

import pytest

from churnops.config import ConfigError
from churnops.trainers.config import TrainConfig, group_options, load_train_config


def test_defaults_compose_every_group():
    cfg = load_train_config()
    assert isinstance(cfg, TrainConfig)
    assert (cfg.model.name, cfg.launcher.name, cfg.logger.name) == ("mlp", "local", "mlflow")
    assert len(cfg.features.columns) == 18
    assert cfg.model.random_forest.n_estimators == 100


def test_group_choice_and_dotted_overrides():
    cfg = load_train_config(["model=xgboost", "launcher=ray", "trainer.max_epochs=5", "seed=7"])
    assert cfg.model.name == "xgboost"
    assert (cfg.launcher.name, cfg.launcher.num_workers) == ("ray", 2)
    assert cfg.trainer.max_epochs == 5
    assert cfg.seed == 7


def test_every_shipped_option_loads():
    for group in ("data", "model", "trainer", "launcher", "logger"):
        for option in group_options(group):
            load_train_config([f"{group}={option}"])


def test_unknown_key_is_an_error_naming_it():
    with pytest.raises(ConfigError, match=r"unknown key 'trainer\.max_epoch'"):
        load_train_config(["trainer.max_epoch=5"])


def test_unknown_group_option_names_the_choices():
    with pytest.raises(ConfigError, match=r"model='gbm'.*xgboost"):
        load_train_config(["model=gbm"])


def test_bad_value_names_field_and_value():
    with pytest.raises(ConfigError, match=r"trainer.max_epochs=0"):
        load_train_config(["trainer.max_epochs=0"])


def test_ray_cpus_per_worker_must_be_positive():
    assert (
        load_train_config(["launcher=ray", "launcher.cpus_per_worker=0.5"]).launcher.cpus_per_worker
        == 0.5
    )
    with pytest.raises(
        ConfigError, match=r"launcher.cpus_per_worker=-1: Input should be greater than 0"
    ):
        load_train_config(["launcher=ray", "launcher.cpus_per_worker=-1"])


def test_trainer_compile_takes_only_torch_compile_modes():
    assert (
        load_train_config(["trainer.compile=reduce-overhead"]).trainer.compile == "reduce-overhead"
    )
    with pytest.raises(ConfigError, match=r"trainer.compile='fast'"):
        load_train_config(["trainer.compile=fast"])


def test_a_customer_table_settings_live_in_data():
    cfg = load_train_config(["data.path=/data/Telco Churn.csv", "data.delimiter=;",
                             "data.label_values={Churned: 1, Active: 0}"])  # fmt: skip
    assert cfg.data.name == "Telco Churn"  # runs and benchmark rows are named after the file
    assert cfg.data.delimiter == ";" and cfg.data.label_values == {"Churned": 1, "Active": 0}
    assert cfg.features.columns is None  # the table's own, read when training
    assert load_train_config().data.name == "cdnow"
    assert len(load_train_config().features.columns) == 18  # built from orders: known
    with pytest.raises(ConfigError, match=r"data.delimiter=';;'"):
        load_train_config(["data.delimiter=;;"])


def test_orders_source_settings_with_a_table_path_are_refused():
    # data.source.* configures the orders log; beside data.path it would be silently ignored.
    with pytest.raises(ConfigError, match=r"drop data.source.*data.delimiter"):
        load_train_config(["data.path=customers.csv", "data.source.delimiter=;"])


def test_data_group_takes_your_own_file(tmp_path):
    mine = tmp_path / "shop.yaml"
    mine.write_text("path: shop.csv\nid_column: id\nlabel_column: left\n")
    cfg = load_train_config([f"data={mine}", "data.delimiter='|'"])
    assert (cfg.data.path, cfg.data.id_column, cfg.data.label_column) == ("shop.csv", "id", "left")
    assert cfg.data.delimiter == "|" and cfg.data.name == "shop"
    with pytest.raises(ConfigError, match=r"data='nope.yaml': no such file"):
        load_train_config(["data=nope.yaml"])


def _root_over_group(tmp_path, root_model: str) -> Path:
    """A config folder whose model group file sets nested keys, and a root that refines them."""
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "net.yaml").write_text(
        "name: mlp\nmlp:\n  dropout: 0.25\n  hidden_sizes: [32, 16]\n  lr: 0.01\n"
    )
    root = tmp_path / "train.yaml"
    root.write_text(f"defaults:\n  model: net\nmodel:\n  mlp:\n{root_model}")
    return root


def test_a_nested_root_override_keeps_the_group_files_sibling_keys(tmp_path):
    root = _root_over_group(tmp_path, "    dropout: 0.4\n")
    mlp = load_train_config(path=root, config_dir=tmp_path).model.mlp
    assert mlp.dropout == 0.4
    assert (mlp.hidden_sizes, mlp.lr) == ([32, 16], 0.01)  # the file's, not the defaults


def test_a_root_list_replaces_the_group_files_list(tmp_path):
    root = _root_over_group(tmp_path, "    hidden_sizes: [8]\n")
    mlp = load_train_config(path=root, config_dir=tmp_path).model.mlp
    assert mlp.hidden_sizes == [8] and mlp.dropout == 0.25


def test_an_unknown_nested_root_key_names_the_closest_key(tmp_path):
    root = _root_over_group(tmp_path, "    dropuot: 0.4\n")
    with pytest.raises(
        ConfigError, match=r"unknown key 'model\.mlp\.dropuot' \(did you mean 'dropout'\?\)"
    ):
        load_train_config(path=root, config_dir=tmp_path)
