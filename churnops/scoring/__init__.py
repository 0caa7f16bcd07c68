"""Feature-aware model packaging and batch scoring: the client's `log_model` and `score_batch`.

`log_model` packages a model with the feature spec of the training set it was fitted on;
`score_batch` looks those features up for a DataFrame of keys (point-in-time when the spec has a
timestamp key) and adds `probability` and `prediction`, on DuckDB or on Spark. `ScoringClient`
holds both over one store, on every backend (Databricks included).
"""

from churnops.scoring.batch import score_batch
from churnops.scoring.client import ScoringClient
from churnops.scoring.packaging import log_model

__all__ = ["ScoringClient", "log_model", "score_batch"]
