"""Hand-made order timelines for label and feature tests."""

from datetime import date

import pyarrow as pa

from churnops.data.schema import ORDERS_SCHEMA

CUTOFF = date(2024, 6, 30)
HORIZON = 30  # (2024-06-30, 2024-07-30]


def orders_table(rows: list[tuple[str, str, float, int]]) -> pa.Table:
    """Orders from (customer, ISO day, amount, quantity), one order per customer and day."""
    return pa.table(
        {
            "customer_id": [r[0] for r in rows],
            "order_id": [f"{r[0]}:{r[1]}" for r in rows],
            "order_date": [date.fromisoformat(r[1]) for r in rows],
            "amount": [float(r[2]) for r in rows],
            "quantity": [int(r[3]) for r in rows],
        },
        schema=ORDERS_SCHEMA,
    )


LABEL_TIMELINES = orders_table(
    [
        ("at_cutoff", "2024-06-30", 10, 1),  # bought exactly at C, nothing after: churn
        ("at_horizon_end", "2024-06-01", 10, 1),
        ("at_horizon_end", "2024-07-30", 10, 1),  # exactly at C+H: inside, not churn
        ("just_after", "2024-06-01", 10, 1),
        ("just_after", "2024-07-31", 10, 1),  # one day past C+H: churn
        ("day_after_cutoff", "2024-05-01", 10, 1),
        ("day_after_cutoff", "2024-07-01", 10, 1),  # first day of the horizon: not churn
        ("newcomer", "2024-07-01", 10, 1),  # first order after C: not in the population
    ]
)
