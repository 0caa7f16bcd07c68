"""`python -m churnops.serving` refuses to start with one line naming the mistake, never a
traceback, a wrong port or a database it created itself."""

from __future__ import annotations

import pytest
import yaml

from churnops.serving.__main__ import main
from tests.serving.conftest import endpoint_dict


def _start(tmp_path, data: dict, *args: str) -> int:
    path = tmp_path / "endpoint.yaml"
    path.write_text(yaml.safe_dump(data))
    return main(["--config", str(path), *args])


@pytest.mark.parametrize("port", ["99999", "-1"])
def test_a_port_out_of_range_is_refused(serving_world, tmp_path, capsys, port):
    assert _start(tmp_path, endpoint_dict(serving_world, tmp_path), "--port", port) == 2
    err = capsys.readouterr().err
    assert f"port={port}" in err and "--host/--port" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("entity", "named"),
    [
        ({"name": "champion", "entity_name": "nope_model", "alias": "champion"}, "nope_model"),
        ({"name": "champion", "entity_name": "churn", "alias": "ghost"}, "models:/churn@ghost"),
        ({"name": "champion", "entity_name": "churn", "entity_version": "99"}, "models:/churn/99"),
    ],
)
def test_a_missing_model_or_alias_is_one_line(serving_world, tmp_path, capsys, entity, named):
    data = endpoint_dict(
        serving_world,
        tmp_path,
        served_entities=[entity],
        traffic_config__routes=[{"served_model_name": "champion", "traffic_percentage": 100}],
    )
    assert _start(tmp_path, data) == 2
    err = capsys.readouterr().err
    assert "served_entities['champion']" in err and named in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_a_mistyped_sqlite_registry_is_refused_not_created(serving_world, tmp_path, capsys):
    typo = tmp_path / "mlrunz" / "mlflow.db"
    data = endpoint_dict(serving_world, tmp_path, tracking_uri=f"sqlite:///{typo}")
    assert _start(tmp_path, data) == 2
    err = capsys.readouterr().err
    assert "tracking_uri=" in err and "no SQLite database" in err
    assert not typo.parent.exists()
