"""run_serving_demo: 80/20 over HTTP, per-version counts, and log rows == acknowledged."""

from __future__ import annotations

from churnops.data.feature_store.config import OnlineStoreConfig
from churnops.serving.demo import run_serving_demo, served_entity
from tests.serving.conftest import TABLE


def test_served_entity_parses_uris():
    assert served_entity("a", "models:/churn@champion") == {
        "name": "a",
        "entity_name": "churn",
        "alias": "champion",
    }
    assert served_entity("b", "models:/churn/3")["entity_version"] == "3"


def test_demo_serves_both_versions_and_logs_every_answer(serving_world, tmp_path, capsys):
    out = run_serving_demo(
        tmp_path,
        "models:/churn@champion",
        "models:/churn/1",
        OnlineStoreConfig(kind="sqlite", path=str(serving_world.online_path)),
        feature_table=TABLE,
        requests=200,
        tracking_uri=serving_world.tracking_uri,
    )
    assert out["errors"] == 0 and out["acknowledged"] == 200
    assert sum(out["counts"].values()) == 200
    assert out["counts"]["champion"] > out["counts"]["challenger"] > 0
    assert out["versions"] == {"champion": "2", "challenger": "1"}
    assert out["log_rows"] == 200 and out["log_matches"]
    printed = capsys.readouterr().out
    assert "champion (v2)" in printed and "p99" in printed and "match" in printed
