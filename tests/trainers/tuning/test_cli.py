"""`churnops tune`: the command runs a real sweep, prints its trials and registers the best."""

from __future__ import annotations

from churnops.cli import main


def test_tune_command_sweeps_and_registers_the_best(tmp_path, cdnow_training_set_path, capsys):
    train = [f"data.path={cdnow_training_set_path}", f"workdir={tmp_path}"]
    code = main(
        ["tune", "random_forest", "--register", "backend=hyperopt", "spark_trials=false",
         "num_samples=2", "register_best.model_name=churn_tune_cli", f"train_overrides={train!r}"]
    )  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert "2 trials" in out and "best val/auroc 0." in out
    assert "registered churn_tune_cli v1 as @challenger" in out


def test_tune_command_names_an_unknown_key(capsys):
    assert main(["tune", "random_forest", "num_sample=2"]) == 2
    assert "num_sample" in capsys.readouterr().err


def test_scripts_sweep_entry_takes_overrides_after_a_flag(capsys):
    # A bad value after --register must reach the config (and be named), not be dropped.
    args = ["random_forest", "--register", "num_samples=-1"]
    assert main(args, command="tune", prog="scripts/sweep") == 2
    assert "num_samples" in capsys.readouterr().err
