"""The storage helper against a real S3 API (moto's server) and the local file system."""

from __future__ import annotations

import pyarrow as pa
import pytest
from deltalake import write_deltalake

from churnops.data import storage
from churnops.data.storage import StorageConfig, StorageError, configure_storage, location


@pytest.fixture(autouse=True)
def _no_configured_storage():
    configure_storage(None)
    yield
    configure_storage(None)


def test_location_parses_each_store(tmp_path):
    assert location(tmp_path / "a").uri == str(tmp_path / "a")
    assert location(f"file://{tmp_path}/a").is_local
    assert location("/Volumes/main/churn/raw/orders").uri == "/Volumes/main/churn/raw/orders"
    assert location("dbfs:/Volumes/main/churn/x").key == "/Volumes/main/churn/x"
    s3 = location("s3a://bucket/tables/features/")
    assert (s3.scheme, s3.authority, s3.key) == ("s3", "bucket", "tables/features/")
    assert storage.join("s3://bucket/root", "a", "b.parquet") == "s3://bucket/root/a/b.parquet"
    assert storage.join("s3://bucket", "t") == "s3://bucket/t"
    assert storage.join(tmp_path, "x", "y") == str(tmp_path / "x" / "y")
    assert location("s3://bucket/a/b").parent.uri == "s3://bucket/a"
    assert storage.spark_uri("s3://bucket/t") == "s3a://bucket/t"
    az = location("abfss://data@acct.dfs.core.windows.net/churn/t")
    assert (az.scheme, az.authority, az.key) == (
        "abfss",
        "data@acct.dfs.core.windows.net",
        "churn/t",
    )


def test_bad_uri_names_it():
    with pytest.raises(StorageError, match=r"'hdfs://nn/x'.*unsupported storage scheme 'hdfs'"):
        location("hdfs://nn/x")
    with pytest.raises(StorageError, match="no bucket"):
        location("s3:///key")


@pytest.mark.parametrize(
    ("uri", "setting"),
    [
        ("s3://bucket/t", "storage.access_key_id (or AWS_ACCESS_KEY_ID)"),
        ("gs://bucket/t", "storage.google_application_credentials"),
        ("abfss://c@acct.dfs.core.windows.net/t", "storage.azure_account_key"),
    ],
)
def test_uri_without_credentials_names_the_missing_setting(monkeypatch, uri, setting):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AZURE_STORAGE_ACCOUNT_KEY",
                 "AZURE_STORAGE_KEY", "AZURE_STORAGE_SAS_TOKEN", "AZURE_CLIENT_SECRET",
                 "GOOGLE_APPLICATION_CREDENTIALS"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(StorageError, match="no credentials") as err:
        storage.exists(uri)
    assert setting in str(err.value)
    with pytest.raises(StorageError, match="no credentials"):
        storage.delta_options(uri)


def test_only_the_secret_key_missing_names_only_it(monkeypatch):
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    with pytest.raises(StorageError) as err:
        storage.delta_options("s3://bucket/t")
    assert "storage.secret_access_key (or AWS_SECRET_ACCESS_KEY)" in str(err.value)
    assert "access_key_id" not in str(err.value)


def test_config_overrides_environment_and_never_shows_secrets(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "from-env")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret-123")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    cfg = StorageConfig(secret_access_key="config-secret-456", region="eu-west-1")
    configure_storage(cfg)
    options = storage.delta_options("s3://bucket/t")
    assert options["AWS_ACCESS_KEY_ID"] == "from-env"
    assert options["AWS_SECRET_ACCESS_KEY"] == "config-secret-456"
    assert options["AWS_REGION"] == "eu-west-1"
    assert options["AWS_ALLOW_HTTP"] == "true"  # an http:// endpoint
    shown = repr(storage.active_storage()) + str(storage.active_storage().model_dump())
    assert "config-secret-456" not in shown and "env-secret-123" not in shown
    assert storage.mask("denied for config-secret-456") == "denied for ***"
    failed = r"^GET https://x/\?sig=\*\*\* failed$"
    with pytest.raises(OSError, match=failed), storage.masked_errors():
        raise OSError("GET https://x/?sig=config-secret-456 failed")


def test_unknown_storage_key_is_an_error():
    from churnops.config import ConfigError, build_config

    with pytest.raises(ConfigError, match=r"unknown key 'endpoint'.*did you mean 'endpoint_url'"):
        build_config(StorageConfig, {"endpoint": "http://x"})


def test_azure_and_gcs_options_map_the_settings(monkeypatch):
    configure_storage(
        StorageConfig(azure_account_key="k==", google_application_credentials="/sa.json")
    )
    assert storage.delta_options("abfss://c@acct.dfs.core.windows.net/t") == {
        "AZURE_STORAGE_ACCOUNT_NAME": "acct", "AZURE_STORAGE_ACCOUNT_KEY": "k==",
    }  # fmt: skip
    assert storage.delta_options("gs://b/t") == {"GOOGLE_SERVICE_ACCOUNT": "/sa.json"}
    with pytest.raises(StorageError, match="azure_account_name"):
        storage.delta_options("az://container/t")


