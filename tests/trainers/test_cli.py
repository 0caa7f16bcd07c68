import subprocess
from pathlib import Path

import yaml

from churnops.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_print_config_resolves_groups_and_overrides(capsys):
    assert main(["train", "model=random_forest", "trainer.max_epochs=3", "--print-config"]) == 0
    cfg = yaml.safe_load(capsys.readouterr().out)
    assert cfg["model"]["name"] == "random_forest"
    assert cfg["trainer"]["max_epochs"] == 3


def test_unknown_key_exits_2_naming_it(capsys):
    assert main(["train", "trainer.epochs=3"]) == 2
    assert "unknown key 'trainer.epochs'" in capsys.readouterr().err


def test_scripts_train_trains_and_prints_a_summary(tmp_path, cdnow_training_set_path):
    out = subprocess.run(
        [str(ROOT / "scripts" / "train"), "model=recency", f"workdir={tmp_path}",
         f"data.path={cdnow_training_set_path}"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "auroc" in out.stdout and "MLflow run" in out.stdout
    assert "model models:/" in out.stdout
    assert (tmp_path / "mlflow.db").exists()
