import numpy as np
import pytest

from churnops.trainers.evaluation import binary_metrics, save_plots


def test_metrics_of_perfect_and_uninformative_scores():
    y = np.array([0, 0, 1, 1])
    perfect = binary_metrics(y, np.array([0.0, 0.1, 0.9, 1.0]))
    assert perfect["auroc"] == 1.0 and perfect["pr_auc"] == 1.0
    flat = binary_metrics(y, np.full(4, 0.5))
    assert flat["auroc"] == 0.5
    assert flat["log_loss"] == pytest.approx(np.log(2))
    assert flat["brier"] == pytest.approx(0.25)


def test_plots_are_written(tmp_path):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    p = np.clip(y * 0.6 + rng.random(200) * 0.4, 0, 1)
    paths = save_plots(y, p, tmp_path, "t", ["a", "b"], np.array([0.3, 0.7]))
    assert [p.name for p in paths] == [
        "roc.png",
        "pr.png",
        "calibration.png",
        "feature_importance.png",
    ]
    assert all(p.stat().st_size > 1000 for p in paths)
