"""A net trial runs through fit_net, the fit train uses: per-epoch reports, best weights scored."""

from __future__ import annotations

import pytest

from churnops.data.features import FEATURE_COLUMNS
from churnops.trainers.config import load_train_config
from churnops.trainers.data import load_training_arrays
from churnops.trainers.tuning.objective import TuneData, evaluate_trial


@pytest.mark.slow
def test_net_trial_reports_each_epoch_and_scores_its_best_weights(cdnow_training_set_path):
    data = load_training_arrays(cdnow_training_set_path, list(FEATURE_COLUMNS))
    tune = TuneData(data.x[:3000], data.y[:3000], data.x[3000:4000], data.y[3000:4000])
    base = load_train_config(
        [
            "trainer.max_epochs=3",
            "trainer.limit_train_batches=4",
            "trainer.early_stopping_patience=null",
            "trainer.accelerator=cpu",
            "model.mlp.scheduler=none",  # no warm-up: every epoch may be the checkpointed best
        ]
    )
    reports = []
    metrics = evaluate_trial(
        {"model.mlp.lr": 0.01}, base.model_dump(mode="json"), tune, report=reports.append
    )
    assert [r["epoch"] for r in reports] == [1.0, 2.0, 3.0]
    assert metrics["epochs"] == 3.0
    # The trial scores the checkpointed best epoch: its val/auroc is the best one reported.
    best = max(r["val/auroc"] for r in reports)
    assert metrics["val/auroc"] == pytest.approx(best, abs=1e-4)


def test_estimator_params_are_refused_for_the_net(cdnow_training_set_path):
    base = load_train_config(["model=mlp"]).model_dump(mode="json")
    data = TuneData(*([None] * 4))
    with pytest.raises(ValueError, match=r"estimator\.\* params \['max_depth'\]"):
        evaluate_trial({"estimator.max_depth": 3}, base, data)
