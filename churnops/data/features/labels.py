"""Churn labels: who of the customers known at a cutoff buys nothing within the horizon."""

from __future__ import annotations

from datetime import date
from typing import Any

from churnops.data.engines.api import dataframe_api


def compute_labels(orders: Any, cutoff: date | str, horizon_days: int) -> Any:
    """Labels frame: `customer_id`, `cutoff`, `churn`.

    The population is every customer with an order on or before `cutoff`; `churn` is 1 when the
    customer has no order in (cutoff, cutoff + horizon_days], else 0.
    """
    if horizon_days <= 0:
        raise ValueError(f"horizon_days={horizon_days!r}: expected a positive number of days")
    F, _ = dataframe_api(orders)
    c = F.to_date(F.lit(str(cutoff)))
    in_horizon = (F.col("order_date") > c) & (F.col("order_date") <= F.date_add(c, horizon_days))
    per_customer = orders.groupBy("customer_id").agg(
        F.min("order_date").alias("first_order_date"),
        F.sum(F.when(in_horizon, 1).otherwise(0)).alias("orders_in_horizon"),
    )
    return per_customer.where(F.col("first_order_date") <= c).select(
        F.col("customer_id"),
        c.alias("cutoff"),
        F.when(F.col("orders_in_horizon") > 0, 0).otherwise(1).cast("int").alias("churn"),
    )
