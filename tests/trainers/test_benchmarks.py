import json

import pytest

from churnops.benchmarks import baselines, gpu_check


@pytest.mark.slow
def test_baselines_benchmark_writes_every_column(tmp_path, cdnow_training_set_path):
    code = baselines.main(
        [
            "--models", "recency,logistic_regression",
            "--results-dir", str(tmp_path),
            f"workdir={tmp_path}", f"data.path={cdnow_training_set_path}", "data.cv_folds=3",
        ]
    )  # fmt: skip
    assert code == 0
    rows = json.loads((tmp_path / "baselines.json").read_text())
    assert [r["model"] for r in rows] == ["recency", "logistic_regression"]
    for row in rows:
        assert set(baselines.COLUMNS) <= set(row)
        assert row["dataset"] == cdnow_training_set_path.stem  # named after the file it read
        assert row["roc_auc_cv_std"] > 0
        assert row["cost_usd"] == pytest.approx(row["fit_seconds"] * 0.10 / 3600, abs=1e-5)
    assert rows[1]["roc_auc"] > rows[0]["roc_auc"]  # 18 features beat recency alone


def test_gpu_check_skips_clearly_without_cuda(capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is here: gpu-check would run for real")
    assert gpu_check.main([]) == 0
    assert "skipped: no CUDA GPU" in capsys.readouterr().out


def test_gpu_check_steps_are_valid_train_configs(tmp_path):
    """A typo in a step's overrides would only show on a GPU machine, where time is scarce."""
    from churnops.trainers.config import load_train_config

    steps = gpu_check._steps()
    assert {launcher for _, launcher, _, _ in steps} >= {"local", "ray", "in-process"}
    for _, _, overrides, _ in steps:
        cfg = load_train_config([f"workdir={tmp_path}", "trainer=gpu", *overrides])
        assert cfg.trainer.precision == "bf16-mixed"


def test_gpu_check_names_what_a_machine_lacks():
    assert gpu_check._missing("json") is None
    assert gpu_check._missing("json", "no_such_module_xyz") == (
        "skipped: no_such_module_xyz not installed here"
    )
