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
    assert flat["ece"] == pytest.approx(0.0)  # half churn, P = 0.5 for every row


def test_expected_calibration_error_measures_the_gap_per_bin():
    from churnops.trainers.evaluation import expected_calibration_error

    y = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    # Bin [0.9, 1): 4 rows, observed 1, mean p 0.9; bin [0.1, 0.2): observed 0, mean p 0.1.
    p = np.array([0.9, 0.9, 0.9, 0.9, 0.1, 0.1, 0.1, 0.1])
    assert expected_calibration_error(y, p) == pytest.approx(0.1)
    assert expected_calibration_error(y, np.where(y == 1, 0.6, 0.4)) == pytest.approx(0.4)


def test_expected_calibration_error_of_exact_and_inverted_scores():
    from churnops.trainers.evaluation import expected_calibration_error

    y = np.array([0, 0, 1, 1] * 25)
    assert expected_calibration_error(y, np.full(100, 0.5)) == pytest.approx(0.0)
    assert expected_calibration_error(y, y.astype(float)) == pytest.approx(0.0)
    assert expected_calibration_error(y, 1 - y.astype(float)) == pytest.approx(1.0)


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
