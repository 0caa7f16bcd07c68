"""The baselines benchmark: datasets named with their protocol, the targets checked per dataset."""

import json

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


def test_verdict_checks_both_targets():
    def row(model, auc, std, loss):
        return {"dataset": "d", "model": model, "roc_auc_cv_mean": auc, "roc_auc_cv_std": std,
                "log_loss_cv": loss}  # fmt: skip

    ok = baselines.verdict([row("mlp", 0.80, 0.01, 0.405), row("xgboost", 0.805, 0.01, 0.40)])
    assert "ROC AUC target met" in ok and "log loss target met" in ok
    bad = baselines.verdict([row("mlp", 0.78, 0.01, 0.43), row("xgboost", 0.805, 0.01, 0.40)])
    assert "ROC AUC target MISSED" in bad and "log loss target MISSED" in bad
    assert baselines.verdict([row("xgboost", 0.8, 0.01, 0.4)]) is None


def test_a_malformed_dataset_spec_names_the_expected_form(tmp_path):
    with pytest.raises(SystemExit, match=r"'cdnow@1997-09-30' is not SOURCE@YYYY-MM-DD/HORIZON"):
        baselines.main(["--datasets", "cdnow@1997-09-30", "--workdir", str(tmp_path)])
