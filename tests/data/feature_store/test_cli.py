"""`churnops features build | ls | describe | publish` through the real command line."""

from __future__ import annotations

import pytest

from churnops.cli import main
from churnops.data.feature_store import LocalFeatureStore
from churnops.data.feature_store.online.sqlite import SQLiteOnlineStore

NAME = "churnops.cdnow.customer_features"


@pytest.mark.slow
def test_build_writes_snapshots_into_the_feature_table(tmp_path, capsys):
    root, out = tmp_path / "fs", tmp_path / "out"
    common = ["--source", "cdnow", "source.variant=sample", "--output-dir", str(out)]
    assert main(["features", "build", "--root", str(root), "--as-of", "1997-06-30", *common]) == 0
    assert main(["features", "build", "--root", str(root), "--as-of", "1997-09-30", *common]) == 0
    text = capsys.readouterr().out
    assert "customers" in text and f"{NAME} v1" in text  # summary kept, second build merged

    store = LocalFeatureStore(root)
    table = store.read_table_arrow(NAME)
    assert sorted({d.isoformat() for d in table["as_of"].to_pylist()}) == [
        "1997-06-30",
        "1997-09-30",
    ]

    assert main(["features", "ls", "--root", str(root)]) == 0
    assert main(["features", "describe", NAME, "--root", str(root)]) == 0
    text = capsys.readouterr().out
    assert NAME in text and "as_of" in text and "WRITE MERGE" in text

    db = tmp_path / "online.db"
    store_yaml = tmp_path / "store.yaml"
    store_yaml.write_text(f"root: {root}\nonline:\n  kind: sqlite\n  path: {db}\n")
    assert main(["features", "publish", NAME, "--store-config", str(store_yaml)]) == 0
    assert "rows (full" in capsys.readouterr().out
    latest = SQLiteOnlineStore(db).read_one(NAME, table["customer_id"][0].as_py())
    assert latest["as_of"] == "1997-09-30"


def test_errors_name_the_problem(tmp_path, capsys):
    assert main(["features", "describe", "ml.churn.nope", "--root", str(tmp_path)]) == 2
    assert "does not exist" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("roots: x\n")
    assert main(["features", "ls", "--store-config", str(bad)]) == 2
    assert "unknown key 'roots'" in capsys.readouterr().err