def test_parquet_round_trip_on_s3(s3_storage):
    uri = storage.join(s3_storage.root, "sets", "train.parquet")
    table = pa.table({"customer_id": ["a", "b"], "x": [1.0, 2.0]})
    storage.write_parquet_atomic(table, uri)
    assert s3_storage.object_keys() == ["sets/train.parquet"]  # no temporary key left behind
    assert storage.exists(uri) and storage.is_file(uri)
    assert storage.exists(storage.join(s3_storage.root, "sets"))  # a prefix is a folder
    assert storage.read_parquet(uri).equals(table)
    storage.remove(storage.join(s3_storage.root, "sets"))
    assert s3_storage.object_keys() == [] and not storage.exists(uri)


def test_failed_write_leaves_nothing_and_keeps_the_old_file(s3_storage):
    uri = storage.join(s3_storage.root, "predictions.parquet")
    old = pa.table({"x": [1]})
    storage.write_parquet_atomic(old, uri)

    def batches():
        yield pa.record_batch({"x": [2]})
        raise RuntimeError("scoring failed midway")

    reader = pa.RecordBatchReader.from_batches(old.schema, batches())
    with pytest.raises(RuntimeError, match="midway"):
        storage.write_parquet_atomic(reader, uri)
    assert s3_storage.object_keys() == ["predictions.parquet"]
    assert storage.read_parquet(uri).equals(old)
    fresh = storage.join(s3_storage.root, "new.parquet")
    with pytest.raises(RuntimeError, match="midway"):
        storage.write_parquet_atomic(
            pa.RecordBatchReader.from_batches(old.schema, batches()), fresh
        )
    assert not storage.exists(fresh)


def test_delta_on_s3_with_the_helpers_options(s3_storage):
    uri = storage.join(s3_storage.root, "delta", "t")
    assert not storage.is_delta_table(uri)
    write_deltalake(uri, pa.table({"k": [1, 2]}), storage_options=storage.delta_options(uri))
    write_deltalake(uri, pa.table({"k": [3]}), mode="append",
                    storage_options=storage.delta_options(uri))  # fmt: skip
    assert storage.is_delta_table(uri)
    table = storage.open_delta(uri)
    assert table.version() == 1
    assert sorted(table.to_pyarrow_table()["k"].to_pylist()) == [1, 2, 3]


def test_duckdb_reads_object_store_parquet_as_arrow(s3_storage, duckdb_engine, tmp_path):
    uri = storage.join(s3_storage.root, "orders.parquet")
    storage.write_parquet_atomic(pa.table({"amount": [1.5, 2.5, 4.0]}), uri)
    frame = storage.read_parquet_frame(duckdb_engine, uri)
    assert frame.toArrow()["amount"].to_pylist() == [1.5, 2.5, 4.0]
    local = tmp_path / "o.parquet"
    storage.write_parquet_atomic(pa.table({"amount": [7.0]}), local)
    assert storage.read_parquet_frame(duckdb_engine, local).toArrow()["amount"].to_pylist() == [7.0]


def test_local_helpers(tmp_path):
    folder = storage.join(tmp_path, "a", "b")
    storage.makedirs(folder)
    assert storage.exists(folder) and not storage.is_file(folder)
    storage.write_bytes_atomic(storage.join(folder, "r.json"), b"{}")
    assert storage.read_bytes(storage.join(folder, "r.json")) == b"{}"
    storage.remove(storage.join(tmp_path, "a"))
    assert not storage.exists(folder)
    storage.remove(folder)  # already gone: fine


def test_every_entry_config_takes_a_strict_storage_section():
    from churnops.config import ConfigError, build_config
    from churnops.data.feature_store.config import FeatureStoreConfig
    from churnops.pipelines.tasks.base import RunInputs
    from churnops.trainers.config import load_train_config

    cfg = load_train_config(["storage.region=eu-west-1", "storage.secret_access_key=s3cr3t-x"])
    assert cfg.storage.region == "eu-west-1"
    assert "s3cr3t-x" not in str(cfg.model_dump(mode="json"))  # what MLflow logs
    with pytest.raises(ConfigError, match=r"unknown key 'storage.regoin'"):
        load_train_config(["storage.regoin=eu-west-1"])
    assert build_config(FeatureStoreConfig, {"storage": {"credentials": "ambient"}}).storage
    with pytest.raises(ConfigError, match=r"storage\.credentials"):
        build_config(RunInputs, {"storage": {"credentials": "magic"}})
