"""The serving world, built once: CDNOW features in a real SQLite online store and two real
registered MLflow model versions (aliases champion and challenger) on SQLite."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from churnops.data.features import FEATURE_COLUMNS

TABLE = "churnops.cdnow.customer_features_monthly"
CUTOFF = date(1997, 9, 30)


@dataclass
class ServingWorld:
    root: Path
    tracking_uri: str
    online_path: Path
    features: object  # pandas frame: customer_id, as_of, the features, churn
    customers: list[str]


@pytest.fixture(scope="session")
def serving_world(tmp_path_factory, cdnow_orders) -> ServingWorld:
    import mlflow
    import pandas as pd
    from mlflow import MlflowClient
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from churnops.data.engines import get_engine
    from churnops.data.feature_store.online.sqlite import SQLiteOnlineStore
    from churnops.data.features import compute_customer_features, compute_labels
    from tests.serving.churn_model import ChurnProbabilityModel

    root = tmp_path_factory.mktemp("serving")
    engine = get_engine("duckdb")
    orders = engine.read_parquet(cdnow_orders)
    features = engine.to_arrow(compute_customer_features(orders, CUTOFF))
    labels = engine.to_arrow(compute_labels(orders, CUTOFF, 180)).to_pandas()
    online_path = root / "online" / "features.db"
    store = SQLiteOnlineStore(online_path)
    store.write_rows(TABLE, ["customer_id"], features, version=0, replace=True)
    store.close()

    frame = features.to_pandas().merge(labels[["customer_id", "churn"]], on="customer_id")
    x = frame[list(FEATURE_COLUMNS)].astype("float64")
    estimator = make_pipeline(
        SimpleImputer(), StandardScaler(), LogisticRegression(max_iter=300)
    ).fit(x, frame["churn"])

    tracking_uri = f"sqlite:///{root / 'mlflow.db'}"
    os.environ["MLFLOW_TRACKING_URI"] = tracking_uri
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    # Artifacts under the temp dir too (the default is ./mlruns in the working directory).
    mlflow.set_experiment(
        experiment_id=mlflow.create_experiment(
            "serving-tests", artifact_location=(root / "artifacts").as_uri()
        )
    )
    example = x.head(3)
    with mlflow.start_run():
        # v1: the stock sklearn flavour (predict answers an array of 0/1).
        mlflow.sklearn.log_model(
            estimator,
            name="model",
            input_example=example,
            registered_model_name="churn",
            pip_requirements=["scikit-learn"],  # skips slow requirement inference
            skops_trusted_types=["numpy.dtype"],
        )
        # v2: the shape of churnops' own pyfunc (a frame of probability and prediction).
        mlflow.pyfunc.log_model(
            name="pyfunc",
            python_model=ChurnProbabilityModel(estimator),
            input_example=example,
            registered_model_name="churn",
            pip_requirements=["scikit-learn"],
        )
        # churnops' own pyfunc (models/pyfunc.py) over the logistic baseline, for the fast path.
        from churnops.models.baselines import LogisticChurnModel
        from churnops.models.feature_spec import FeatureSpec
        from churnops.models.pyfunc import log_pyfunc_model

        baseline = LogisticChurnModel().fit(x.to_numpy("float32"), frame["churn"].to_numpy())
        log_pyfunc_model(
            baseline,
            FeatureSpec(list(FEATURE_COLUMNS)),
            name="churnops",
            input_example=example,
            registered_model_name="churn_pyfunc",
        )
    client = MlflowClient()
    client.set_registered_model_alias("churn", "champion", "2")
    client.set_registered_model_alias("churn", "challenger", "1")
    return ServingWorld(
        root, tracking_uri, online_path, frame, sorted(pd.unique(frame["customer_id"]))
    )


def endpoint_dict(world: ServingWorld, tmp_path: Path, **changes) -> dict:
    """An endpoint config (as YAML data) over the world: champion 80 / challenger 20."""
    cfg = {
        "name": "churn",
        "tracking_uri": world.tracking_uri,
        "served_entities": [
            {"name": "champion", "entity_name": "churn", "alias": "champion"},
            {"name": "challenger", "entity_name": "churn", "alias": "challenger"},
        ],
        "traffic_config": {
            "routes": [
                {"served_model_name": "champion", "traffic_percentage": 80},
                {"served_model_name": "challenger", "traffic_percentage": 20},
            ]
        },
        "auto_capture_config": {"path": str(tmp_path / "inference_log"), "flush_seconds": 0.2},
        "feature_lookup": {
            "online": {"kind": "sqlite", "path": str(world.online_path)},
            "table": TABLE,
        },
        "auth": {"enabled": True, "tokens": ["test-token"]},
    }
    for key, value in changes.items():
        node = cfg
        *parents, last = key.split("__")
        for p in parents:
            node = node.setdefault(p, {})
        node[last] = value
    return cfg


AUTH = {"Authorization": "Bearer test-token"}


@pytest.fixture
def immutable():
    """`with immutable(path):` a file or folder refuses every change, root's too (`chattr +i`):
    how a user's trial broke the inference log. Skips where chattr cannot do it."""

    @contextlib.contextmanager
    def refusing(path: Path):
        chattr = shutil.which("chattr")
        made = chattr and subprocess.run([chattr, "+i", str(path)], capture_output=True)
        if not made or made.returncode != 0:
            pytest.skip("chattr +i is not possible here (it needs root on ext4 or xfs)")
        try:
            yield path
        finally:
            subprocess.run([chattr, "-i", str(path)], check=True)

    return refusing
