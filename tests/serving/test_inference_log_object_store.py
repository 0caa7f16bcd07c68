"""The serving inference log on `s3://` (moto's S3 server): the journal stays local, the committer
process appends to the Delta table in the bucket, with the credentials of the environment."""

from __future__ import annotations

from pathlib import Path

from churnops.data.delta_tables import open_table
from churnops.serving.inference_log import InferenceLogWriter, journal_folder, read_inference_log
from churnops.serving.journal import closed_segments
from tests.serving.test_inference_log import _row


def test_rows_land_in_a_delta_table_on_s3(s3_storage, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the local journal of a remote table lives under .churnops/
    uri = f"{s3_storage.root}/inference_log/churn"
    folder = journal_folder(uri)
    assert folder == Path(".churnops/journals/s3", s3_storage.bucket, "inference_log/churn.journal")
    log = InferenceLogWriter(uri, batch_rows=5, flush_seconds=3600)
    for i in range(12):
        log.append(**_row(i))
    log.close()
    table = read_inference_log(uri)
    assert sorted(table["databricks_request_id"].to_pylist()) == sorted(f"r{i}" for i in range(12))
    assert log.rows_written == 12 and log.commit_failures == 0
    assert open_table(uri).version() >= 0
    assert folder.is_dir() and closed_segments(folder) == []  # committed segments deleted
    assert any(k.startswith("inference_log/churn/_delta_log/") for k in s3_storage.object_keys())
