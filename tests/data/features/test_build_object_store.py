"""`features build` with its output folder on `s3://` (moto's S3 server): the same files as a
local build, written whole."""

from churnops.data import storage
from churnops.data.features.build import FeaturesJobConfig, build_features


def test_build_writes_the_same_tables_to_s3(s3_storage, tmp_path, duckdb_engine):
    source = {"kind": "cdnow", "variant": "sample"}
    remote = build_features(
        FeaturesJobConfig(source=source, output_dir=f"{s3_storage.root}/features"), duckdb_engine
    )
    local = build_features(
        FeaturesJobConfig(source=source, output_dir=str(tmp_path / "f")), duckdb_engine
    )
    assert remote.features_path == f"{s3_storage.root}/features/features-1997-09-30.parquet"
    for got, want in ((remote.features_path, local.features_path),
                      (remote.labels_path, local.labels_path),
                      (remote.orders_path, local.orders_path)):  # fmt: skip
        # Same rows and values (DuckDB reads remote orders as Arrow: NOT NULL is not kept).
        assert storage.read_parquet(got).to_pydict() == storage.read_parquet(want).to_pydict()
    assert (remote.customers, remote.churn_rate) == (local.customers, local.churn_rate)
    keys = s3_storage.object_keys("features/")
    assert "features/orders.report.json" in keys and not [k for k in keys if ".tmp-" in k]
