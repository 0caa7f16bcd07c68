"""`churnops score-batch`: keys in a Parquet file -> a scored Delta table."""

from __future__ import annotations

import argparse
from datetime import date

import mlflow
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from deltalake import DeltaTable

from churnops.cli import score as score_cli
from churnops.data.feature_store import FeatureLookup
from churnops.data.feature_store.frames import to_arrow
from churnops.models.baselines import LogisticChurnModel
from churnops.scoring import log_model
from tests.scoring.conftest import TABLE, labels


def test_score_batch_command_writes_a_delta_table(ts_store, duckdb_engine, mlflow_tmp, tmp_path):
    lookup = FeatureLookup(TABLE, lookup_key="customer_id", timestamp_lookup_key="cutoff")
    ts = ts_store.create_training_set(duckdb_engine.from_arrow(labels()), [lookup], label="churn")
    table = to_arrow(ts.load_df())
    x = np.column_stack([table["x"].to_numpy(), table["n"].to_numpy()]).astype(np.float32)
    model = LogisticChurnModel().fit(x, table["churn"].to_numpy())
    log_model(ts_store, model, "model", mlflow.sklearn, ts, registered_model_name="churn_cli")

    keys = tmp_path / "keys.parquet"
    pq.write_table(pa.table({"customer_id": ["a", "b"], "cutoff": [date(2020, 3, 1)] * 2}), keys)
    out = tmp_path / "scored"
    parser = argparse.ArgumentParser()
    score_cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["score-batch", "--model-uri", "models:/churn_cli/1", "--input",
                              str(keys), "--output", str(out), "--root", str(ts_store.root),
                              "--tracking-uri", mlflow_tmp, "--threshold", "0"])  # fmt: skip
    assert args.run(args) == 0
    scored = DeltaTable(str(out)).to_pyarrow_table().sort_by("customer_id")
    assert scored.column_names == ["customer_id", "cutoff", "x", "n", "probability", "prediction"]
    assert scored["prediction"].to_pylist() == [1, 1]  # threshold 0
    assert scored["n"].to_pylist() == [2, 1]  # point in time: a's Feb row, b's Jan row
