"""The one labelling rule: which label row judges a prediction.

A prediction made on day D for customer c is judged by c's label row with the latest cutoff <= D
(cutoffs compared as days); with none it is unlabelled. With `max_label_age_days` set, a row whose
cutoff is older than D minus that many days leaves it unlabelled too: an older label judges a
period whose outcome the prediction's own features already saw. Rows repeating a (customer,
cutoff) count once, churned if any says so.

Two frame kinds need it, so it is written twice and tested to agree
(tests/monitoring/test_labels.py): `join_labels` on pandas (the estimates and the A/B analysis)
and `join_labels_query` on an engine DataFrame (the refresh, at the table's scale).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from churnops.data.engines.api import dataframe_api


def join_labels(
    predictions: pd.DataFrame,
    labels: pd.DataFrame,
    *,
    max_label_age_days: int | None = None,
) -> pd.DataFrame:
    """The predictions with `churn` and `label_cutoff` from the label row that judges each one.

    A prediction made on day D for customer c is judged by c's label row with the latest `cutoff`
    <= D (cutoffs compared as days); with no such row the prediction is unlabelled (`churn` is
    NA). `max_label_age_days` also leaves a prediction unlabelled when that row's cutoff is older
    than D minus that many days (a stale label judges a different period); None keeps the plain
    rule. Rows repeating a (customer, cutoff) count once, churned if any says so.
    """
    for frame, columns, name in (
        (predictions, ["customer_id", "date"], "predictions"),
        (labels, ["customer_id", "cutoff", "churn"], "labels"),
    ):
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise ValueError(f"{name}: lacks column(s) {missing}; has {list(frame.columns)}")
    left = predictions.reset_index(drop=True).copy()
    left["__row"] = np.arange(len(left))
    left["__d"] = pd.to_datetime(left["date"])
    right = labels[["customer_id", "cutoff", "churn"]].copy()
    right["customer_id"] = right["customer_id"].astype(str)
    right["__d"] = pd.to_datetime(right["cutoff"]).dt.normalize()
    right = right.groupby(["customer_id", "__d"], as_index=False).agg(
        churn=("churn", "max"), label_cutoff=("cutoff", "first")
    )
    left["customer_id"] = left["customer_id"].astype(str)
    joined = pd.merge_asof(
        left.sort_values("__d"),
        right.sort_values("__d"),
        on="__d",
        by="customer_id",
        direction="backward",
    )
    if max_label_age_days is not None:
        age = joined["__d"] - pd.to_datetime(joined["label_cutoff"])
        stale = age > pd.Timedelta(days=max_label_age_days)
        joined.loc[stale, ["churn", "label_cutoff"]] = None
    joined["churn"] = joined["churn"].astype("Int64")
    return joined.sort_values("__row").drop(columns=["__row", "__d"]).reset_index(drop=True)


def join_labels_query(
    preds: Any,
    labels: Any,
    id_col: str,
    ts_col: str,
    cutoff_col: str,
    max_label_age_days: int | None = None,
) -> Any:
    """Predictions with `_label` (NULL while unlabelled) from the latest cutoff <= their date
    (and >= their date minus `max_label_age_days`, when given), in the engine: `join_labels`'
    rule on a DataFrame of either engine. `labels` carries the label as `_y`; a repeated
    (customer, cutoff) must not repeat the predictions it judges."""
    F, _ = dataframe_api(preds)
    preds = preds.withColumn("_pdate", F.to_date(F.col(ts_col)))
    keys = preds.select(F.col(id_col).alias("_id"), F.col("_pdate")).distinct()
    lab = (
        labels.select(
            F.col(id_col).alias("_lid"), F.col(cutoff_col).cast("date").alias("_cut"), "_y"
        )
        .groupBy("_lid", "_cut")
        .agg(F.max("_y").alias("_y"))
    )
    match = (F.col("_id") == F.col("_lid")) & (F.col("_cut") <= F.col("_pdate"))
    if max_label_age_days is not None:
        match = match & (F.col("_cut") >= F.date_sub(F.col("_pdate"), max_label_age_days))
    cands = keys.join(lab, match)
    latest = cands.groupBy("_id", "_pdate").agg(F.max("_cut").alias("_cut"))
    chosen = latest.join(
        lab, (F.col("_id") == F.col("_lid")) & (latest["_cut"] == lab["_cut"])
    ).select(F.col("_id").alias("_jid"), F.col("_pdate").alias("_jdate"), F.col("_y"))
    joined = preds.join(
        chosen,
        (preds[id_col] == F.col("_jid")) & (preds["_pdate"] == F.col("_jdate")),
        "left",
    )
    return joined.withColumn("_label", F.col("_y"))
