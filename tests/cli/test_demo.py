"""`churnops demo`'s story lines: one per month of the replayed loop."""

from __future__ import annotations

from churnops.cli.demo import story_line

MONTH = {
    "month_end": "1998-01-31",
    "rows": 2357,
    "top_drift": "tenure_days",
    "top_drift_value": 8.3949,
    "estimated_roc_auc": 0.7872,
    "realized_window": "1997-10-01",
    "realized_roc_auc": 0.8146,
    "retrain": True,
    "blocked_by": [],
}


def test_a_month_reads_window_rows_drift_both_aucs_and_the_decision():
    line = story_line(MONTH)
    assert line.startswith("1998-01-31   2,357 rows  top drift tenure_days 8.39")
    assert "est. AUC 0.787" in line and "realized AUC 0.815 (1997-10)" in line
    assert line.endswith("RETRAIN")


def test_a_month_without_labels_or_estimate_and_a_held_decision():
    unknown = dict.fromkeys(("estimated_roc_auc", "realized_roc_auc", "realized_window"))
    month = {**MONTH, **unknown, "retrain": False, "blocked_by": ["cooldown: ..."]}
    line = story_line(month)
    assert "est. AUC -" in line and "realized AUC -" in line and line.endswith("held")
    assert story_line({**month, "blocked_by": []}).endswith("no")
