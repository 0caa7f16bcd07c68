"""Feature and label definitions, written once in the PySpark DataFrame API.

They run unchanged on every engine (SQLFrame over DuckDB, pyspark): each takes the engine's
DataFrame and a cutoff, never `current_date()`, so results are reproducible.
"""

from churnops.data.features.customer import (
    FEATURE_COLUMNS,
    compute_customer_features,
    compute_customer_snapshots,
)
from churnops.data.features.labels import compute_labels

__all__ = [
    "FEATURE_COLUMNS",
    "compute_customer_features",
    "compute_customer_snapshots",
    "compute_labels",
]
